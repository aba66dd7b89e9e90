/**
 * Desired kernel routes (proto 80) from the snapshot, the learned BGP routes and local facts
 * (calico-compat.md §2.6, §2.8, §3.2, §3.5):
 *   - a blackhole per local block;
 *   - a /32 per local workload on its cali interface;
 *   - backend bird: each learned best route — inside a VXLAN pool and (Always, or CrossSubnet and
 *     the owner node in another subnet of that family) → via vxlan.calico (IPv6: vxlan-v6.calico)
 *     to the owner's VTEP of that family; IPIP (IPv4 only) likewise via tunl0; otherwise via the
 *     BGP next hop: onlink out of the parent interface when it is in our subnet, else through the
 *     underlay route that reaches it (BIRD's "gateway recursive"); with several equal paths
 *     (multipath, BIRD `merge paths on`) one route with a next hop per path (RTA_MULTIPATH);
 *   - a pool annotated for the UDP backend: as VXLAN (its vxlanMode, else its ipipMode, decides),
 *     but through the UDP backend's device to the owner node's address (IPv4 underlay);
 *   - backend vxlan (no BGP): remote blocks from IPAM via felix/routes blockRoutes, per family
 *     (IPv6 blocks against the nodes' IPv6 addresses and VTEPs), borrowed /32s and /128s likewise.
 * Routes learned for prefixes outside every pool get metric 1024 so they never replace a route
 * someone else owns for the same destination. A learned route with an elevated LOCAL_PREF
 * (route-priority.ts elevatedMetric) gets metric 2147483647 - LOCAL_PREF and replaces a local
 * workload route for the same address, as calico-node's import and kernel filters do.
 */
import { parseAddress, parsePrefix, prefixContains, formatPrefix, type Prefix } from '../../common/prefix.js';
import { blockRoutes } from '../../felix/routes/block-routes.js';
import { crossSubnetDecision, sameSubnet } from '../../felix/routes/cross-subnet.js';
import { blackholeRoute, ecmpRoute, ipipRoute, sameSubnetRoute, workloadRoute, type DesiredNextHop, type DesiredRoute } from '../../felix/routes/route.js';
import type { RemoteBlock, RemoteVtep } from '../../ipip/vxlan-manager.js';
import type { UdpRemote } from '../../ipip/udp-packet.js';
import type { LearnedRoute, NodeInfo, PoolInfo, Snapshot } from './snapshot.js';
import { localBlocks } from './advertise.js';
import { parsePeerIp } from '../resources/fields.js';
import { selectorMatches } from '../resources/selector.js';
import { effectiveBgpConfiguration } from '../resources/bgp-configuration.js';
import { elevatedMetric } from './route-priority.js';

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
  /** Remote IPv4 blocks routed over vxlan.calico (VxlanManager.routesFor after its entries exist). */
  readonly vxlanBlocks: RemoteBlock[];
  /** The other nodes' IPv4 VTEPs. */
  readonly vteps: RemoteVtep[];
  /** The same for IPv6 over vxlan-v6.calico: remote IPv6 blocks and the other nodes' IPv6 VTEPs. */
  readonly vxlanBlocks6: RemoteBlock[];
  readonly vteps6: RemoteVtep[];
  /** Remote blocks over the UDP backend (UdpTunnel.routesFor once its device is up), with the owner's address. */
  readonly udpBlocks: Array<UdpRemote & { readonly nodeName: string }>;
  /** Every other node's underlay address: where UDP backend datagrams may come from. */
  readonly udpPeers: string[];
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

/** The other nodes' VTEPs of one family: IPv4 from ipv4Address + ipv4VXLANTunnelAddr, IPv6 from ipv6Address + ipv6VXLANTunnelAddr. */
export function vtepsOf(s: Snapshot, family: 4 | 6 = 4): RemoteVtep[] {
  const out: RemoteVtep[] = [];
  for (const n of s.nodes.values()) {
    if (n.name === s.localNode) continue;
    const [nodeIp, tunnelIp, mac] = family === 4 ? [n.ipv4, n.vxlanTunnelAddr, n.vxlanMac] : [n.ipv6, n.vxlanTunnelAddrV6, n.vxlanMacV6];
    if (nodeIp === undefined || tunnelIp === undefined) continue;
    out.push({ nodeName: n.name, nodeIp, tunnelIp, ...(mac === undefined ? {} : { mac }) });
  }
  return out.sort((a, b) => a.nodeName.localeCompare(b.nodeName));
}

