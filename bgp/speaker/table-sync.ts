/**
 * Sending a session the whole table (after Established, after a ROUTE-REFRESH) in slices, one
 * event-loop turn each, instead of one synchronous pass: at a million routes that pass held the
 * loop (and every other session's keepalives) for seconds. The Loc-RIB's prefixes are walked in
 * network order (SortedPrefixWalk: a snapshot of the keys, robust to the table growing between
 * slices); each slice looks the current routes up and sends them through the session's update
 * group's export (UpdateGroup/AddPathGroup.batchFor).
 *
 * A joining session (`join`) is not a member of its group until the walk is done, so it gets no
 * batch of the group meanwhile. The Loc-RIB changes made during the walk are noted (changed());
 * the walk leaves those prefixes out and, at its end, sends their state then, withdrawing what
 * the session had been sent before the change and no longer gets (the ids it was sent are known:
 * a prefix the walk has passed got the state before its first change, one it has not got
 * nothing). Then the session joins the group with the exact count of what it holds.
 * A refresh (`join` false) leaves the session in its group: the group's batches keep it current,
 * and the walk sends the current state again (RFC 2918 / 7313).
 *
 * A regroup (`from`: the export policy changed, the session moves to another update group) is a
 * join that starts from what the old group's export sent, not from nothing: each slice sends
 * only the difference between the old and the new export of its prefixes (announce where the
 * exported attributes differ, withdraw the paths the new export no longer sends; a route that
 * stays is not sent again), and a prefix that changes before the walk reaches it counts as held
 * under the old export. The whole difference in one pass would hold the event loop for a time
 * that grows with the table (bench/ctl `--only regroup`).
 */
import type { Prefix } from '../../common/prefix.js';
import type { BestChanges, LocRib } from '../rib/loc-rib.js';
import type { MemberBatch } from '../rib/update-group.js';
import type { ExportedAttributes } from '../rib/export.js';
import { attributesKey } from '../rib/attr-intern.js';
import { PrefixList } from '../rib/prefix-list.js';
import { PrefixTable, v6Key } from '../rib/prefix-table.js';
import { ipv4ToInt } from '../../common/prefix.js';
import type { SortedPrefixWalk } from '../rib/sorted-prefix-walk.js';
import type { Route } from '../rib/route.js';
import { AddPathGroup } from '../rib/add-path-group.js';
import { PathBatch } from '../rib/path-batch.js';
import type { Group } from './established-session.js';

/** Prefixes sent per slice (one event-loop turn). */
export const SYNC_SLICE = 5_000;
/** Time the key scan and sort of the walk may take per turn (ms). */
const PREPARE_MS = 10;
/** Time a regroup slice may take (ms): it ends at SYNC_SLICE prefixes or this, whichever comes first. */
const SLICE_MS = 10;

export interface TableSyncDeps {
  readonly memberId: string;
  readonly rib: LocRib;
  /** Whether the session is still the one being synced (not down, not replaced). */
  readonly live: () => boolean;
  /** Encode and send a batch to the session (with the group's export). */
  readonly send: (g: Group, b: MemberBatch) => void;
  /** The walk is done (`count`: prefixes or paths the session holds, for a join). */
  readonly done: (count: number) => void;
  readonly schedule: (fn: () => void) => void;
}

/** A regroup's starting point: the group whose export the session holds, and its counts there. */
export interface RegroupFrom {
  readonly group: Group;
  readonly advertised: number;
  readonly advertised6: number;
}

const NO_ROUTES: readonly Route[] = Object.freeze([]);

/** The routes a group's export looks at for a prefix: its candidates (ADD-PATH) or its best. */
function routesFor(g: Group, rib: LocRib, prefix: Prefix): readonly Route[] {
  return g.ug instanceof AddPathGroup ? rib.candidates(prefix) : (rib.best(prefix)?.alone ?? NO_ROUTES);
}

