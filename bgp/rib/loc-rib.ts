/**
 * Loc-RIB (RFC 4271 §3.2, §9.1): per prefix the candidate routes from every Adj-RIB-In and the
 * selected best + ECMP set. A prefix with one candidate stores the Route itself (no entry
 * object); more candidates share a small entry. Subscribers get one batch of BestChange per
 * input call (one UPDATE, one withdrawAll, one originate), proportional to what changed.
 * Also the home of local origination (originate / withdrawOriginated) and of the interner.
 */
import type { Logger } from '../../common/logger.js';
import { ipv4ToInt, type Prefix } from '../../common/prefix.js';
import type { PathAttributes } from '../wire/types.js';
import { AdjRibIn, type ImportOptions, type RibSink } from './adj-rib-in.js';
import { AttrInterner } from './attr-intern.js';
import { BestChanges } from './best-changes.js';
import { comparePreMed, explainBest, selectBest, type BestPathOptions, type Explanation } from './best-path.js';
import { PrefixTable, v4Prefix } from './prefix-table.js';
import { RibError } from './rib-error.js';
import { SortedPrefixWalk } from './sorted-prefix-walk.js';
import { localPeer, LOCAL_PEER_ID, Route, type PeerInfo } from './route.js';

export type { BestChange } from './best-changes.js';
export { BestChanges } from './best-changes.js';

export type BestChangeListener = (changes: BestChanges) => void;

export interface LocRibDeps {
  readonly localAs: number;
  /** Our BGP identifier (uint32). */
  readonly routerId: number;
  /** Route-reflector cluster id (defaults to routerId). */
  readonly clusterId?: number;
  readonly bestPath?: BestPathOptions;
  readonly logger?: Logger;
}

class Multi {
  constructor(public cands: Route[], public best: Route | undefined, public ecmp: readonly Route[]) {}
}
type Entry = Route | Multi;

/** The ECMP set of a withdrawal (shared: one per withdrawn prefix would be garbage). */
const NO_ROUTES: readonly Route[] = Object.freeze([]);

/** Whether an entry holds a candidate of `source`. */
function holdsPathOf(e: Entry, source: PeerInfo): boolean {
  return e instanceof Multi ? e.cands.some((r) => r.source === source) : e.source === source;
}

/** The candidate of `source` with `pathId` in an entry. */
function pathOf(e: Entry, source: PeerInfo, pathId: number): Route | undefined {
  if (!(e instanceof Multi)) return e.source === source && e.pathId === pathId ? e : undefined;
  for (const r of e.cands) if (r.source === source && r.pathId === pathId) return r;
  return undefined;
}

