/**
 * Calico's route priority across BGP (v3.32, confd's mesh/iBGP filters): on export
 * `bgp_local_pref = 2147483647 - krt_metric`, krt_metric defaulting to the normal route
 * priority (BGPConfiguration ipv4/ipv6NormalRoutePriority, 1024), so a calico-node importing our
 * routes computes the same kernel metric it gives its own (2147483647 - LOCAL_PREF) instead of
 * 2147483547 from a LOCAL_PREF of 100. Tortie has no elevated-priority (live migration) routes,
 * so every route it exports carries the normal priority.
 */
import type { PolicyConfig, PolicyRule } from '../../bgp/speaker/peer-config.js';

export const MAX_ROUTE_PRIORITY = 2147483647;

export function localPrefFor(priority: number): number { return MAX_ROUTE_PRIORITY - priority; }

/**
 * Every route we originate that the policy accepts leaves with LOCAL_PREF = 2147483647 - priority
 * (unless a rule sets one); a route learned from a BGP peer keeps its LOCAL_PREF, as confd's
 * export filter keeps it for `source = RTS_BGP` (route reflectors re-advertising, ToR re-export).
 */
export function withRoutePriority(p: PolicyConfig, priority: number): PolicyConfig {
  const localPref = localPrefFor(priority);
  const rules: PolicyRule[] = [];
  for (const r of [...p.rules, ...(p.default === 'accept' ? [{ action: 'accept' as const }] : [])]) {
    if (r.action !== 'accept' || r.set?.localPref !== undefined || r.match?.source === 'peers') { rules.push(r); continue; }
    rules.push({ ...r, match: { ...r.match, source: 'local' }, set: { ...r.set, localPref } });
    if (r.match?.source !== 'local') rules.push(r);
  }
  return { rules, default: p.default === 'accept' ? 'reject' : p.default };
}

/**
 * Import side (confd's import and kernel filters, v3.32): a learned route whose LOCAL_PREF is
 * above 2147483647 - normal priority carries an elevated priority (a VM live-migrating away
 * from its old node). It goes to the kernel with metric 2147483647 - LOCAL_PREF and wins over a
 * local workload route for the same address (BIRD's preference 200 over its kernel-learned
 * route); undefined for a route of normal priority, which keeps Tortie's usual metric.
 */
export function elevatedMetric(localPref: number | undefined, normalPriority: number): number | undefined {
  if (localPref === undefined || localPref <= MAX_ROUTE_PRIORITY - normalPriority) return undefined;
  return MAX_ROUTE_PRIORITY - localPref;
}
