/**
 * An update group without per-peer Adj-RIB-Out tables (BIRD's and FRR's way of scaling to many
 * peers): peers whose ExportTargets are equal share one UpdateGroup. The group records, per
 * changed prefix, the best route its members were last told about (`prev`) and the current one
 * (`cur`); flush() exports both once for the whole group (transform + policy, cached per
 * attribute set and source) and derives each member's batch from the pair: announce when the
 * exported attributes changed, withdraw when the route stopped being exportable to it. The only
 * per-member difference is "never back to the peer it came from", so members that are not the
 * source of anything in the batch share one batch object (encode it once).
 *
 * Memory is O(changed prefixes) per group between flushes, not O(peers × prefixes). The price:
 * every member must be sent every batch in order (the caller writes them all), and a member
 * joining (or asking for a route refresh) gets `table()` after a flush() of the pending changes.
 *
 * Placeholder next hops: give the target `localAddress: NEXT_HOP_SELF_V4` / `localAddress6:
 * NEXT_HOP_SELF_V6` and members with different session addresses still share the group; the
 * sender replaces an all-zero next hop by the member's own address when it encodes (FRR
 * rewrites the next hop per peer the same way).
 */
import type { Prefix } from '../../common/prefix.js';
import { attributesKey } from './attr-intern.js';
import { exportRoute, prefixIndependent, type ExportedAttributes, type ExportTarget } from './export.js';
import type { BestChanges } from './best-changes.js';
import type { LocRib } from './loc-rib.js';
import { PrefixList } from './prefix-list.js';
import type { PeerInfo, Route } from './route.js';

/** Stand-in for "the member's own IPv4 address" in exported NEXT_HOPs (0.0.0.0). */
export const NEXT_HOP_SELF_V4: Uint8Array = new Uint8Array(4);
/** Stand-in for "the member's own IPv6 address" in exported MP_REACH next hops (::). */
export const NEXT_HOP_SELF_V6: Uint8Array = new Uint8Array(16);

/** True for the all-zero placeholder next hops above (compared by value). */
export function isSelfNextHop(nh: Uint8Array | undefined): boolean {
  if (!nh) return false;
  for (let i = 0; i < nh.length; i++) if (nh[i] !== 0) return false;
  return true;
}

/** Stand-ins passed to exportRoute when the target's policy does not look at the prefix (only the family matters). */
const ANY_V4: Prefix = { family: 4, bytes: new Uint8Array(4), length: 0 };
const ANY_V6: Prefix = { family: 6, bytes: new Uint8Array(16), length: 0 };

/** One attribute set and the batch entries (indices into `GroupBatch.prefixes`) announced with it. */
export interface GroupAnnouncement { readonly attrs: ExportedAttributes; readonly idx: readonly number[] }

/** Changes for the members of a group; prefixes are referenced by index (shared, no per-member copies). */
export interface GroupBatch {
  readonly prefixes: PrefixList;
  /** ADD-PATH (add-path-group.ts): the path identifier of each entry of `prefixes`; absent: one path per prefix. */
  readonly pathIds?: readonly number[];
  readonly announce: readonly GroupAnnouncement[];
  readonly withdraw: readonly number[];
}

/**
 * What one member must be sent: `base` (shared with other members) without the entries listed
 * in `skip`, then `extra` (its own differences: the entries where it is the route's source).
 */
export interface MemberBatch {
  readonly base: GroupBatch;
  readonly skip: readonly number[];
  readonly extra: GroupBatch | undefined;
}

/** A member batch as plain lists (tests, simple consumers). */
export function expandBatch(b: MemberBatch): { announce: Array<{ attrs: ExportedAttributes; prefixes: Prefix[] }>; withdraw: Prefix[] } {
  const skip = new Set(b.skip);
  const announce: Array<{ attrs: ExportedAttributes; prefixes: Prefix[] }> = [];
  const withdraw: Prefix[] = [];
  const add = (g: GroupBatch, skipping: boolean) => {
    for (const i of g.withdraw) if (!skipping || !skip.has(i)) withdraw.push(g.prefixes.prefix(i));
    for (const a of g.announce) {
      const prefixes = a.idx.filter((i) => !skipping || !skip.has(i)).map((i) => g.prefixes.prefix(i));
      if (prefixes.length) announce.push({ attrs: a.attrs, prefixes });
    }
  };
  add(b.base, true);
  if (b.extra) add(b.extra, false);
  return { announce, withdraw };
}

const EMPTY_SKIP: readonly number[] = [];

