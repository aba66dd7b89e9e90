/**
 * Desired kernel routes (proto 80) from the snapshot, the learned BGP routes and local facts
 * (calico-compat.md §2.6, §2.8, §3.2, §3.5):
 *   - a blackhole per local block;
 *   - a /32 per local workload on its cali interface;
 *   - backend bird: each learned best route — inside a VXLAN pool and (Always, or CrossSubnet and
 *     the owner node in another subnet) → via vxlan.calico to the owner's VTEP; IPIP likewise via
 *     tunl0; otherwise via the BGP next hop: onlink out of the parent interface when it is in our
 *     subnet, else through the underlay route that reaches it (BIRD's "gateway recursive");
 *   - backend vxlan (no BGP): remote blocks from IPAM via felix/routes blockRoutes.
 * Routes learned for prefixes outside every pool get metric 1024 so they never replace a route
 * someone else owns for the same destination.
 */
import { parseAddress, parsePrefix, prefixContains, formatPrefix, type Prefix } from '../../common/prefix.js';
import { blockRoutes } from '../../felix/routes/block-routes.js';
import { crossSubnetDecision, sameSubnet } from '../../felix/routes/cross-subnet.js';
import { blackholeRoute, ipipRoute, sameSubnetRoute, workloadRoute, type DesiredRoute } from '../../felix/routes/route.js';
import type { RemoteBlock, RemoteVtep } from '../../ipip/vxlan-manager.js';
import type { LearnedRoute, NodeInfo, PoolInfo, Snapshot } from './snapshot.js';
import { localBlocks } from './advertise.js';
import { parsePeerIp } from '../resources/fields.js';
import { selectorMatches } from '../resources/selector.js';

export interface UnderlayRoute { readonly dst: string; readonly gateway?: string; readonly iface: string; readonly metric?: number }

export interface LocalFacts {
  /** The node address with its prefix length ("10.0.1.2/24"). */
  readonly cidr: string;
  /** Interface carrying it. */
  readonly parentIface: string;
  /** The node's IPv6 address with its prefix length (dual stack), on the same parent interface. */
  readonly cidr6?: string;
  readonly backend: 'bird' | 'vxlan' | 'none';
  /** Kernel routes not ours (for resolving a next hop outside our subnet). */
  readonly underlay: readonly UnderlayRoute[];
  readonly ipipMtu?: number;
}

export interface Workload { readonly address: string; readonly iface: string }

export interface KernelRoutesResult {
  readonly routes: DesiredRoute[];
  /** Remote blocks routed over VXLAN (VxlanManager.routesFor after its entries exist). */
  readonly vxlanBlocks: RemoteBlock[];
  readonly vteps: RemoteVtep[];
  readonly skipped: Array<{ readonly prefix: string; readonly reason: string }>;
}

export const EXTERNAL_ROUTE_METRIC = 1024;
/** IPv6 routes without a metric get 1024 from the kernel: ours for external prefixes sit above it. */
export const EXTERNAL_ROUTE_METRIC_V6 = 2048;

type ParsedPool = { readonly pool: PoolInfo; readonly cidr: Prefix };

/** The pools with their CIDRs parsed once per calculation (not once per route); unparsable ones left out. */
function parsePools(pools: readonly PoolInfo[]): ParsedPool[] {
  return pools.flatMap((pool) => { try { return [{ pool, cidr: parsePrefix(pool.cidr) }]; } catch { return []; } });
}

function poolOf(pools: readonly ParsedPool[], p: Prefix): PoolInfo | undefined {
  return pools.find((q) => q.cidr.family === p.family && prefixContains(q.cidr, p))?.pool;
}

/** Longest-prefix match of an address over the underlay routes (lowest metric on ties). */
export function resolveNextHop(underlay: readonly UnderlayRoute[], ip: string): UnderlayRoute | undefined {
  const a = parseAddress(ip);
  let best: UnderlayRoute | undefined, bestLen = -1, bestMetric = Infinity;
  for (const r of underlay) {
    let p;
    try { p = parsePrefix(r.dst === 'default' ? (a.family === 4 ? '0.0.0.0/0' : '::/0') : r.dst, { allowHostBits: true }); } catch { continue; }
    if (p.family !== a.family || !prefixContains(p, a)) continue;
    const m = r.metric ?? 0;
    if (p.length > bestLen || (p.length === bestLen && m < bestMetric)) { best = r; bestLen = p.length; bestMetric = m; }
  }
  return best;
}

