/**
 * Desired routes as the route table's callers describe them (interfaces by name), the kinds
 * Calico installs (calico-compat.md §3.2), and resolution to kernel routes.
 */
import { parsePrefix, formatPrefix, parseAddress, formatAddress, isValidAddress, isValidPrefix, type Family } from '../../common/prefix.js';
import { TortieError } from '../../common/errors.js';
import { defaultMetric, type KernelRoute, type NextHop, type RouteScope } from '../netlink/types.js';

export interface DesiredNextHop {
  readonly iface: string;
  readonly gateway?: string;
  readonly onlink?: boolean;
  readonly weight?: number;
}

export interface DesiredRoute {
  /** Canonical prefix; the route table's key. */
  readonly dst: string;
  readonly type: 'unicast' | 'blackhole';
  readonly iface?: string;
  readonly gateway?: string;
  readonly onlink?: boolean;
  readonly scope?: RouteScope;
  /** ECMP: two or more next hops (RTA_MULTIPATH). */
  readonly nexthops?: readonly DesiredNextHop[];
  readonly metric?: number;
  readonly src?: string;
  readonly mtu?: number;
}

const canonPrefix = (p: string): string => formatPrefix(parsePrefix(p));
const canonAddr = (a: string): string => formatAddress(parseAddress(a));

/** Local workload: `<ip>/32|128 dev <caliXXX> scope link`. */
export function workloadRoute(ip: string, iface: string): DesiredRoute {
  const a = parseAddress(ip);
  return { dst: `${formatAddress(a)}/${a.family === 4 ? 32 : 128}`, type: 'unicast', iface, scope: 'link' };
}

/** Local IPAM block: `blackhole <block>`. */
export function blackholeRoute(block: string): DesiredRoute {
  return { dst: canonPrefix(block), type: 'blackhole' };
}

/** Remote block on the same subnet (no encapsulation, or CrossSubnet): `<block> via <nodeIP> dev <parent> onlink`. */
export function sameSubnetRoute(block: string, nodeIp: string, parentIface: string): DesiredRoute {
  return { dst: canonPrefix(block), type: 'unicast', iface: parentIface, gateway: canonAddr(nodeIp), onlink: true };
}

/** Remote block over IPIP: `<block> via <nodeIP> dev tunl0 onlink [mtu <ipipMTU>]`. */
export function ipipRoute(block: string, nodeIp: string, mtu?: number, device = 'tunl0'): DesiredRoute {
  const r: DesiredRoute = { dst: canonPrefix(block), type: 'unicast', iface: device, gateway: canonAddr(nodeIp), onlink: true };
  return mtu === undefined ? r : { ...r, mtu };
}

/** Remote block over VXLAN: `<block> via <remote VTEP tunnel IP> dev vxlan.calico onlink`. */
export function vxlanRoute(block: string, vtepTunnelIp: string, device = 'vxlan.calico'): DesiredRoute {
  return { dst: canonPrefix(block), type: 'unicast', iface: device, gateway: canonAddr(vtepTunnelIp), onlink: true };
}

/**
 * A prefix reachable through several next hops at once (ECMP); one hop gives a plain route.
 * The hops travel in the route itself (RTA_MULTIPATH), not as nexthop objects and groups
 * (RTM_NEWNEXTHOP): each route is then compared and repaired on its own from one dump, with no
 * second kind of kernel object to own and reconcile. Groups pay off when many prefixes share
 * one set (a full table through two ToRs narrows with one group change instead of one replace
 * per prefix); the node's ECMP routes are a handful (default, external prefixes), so they do not here.
 */
export function ecmpRoute(block: string, hops: readonly DesiredNextHop[]): DesiredRoute {
  if (hops.length === 0) throw new RangeError(`ECMP route ${block} needs at least one next hop`);
  const dst = canonPrefix(block);
  const canon = hops.map((h) => (h.gateway === undefined ? h : { ...h, gateway: canonAddr(h.gateway) }));
  if (canon.length === 1) {
    const [h] = canon as [DesiredNextHop];
    const r: DesiredRoute = { dst, type: 'unicast', iface: h.iface, onlink: h.onlink ?? false };
    return h.gateway === undefined ? r : { ...r, gateway: h.gateway };
  }
  return { dst, type: 'unicast', nexthops: canon };
}

/**
 * Check a desired route before it is accepted, so one bad entry can never poison an apply.
 * Throws a TortieError naming the route and the field.
 */