/**
 * An empty list for routes: one allocation site for every such list, already of V8's "any
 * element" kind. A `[]` starts as a small-integer array; the first route pushed into one that
 * optimised code handles deoptimises it ("not a Smi"), which happened to each new group's first
 * lists (measured with --trace-deopt after tortie-bgpd's warm-up).
 */
export function routeList(): Array<Route | undefined> {
  const l: Array<Route | undefined> = [undefined];
  l.length = 0;
  return l;
}

/** UpdateGroup.flush: one source of changed routes (see there). */
class SourceStats {
  mixed = false;
  changed = 0;
  /** Its entries (indices), collected only when its batch is not trivially empty. */
  list: number[] | undefined = undefined;
}

/** Cached transforms (and exported attribute objects) kept before the caches are reset. */
const CACHE_LIMIT = 8192;

class BatchBuilder implements GroupBatch {
  readonly announce: Array<{ attrs: ExportedAttributes; idx: number[] }> = [];
  readonly withdraw: number[] = [];
  private readonly byAttrs = new Map<ExportedAttributes, number[]>();
  private lastAttrs: ExportedAttributes | undefined;
  private lastList: number[] = [];

  constructor(readonly prefixes: PrefixList) {}

  add(attrs: ExportedAttributes, i: number): void {
    if (attrs !== this.lastAttrs) {
      let l = this.byAttrs.get(attrs);
      if (!l) { l = []; this.byAttrs.set(attrs, l); this.announce.push({ attrs, idx: l }); }
      this.lastAttrs = attrs;
      this.lastList = l;
    }
    this.lastList.push(i);
  }

  get empty(): boolean { return this.announce.length === 0 && this.withdraw.length === 0; }
}

export class UpdateGroup {
  private readonly members = new Map<string, { advertised: number; advertised6: number }>();
  private readonly cacheable: boolean;
  // pending changes since the last flush (arrival order)
  private pend = new PrefixList();
  private prev = routeList();
  private cur = routeList();
  // export results: one object per distinct exported attribute set (identity = equality)
  private exported = new Map<string, ExportedAttributes>();
  /** By family: the result depends on the Route (attributes, source, next hop) and the family only. */
  private cache4 = new Map<Route, ExportedAttributes | null>();
  private cache6 = new Map<Route, ExportedAttributes | null>();
  private memoRoute: Route | undefined;
  private memoFamily = 0;
  private memoOut: ExportedAttributes | null = null;
  private gen = 0;

  /**
   * `families`: the address families the members negotiated; routes of other families are not
   * exported to this group at all (nor counted as advertised). Default both.
   */
  constructor(readonly target: ExportTarget, readonly families: { readonly v4: boolean; readonly v6: boolean } = { v4: true, v6: true }) {
    this.cacheable = prefixIndependent(target);
  }

  get size(): number { return this.members.size; }
  get hasPending(): boolean { return this.pend.length > 0; }
  /** Distinct prefixes changed since the last flush. */
  get pendingCount(): number { return this.pend.length; }
  /** Changes whenever exported attribute objects may have been replaced (reset caches keyed by them). */
  get generation(): number { return this.gen; }
  memberIds(): IterableIterator<string> { return this.members.keys(); }
  /** Prefixes currently announced to the member (as far as the batches it was given go). */
  advertised(memberId: string): number { return this.members.get(memberId)?.advertised ?? 0; }
  /** Of those, IPv6 ones (the rest are IPv4): birdc's exported count per channel. */
  advertised6(memberId: string): number { return this.members.get(memberId)?.advertised6 ?? 0; }

  /**
   * Add a member; call flush() first, then send it table() (or, as a table sync does, send it
   * the table first and give the prefixes counted as `advertised`, `advertised6` of them IPv6).
   */
  addMember(memberId: string, advertised = 0, advertised6 = 0): void {
    if (this.pend.length > 0) throw new Error(`update group: flush() pending changes before adding member ${memberId}`);
    if (!this.members.has(memberId)) this.members.set(memberId, { advertised, advertised6 });
  }

  removeMember(memberId: string): void { this.members.delete(memberId); }

  /** Record Loc-RIB changes (subscribe with `rib.onBestChange((c) => group.apply(c))`). */
  apply(changes: BestChanges): void {
    if (this.members.size === 0) return;
    const { prefixes, best, previous } = changes;
    const n = changes.length;
    for (let i = 0; i < n; i++) {
      const had = this.pend.pushUniqueFrom(prefixes, i);
      if (had >= 0) { this.cur[had] = best[i]; continue; }
      this.prev.push(previous[i]);
      this.cur.push(best[i]);
    }
  }