export function vtepsOf(s: Snapshot): RemoteVtep[] {
  const out: RemoteVtep[] = [];
  for (const n of s.nodes.values()) {
    if (n.name === s.localNode || n.ipv4 === undefined || n.vxlanTunnelAddr === undefined) continue;
    out.push({ nodeName: n.name, nodeIp: n.ipv4, tunnelIp: n.vxlanTunnelAddr, ...(n.vxlanMac === undefined ? {} : { mac: n.vxlanMac }) });
  }
  return out.sort((a, b) => a.nodeName.localeCompare(b.nodeName));
}

export function kernelRoutes(s: Snapshot, learned: readonly LearnedRoute[], workloads: readonly Workload[], local: LocalFacts): KernelRoutesResult {
  const out: KernelRoutesResult = { routes: [], vxlanBlocks: [], vteps: vtepsOf(s), skipped: [] };
  const byDst = new Map<string, DesiredRoute>();
  const put = (r: DesiredRoute): void => { if (!byDst.has(r.dst)) byDst.set(r.dst, r); };
  const vtepNodes = new Set(out.vteps.map((v) => v.nodeName));
  const own = new Set(localBlocks(s));
  const localIp = local.cidr.slice(0, local.cidr.indexOf('/'));
  const localIp6 = local.cidr6 === undefined ? undefined : local.cidr6.slice(0, local.cidr6.indexOf('/'));
  const pools = parsePools(s.pools);

  const direct = (prefix: string, nh: string, metric: number | undefined): DesiredRoute | string => {
    const withMetric = (r: DesiredRoute): DesiredRoute => (metric === undefined ? r : { ...r, metric });
    const v6 = parseAddress(nh).family === 6;
    const subnet = v6 ? local.cidr6 : local.cidr;
    if (subnet === undefined) return 'this node has no IPv6 address';
    if (sameSubnet(subnet, nh)) {
      if (local.parentIface === '') return `no interface holds the node address ${subnet}`;
      return withMetric(sameSubnetRoute(prefix, nh, local.parentIface));
    }
    const u = resolveNextHop(local.underlay, nh);
    if (u === undefined) return `next hop ${nh} is not reachable (no route to it)`;
    if (u.gateway === undefined) return withMetric(sameSubnetRoute(prefix, nh, u.iface));
    return withMetric(sameSubnetRoute(prefix, u.gateway, u.iface));
  };

  for (const w of workloads) {
    try { put(workloadRoute(w.address, w.iface)); } catch { out.skipped.push({ prefix: w.address, reason: `workload on ${w.iface}: not an IP address` }); }
  }
  // BGPPeer reachableBy (calico-compat §2.5): `<peerIP>/32 via <gateway>` on the node that has the peering.
  for (const r of reachableByRoutes(s)) {
    const d = direct(r.dst, r.gateway, r.dst.includes(':') ? EXTERNAL_ROUTE_METRIC_V6 : EXTERNAL_ROUTE_METRIC);
    if (typeof d === 'string') out.skipped.push({ prefix: r.dst, reason: `reachableBy: ${d}` }); else put({ ...d, dst: r.dst });
  }
  for (const b of own) put(blackholeRoute(b));

  if (local.backend === 'bird') {
    const cfg = s.bgpConfigs.get('default');
    const services = [...(cfg?.serviceClusterIPs ?? []), ...(cfg?.serviceExternalIPs ?? []), ...(cfg?.serviceLoadBalancerIPs ?? [])].map((c) => parsePrefix(c.cidr));
    const nodesByIp = new Map<string, NodeInfo>();
    for (const n of s.nodes.values()) for (const a of [n.ipv4, n.ipv6]) if (a !== undefined) nodesByIp.set(a, n);
    const handled = new Set<string>();
    for (const l of [...learned].sort((a, b) => a.prefix.localeCompare(b.prefix))) {
      let parsed: Prefix;
      try { parsed = parsePrefix(l.prefix); } catch { out.skipped.push({ prefix: l.prefix, reason: 'not a prefix' }); continue; }
      const prefix = formatPrefix(parsed);
      // One best route per prefix; a duplicate (should not happen) never yields a second route.
      if (handled.has(prefix)) { out.skipped.push({ prefix, reason: 'duplicate learned route' }); continue; }
      handled.add(prefix);
      const family = parsed.family;
      if (parseAddress(l.nextHop).family !== family) { out.skipped.push({ prefix, reason: `next hop ${l.nextHop} is not IPv${family}` }); continue; }
      if (own.has(prefix)) { out.skipped.push({ prefix, reason: 'our own block' }); continue; }
      // Service ranges are advertised, never installed (Calico's /rejectcidrs).
      if (services.some((c) => prefixContains(c, parsed))) { out.skipped.push({ prefix, reason: 'service range: advertised, not installed' }); continue; }
      if (l.nextHop === localIp || l.nextHop === localIp6) { out.skipped.push({ prefix, reason: 'next hop is this node' }); continue; }
      const pool = poolOf(pools, parsed);
      const owner = nodesByIp.get(l.nextHop);
      if (family === 6 && pool !== undefined && pool.vxlanMode !== 'Never') { out.skipped.push({ prefix, reason: 'IPv6 VXLAN is not supported yet' }); continue; }
      if (pool !== undefined && pool.vxlanMode !== 'Never' && owner !== undefined
        && crossSubnetDecision(pool.vxlanMode, local.cidr, l.nextHop) === 'tunnel') {
        if (vtepNodes.has(owner.name)) out.vxlanBlocks.push({ cidr: prefix, nodeName: owner.name });
        else out.skipped.push({ prefix, reason: `node ${owner.name} has no VXLAN tunnel address yet` });
        continue;
      }
      if (pool !== undefined && pool.ipipMode !== 'Never' && crossSubnetDecision(pool.ipipMode, local.cidr, l.nextHop) === 'tunnel') {
        put(ipipRoute(prefix, l.nextHop, local.ipipMtu));
        continue;
      }
      const r = direct(prefix, l.nextHop, pool !== undefined ? undefined : family === 4 ? EXTERNAL_ROUTE_METRIC : EXTERNAL_ROUTE_METRIC_V6);
      if (typeof r === 'string') out.skipped.push({ prefix, reason: r });
      else put(r);
    }
  } else if (local.backend === 'vxlan') {
    const nodes = new Map<string, { name: string; ip: string }>();
    for (const n of s.nodes.values()) if (n.ipv4 !== undefined) nodes.set(n.name, { name: n.name, ip: n.ipv4 });
    const blocks = s.blocks.flatMap((b) => {
      const pool = poolOf(pools, parsePrefix(b.cidr));
      if (b.node === undefined || pool === undefined) return [];
      if (b.cidr.includes(':')) { if (b.node !== s.localNode) out.skipped.push({ prefix: b.cidr, reason: 'IPv6 without BGP is not supported yet' }); return []; }
      const modes = { ipipMode: pool.ipipMode, vxlanMode: pool.vxlanMode };
      // Addresses borrowed from this block by another node: a /32 to the node running the workload.
      const borrowed = b.allocations.filter((a) => a.node !== undefined && a.node !== b.node && a.node !== s.localNode)
        .map((a) => ({ cidr: `${a.address}/32`, nodeName: a.node ?? '', ...modes }));
      return b.node === s.localNode ? borrowed : [{ cidr: b.cidr, nodeName: b.node, ...modes }, ...borrowed];
    });
    if (local.parentIface === '') {
      out.skipped.push({ prefix: local.cidr, reason: 'no interface holds the node address: remote blocks not routed' });
      blocks.length = 0;
    }
    const br = blockRoutes({ name: s.localNode, cidr: local.cidr, parentIface: local.parentIface }, nodes, blocks);
    for (const r of br.routes) put(r);
    for (const v of br.vxlanBlocks) {
      if (vtepNodes.has(v.nodeName)) out.vxlanBlocks.push(v);
      else out.skipped.push({ prefix: v.cidr, reason: `node ${v.nodeName} has no VXLAN tunnel address yet` });
    }
    for (const sk of br.skipped) out.skipped.push({ prefix: sk.cidr, reason: sk.reason });
  }
  out.routes.push(...[...byDst.values()].sort((a, b) => a.dst.localeCompare(b.dst)));
  return out;
}

/** Static routes for BGPPeers with reachableBy that apply to this node. */
export function reachableByRoutes(s: Snapshot): Array<{ dst: string; gateway: string }> {
  const local = s.nodes.get(s.localNode);
  if (local === undefined) return [];
  const out: Array<{ dst: string; gateway: string }> = [];
  for (const p of s.peers) {
    const spec = p.spec;
    if (spec.reachableBy === undefined || spec.peerIP === undefined) continue;
    let applies: boolean;
    try {
      applies = spec.node !== undefined ? spec.node === local.name : spec.nodeSelector !== undefined ? selectorMatches(spec.nodeSelector, local.labels) : true;
    } catch { continue; }
    const ip = parsePeerIp(spec.peerIP);
    if (!applies || typeof ip === 'string' || ip.ip.includes(':')) continue;
    out.push({ dst: `${ip.ip}/32`, gateway: spec.reachableBy });
  }
  return out.sort((a, b) => a.dst.localeCompare(b.dst));
}