export function validateDesiredRoute(r: DesiredRoute): void {
  const where = `route ${String(r.dst)}`;
  const fail = (field: string, why: string): never => { throw new TortieError('invalid-route', `${field}: ${why}`, { where }); };
  if (!isValidPrefix(r.dst)) fail('dst', `${JSON.stringify(r.dst)} is not a valid prefix (host bits must be zero)`);
  const family = familyOfPrefix(r.dst);
  const checkAddr = (field: string, a: string | undefined): void => {
    if (a === undefined) return;
    if (!isValidAddress(a)) fail(field, `${JSON.stringify(a)} is not an IP address`);
    if (parseAddress(a).family !== family) fail(field, `${a} is not IPv${family} like the destination`);
  };
  if (r.type !== 'unicast' && r.type !== 'blackhole') fail('type', `must be "unicast" or "blackhole", got ${JSON.stringify(r.type)}`);
  checkAddr('gateway', r.gateway);
  checkAddr('src', r.src);
  if (r.metric !== undefined && (!Number.isInteger(r.metric) || r.metric < 0 || r.metric > 0xffffffff)) fail('metric', 'must be an integer 0..4294967295');
  if (r.mtu !== undefined && (!Number.isInteger(r.mtu) || r.mtu < 68 || r.mtu > 65535)) fail('mtu', 'must be an integer 68..65535');
  if (r.type === 'unicast') {
    if (r.nexthops !== undefined && r.nexthops.length > 0) {
      r.nexthops.forEach((h, i) => {
        if (typeof h.iface !== 'string' || h.iface.length === 0 || h.iface.length > 15) fail(`nexthops[${i}].iface`, 'must be an interface name (1..15 characters)');
        checkAddr(`nexthops[${i}].gateway`, h.gateway);
        if (h.weight !== undefined && (!Number.isInteger(h.weight) || h.weight < 1 || h.weight > 256)) fail(`nexthops[${i}].weight`, 'must be 1..256');
      });
    } else if (typeof r.iface !== 'string' || r.iface.length === 0 || r.iface.length > 15) {
      fail('iface', 'a unicast route needs an interface name (1..15 characters) or next hops');
    }
  }
}

export function familyOfPrefix(dst: string): Family { return dst.includes(':') ? 6 : 4; }

/**
 * The kernel route for a desired route, or undefined while an interface it needs is missing
 * (the route stays pending until the link appears, as in Felix).
 */
export function resolveRoute(r: DesiredRoute, table: number, protocol: number, ifindexOf: (name: string) => number | undefined): KernelRoute | undefined {
  const family = familyOfPrefix(r.dst);
  const metric = r.metric ?? defaultMetric(family);
  let out: { -readonly [K in keyof KernelRoute]: KernelRoute[K] };
  if (r.type === 'blackhole') {
    out = { family, dst: r.dst, table, protocol, metric, type: 'blackhole', scope: 'universe', onlink: false };
  } else if (r.nexthops !== undefined && r.nexthops.length > 0) {
    const hops: NextHop[] = [];
    for (const h of r.nexthops) {
      const ifindex = ifindexOf(h.iface);
      if (ifindex === undefined) return undefined;
      hops.push(h.gateway === undefined ? { ifindex, onlink: h.onlink ?? false, weight: h.weight ?? 1 }
        : { ifindex, gateway: h.gateway, onlink: h.onlink ?? false, weight: h.weight ?? 1 });
    }
    out = { family, dst: r.dst, table, protocol, metric, type: 'unicast', scope: 'universe', onlink: false, nexthops: hops };
  } else {
    if (r.iface === undefined) return undefined;
    const ifindex = ifindexOf(r.iface);
    if (ifindex === undefined) return undefined;
    const scope: RouteScope = r.scope ?? (r.gateway === undefined ? 'link' : 'universe');
    out = { family, dst: r.dst, table, protocol, metric, type: 'unicast', scope, onlink: r.onlink ?? false, ifindex };
    if (r.gateway !== undefined) out.gateway = r.gateway;
  }
  if (r.src !== undefined) out.src = r.src;
  if (r.mtu !== undefined) out.mtu = r.mtu;
  return out;
}

/** The interfaces a desired route needs. */
export function ifacesOf(r: DesiredRoute): string[] {
  if (r.nexthops !== undefined) return r.nexthops.map((h) => h.iface);
  return r.iface === undefined ? [] : [r.iface];
}

/**
 * A canonical text for comparing a route we want with what the kernel reports, ignoring the
 * kernel's decorations: blackholes report `dev lo` on IPv6, IPv6 ignores scope, and
 * next-hop order does not matter.
 */
export function routeSignature(r: KernelRoute): string {
  const unicast = r.type === 'unicast';
  let via = '';
  if (unicast) {
    if (r.nexthops !== undefined && r.nexthops.length > 0) {
      via = r.nexthops.map((h) => `${h.ifindex}/${h.gateway ?? ''}/${h.onlink ? 1 : 0}/${h.weight ?? 1}`).sort().join(',');
    } else {
      via = `${r.ifindex ?? ''}/${r.gateway ?? ''}/${r.onlink ? 1 : 0}`;
    }
  }
  const scope = r.family === 6 || !unicast ? '' : r.scope;
  return `${r.table}|${r.dst}|${r.metric}|${r.protocol}|${r.type}|${scope}|${via}|${r.src ?? ''}|${r.mtu ?? ''}`;
}

/**
 * `routeSignature(a) === routeSignature(b)` without building either string, for the common
 * single-next-hop case (the no-op resync compares 100k pairs); multipath falls back to the texts.
 */
export function sameRouteSignature(a: KernelRoute, b: KernelRoute): boolean {
  if (a.nexthops !== undefined || b.nexthops !== undefined) return routeSignature(a) === routeSignature(b);
  if (a.table !== b.table || a.dst !== b.dst || a.metric !== b.metric || a.protocol !== b.protocol || a.type !== b.type
    || a.src !== b.src || a.mtu !== b.mtu) return false;
  if (a.type !== 'unicast') return true;
  if (a.family === 4 && b.family === 4 && a.scope !== b.scope) return false;
  return a.ifindex === b.ifindex && a.gateway === b.gateway && a.onlink === b.onlink;
}