  /**
   * Export the pending changes and hand each member its batch: members that are not the source
   * of any changed route get the same batch object (first, so their bytes can leave sooner);
   * a source member gets that batch minus its own entries plus its own differences. The caller
   * must send every batch.
   */
  flush(emit: (memberId: string, batch: MemberBatch) => void): void {
    const n = this.pend.length;
    if (n === 0) return;
    const { pend: prefixes, prev, cur } = this;
    this.pend = new PrefixList(Math.min(Math.max(64, n), 65536)); this.prev = routeList(); this.cur = routeList();
    this.trimCaches();
    const generic = new BatchBuilder(prefixes);
    let genericDelta = 0, genericDelta6 = 0;
    let genericCount = 0;
    const newA: Array<ExportedAttributes | null> = new Array(n);
    const oldA: Array<ExportedAttributes | null> = new Array(n);
    // Per source of a changed route: whether any of its entries also involves another source
    // (mixed) and how many change the shared batch. A member whose entries are all its own and
    // cover every change of the shared batch gets nothing (a single peer's table: the peer is a
    // member of the group its routes go to); only the other source members need their entry lists.
    const own = new Map<string, SourceStats>();
    // Sources are compared as objects first (all routes of one session share its PeerInfo), by
    // id only when the objects differ: comparing the id strings on every entry deoptimised this
    // loop whenever the ids were strings of another internal kind than the ones it was compiled with.
    let lastSrc: PeerInfo | undefined, lastSt: SourceStats | undefined;
    const stats = (src: PeerInfo): SourceStats => {
      if (src === lastSrc && lastSt) return lastSt;
      let st = own.get(src.id);
      if (!st) { st = new SourceStats(); own.set(src.id, st); }
      lastSrc = src; lastSt = st;
      return st;
    };
    for (let i = 0; i < n; i++) {
      const c = cur[i], p = prev[i];
      const prefix = !this.cacheable ? prefixes.prefix(i) : prefixes.family(i) === 4 ? ANY_V4 : ANY_V6;
      const nn = c ? this.transform(prefix, c) : null;
      const oo = p === c ? nn : p ? this.transform(prefix, p) : null;
      newA[i] = nn; oldA[i] = oo;
      const cs = c?.source, ps = p === c ? cs : p?.source;
      if (cs !== undefined && ps !== undefined && cs !== ps && cs.id !== ps.id) { stats(cs).mixed = true; stats(ps).mixed = true; }
      else if (cs !== undefined || ps !== undefined) { const st = stats((cs ?? ps)!); if (nn !== oo) st.changed++; }
      if (nn === oo) continue;
      genericCount++;
      if (nn) generic.add(nn, i); else generic.withdraw.push(i);
      const d = nn ? (oo ? 0 : 1) : -1;
      genericDelta += d;
      if (d !== 0 && prefixes.family(i) === 6) genericDelta6 += d;
    }
    let lists = false;
    for (const id of this.members.keys()) {
      const st = own.get(id);
      if (st && (st.mixed || st.changed !== genericCount)) { st.list = []; lists = true; }
    }
    if (lists) {
      lastSrc = undefined; lastSt = undefined;
      for (let i = 0; i < n; i++) {
        const c = cur[i], p = prev[i];
        const cs = c?.source;
        if (cs !== undefined) stats(cs).list?.push(i);
        if (p !== undefined && p !== c && p.source !== cs && p.source.id !== cs?.id) stats(p.source).list?.push(i);
      }
    }
    const plain: MemberBatch = { base: generic, skip: EMPTY_SKIP, extra: undefined };
    for (const [id, m] of this.members) {
      if (own.has(id)) continue;
      m.advertised += genericDelta; m.advertised6 += genericDelta6;
      if (!generic.empty) emit(id, plain);
    }
    for (const [id, m] of this.members) {
      const mine = own.get(id)?.list;
      if (!mine) continue; // not a source, or nothing of the shared batch is for it (its count does not change)
      const skip: number[] = [];
      const extra = new BatchBuilder(prefixes);
      let delta = genericDelta, delta6 = genericDelta6;
      for (const i of mine) {
        const c = cur[i], p = prev[i];
        const gn = newA[i]!, go = oldA[i]!;
        const nn = c !== undefined && c.source.id === id ? null : gn;
        const oo = p !== undefined && p.source.id === id ? null : go;
        let d = 0;
        if (gn !== go) { skip.push(i); if (gn) { if (!go) d--; } else d++; }
        if (nn !== oo) {
          if (nn) { extra.add(nn, i); if (!oo) d++; } else { extra.withdraw.push(i); d--; }
        }
        delta += d;
        if (d !== 0 && prefixes.family(i) === 6) delta6 += d;
      }
      m.advertised += delta; m.advertised6 += delta6;
      if (extra.empty && skip.length === genericCount) continue; // nothing of the shared batch is for it
      emit(id, { base: generic, skip, extra: extra.empty ? undefined : extra });
    }
  }