export function kernelRoutes(s: Snapshot, learned: readonly LearnedRoute[], workloads: readonly Workload[], local: LocalFacts): KernelRoutesResult {
  const out: KernelRoutesResult = { routes: [], vxlanBlocks: [], vteps: vtepsOf(s, 4), vxlanBlocks6: [], vteps6: vtepsOf(s, 6),
    udpBlocks: [], udpPeers: udpPeersOf(s), skipped: [] };
  const byDst = new Map<string, DesiredRoute>();
  const putFirst = (r: DesiredRoute): void => { if (!byDst.has(r.dst)) byDst.set(r.dst, r); };
  const put = putFirst;
  const vtepNodes = { 4: new Set(out.vteps.map((v) => v.nodeName)), 6: new Set(out.vteps6.map((v) => v.nodeName)) };
  /** A remote block through the owner's VTEP of the block's family, or skipped until that VTEP is known. */
  const viaVxlan = (family: 4 | 6, b: RemoteBlock): void => {
    if (vtepNodes[family].has(b.nodeName)) (family === 4 ? out.vxlanBlocks : out.vxlanBlocks6).push(b);
    else out.skipped.push({ prefix: b.cidr, reason: `node ${b.nodeName} has no ${family === 4 ? 'IPv4' : 'IPv6'} VXLAN tunnel address yet` });
  };
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

  /**
   * One route through every usable next hop of a multipath set (each resolved as direct() does);
   * unusable ones are left out, as BIRD leaves out a next hop it cannot resolve.
   */
  const multipath = (prefix: string, nextHops: readonly string[], metric: number | undefined): DesiredRoute | string => {
    const hops: DesiredNextHop[] = [];
    const seen = new Set<string>();
    let why = '';
    const family = prefix.includes(':') ? 6 : 4;
    for (const nh of nextHops) {
      if (nh === localIp || nh === localIp6) continue;
      try { if (parseAddress(nh).family !== family) continue; } catch { continue; }
      const d = direct(prefix, nh, metric);
      if (typeof d === 'string') { why ||= d; continue; }
      const key = `${d.iface ?? ''}/${d.gateway ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      hops.push({ iface: d.iface ?? '', ...(d.gateway === undefined ? {} : { gateway: d.gateway }), onlink: d.onlink ?? false });
    }
    if (hops.length === 0) return why || 'no usable next hop';
    const r = ecmpRoute(prefix, hops);
    return metric === undefined ? r : { ...r, metric };
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
    const eff = effectiveBgpConfiguration(cfg);
    for (const l of [...learned].sort((a, b) => a.prefix.localeCompare(b.prefix))) {
      let parsed: Prefix;
      try { parsed = parsePrefix(l.prefix); } catch { out.skipped.push({ prefix: l.prefix, reason: 'not a prefix' }); continue; }
      const prefix = formatPrefix(parsed);
      // One best route per prefix; a duplicate (should not happen) never yields a second route.
      if (handled.has(prefix)) { out.skipped.push({ prefix, reason: 'duplicate learned route' }); continue; }
      handled.add(prefix);
      const family = parsed.family;
      if (parseAddress(l.nextHop).family !== family) { out.skipped.push({ prefix, reason: `next hop ${l.nextHop} is not IPv${family}` }); continue; }
      const elevated = elevatedMetric(l.localPref, family === 4 ? eff.ipv4NormalRoutePriority : eff.ipv6NormalRoutePriority);
      const put = elevated === undefined ? putFirst : (r: DesiredRoute): void => { byDst.set(r.dst, { ...r, metric: elevated }); };
      if (own.has(prefix)) { out.skipped.push({ prefix, reason: 'our own block' }); continue; }
      // Service ranges are advertised, never installed (Calico's /rejectcidrs).
      if (services.some((c) => prefixContains(c, parsed))) { out.skipped.push({ prefix, reason: 'service range: advertised, not installed' }); continue; }
      if (l.nextHop === localIp || l.nextHop === localIp6) { out.skipped.push({ prefix, reason: 'next hop is this node' }); continue; }
      const pool = poolOf(pools, parsed);
      const owner = nodesByIp.get(l.nextHop);
      // The subnet that decides CrossSubnet is the node's own subnet of the next hop's family.
      const subnet = family === 4 ? local.cidr : local.cidr6;
      if (pool?.encapsulation === 'udp') {
        const mode = pool.vxlanMode !== 'Never' ? pool.vxlanMode : pool.ipipMode;
        if (mode !== 'Never' && owner !== undefined) {
          if (family !== 4) { out.skipped.push({ prefix, reason: 'UDP backend pool: IPv6 is not carried yet (IPv4 underlay only)' }); continue; }
          if (crossSubnetDecision(mode, local.cidr, l.nextHop) === 'tunnel') { out.udpBlocks.push({ cidr: prefix, nodeName: owner.name, nodeIp: l.nextHop }); continue; }
        }
        const r = direct(prefix, l.nextHop, undefined);
        if (typeof r === 'string') out.skipped.push({ prefix, reason: r }); else put(r);
        continue;
      }
      if (pool !== undefined && pool.vxlanMode !== 'Never' && owner !== undefined) {
        if (subnet === undefined) { out.skipped.push({ prefix, reason: 'IPv6 VXLAN pool: this node has no IPv6 address' }); continue; }
        if (crossSubnetDecision(pool.vxlanMode, subnet, l.nextHop) === 'tunnel') { viaVxlan(family, { cidr: prefix, nodeName: owner.name }); continue; }
      }
      if (family === 4 && pool !== undefined && pool.ipipMode !== 'Never' && crossSubnetDecision(pool.ipipMode, local.cidr, l.nextHop) === 'tunnel') {
        put(ipipRoute(prefix, l.nextHop, local.ipipMtu));
        continue;
      }
      const metric = pool !== undefined ? undefined : family === 4 ? EXTERNAL_ROUTE_METRIC : EXTERNAL_ROUTE_METRIC_V6;
      const r = l.nextHops !== undefined && l.nextHops.length > 1 ? multipath(prefix, l.nextHops, metric) : direct(prefix, l.nextHop, metric);
      if (typeof r === 'string') out.skipped.push({ prefix, reason: r });
      else put(r);
    }
  } else if (local.backend === 'vxlan') {
    for (const family of [4, 6] as const) {
      const cidr = family === 4 ? local.cidr : local.cidr6;
      const nodes = new Map<string, { name: string; ip: string }>();
      for (const n of s.nodes.values()) {
        const ip = family === 4 ? n.ipv4 : n.ipv6;
        if (ip !== undefined) nodes.set(n.name, { name: n.name, ip });
      }
      const blocks = s.blocks.flatMap((b) => {
        if (b.cidr.includes(':') !== (family === 6)) return []; // the other family's pass parses it
        let p: Prefix;
        try { p = parsePrefix(b.cidr); } catch { return []; }
        const pool = poolOf(pools, p);
        if (b.node === undefined || pool === undefined) return [];
        const modes = { ipipMode: pool.ipipMode, vxlanMode: pool.vxlanMode, ...(pool.encapsulation === 'udp' ? { udp: true } : {}) };
        // Addresses borrowed from this block by another node: a /32 (/128) to the node running the workload.
        const borrowed = b.allocations.filter((a) => a.node !== undefined && a.node !== b.node && a.node !== s.localNode)
          .map((a) => ({ cidr: `${a.address}/${family === 4 ? 32 : 128}`, nodeName: a.node ?? '', ...modes }));
        return b.node === s.localNode ? borrowed : [{ cidr: b.cidr, nodeName: b.node, ...modes }, ...borrowed];
      });
      if (blocks.length === 0) continue;
      if (cidr === undefined) {
        for (const b of blocks) out.skipped.push({ prefix: b.cidr, reason: 'IPv6 block: this node has no IPv6 address' });
        continue;
      }
      if (local.parentIface === '') {
        out.skipped.push({ prefix: cidr, reason: 'no interface holds the node address: remote blocks not routed' });
        continue;
      }
      const br = blockRoutes({ name: s.localNode, cidr, parentIface: local.parentIface }, nodes, blocks);
      for (const r of br.routes) put(r);
      for (const v of br.vxlanBlocks) viaVxlan(family, v);
      for (const u of br.udpBlocks) {
        if (family === 4) out.udpBlocks.push(u);
        else out.skipped.push({ prefix: u.cidr, reason: 'UDP backend pool: IPv6 is not carried yet (IPv4 underlay only)' });
      }
      for (const sk of br.skipped) out.skipped.push({ prefix: sk.cidr, reason: sk.reason });
    }
  }
  out.routes.push(...[...byDst.values()].sort((a, b) => a.dst.localeCompare(b.dst)));
  return out;
}

/** The other nodes' IPv4 addresses: the sources the UDP backend accepts datagrams from. */
export function udpPeersOf(s: Snapshot): string[] {
  const out: string[] = [];
  for (const n of s.nodes.values()) if (n.name !== s.localNode && n.ipv4 !== undefined) out.push(n.ipv4);
  return out.sort();
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
