/**
 * The update group of sessions that negotiated ADD-PATH send (RFC 7911) for every family they
 * carry: like UpdateGroup (update-group.ts), no per-peer table and one export per change for all
 * members, but an entry is a (prefix, path id) pair and a prefix has up to `limit` paths: the
 * best exportable candidates in best-path order (all of them when limit is 0, as BIRD's
 * `add paths tx` and FRR's `addpath-tx-all-paths`). Path ids come from PathIds (one per source and
 * received path id), so a changed path is re-announced under its id and a lost one withdrawn by it.
 *
 * The Loc-RIB tracks paths while such a group exists (LocRib.trackPaths): every change carries
 * the prefix's candidates before and after, so the group keeps no table either; flush() selects
 * the sent paths of both and sends the difference. A member is never sent its own paths (skip
 * list), as FRR: a member that is the source of one of the `limit` best gets one path fewer.
 */
import type { Prefix } from '../../common/prefix.js';
import type { BestChanges } from './best-changes.js';
import type { ExportedAttributes, ExportTarget } from './export.js';
import type { LocRib } from './loc-rib.js';
import { PathIds } from './path-ids.js';
import { PrefixList } from './prefix-list.js';
import type { PeerInfo, Route } from './route.js';
import { selectBest } from './best-path.js';
import { routeList, UpdateGroup, type MemberBatch } from './update-group.js';
import { PathBatch } from './path-batch.js';
import { prefixIndependent } from './export.js';

const NONE: readonly Route[] = Object.freeze([]);
/** Stand-ins for the prefix when the target's export does not look at it (as in UpdateGroup). */
const ANY_V4: Prefix = { family: 4, bytes: new Uint8Array(4), length: 0 };
const ANY_V6: Prefix = { family: 6, bytes: new Uint8Array(16), length: 0 };
const EMPTY_SKIP: readonly number[] = [];
const alone = (r: Route | undefined): readonly Route[] => (r !== undefined ? r.alone : NONE);

/**
 * A member that is the source of paths in a flush: its advertised-count changes and the batch
 * entries of its own paths, as runs [start, end) (a peer's own table is one long run).
 */
class OwnEntries {
  delta = 0;
  delta6 = 0;
  count = 0;
  readonly runs: number[] = [];
  private start = 0;
  private end = 0;

  /** Entry k (the batch's newest) is this member's own path. */
  mark(k: number, d: number, v6: boolean): void {
    this.delta += d;
    if (v6) this.delta6 += d;
    this.count++;
    if (k === this.end && this.end > this.start) { this.end = k + 1; return; }
    if (this.end > this.start) this.runs.push(this.start, this.end);
    this.start = k; this.end = k + 1;
  }

  /** The entries as a skip list (call once, when it is not the whole batch). */
  skip(): number[] {
    if (this.end > this.start) { this.runs.push(this.start, this.end); this.start = this.end; }
    const out: number[] = [];
    for (let r = 0; r < this.runs.length; r += 2) for (let k = this.runs[r]!; k < this.runs[r + 1]!; k++) out.push(k);
    return out;
  }
}

export class AddPathGroup {
  private readonly members = new Map<string, { advertised: number; advertised6: number }>();
  /** Export transform and its caches: an UpdateGroup of the same target with no members. */
  private readonly exporter: UpdateGroup;
  private readonly cacheable: boolean;
  // pending changes since the last flush (arrival order): the routes before and after, and the
  // candidate lists where a change had several (see apply)
  private pend = new PrefixList();
  private prev = routeList();
  private cur = routeList();
  private lists: Map<number, { readonly prev: readonly Route[]; readonly cur: readonly Route[] }> | undefined;
  private readonly sel: Route[] = [];
  private readonly selAttrs: ExportedAttributes[] = [];
  /** Advertised-count changes of flushPaths during one flush. */
  private listDelta = 0;
  private listDelta6 = 0;

