/**
 * Where everything lives in etcd (documented in README.md):
 *   /tortie/v3/projectcalico.org/<plural>/<name>        resources (IPPool, BGPPeer, Node, ...)
 *   /tortie/ipam/v2/assignment/ipv<4|6>/block/<a.b.c.d-26>   IPAM blocks
 *   /tortie/ipam/v2/host/<node>/ipv<4|6>/block/<a.b.c.d-26>  block affinities
 *   /tortie/ipam/v2/handle/<handle>                      handles
 *   /tortie/ipam/v2/config                               IPAMConfig (strictAffinity, autoAllocateBlocks)
 *   /tortie/status/v1/<node>/...                          lease-bound liveness keys
 *   /tortie/workloads/v1/<handle>                        a running workload's addresses (Calico's WorkloadEndpoint, etcd mode)
 *   /tortie/election/<name>/<lease>                      etcd election candidates (ipam-gc)
 *   /tortie/cluster/v1/guid                              the cluster's id (ipam check reports)
 */
export const ROOT = '/tortie';
export const RESOURCE_PREFIX = `${ROOT}/v3/projectcalico.org/`;
export const IPAM_PREFIX = `${ROOT}/ipam/v2/`;
export const STATUS_PREFIX = `${ROOT}/status/v1/`;

export function resourceKindPrefix(plural: string): string {
  return `${RESOURCE_PREFIX}${plural}/`;
}

export function resourceKey(plural: string, name: string): string {
  return `${resourceKindPrefix(plural)}${name}`;
}

export function cidrKeyPart(cidr: string): string { return cidr.replace('/', '-'); }
export function cidrFromKeyPart(part: string): string {
  const i = part.lastIndexOf('-');
  return `${part.slice(0, i)}/${part.slice(i + 1)}`;
}

export function blockPrefix(family: 4 | 6): string { return `${IPAM_PREFIX}assignment/ipv${family}/block/`; }
export function blockKey(family: 4 | 6, cidr: string): string { return `${blockPrefix(family)}${cidrKeyPart(cidr)}`; }
export function affinityPrefix(node: string, family?: 4 | 6): string {
  return family === undefined ? `${IPAM_PREFIX}host/${node}/` : `${IPAM_PREFIX}host/${node}/ipv${family}/block/`;
}
export function affinityKey(node: string, family: 4 | 6, cidr: string): string {
  return `${affinityPrefix(node, family)}${cidrKeyPart(cidr)}`;
}
export const ALL_AFFINITIES_PREFIX = `${IPAM_PREFIX}host/`;
export const HANDLE_PREFIX = `${IPAM_PREFIX}handle/`;
export function handleKey(handle: string): string { return `${HANDLE_PREFIX}${handle}`; }
export function livenessKey(node: string): string { return `${STATUS_PREFIX}${node}/alive`; }
/** The node's BGP session status (CalicoNodeStatus's role), lease-bound: agent/node/bgp-status-publisher.ts. */
export function bgpStatusKey(node: string): string { return `${STATUS_PREFIX}${node}/bgp`; }
export const IPAM_CONFIG_KEY = `${IPAM_PREFIX}config`;
export const WORKLOAD_PREFIX = `${ROOT}/workloads/v1/`;
export function workloadKey(handle: string): string { return `${WORKLOAD_PREFIX}${handle}`; }
export const CLUSTER_GUID_KEY = `${ROOT}/cluster/v1/guid`;
