/**
 * RFC 4271 §9.1.2 best-path selection as an ordered list of elimination steps (the RFC's own
 * formulation, which keeps the non-transitive MED rule deterministic). Each step keeps the
 * routes that are best on its criterion; a route removed by a step "lost at" that step.
 * Order (as FRR/GoBGP): next hop reachable → not LLGR_STALE (RFC 9494 §4.3) → highest LOCAL_PREF → locally originated →
 * shortest AS_PATH (AS_SET counts 1, confederation segments 0) → lowest ORIGIN → lowest MED
 * among routes from the same neighbour AS (or all: alwaysCompareMed) → eBGP over iBGP →
 * lowest IGP cost ━ ECMP set ━ lowest ORIGINATOR_ID/router id → shortest CLUSTER_LIST →
 * lowest peer address → lowest path id.
 */
import { AsPathSegmentType, type AsPathSegment, type PathAttributes } from '../wire/types.js';
import type { Route } from './route.js';

export const DEFAULT_LOCAL_PREF = 100;

export type BestPathStep =
  | 'next-hop-unreachable' | 'llgr-stale' | 'local-pref' | 'local-origin' | 'as-path-length' | 'origin' | 'med'
  | 'ebgp-over-ibgp' | 'igp-cost' | 'router-id' | 'cluster-list-length' | 'peer-address' | 'path-id';

export interface BestPathOptions {
  /** Compare MED between routes from different neighbour ASes too (default false). */
  readonly alwaysCompareMed?: boolean;
  /** Routes kept in the ECMP set (default 1: no multipath; BIRD `merge paths`, FRR `maximum-paths`). */
  readonly maxPaths?: number;
  /**
   * Only routes whose AS_PATH equals the best one's join its ECMP set (FRR's default; its
   * `bgp bestpath as-path multipath-relax` and BIRD's `merge paths` compare the length only,
   * which is this option off, the default here).
   */
  readonly multipathSameAsPath?: boolean;
  /** Hook: IGP metric to reach a next hop (default 0 for all). */
  readonly igpCost?: (nextHop: Uint8Array | undefined) => number;
  /** Hook: false excludes the route from selection (default: everything reachable). */
  readonly nextHopReachable?: (nextHop: Uint8Array | undefined) => boolean;
}

export interface Selection {
  readonly best: Route | undefined;
  /** Best first; length ≤ maxPaths; empty when there is no best. */
  readonly ecmp: readonly Route[];
}

export interface Loser { readonly route: Route; readonly step: BestPathStep; readonly why: string }
export interface Explanation extends Selection { readonly losers: readonly Loser[] }

export function asPathLength(path: readonly AsPathSegment[] | undefined): number {
  let n = 0;
  for (const s of path ?? []) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}

/** The neighbour AS for MED comparison: the first AS of the first AS_SEQUENCE (0 if none: local). */
export function neighbourAs(a: PathAttributes): number {
  const s = a.asPath?.[0];
  return s && s.type === AsPathSegmentType.AS_SEQUENCE ? (s.asns[0] ?? 0) : 0;
}

const localPref = (r: Route) => r.attrs.localPref ?? DEFAULT_LOCAL_PREF;
const routerId = (r: Route) => r.attrs.originatorId ?? r.source.routerId;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

interface KeyStep {
  readonly name: BestPathStep;
  /** Lower wins. */
  readonly rank: (r: Route, o: BestPathOptions) => number;
  readonly show: (r: Route, o: BestPathOptions) => string;
}

const PRE_MED: readonly KeyStep[] = [
  { name: 'llgr-stale', rank: (r) => r.llgrStale, show: (r) => (r.llgrStale ? 'LLGR_STALE (long-lived stale)' : 'not LLGR_STALE') },
  { name: 'local-pref', rank: (r) => -localPref(r), show: (r) => `LOCAL_PREF ${localPref(r)}` },
  { name: 'local-origin', rank: (r) => (r.source.kind === 'local' ? 0 : 1), show: (r) => (r.source.kind === 'local' ? 'locally originated' : `learned from ${r.source.id}`) },
  { name: 'as-path-length', rank: (r) => r.asPathLen, show: (r) => `AS_PATH length ${r.asPathLen}` },
  { name: 'origin', rank: (r) => r.attrs.origin ?? 2, show: (r) => `ORIGIN ${['IGP', 'EGP', 'INCOMPLETE'][r.attrs.origin ?? 2] ?? r.attrs.origin}` },
];
const POST_MED: readonly KeyStep[] = [
  { name: 'ebgp-over-ibgp', rank: (r) => (r.source.kind === 'ibgp' ? 1 : 0), show: (r) => r.source.kind },
  { name: 'igp-cost', rank: (r, o) => (o.igpCost ? o.igpCost(r.nextHop) : 0), show: (r, o) => `IGP cost ${o.igpCost ? o.igpCost(r.nextHop) : 0}` },
];
const TIE_BREAK: readonly KeyStep[] = [
  { name: 'router-id', rank: routerId, show: (r) => `router id ${routerId(r)}` },
  { name: 'cluster-list-length', rank: (r) => r.attrs.clusterList?.length ?? 0, show: (r) => `CLUSTER_LIST length ${r.attrs.clusterList?.length ?? 0}` },
];

