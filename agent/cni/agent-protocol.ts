/**
 * The CNI plugin ↔ tortie-node protocol: one JSON request and one JSON response per line over
 * the agent's unix socket (default /var/run/tortie/cni.sock). The agent owns IPAM (it holds the
 * etcd connection, so the plugin starts fast) and the workload routes (so a new pod's route is
 * programmed and advertised the moment the plugin reports the interface up).
 */
export interface PodIdentity {
  readonly containerId: string;
  readonly ifname: string;
  /** Kubernetes namespace and pod name from CNI_ARGS, when the runtime passes them. */
  readonly namespace?: string;
  readonly pod?: string;
}

/**
 * What a CNI call asks of IPAM besides "one address" (Calico's CNI IPAM plugin): CNI_ARGS `IP=`,
 * and the network configuration's `ipam` section. Absent fields: the agent's defaults.
 */
export interface AddressRequest {
  /** CNI_ARGS `IP=`: exactly these addresses (one per family), from any enabled pool; pools and counts are then ignored. */
  readonly ips?: readonly string[];
  /** `ipam.ipv4_pools` / `ipv6_pools`: pool names or CIDRs to assign from (Manual pools serve only such requests). */
  readonly ipv4Pools?: readonly string[];
  readonly ipv6Pools?: readonly string[];
  /** `ipam.assign_ipv4` / `assign_ipv6`. Absent: IPv4, and IPv6 when the node is dual stack. */
  readonly assignIpv4?: boolean;
  readonly assignIpv6?: boolean;
}

export type AgentRequest =
  /** Allocate addresses for a workload (handle = container id); idempotent per handle. */
  | ({ readonly type: 'assign' } & PodIdentity & AddressRequest)
  /** The interface exists: program the workload routes (answered once they are in the kernel). */
  | ({ readonly type: 'endpoint-up'; readonly hostIfname: string; readonly addresses: readonly string[] } & PodIdentity)
  /** Release the addresses and routes of a workload; idempotent ("not found" is success). */
  | ({ readonly type: 'release' } & PodIdentity)
  /** Verify the agent still holds the allocation and the routes for these addresses. */
  | ({ readonly type: 'check'; readonly hostIfname: string; readonly addresses: readonly string[] } & PodIdentity)
  /** CNI 1.1 GC: release every allocation of this node not in `valid`. */
  | { readonly type: 'gc'; readonly valid: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }> }
  /** CNI 1.1 STATUS: is the agent ready to serve ADDs (datastore reachable, addresses left)? */
  | { readonly type: 'status' };

export type AgentResponse =
  /** `existing`: the handle held these addresses before this request (an ADD for an attachment that may be running). */
  | { readonly type: 'assigned'; readonly addresses: readonly string[]; readonly mtu?: number; readonly existing?: boolean }
  | { readonly type: 'ok'; readonly released?: readonly string[] }
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly retry?: boolean };