  /** The whole current table for one member (initial update after Established, route refresh). */
  table(memberId: string, rib: LocRib): MemberBatch {
    const m = this.members.get(memberId);
    const prefixes = new PrefixList();
    const b = new BatchBuilder(prefixes);
    let v6 = 0;
    rib.forEachBest((prefix, best) => {
      if (best.source.id === memberId) return;
      const a = this.transform(prefix, best);
      if (a) { b.add(a, prefixes.length); prefixes.push(prefix); if (prefix.family === 6) v6++; }
    });
    if (m) { m.advertised = prefixes.length; m.advertised6 = v6; }
    return { base: b, skip: EMPTY_SKIP, extra: undefined };
  }

  /**
   * The current routes of `prefixes` for a member, as table() gives them (a slice of a table
   * sync); `count`: the prefixes announced, `count6` of them IPv6. Prefixes without a route are left out.
   */
  batchFor(memberId: string, rib: LocRib, prefixes: readonly Prefix[]): { batch: MemberBatch; count: number; count6: number } {
    const list = new PrefixList(Math.max(64, prefixes.length));
    const b = new BatchBuilder(list);
    let count6 = 0;
    for (const prefix of prefixes) {
      const best = rib.best(prefix);
      if (best === undefined || best.source.id === memberId) continue;
      const a = this.transform(prefix, best);
      if (a) { b.add(a, list.length); list.push(prefix); if (prefix.family === 6) count6++; }
    }
    return { batch: { base: b, skip: EMPTY_SKIP, extra: undefined }, count: list.length, count6 };
  }

  /** The path ids a member is sent for a prefix whose best route is `best` (one path: id 0, or none). */
  sentIds(memberId: string, prefix: Prefix, best: readonly Route[]): number[] {
    const ids: number[] = [];
    this.sentPaths(memberId, prefix, best, ids, []);
    return ids;
  }

  /** What a member is sent for a prefix whose best route is `best`: into `ids` (0) and `attrs` (cleared first). */
  sentPaths(memberId: string, prefix: Prefix, best: readonly Route[], ids: number[], attrs: ExportedAttributes[]): void {
    ids.length = 0; attrs.length = 0;
    const r = best[0];
    const a = r !== undefined && r.source.id !== memberId ? this.transform(prefix, r) : null;
    if (a) { ids.push(0); attrs.push(a); }
  }

  /** Exported attributes for `route` (one object per distinct result), or null when it must not be sent. */
  transform(prefix: Prefix, route: Route): ExportedAttributes | null {
    if (!(prefix.family === 4 ? this.families.v4 : this.families.v6)) return null;
    const cache = prefix.family === 4 ? this.cache4 : this.cache6;
    if (this.cacheable) {
      const m = this.memoRoute;
      if (prefix.family === this.memoFamily && m !== undefined
        && (route === m || (route.attrs === m.attrs && route.source === m.source && route.nextHop === m.nextHop))) return this.memoOut;
      const hit = cache.get(route);
      if (hit !== undefined) { this.memoRoute = route; this.memoFamily = prefix.family; this.memoOut = hit; return hit; }
    }
    const r = exportRoute(prefix, route, this.target);
    let out: ExportedAttributes | null = null;
    if (r.type === 'export') {
      const k = attributesKey(r.attrs);
      out = this.exported.get(k) ?? null;
      if (!out) { out = Object.freeze(r.attrs); this.exported.set(k, out); }
    }
    if (this.cacheable) {
      cache.set(route, out);
      this.memoRoute = route; this.memoFamily = prefix.family; this.memoOut = out;
    }
    return out;
  }

  /**
   * Drop the transform caches once they hold CACHE_LIMIT entries (between batches: flush() calls
   * it, and so does an AddPathGroup for the UpdateGroup it exports with): they are keyed by Route,
   * so without a bound they would keep every route ever exported alive.
   */
  trimCaches(): void {
    if (this.cache4.size + this.cache6.size >= CACHE_LIMIT || this.exported.size >= CACHE_LIMIT) this.resetCaches();
  }

  private resetCaches(): void {
    this.exported = new Map();
    this.cache4 = new Map();
    this.cache6 = new Map();
    this.memoRoute = undefined; this.memoOut = null;
    this.gen++;
  }
}