function keep(step: KeyStep, set: Route[], o: BestPathOptions, losers: Loser[] | undefined): Route[] {
  let min = Infinity;
  for (const r of set) { const k = step.rank(r, o); if (k < min) min = k; }
  const out: Route[] = [];
  for (const r of set) {
    if (step.rank(r, o) === min) out.push(r);
    else if (losers) {
      const winner = set.find((w) => step.rank(w, o) === min)!;
      losers.push({ route: r, step: step.name, why: `${step.show(r, o)} vs ${step.show(winner, o)}` });
    }
  }
  return out;
}

function keepMed(set: Route[], o: BestPathOptions, losers: Loser[] | undefined): Route[] {
  const med = (r: Route) => r.attrs.med ?? 0;
  const group = (r: Route) => (o.alwaysCompareMed ? 0 : r.neighbourAs);
  const minBy = new Map<number, number>();
  for (const r of set) { const g = group(r); const m = minBy.get(g); if (m === undefined || med(r) < m) minBy.set(g, med(r)); }
  const out: Route[] = [];
  for (const r of set) {
    const m = minBy.get(group(r))!;
    if (med(r) === m) out.push(r);
    else losers?.push({ route: r, step: 'med', why: `MED ${med(r)} vs ${m} from AS ${group(r)}` });
  }
  return out;
}

/** Deterministic order among routes equal down to IGP cost (the last steps as a comparator). */
function tieBreak(a: Route, b: Route): number {
  const d = routerId(a) - routerId(b);
  if (d !== 0) return d;
  const c = (a.attrs.clusterList?.length ?? 0) - (b.attrs.clusterList?.length ?? 0);
  if (c !== 0) return c;
  const p = compareBytes(a.source.address, b.source.address);
  return p !== 0 ? p : a.pathId - b.pathId;
}

function sameSegments(a: readonly AsPathSegment[] | undefined, b: readonly AsPathSegment[] | undefined): boolean {
  if (a === b) return true;
  const x = a ?? [], y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const s = x[i]!, t = y[i]!;
    if (s.type !== t.type || s.asns.length !== t.asns.length) return false;
    for (let j = 0; j < s.asns.length; j++) if (s.asns[j] !== t.asns[j]) return false;
  }
  return true;
}

/** The ECMP set from the routes equal down to IGP cost (sorted, best first): capped, and same AS_PATH when asked. */
function cap(sorted: Route[], o: BestPathOptions): Route[] {
  const max = Math.max(1, o.maxPaths ?? 1);
  let out = sorted;
  if (o.multipathSameAsPath === true && out.length > 1) {
    const path = out[0]!.attrs.asPath;
    out = out.filter((r, i) => i === 0 || sameSegments(r.attrs.asPath, path));
  }
  if (out.length > max) out = out.slice(0, max);
  return out;
}

function run(cands: readonly Route[], o: BestPathOptions, losers: Loser[] | undefined): Selection {
  let set: Route[] = [];
  for (const r of cands) {
    if (!o.nextHopReachable || o.nextHopReachable(r.nextHop)) set.push(r);
    else losers?.push({ route: r, step: 'next-hop-unreachable', why: 'next hop unreachable' });
  }
  if (set.length === 0) return { best: undefined, ecmp: [] };
  if (set.length > 1) {
    for (const s of PRE_MED) set = keep(s, set, o, losers);
    if (set.length > 1) set = keepMed(set, o, losers);
    for (const s of POST_MED) if (set.length > 1) set = keep(s, set, o, losers);
  }
  const ecmpSet = set.length > 1 ? set.slice().sort(tieBreak) : set;
  if (losers && set.length > 1) {
    for (const s of TIE_BREAK) if (set.length > 1) set = keep(s, set, o, losers);
    if (set.length > 1) {
      const w = ecmpSet.find((r) => set.includes(r))!;
      for (const r of set) {
        if (r === w) continue;
        const byAddr = compareBytes(r.source.address, w.source.address) !== 0;
        losers.push({ route: r, step: byAddr ? 'peer-address' : 'path-id', why: byAddr ? `peer ${r.source.id} address higher than ${w.source.id}` : `path id ${r.pathId} vs ${w.pathId}` });
      }
    }
  }
  return { best: ecmpSet[0], ecmp: cap(ecmpSet, o) };
}