  /** `limit`: paths per prefix at most (0: every exportable candidate). */
  constructor(readonly target: ExportTarget, readonly families: { readonly v4: boolean; readonly v6: boolean },
    readonly limit: number, private readonly ids: PathIds = new PathIds()) {
    this.exporter = new UpdateGroup(target, families);
    this.cacheable = prefixIndependent(target);
  }

  get size(): number { return this.members.size; }
  get hasPending(): boolean { return this.pend.length > 0; }
  get pendingCount(): number { return this.pend.length; }
  get generation(): number { return this.exporter.generation; }
  memberIds(): IterableIterator<string> { return this.members.keys(); }
  /** The export transform for one path (what `show route export` prints for the best path). */
  transform(prefix: Prefix, route: Route): ExportedAttributes | null { return this.exporter.transform(prefix, route); }
  /** Paths (prefix, id) currently announced to the member. */
  advertised(memberId: string): number { return this.members.get(memberId)?.advertised ?? 0; }
  /** Of those, IPv6 ones. */
  advertised6(memberId: string): number { return this.members.get(memberId)?.advertised6 ?? 0; }

  /** See UpdateGroup.addMember. */
  addMember(memberId: string, advertised = 0, advertised6 = 0): void {
    if (this.pend.length > 0) throw new Error(`add-path group: flush() pending changes before adding member ${memberId}`);
    if (!this.members.has(memberId)) this.members.set(memberId, { advertised, advertised6 });
  }

  removeMember(memberId: string): void { this.members.delete(memberId); }

  /**
   * Record Loc-RIB changes (made while LocRib.trackPaths was on). Per changed prefix the routes
   * before and after, as UpdateGroup keeps them; candidate lists only for the prefixes whose
   * change carried them (several paths), by pending index.
   */
  apply(changes: BestChanges): void {
    if (this.members.size === 0) return;
    const { prefixes, best, previous } = changes;
    const n = changes.length;
    for (let i = 0; i < n; i++) {
      const lists = changes.pathsAt(i);
      const had = this.pend.pushUniqueFrom(prefixes, i);
      if (had >= 0) {
        // the prefix changed again before a flush: before stays the first change's, after is this one's
        this.cur[had] = best[i];
        const was = this.lists?.get(had);
        if (lists !== undefined) (this.lists ??= new Map()).set(had, { prev: was !== undefined ? was.prev : alone(this.prev[had]), cur: lists.cur });
        else if (was !== undefined) this.lists!.set(had, { prev: was.prev, cur: alone(best[i]) });
        continue;
      }
      if (lists !== undefined) (this.lists ??= new Map()).set(this.prev.length, lists);
      this.prev.push(previous[i]);
      this.cur.push(best[i]);
    }
  }

  /**
   * The paths sent for a prefix with candidates `cands`, into `out` (cleared): exportable, best
   * first when a limit applies. Returns the exported attributes by position in `attrs`.
   */
  private select(prefix: Prefix, cands: readonly Route[], out: Route[], attrs: ExportedAttributes[]): void {
    out.length = 0; attrs.length = 0;
    if (cands.length === 0) return;
    if (cands.length === 1) {
      const a = this.exporter.transform(prefix, cands[0]!);
      if (a) { out.push(cands[0]!); attrs.push(a); }
      return;
    }
    let rest: Route[] = [];
    const exp = new Map<Route, ExportedAttributes>();
    for (const r of cands) { const a = this.exporter.transform(prefix, r); if (a) { rest.push(r); exp.set(r, a); } }
    if (this.limit === 0 || rest.length <= this.limit) { for (const r of rest) { out.push(r); attrs.push(exp.get(r)!); } return; }
    while (out.length < this.limit && rest.length > 0) {
      const b = selectBest(rest).best!;
      out.push(b); attrs.push(exp.get(b)!);
      rest = rest.filter((r) => r !== b);
    }
  }

