/**
 * Calico's route priority across BGP (v3.32, confd's mesh/iBGP filters): on export
 * `bgp_local_pref = 2147483647 - krt_metric`, krt_metric defaulting to the normal route
 * priority (BGPConfiguration ipv4/ipv6NormalRoutePriority, 1024), so a calico-node importing our
 * routes computes the same kernel metric it gives its own (2147483647 - LOCAL_PREF) instead of
 * 2147483547 from a LOCAL_PREF of 100. Tortie has no elevated-priority (live migration) routes,
 * so every route it exports carries the normal priority.
 */
import type { PolicyConfig } from '../../bgp/speaker/peer-config.js';

export const MAX_ROUTE_PRIORITY = 2147483647;

export function localPrefFor(priority: number): number { return MAX_ROUTE_PRIORITY - priority; }

/** Every route the policy accepts leaves with LOCAL_PREF = 2147483647 - priority (unless a rule set one). */
export function withRoutePriority(p: PolicyConfig, priority: number): PolicyConfig {
  const localPref = localPrefFor(priority);
  const rules = p.rules.map((r) => (r.action === 'accept' && r.set?.localPref === undefined ? { ...r, set: { ...r.set, localPref } } : r));
  return p.default === 'accept'
    ? { rules: [...rules, { action: 'accept', set: { localPref } }], default: 'reject' }
    : { rules, default: p.default };
}
