/**
 * Recursive next-hop resolution (BIRD's `gateway recursive`, FRR's nexthop tracking): a BGP next
 * hop on no connected subnet (a multihop peer's, a route reflector client's) goes through the
 * kernel's own route to it, the longest match in the main table. That route's next hops (one, or
 * several for ECMP) become the route's; a device route without a gateway sends to the BGP next hop
 * on that device. As FRR by default (`ip nht resolve-via-default` off), the default route does not
 * resolve a next hop, and neither do blackhole/unreachable routes nor our own routes (a BGP route
 * resolved through a BGP route could loop).
 */
import { parsePrefix, prefixContains, type IpAddress, type Prefix } from '../../common/prefix.js';
import type { KernelRoute } from '../netlink/types.js';
import type { DesiredNextHop } from './route.js';

/** Kernel routes indexed for lookups: parsed once per refresh. */
export interface ResolverTable { readonly routes: ReadonlyArray<{ readonly prefix: Prefix; readonly route: KernelRoute }> }

/** Keep the routes a lookup may land on: not default, not of `own` (table, protocol); a blackhole one stops it (as in the kernel). */
export function resolverTable(routes: readonly KernelRoute[], own: { readonly table: number; readonly protocol: number }): ResolverTable {
  const out: Array<{ prefix: Prefix; route: KernelRoute }> = [];
  for (const r of routes) {
    if (r.table === own.table && r.protocol === own.protocol) continue;
    let prefix: Prefix;
    try { prefix = parsePrefix(r.dst, { allowHostBits: true }); } catch { continue; }
    if (prefix.length === 0) continue;
    out.push({ prefix, route: r });
  }
  return { routes: out };
}

/** The next hops `nextHop` resolves to through the longest (then lowest-metric) matching route, or undefined. */
export function resolveRecursive(t: ResolverTable, nextHop: IpAddress, text: string, names: ReadonlyMap<number, string>): DesiredNextHop[] | undefined {
  let best: { prefix: Prefix; route: KernelRoute } | undefined;
  for (const e of t.routes) {
    if (!prefixContains(e.prefix, nextHop)) continue;
    if (best === undefined || e.prefix.length > best.prefix.length || (e.prefix.length === best.prefix.length && e.route.metric < best.route.metric)) best = e;
  }
  if (best === undefined || best.route.type !== 'unicast') return undefined;
  const r = best.route;
  const legs = r.nexthops ?? (r.ifindex !== undefined ? [{ ifindex: r.ifindex, ...(r.gateway !== undefined ? { gateway: r.gateway } : {}), onlink: r.onlink }] : []);
  const hops: DesiredNextHop[] = [];
  for (const l of legs) {
    const iface = names.get(l.ifindex);
    if (iface === undefined) continue;
    hops.push(l.gateway !== undefined ? { iface, gateway: l.gateway, ...(l.onlink ? { onlink: true } : {}) } : { iface, gateway: text });
  }
  return hops.length === 0 ? undefined : hops;
}