  /** Export the pending changes; members get the shared batch minus the paths they are the source of. */
  flush(emit: (memberId: string, batch: MemberBatch) => void): void {
    const n = this.pend.length;
    if (n === 0) return;
    const { pend: prefixes, prev, cur, lists } = this;
    this.pend = new PrefixList(Math.min(Math.max(64, n), 65536)); this.prev = routeList(); this.cur = routeList(); this.lists = undefined;
    this.exporter.trimCaches();
    const b = new PathBatch();
    const oldSel: Route[] = [], oldAttrs: ExportedAttributes[] = [];
    const newSel = this.sel, newAttrs: ExportedAttributes[] = [];
    let delta = 0, delta6 = 0;
    const own = new Map<string, OwnEntries>();
    // Sources compared as objects (all routes of one session share its PeerInfo), as in
    // UpdateGroup.flush: comparing id strings deoptimised this loop on strings of another kind.
    // Sources that are not members are counted into `others` (never read): every call site then
    // sees an OwnEntries, so the warm-up's rounds (bgp/speaker/warm-up.ts) give it type feedback
    // whether or not their source is a member (an optional call left without it deoptimised).
    const others = new OwnEntries();
    let lastSrc: PeerInfo | undefined, lastOwn = others;
    const ownOf = (src: PeerInfo): OwnEntries => {
      if (src === lastSrc) return lastOwn;
      lastSrc = src;
      if (!this.members.has(src.id)) return (lastOwn = others);
      let o = own.get(src.id);
      if (o === undefined) { o = new OwnEntries(); own.set(src.id, o); }
      return (lastOwn = o);
    };
    for (let i = 0; i < n; i++) {
      const v6 = prefixes.family(i) === 6;
      const prefix = !this.cacheable ? prefixes.prefix(i) : v6 ? ANY_V6 : ANY_V4;
      let o = prev[i], c = cur[i];
      const l = lists?.get(i);
      if (l !== undefined) {
        if (l.prev.length > 1 || l.cur.length > 1) { this.flushPaths(b, prefixes, i, prefix, v6, l.prev, l.cur, oldSel, oldAttrs, newSel, newAttrs, ownOf); continue; }
        o = l.prev[0]; c = l.cur[0];
      }
      // the common case, one path before and after (or none): no selection lists
      const oa = o !== undefined ? this.exporter.transform(prefix, o) : null;
      const ca = c !== undefined ? this.exporter.transform(prefix, c) : null;
      const oid = oa !== null ? this.ids.of(o!) : -1;
      const cid = ca !== null ? this.ids.of(c!) : -1;
      if (ca !== null && !(oid === cid && oa === ca)) {
        b.add(prefixes, i, cid, ca);
        const d = oid === cid ? 0 : 1;
        delta += d;
        if (v6) delta6 += d;
        ownOf(c!.source).mark(b.pathIds.length - 1, d, v6);
      }
      if (oa !== null && oid !== cid) {
        b.remove(prefixes, i, oid);
        delta--;
        if (v6) delta6--;
        ownOf(o!.source).mark(b.pathIds.length - 1, -1, v6);
      }
    }
    newSel.length = 0;
    delta += this.listDelta; delta6 += this.listDelta6;
    this.listDelta = 0; this.listDelta6 = 0;
    if (b.empty) return;
    b.finish();
    for (const [id, m] of this.members) {
      const o = own.get(id);
      m.advertised += delta - (o?.delta ?? 0);
      m.advertised6 += delta6 - (o?.delta6 ?? 0);
      if (o && o.count === b.pathIds.length) continue; // all of it is its own
      emit(id, { base: b, skip: o !== undefined ? o.skip() : EMPTY_SKIP, extra: undefined });
    }
  }

