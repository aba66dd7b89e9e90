/**
 * What this node originates over BGP (calico-compat.md §2.4, §2.5): each block affine to it
 * (not /32), a /32 for each address it borrowed from another node's block, and the service
 * CIDRs of BGPConfiguration `default`; communities from prefixAdvertisements. Nothing else.
 */
import { formatPrefix, parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import { parseCommunityValue } from './bgp-filter-rules.js';
import type { LargeCommunity } from '../../bgp/wire/types.js';
import type { Snapshot } from './snapshot.js';

export interface Originated {
  readonly prefix: string;
  readonly kind: 'block' | 'borrowed' | 'service';
  readonly communities: readonly number[];
  /** RFC 8092 large communities from prefixAdvertisements ("a:b:c"); absent when none. */
  readonly largeCommunities?: readonly LargeCommunity[];
}

/** Addresses of workloads on `node` allocated from blocks affine to another node (or none). */
export function borrowedAddresses(s: Snapshot, node = s.localNode): string[] {
  const out: string[] = [];
  for (const b of s.blocks) {
    if (b.node === node) continue;
    for (const a of b.allocations) if (a.node === node) out.push(a.address);
  }
  return out.sort();
}

/** Local (affine) blocks of this node, not host-sized (a /32 or /128 block is a single address). */
export function localBlocks(s: Snapshot): string[] {
  return s.blocks.filter((b) => b.node === s.localNode).map((b) => b.cidr).filter((c) => {
    const p = parsePrefix(c);
    return p.length < (p.family === 4 ? 32 : 128);
  }).sort();
}

export function originatedPrefixes(s: Snapshot): { routes: Originated[]; problems: string[] } {
  const problems: string[] = [];
  const cfg = s.bgpConfigs.get('default');
  const perNode = s.bgpConfigs.get(`node.${s.localNode}`);
  const named = new Map((cfg?.communities ?? []).map((c) => [c.name, c.value]));
  const advertisements = [...(perNode?.prefixAdvertisements ?? []), ...(cfg?.prefixAdvertisements ?? [])];
  const noExport = s.pools.filter((p) => p.disableBGPExport).map((p) => parsePrefix(p.cidr));
  const communitiesFor = (prefix: string): { communities: number[]; largeCommunities?: LargeCommunity[] } => {
    const p = parsePrefix(prefix);
    const out = new Set<number>();
    const large = new Map<string, LargeCommunity>();
    for (const pa of advertisements) {
      if (!prefixContains(parsePrefix(pa.cidr), p)) continue;
      for (const c of pa.communities ?? []) {
        const value = named.get(c) ?? c;
        const parsed = parseCommunityValue(value);
        if (parsed?.type === 'standard') out.add(parsed.value);
        else if (parsed?.type === 'large') large.set(value, parsed.value);
        else problems.push(`prefixAdvertisements ${pa.cidr}: community ${JSON.stringify(value)} is neither a name, a:b nor a:b:c`);
      }
    }
    const sortedLarge = [...large.values()].sort((a, b) => a.globalAdmin - b.globalAdmin || a.localData1 - b.localData1 || a.localData2 - b.localData2);
    return { communities: [...out].sort((a, b) => a - b), ...(sortedLarge.length > 0 ? { largeCommunities: sortedLarge } : {}) };
  };
  const routes = new Map<string, Originated>();
  const add = (prefix: string, kind: Originated['kind']): void => {
    const p = parsePrefix(prefix, { allowHostBits: true });
    const local = s.nodes.get(s.localNode);
    if ((p.family === 4 ? local?.ipv4 : local?.ipv6) === undefined) return; // no session of that family to carry it
    if (noExport.some((n) => prefixContains(n, p))) return;
    const key = formatPrefix({ ...p, bytes: p.bytes });
    if (!routes.has(key)) routes.set(key, { prefix: key, kind, ...communitiesFor(key) });
  };
  for (const b of localBlocks(s)) add(b, 'block');
  for (const a of borrowedAddresses(s)) add(`${a}/${parseAddress(a).family === 4 ? 32 : 128}`, 'borrowed');
  for (const c of [...(cfg?.serviceClusterIPs ?? []), ...(cfg?.serviceExternalIPs ?? []), ...(cfg?.serviceLoadBalancerIPs ?? [])]) add(c.cidr, 'service');
  return { routes: [...routes.values()].sort((a, b) => a.prefix.localeCompare(b.prefix)), problems: [...new Set(problems)] };
}