function sameList(a: readonly Route[], b: readonly Route[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class LocRib implements RibSink {
  readonly interner = new AttrInterner();
  readonly localAs: number;
  readonly routerId: number;
  readonly clusterId: number;
  private readonly table = new PrefixTable<Entry>();
  private readonly peers = new Map<string, AdjRibIn>();
  private readonly listeners = new Set<BestChangeListener>();
  private pending = new BestChanges();
  private opts: BestPathOptions;
  private single: boolean;
  private readonly local: AdjRibIn;
  /**
   * Path tracking (ADD-PATH send, bgp/rib/add-path-group.ts): change batches also carry the
   * candidate lists before and after, and a change of a non-best candidate is a change too.
   * Turn it on after a flush() (changes pending from before carry no lists).
   */
  trackPaths = false;

  constructor(private readonly deps: LocRibDeps) {
    this.localAs = deps.localAs;
    this.routerId = deps.routerId;
    this.clusterId = deps.clusterId ?? deps.routerId;
    this.opts = deps.bestPath ?? {};
    this.single = !this.opts.nextHopReachable;
    this.local = new AdjRibIn(localPeer(deps.localAs, deps.routerId), this, {}, deps.logger);
    this.peers.set(LOCAL_PEER_ID, this.local);
  }

  /** Subscribe to best-path changes; returns the unsubscribe function. */
  onBestChange(fn: BestChangeListener): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Register a neighbour (at Established); its Adj-RIB-In feeds this Loc-RIB. */
  addPeer(peer: PeerInfo, options: ImportOptions = {}): AdjRibIn {
    if (this.peers.has(peer.id)) throw new RibError('duplicate-peer', `peer ${JSON.stringify(peer.id)} is already in the RIB; removePeer() it first`);
    const rib = new AdjRibIn(peer, this, options, this.deps.logger?.child({ peer: peer.id }));
    this.peers.set(peer.id, rib);
    return rib;
  }

  adjRibIn(peerId: string): AdjRibIn | undefined { return this.peers.get(peerId); }

  /** Every Adj-RIB-In feeding this Loc-RIB (the local origin and peers still being removed included). */
  forEachAdjRibIn(fn: (rib: AdjRibIn) => void): void { for (const r of this.peers.values()) fn(r); }

  /** Whether a prefix can have candidates but no best route (next hops checked: bestPath.nextHopReachable). */
  get mayLackBest(): boolean { return !this.single; }

  /** Session down: withdraw all its routes and forget the neighbour. */
  removePeer(peerId: string): void {
    if (peerId === LOCAL_PEER_ID) throw new RibError('local-origin-protected', 'the local origin cannot be removed; use withdrawOriginated()');
    const rib = this.peers.get(peerId);
    if (!rib) return;
    rib.withdrawAll();
    this.peers.delete(peerId);
  }

  /**
   * removePeer in slices (see AdjRibIn.withdrawSome): returns true once the neighbour is gone.
   * Until then its remaining routes stay candidates.
   */
  removePeerSome(peerId: string, max = 10_000): boolean {
    const rib = this.peers.get(peerId);
    if (!rib) return true;
    if (peerId === LOCAL_PEER_ID) throw new RibError('local-origin-protected', 'the local origin cannot be removed; use withdrawOriginated()');
    if (!rib.withdrawSome(max)) return false;
    this.peers.delete(peerId);
    return true;
  }

  /** Locally originate `prefix` (e.g. an IPAM block). Replaces an earlier origination. */
  originate(prefix: Prefix, attrs: PathAttributes, nextHop?: Uint8Array, iface?: string): void {
    this.local.update([{ prefix }], { origin: 0, ...attrs }, nextHop, iface);
  }

  withdrawOriginated(prefix: Prefix): void { this.local.withdraw([{ prefix }]); }

  /** Number of prefixes with at least one candidate. */
  get size(): number { return this.table.size; }

  /** Prefixes of one family with at least one candidate. */
  sizeOf(family: 4 | 6): number { return family === 4 ? this.table.sizeV4 : this.table.sizeV6; }

  /** The prefixes in network order, in slices (show views over a large table). */
  sortedWalk(): SortedPrefixWalk { return new SortedPrefixWalk(this.table); }

  best(prefix: Prefix): Route | undefined {
    const e = this.table.get(prefix);
    return e instanceof Multi ? e.best : e;
  }

  ecmp(prefix: Prefix): readonly Route[] {
    const e = this.table.get(prefix);
    return e === undefined ? [] : e instanceof Multi ? e.ecmp : e.alone;
  }

  candidates(prefix: Prefix): readonly Route[] {
    const e = this.table.get(prefix);
    return e === undefined ? NO_ROUTES : e instanceof Multi ? e.cands : e.alone;
  }

  /** Best path plus, for each other candidate, the step it lost at. */
  explain(prefix: Prefix): Explanation { return explainBest(this.candidates(prefix), this.opts); }

  /** Visit every prefix with its candidates (every path, best or not: ADD-PATH send, multipath). */
  forEachPaths(fn: (prefix: Prefix, cands: readonly Route[]) => void): void {
    this.table.forEach((p, e) => { if (e instanceof Multi) { if (e.cands.length) fn(p, e.cands); } else fn(p, e.alone); });
  }

  /** Visit every prefix that has a best route (e.g. to fill a new peer's Adj-RIB-Out). */
  forEachBest(fn: (prefix: Prefix, best: Route, ecmp: readonly Route[]) => void): void {
    this.table.forEach((p, e) => {
      if (e instanceof Multi) { if (e.best) fn(p, e.best, e.ecmp); } else fn(p, e, e.alone);
    });
  }

  /** New selection options (multipath limits, MED): every prefix is selected again; changes go to the listeners. */
  setBestPathOptions(o: BestPathOptions): void {
    this.opts = o;
    this.single = !o.nextHopReachable;
    this.reevaluate();
  }

  /** Re-run selection for every prefix (after the IGP-cost or next-hop hooks changed their answers). */
  reevaluate(): void {
    for (const [p, e] of this.table.entries()) {
      if (e instanceof Multi) this.select(p, e, e.best, e.ecmp);
      else if (!this.single) this.setCands(p, [e], e, e.alone);
    }
    this.flush();
  }

  /**
   * RibSink: called by the Adj-RIBs-In, which keep no table of their accepted paths (this one
   * is it). In the common case (a new prefix, a lone candidate replaced or withdrawn by its own
   * neighbour) one hash operation: optimistic set or delete, the entry put back otherwise.
   */
  swap(prefix: Prefix, source: PeerInfo, pathId: number, neu: Route | undefined): Route | undefined {
    if (prefix.family === 4 && this.single) return this.swapV4(ipv4ToInt(prefix.bytes), prefix.length, source, pathId, neu, prefix);
    if (this.single) {
      const e = neu ? this.table.set(prefix, neu) : this.table.delete(prefix);
      if (e === undefined) { if (neu) this.pending.push(prefix, neu, undefined, neu.alone); return undefined; }
      if (!(e instanceof Multi) && e.source === source && e.pathId === pathId) {
        if (e !== neu) this.pending.push(prefix, neu, e, neu ? neu.alone : NO_ROUTES);
        return e;
      }
      this.table.set(prefix, e); // put back: another source's route, or several candidates
      return this.replaced(prefix, e, source, pathId, neu);
    }
    return this.replaced(prefix, this.table.get(prefix), source, pathId, neu);
  }

  /**
   * RibSink: swap() of an IPv4 prefix given as address (uint32) and length: the common cases
   * (see swap) touch no Prefix object; `prefix`, when the caller has one, saves making it for
   * the others.
   */
  swapV4(addr: number, len: number, source: PeerInfo, pathId: number, neu: Route | undefined, prefix?: Prefix): Route | undefined {
    if (!this.single) return this.swap(prefix ?? v4Prefix(addr, len), source, pathId, neu);
    const t = this.table;
    const e = neu ? t.setV4(addr, len, neu) : t.deleteV4(addr, len);
    if (e === undefined) { if (neu) this.pending.pushV4(addr, len, neu, undefined, neu.alone); return undefined; }
    if (!(e instanceof Multi) && e.source === source && e.pathId === pathId) {
      if (e !== neu) this.pending.pushV4(addr, len, neu, e, neu ? neu.alone : NO_ROUTES);
      return e;
    }
    t.setV4(addr, len, e); // put back: another source's route, or several candidates
    return this.replaced(prefix ?? v4Prefix(addr, len), e, source, pathId, neu);
  }

  /** swap()'s general case: `e` (in the table) holds other candidates than the one replaced, or none. */
  private replaced(prefix: Prefix, e: Entry | undefined, source: PeerInfo, pathId: number, neu: Route | undefined): Route | undefined {
    const old = e === undefined ? undefined : pathOf(e, source, pathId);
    if (old || neu) this.replaceIn(prefix, e, old, neu);
    return old;
  }

  /** RibSink: the candidates of `source` for `prefix`. */
  pathsOf(prefix: Prefix, source: PeerInfo): readonly Route[] {
    const e = this.table.get(prefix);
    if (e === undefined) return [];
    if (!(e instanceof Multi)) return e.source === source ? e.alone : [];
    return e.cands.filter((r) => r.source === source);
  }

  /** RibSink: see RibSink.dropFrom. */
  dropFrom(source: PeerInfo, cursor: number, max: number, dropped: (route: Route, prefix: Prefix) => void): number {
    return this.table.forEachFrom(cursor, max, (prefix, e) => {
      if (!(e instanceof Multi)) {
        // a lone candidate (the filter says it is this source's), so the best: its prefix goes
        this.table.delete(prefix);
        this.pending.push(prefix, undefined, e, NO_ROUTES);
        dropped(e, prefix);
        return;
      }
      for (const r of e.cands.filter((c) => c.source === source)) {
        const old = this.swap(prefix, source, r.pathId, undefined);
        if (old !== undefined) dropped(old, prefix);
      }
    }, (e) => holdsPathOf(e, source));
  }

  /** RibSink: see RibSink.forEachOfV4. */
  forEachOfV4(source: PeerInfo, cursor: number, max: number, fn4: (addr: number, len: number, route: Route) => void, fn6: (prefix: Prefix, route: Route) => void): number {
    return this.table.forEachFromV4(cursor, max, (addr, len, e) => {
      if (!(e instanceof Multi)) fn4(addr, len, e);
      else for (const r of e.cands) if (r.source === source) fn4(addr, len, r);
    }, (prefix, e) => {
      if (!(e instanceof Multi)) fn6(prefix, e);
      else for (const r of e.cands) if (r.source === source) fn6(prefix, r);
    }, (e) => holdsPathOf(e, source));
  }

  /** RibSink: see RibSink.layout. */
  get layout(): number { return this.table.layout; }

  /** RibSink: walk the candidates of `source` (see RibSink.forEachOf). */
  forEachOf(source: PeerInfo, cursor: number, max: number, fn: (prefix: Prefix, route: Route) => void): number {
    return this.table.forEachFrom(cursor, max, (prefix, e) => {
      if (!(e instanceof Multi)) fn(prefix, e);
      else for (const r of e.cands) if (r.source === source) fn(prefix, r);
    }, (e) => holdsPathOf(e, source));
  }

  /** Replace candidate `old` by `neu` for `prefix` (either may be undefined); `e` is its current entry. */
  private replaceIn(prefix: Prefix, e: Entry | undefined, old: Route | undefined, neu: Route | undefined): void {
    if (old === neu) return;
    if (e === undefined) {
      if (!neu) return;
      this.setCands(prefix, [neu], undefined, [], undefined, NO_ROUTES);
      return;
    }
    if (!(e instanceof Multi)) {
      // single candidate, it is the best
      if (old === e) {
        if (!neu) { this.table.delete(prefix); this.pending.push(prefix, undefined, e, NO_ROUTES); return; }
        if (this.single) { this.table.set(prefix, neu); this.pending.push(prefix, neu, e, neu.alone); return; }
        this.setCands(prefix, [neu], e, e.alone, undefined, e.alone);
        return;
      }
      if (!neu) return;
      this.setCands(prefix, [e, neu], e, e.alone, undefined, e.alone);
      return;
    }
    const cands = e.cands;
    const prevPaths = this.trackPaths ? cands.slice() : undefined;
    // Shortcut: a route that loses to the best before the MED step cannot influence selection.
    const b = e.best;
    if (b && (!old || (old !== b && comparePreMed(old, b) > 0)) && (!neu || comparePreMed(neu, b) > 0)) {
      if (old) { const i = cands.indexOf(old); if (i >= 0) { if (neu) cands[i] = neu; else cands.splice(i, 1); } else if (neu) cands.push(neu); } else if (neu) cands.push(neu);
      if (prevPaths) this.pending.pushPaths(prefix, b, b, e.ecmp, prevPaths, cands.slice());
      return;
    }
    if (old) { const i = cands.indexOf(old); if (i >= 0) { if (neu) cands[i] = neu; else cands.splice(i, 1); } else if (neu) cands.push(neu); } else if (neu) cands.push(neu);
    this.setCands(prefix, cands, e.best, e.ecmp, e, prevPaths);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = new BestChanges(Math.min(batch.length, 4096)); // the next UPDATE is often the same size
    for (const fn of this.listeners) {
      try { fn(batch); } catch (err) { this.deps.logger?.error({ err }, 'best-path listener failed'); }
    }
  }

  /** `prevPaths`: the candidates before, when they changed (undefined: the same as `cands`). */
  private setCands(prefix: Prefix, cands: Route[], prevBest: Route | undefined, prevEcmp: readonly Route[], entry?: Multi, prevPaths?: readonly Route[]): void {
    if (cands.length === 0) {
      this.table.delete(prefix);
      if (this.trackPaths && prevPaths?.length) this.pending.pushPaths(prefix, undefined, prevBest, NO_ROUTES, prevPaths, NO_ROUTES);
      else if (prevBest) this.pending.push(prefix, undefined, prevBest, NO_ROUTES);
      return;
    }
    const sel = selectBest(cands, this.opts);
    if (cands.length === 1 && sel.best && this.single) this.table.set(prefix, cands[0]!);
    else if (entry) { entry.cands = cands; entry.best = sel.best; entry.ecmp = sel.ecmp; }
    else this.table.set(prefix, new Multi(cands, sel.best, sel.ecmp));
    const changed = sel.best !== prevBest || !sameList(sel.ecmp, prevEcmp);
    if (this.trackPaths && (changed || prevPaths !== undefined)) this.pending.pushPaths(prefix, sel.best, prevBest, sel.ecmp, prevPaths ?? cands.slice(), cands.slice());
    else if (changed) this.pending.push(prefix, sel.best, prevBest, sel.ecmp);
  }

  private select(prefix: Prefix, e: Multi, prevBest: Route | undefined, prevEcmp: readonly Route[]): void {
    this.setCands(prefix, e.cands, prevBest, prevEcmp, e);
  }
}