/** The steps before MED as one lexicographic comparison (negative: a is better). */
export function comparePreMed(a: Route, b: Route): number {
  const ls = a.llgrStale - b.llgrStale;
  if (ls !== 0) return ls;
  const aa = a.attrs, ba = b.attrs;
  const lp = (ba.localPref ?? DEFAULT_LOCAL_PREF) - (aa.localPref ?? DEFAULT_LOCAL_PREF);
  if (lp !== 0) return lp;
  const lo = (a.source.kind === 'local' ? 0 : 1) - (b.source.kind === 'local' ? 0 : 1);
  if (lo !== 0) return lo;
  const pl = a.asPathLen - b.asPathLen;
  if (pl !== 0) return pl;
  return (aa.origin ?? 2) - (ba.origin ?? 2);
}

function comparePostMed(a: Route, b: Route, o: BestPathOptions): number {
  const k = (a.source.kind === 'ibgp' ? 1 : 0) - (b.source.kind === 'ibgp' ? 1 : 0);
  if (k !== 0 || !o.igpCost) return k;
  return o.igpCost(a.nextHop) - o.igpCost(b.nextHop);
}

const scratchA: Route[] = [];
const scratchB: Route[] = [];

/** Same result as the step list, in a few allocation-free passes (the Loc-RIB hot path). */
function fastSelect(cands: readonly Route[], o: BestPathOptions): Selection {
  const reach = o.nextHopReachable;
  const pre = scratchA;
  let np = 0;
  for (let i = 0; i < cands.length; i++) {
    const r = cands[i]!;
    if (reach && !reach(r.nextHop)) continue;
    const c = np === 0 ? -1 : comparePreMed(r, pre[0]!);
    if (c < 0) { pre[0] = r; np = 1; } else if (c === 0) pre[np++] = r;
  }
  if (np === 0) return { best: undefined, ecmp: [] };
  if (np === 1) { const r = pre[0]!; pre[0] = undefined as never; return { best: r, ecmp: r.alone }; }
  const set = scratchB;
  let ns = 0;
  const always = o.alwaysCompareMed === true;
  for (let i = 0; i < np; i++) {
    const r = pre[i]!;
    const m = r.attrs.med ?? 0;
    let lost = false;
    for (let j = 0; j < np; j++) {
      const s = pre[j]!;
      if ((s.attrs.med ?? 0) < m && (always || s.neighbourAs === r.neighbourAs)) { lost = true; break; }
    }
    if (lost) continue;
    const c = ns === 0 ? -1 : comparePostMed(r, set[0]!, o);
    if (c < 0) { set[0] = r; ns = 1; } else if (c === 0) set[ns++] = r;
  }
  const max = Math.max(1, o.maxPaths ?? 1);
  let out: Selection;
  if (ns === 1 || max === 1) {
    let b = set[0]!;
    for (let i = 1; i < ns; i++) if (tieBreak(set[i]!, b) < 0) b = set[i]!;
    out = { best: b, ecmp: b.alone };
  } else {
    const list = cap(set.slice(0, ns).sort(tieBreak), o);
    out = list.length === 1 ? { best: list[0], ecmp: list[0]!.alone } : { best: list[0], ecmp: list };
  }
  // drop references so the scratch arrays do not keep withdrawn routes alive
  if (pre.length > 16) pre.length = 0; else pre.fill(undefined as never, 0, np);
  if (set.length > 16) set.length = 0; else set.fill(undefined as never, 0, ns);
  return out;
}

/** The best route and ECMP set among `cands` (hot path: no explanation objects). */
export function selectBest(cands: readonly Route[], o: BestPathOptions = {}): Selection {
  if (cands.length === 1) {
    const r = cands[0]!;
    if (o.nextHopReachable && !o.nextHopReachable(r.nextHop)) return { best: undefined, ecmp: [] };
    return { best: r, ecmp: r.alone };
  }
  return fastSelect(cands, o);
}

/** Like selectBest, plus for every other route the step it lost at and why (for `show route`). */
export function explainBest(cands: readonly Route[], o: BestPathOptions = {}): Explanation {
  const losers: Loser[] = [];
  const sel = run(cands, o, losers);
  return { ...sel, losers };
}
