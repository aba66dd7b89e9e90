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
 */
import type { Prefix } from '../../common/prefix.js';
import type { BestChanges, LocRib } from '../rib/loc-rib.js';
import type { MemberBatch } from '../rib/update-group.js';
import { PrefixList } from '../rib/prefix-list.js';
import { PrefixTable, v6Key } from '../rib/prefix-table.js';
import { ipv4ToInt } from '../../common/prefix.js';
import type { SortedPrefixWalk } from '../rib/sorted-prefix-walk.js';
import type { Route } from '../rib/route.js';
import { AddPathGroup } from '../rib/add-path-group.js';
import type { Group } from './established-session.js';

/** Prefixes sent per slice (one event-loop turn). */
export const SYNC_SLICE = 5_000;
/** Time the key scan and sort of the walk may take per turn (ms). */
const PREPARE_MS = 10;

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
  /** Set by Outbound: a policy change (regroup) or a next hop found late, acted on when the join is done. */
  regroupAfter = false;
  resendAfter = false;

  constructor(readonly group: Group, readonly join: boolean, private readonly deps: TableSyncDeps) {
    this.walk = deps.rib.sortedWalk();
    this.changedIds = join ? new PrefixTable() : undefined;
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
    const ap = this.group.ug instanceof AddPathGroup;
    for (let i = 0; i < changes.length; i++) {
      const prefix = changes.prefixes.prefix(i);
      if (seen.get(prefix) !== undefined) continue;
      const before: readonly Route[] = ap ? changes.prevPathsAt(i) : (changes.previous[i]?.alone ?? []);
      seen.set(prefix, this.passed(prefix) ? this.group.ug.sentIds(this.deps.memberId, prefix, before) : []);
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
    if (!this.walk.prepare(performance.now() + PREPARE_MS, () => performance.now())) { this.deps.schedule(() => this.slice()); return; }
    const batch: Prefix[] = [];
    let end = false;
    while (batch.length < SYNC_SLICE) {
      const p = this.walk.next();
      if (p === undefined) { end = true; break; }
      if (p.family === 4) this.lastV4 = ipv4ToInt(p.bytes) * 64 + p.length; else this.lastV6 = v6Key(p);
      if (this.changedIds?.get(p) !== undefined) continue; // sent at the end
      batch.push(p);
    }
    if (batch.length > 0) {
      const { batch: b, count, count6 } = this.group.ug.batchFor(this.deps.memberId, this.deps.rib, batch);
      this.count += count;
      this.count6 += count6;
      this.deps.send(this.group, b);
    }
    if (!end) { this.deps.schedule(() => this.slice()); return; }
    if (this.changedIds !== undefined) this.sendChanged(this.changedIds);
    this.finished = true;
    this.deps.done(this.count);
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