export class TableSync {
  private readonly walk: SortedPrefixWalk;
  /** join: prefixes changed during the walk, with the path ids the session had been sent for each. */
  private readonly changedIds: PrefixTable<readonly number[]> | undefined;
  private count = 0;
  private count6 = 0;
  private lastV4 = -1;
  private lastV6: string | undefined;
  private cancelled = false;
  private finished = false;
  private prepared = false;
  /** Regroup: attribute keys of exported attribute objects (the two groups' objects are never the same). */
  private readonly attrKeys = new WeakMap<ExportedAttributes, string>();
  private readonly oldIds: number[] = [];
  private readonly oldAttrs: ExportedAttributes[] = [];
  private readonly newIds: number[] = [];
  private readonly newAttrs: ExportedAttributes[] = [];
  /** Set by Outbound: a policy change (regroup) or a next hop found late, acted on when the join is done. */
  regroupAfter = false;
  resendAfter = false;

  /** `from`: a regroup (a join from the old group's export; see the header). */
  constructor(readonly group: Group, readonly join: boolean, private readonly deps: TableSyncDeps, private readonly from?: RegroupFrom) {
    this.walk = deps.rib.sortedWalk();
    this.changedIds = join ? new PrefixTable() : undefined;
    if (from) { this.count = from.advertised; this.count6 = from.advertised6; }
  }

  /** Prefixes or paths sent so far (join). */
  get sent(): number { return this.count; }
  /** Of those, IPv6 ones. */
  get sent6(): number { return this.count6; }
  get active(): boolean { return !this.cancelled && !this.finished; }

  cancel(): void { this.cancelled = true; }

  /** Run the first slice now; the others follow, one per turn. */
  start(): void { this.slice(); }

  /** Loc-RIB changes while joining: note the prefixes (see the header). */
  changed(changes: BestChanges): void {
    const seen = this.changedIds;
    if (seen === undefined || !this.active) return;
    for (let i = 0; i < changes.length; i++) {
      const prefix = changes.prefixes.prefix(i);
      if (seen.get(prefix) !== undefined) continue;
      // what the session holds for it: the new group's export once the walk passed it, else the
      // old group's (regroup) or nothing (a new session)
      const g = this.passed(prefix) ? this.group : this.from?.group;
      const before: readonly Route[] = g === undefined ? NO_ROUTES : g.ug instanceof AddPathGroup ? changes.prevPathsAt(i) : (changes.previous[i]?.alone ?? NO_ROUTES);
      seen.set(prefix, g === undefined ? [] : g.ug.sentIds(this.deps.memberId, prefix, before));
    }
  }

  /** Whether the walk has already sent (or passed) the prefix. */
  private passed(p: Prefix): boolean {
    if (p.family === 4) return this.lastV6 !== undefined || ipv4ToInt(p.bytes) * 64 + p.length <= this.lastV4;
    return this.lastV6 !== undefined && v6Key(p) <= this.lastV6;
  }

  private slice(): void {
    if (!this.active) return;
    if (!this.deps.live()) { this.cancel(); return; }
    if (!this.prepared) {
      // the scan and sort take turns of their own, the first slice too: not up to PREPARE_MS more on top of it
      if (this.walk.prepare(performance.now() + PREPARE_MS, () => performance.now())) this.prepared = true;
      this.deps.schedule(() => this.slice());
      return;
    }
    let end = false;
    if (this.from !== undefined) end = this.sendDifference(this.from.group);
    else {
      const batch: Prefix[] = [];
      while (batch.length < SYNC_SLICE) {
        const p = this.next();
        if (p === undefined) { end = true; break; }
        if (p !== null) batch.push(p);
      }
      if (batch.length > 0) {
        const { batch: b, count, count6 } = this.group.ug.batchFor(this.deps.memberId, this.deps.rib, batch);
        this.count += count;
        this.count6 += count6;
        this.deps.send(this.group, b);
      }
    }
    if (!end) { this.deps.schedule(() => this.slice()); return; }
    if (this.changedIds !== undefined) this.sendChanged(this.changedIds);
    this.finished = true;
    this.deps.done(this.count);
  }

