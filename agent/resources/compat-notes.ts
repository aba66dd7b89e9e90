/**
 * Where a resource Calico accepts does something else under Tortie because Tortie has no
 * Kubernetes API: one note per resource and field, printed by tortiectl when it writes the
 * resource, logged by the agent (and listed in agent/node/README.md). Accepted all the same: the
 * YAML stays Calico's.
 */
import { parseSelector, type Selector } from './selector.js';
import type { Resource } from './kinds.js';
import { assertNever } from '../../common/assert-never.js';

/** The Namespace labels Tortie can know without the Kubernetes API: both carry the namespace's name. */
export const KNOWN_NAMESPACE_LABELS = ['kubernetes.io/metadata.name', 'projectcalico.org/name'] as const;

function labelKeys(s: Selector, out: Set<string> = new Set()): Set<string> {
  switch (s.type) {
    case 'all': case 'global': break;
    case 'has': case 'eq': case 'in': case 'contains': case 'startsWith': case 'endsWith': out.add(s.key); break;
    case 'not': labelKeys(s.expr, out); break;
    case 'and': case 'or': for (const e of s.exprs) labelKeys(e, out); break;
    default: assertNever(s, 'selector');
  }
  return out;
}

/**
 * BGPPeer and BGPConfiguration fields whose Calico behaviour needs the Kubernetes API (pod
 * labels and addresses, Service status); the agent reports them too (agent/calc/bgp-peers.ts).
 */
export function bgpPeerNotes(name: string, spec: Extract<Resource, { kind: 'BGPPeer' }>['spec']): string[] {
  return spec.localWorkloadSelector === undefined ? []
    : [`BGPPeer(${name}): spec.localWorkloadSelector: Tortie has no Kubernetes API, so it cannot see pod labels; no Local_Workload_ sessions are made for this peer`];
}

export function bgpConfigurationNotes(name: string, spec: Extract<Resource, { kind: 'BGPConfiguration' }>['spec']): string[] {
  const where = `BGPConfiguration(${name})`;
  const out: string[] = [];
  for (const f of ['localWorkloadPeeringIPV4', 'localWorkloadPeeringIPV6'] as const) {
    if (spec[f] !== undefined) out.push(`${where}: spec.${f}: Tortie makes no local workload peerings (no Kubernetes API for pod labels); the address is not used`);
  }
  if (spec.serviceLoadBalancerAggregation === 'Disabled') {
    out.push(`${where}: spec.serviceLoadBalancerAggregation: Disabled: Tortie has no Kubernetes API to read Services' load balancer IPs; it advertises the serviceLoadBalancerIPs CIDRs as with Enabled`);
  }
  return out;
}

/**
 * BGPFilter `interface` on export Accept rules: in Calico they run before the export rules that
 * keep a node's workload /32s and device routes (kernel and direct protocols) to itself, so they
 * can advertise them. Tortie feeds no kernel or device routes into BGP: such a rule sees routes
 * learned over the interface and this node's borrowed /32s (on their workload interface) only.
 */
export function bgpFilterNotes(name: string, spec: Extract<Resource, { kind: 'BGPFilter' }>['spec']): string[] {
  const out: string[] = [];
  for (const list of ['exportV4', 'exportV6'] as const) {
    (spec[list] ?? []).forEach((r, i) => {
      if (r.interface !== undefined && r.action === 'Accept' && r.source !== 'RemotePeers') {
        out.push(`BGPFilter(${name}): spec.${list}[${i}].interface: Tortie feeds no kernel or device routes into BGP, so this rule accepts routes learned over ${JSON.stringify(r.interface)} and this node's borrowed /32s on it, not its other workload /32s or device routes as Calico's kernel and direct protocols would`);
      }
    });
  }
  return out;
}

export function compatNotes(r: Resource): string[] {
  if (r.kind === 'BGPFilter') return bgpFilterNotes(r.metadata.name, r.spec);
  if (r.kind === 'BGPPeer') return bgpPeerNotes(r.metadata.name, r.spec);
  if (r.kind === 'BGPConfiguration') return bgpConfigurationNotes(r.metadata.name, r.spec);
  if (r.kind !== 'IPPool') return [];
  const out: string[] = [];
  if (r.spec.assignmentMode === 'Manual') {
    out.push(`IPPool(${r.metadata.name}): spec.assignmentMode: Manual: Tortie has no Kubernetes API to read the pod and namespace annotations `
      + 'cni.projectcalico.org/ipv4pools, ipv6pools and ipAddrs; pods get addresses from this pool when the CNI network configuration names it (ipam.ipv4_pools / ipv6_pools) or CNI_ARGS asks for an address in it (IP=)');
  }
  if (r.spec.namespaceSelector === undefined) return out;
  const unknown = [...labelKeys(parseSelector(r.spec.namespaceSelector))].filter((k) => !(KNOWN_NAMESPACE_LABELS as readonly string[]).includes(k));
  if (unknown.length === 0) return out;
  return [...out, `IPPool(${r.metadata.name}): spec.namespaceSelector: Tortie has no Kubernetes API and knows a Namespace only by name `
    + `(${KNOWN_NAMESPACE_LABELS.join(', ')}); label(s) ${unknown.join(', ')} match no namespace, so pods get addresses from this pool only when they ask for it by name`];
}