  /** flush() of a prefix with several paths before or after: the selections of both, the difference. */
  private flushPaths(b: PathBatch, prefixes: PrefixList, i: number, prefix: Prefix, v6: boolean, pl: readonly Route[], cl: readonly Route[],
    oldSel: Route[], oldAttrs: ExportedAttributes[], newSel: Route[], newAttrs: ExportedAttributes[],
    ownOf: (src: PeerInfo) => OwnEntries): void {
    this.select(prefix, pl, oldSel, oldAttrs);
    this.select(prefix, cl, newSel, newAttrs);
    for (let k = 0; k < newSel.length; k++) {
      const r = newSel[k]!;
      const id = this.ids.of(r);
      let was: ExportedAttributes | undefined;
      for (let j = 0; j < oldSel.length; j++) if (this.ids.of(oldSel[j]!) === id) { was = oldAttrs[j]; break; }
      if (was === newAttrs[k]) continue;
      b.add(prefixes, i, id, newAttrs[k]!);
      const d = was === undefined ? 1 : 0;
      this.listDelta += d;
      if (v6) this.listDelta6 += d;
      ownOf(r.source).mark(b.pathIds.length - 1, d, v6);
    }
    for (const o of oldSel) {
      const id = this.ids.of(o);
      if (newSel.some((r) => this.ids.of(r) === id)) continue;
      b.remove(prefixes, i, id);
      this.listDelta--;
      if (v6) this.listDelta6--;
      ownOf(o.source).mark(b.pathIds.length - 1, -1, v6);
    }
  }

  /** See UpdateGroup.batchFor: the paths of `prefixes` sent to a member; `count`: paths. */
  batchFor(memberId: string, rib: LocRib, prefixes: readonly Prefix[]): { batch: MemberBatch; count: number; count6: number } {
    const b = new PathBatch();
    const sel: Route[] = [], attrs: ExportedAttributes[] = [];
    let count6 = 0;
    for (const prefix of prefixes) {
      this.select(prefix, rib.candidates(prefix), sel, attrs);
      for (let k = 0; k < sel.length; k++) {
        const r = sel[k]!;
        if (r.source.id !== memberId) { b.add(prefix, 0, this.ids.of(r), attrs[k]!); if (prefix.family === 6) count6++; }
      }
    }
    b.finish();
    return { batch: { base: b, skip: EMPTY_SKIP, extra: undefined }, count: b.pathIds.length, count6 };
  }

  /** The path ids a member is sent for a prefix with candidates `cands`. */
  sentIds(memberId: string, prefix: Prefix, cands: readonly Route[]): number[] {
    const ids: number[] = [];
    this.sentPaths(memberId, prefix, cands, ids, []);
    return ids;
  }

  /** What a member is sent for a prefix with candidates `cands`: path ids into `ids`, their attributes into `attrs` (both cleared first). */
  sentPaths(memberId: string, prefix: Prefix, cands: readonly Route[], ids: number[], attrs: ExportedAttributes[]): void {
    ids.length = 0; attrs.length = 0;
    const sel = this.sel, selAttrs = this.selAttrs;
    this.select(prefix, cands, sel, selAttrs);
    for (let k = 0; k < sel.length; k++) if (sel[k]!.source.id !== memberId) { ids.push(this.ids.of(sel[k]!)); attrs.push(selAttrs[k]!); }
    sel.length = 0; selAttrs.length = 0;
  }

  /** Every path this group sends, for one member (initial update after Established, route refresh). */
  table(memberId: string, rib: LocRib): MemberBatch {
    const b = new PathBatch();
    const sel: Route[] = [], attrs: ExportedAttributes[] = [];
    let v6 = 0;
    rib.forEachPaths((prefix, cands) => {
      this.select(prefix, cands, sel, attrs);
      for (let k = 0; k < sel.length; k++) {
        const r = sel[k]!;
        if (r.source.id !== memberId) { b.add(prefix, 0, this.ids.of(r), attrs[k]!); if (prefix.family === 6) v6++; }
      }
    });
    b.finish();
    const m = this.members.get(memberId);
    if (m) { m.advertised = b.pathIds.length; m.advertised6 = v6; }
    return { base: b, skip: EMPTY_SKIP, extra: undefined };
  }
}