  /** The walk's next prefix; null: one changed during a join (sent at the end); undefined: the walk is done. */
  private next(): Prefix | null | undefined {
    const p = this.walk.next();
    if (p === undefined) return undefined;
    if (p.family === 4) this.lastV4 = ipv4ToInt(p.bytes) * 64 + p.length; else this.lastV6 = v6Key(p);
    return this.changedIds?.get(p) !== undefined ? null : p;
  }

  /**
   * A regroup slice: for each prefix, the paths the new export sends that the old one did not
   * send with equal attributes, and withdrawals of the paths it no longer sends. Up to
   * SYNC_SLICE prefixes, fewer when SLICE_MS is up first (two exports per prefix: the first
   * slices, before V8 has optimised this code, ran several times as long as the later ones).
   * Returns whether the walk is done.
   */
  private sendDifference(from: Group): boolean {
    const until = performance.now() + SLICE_MS;
    const id = this.deps.memberId, rib = this.deps.rib, to = this.group;
    const { oldIds, oldAttrs, newIds, newAttrs } = this;
    const b = new PathBatch();
    let end = false;
    for (let n = 1; n <= SYNC_SLICE; n++) {
      const prefix = this.next();
      if (prefix === undefined) { end = true; break; }
      if (prefix !== null) {
        from.ug.sentPaths(id, prefix, routesFor(from, rib, prefix), oldIds, oldAttrs);
        to.ug.sentPaths(id, prefix, routesFor(to, rib, prefix), newIds, newAttrs);
        for (let k = 0; k < newIds.length; k++) {
          const j = oldIds.indexOf(newIds[k]!);
          if (j < 0 || !this.sameAttrs(oldAttrs[j]!, newAttrs[k]!)) b.add(prefix, 0, newIds[k]!, newAttrs[k]!);
        }
        for (const old of oldIds) if (!newIds.includes(old)) b.remove(prefix, 0, old);
        const d = newIds.length - oldIds.length;
        this.count += d;
        if (prefix.family === 6) this.count6 += d;
      }
      if ((n & 127) === 0 && performance.now() >= until) break;
    }
    // path ids only for an ADD-PATH group: a batch without them is one path per prefix
    const base = to.ug instanceof AddPathGroup ? b : { prefixes: b.prefixes, announce: b.announce, withdraw: b.withdraw };
    if (!b.empty) this.deps.send(to, { base, skip: [], extra: undefined });
    return end;
  }

  /** Equal exported attributes (the groups intern their own objects: compared by content). */
  private sameAttrs(a: ExportedAttributes, b: ExportedAttributes): boolean {
    return a === b || this.attrKey(a) === this.attrKey(b);
  }

  private attrKey(a: ExportedAttributes): string {
    let k = this.attrKeys.get(a);
    if (k === undefined) { k = attributesKey(a); this.attrKeys.set(a, k); }
    return k;
  }

  /** The end of a join: the current state of the prefixes changed during the walk. */
  private sendChanged(seen: PrefixTable<readonly number[]>): void {
    if (seen.size === 0) return;
    const prefixes: Prefix[] = [];
    const gone = new PrefixList();
    const goneIds: number[] = [];
    const ug = this.group.ug;
    const ap = ug instanceof AddPathGroup;
    seen.forEach((prefix, before) => {
      prefixes.push(prefix);
      const now = ug.sentIds(this.deps.memberId, prefix, ap ? this.deps.rib.candidates(prefix) : (this.deps.rib.best(prefix)?.alone ?? []));
      this.count += now.length - before.length;
      if (prefix.family === 6) this.count6 += now.length - before.length;
      for (const id of before) if (!now.includes(id)) { gone.push(prefix); goneIds.push(id); }
    });
    const { batch } = ug.batchFor(this.deps.memberId, this.deps.rib, prefixes);
    const withdraw = Array.from({ length: gone.length }, (_x, i) => i);
    this.deps.send(this.group, { base: batch.base, skip: [], extra: gone.length === 0 ? undefined : { prefixes: gone, ...(ap ? { pathIds: goneIds } : {}), announce: [], withdraw } });
  }
}
