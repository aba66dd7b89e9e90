/**
 * One batch of Loc-RIB best-path changes, stored by column (prefixes in a PrefixList, routes in
 * three arrays) instead of an object per change: a table of a million prefixes announced or
 * withdrawn is a million changes, and an object each was garbage the collector had to promote
 * when the batch outlived a scavenge. Consumers on the hot path (update groups, the speaker)
 * read the columns; anything else iterates BestChange objects made on demand.
 */
import type { Prefix } from '../../common/prefix.js';
import { PrefixList } from './prefix-list.js';
import type { Route } from './route.js';

export interface BestChange {
  readonly prefix: Prefix;
  /** Undefined: no usable route any more (withdraw). */
  readonly best: Route | undefined;
  readonly previous: Route | undefined;
  /** Best first; empty when best is undefined. */
  readonly ecmp: readonly Route[];
}

const NONE: readonly Route[] = Object.freeze([]);

export class BestChanges implements Iterable<BestChange> {
  readonly prefixes: PrefixList;
  /** Per change i < length: the new best (undefined: withdrawn) and the one before. */
  readonly best: Array<Route | undefined>;
  readonly previous: Array<Route | undefined>;
  /** ECMP sets other than the trivial one ([best], or none after a withdraw), by change. */
  private ecmpOther: Map<number, readonly Route[]> | undefined;
  /**
   * Candidate lists before and after change i where they are not the trivial ones (the previous
   * and the new best alone): recorded only while the Loc-RIB tracks paths (ADD-PATH send), and
   * then also for changes of non-best candidates (best === previous).
   */
  private pathsOther: Map<number, { readonly prev: readonly Route[]; readonly cur: readonly Route[] }> | undefined;
  private n = 0;

  /** `capacity`: the expected number of changes (the arrays grow past it). */
  constructor(capacity = 16) {
    this.prefixes = new PrefixList(Math.max(16, capacity));
    this.best = new Array<Route | undefined>(capacity);
    this.previous = new Array<Route | undefined>(capacity);
  }

  get length(): number { return this.n; }

  push(prefix: Prefix, best: Route | undefined, previous: Route | undefined, ecmp: readonly Route[]): void {
    this.prefixes.push(prefix);
    this.add(best, previous, ecmp);
  }

  /** push() of an IPv4 prefix as address (uint32) and length. */
  pushV4(addr: number, len: number, best: Route | undefined, previous: Route | undefined, ecmp: readonly Route[]): void {
    this.prefixes.pushV4(addr, len);
    this.add(best, previous, ecmp);
  }

  private add(best: Route | undefined, previous: Route | undefined, ecmp: readonly Route[]): void {
    const i = this.n;
    this.best[i] = best; this.previous[i] = previous; // past the capacity: the arrays grow
    if (best ? ecmp !== best.alone : ecmp.length > 0) (this.ecmpOther ??= new Map()).set(i, ecmp);
    this.n = i + 1;
  }

  /** push() with the candidate lists before and after (Loc-RIB path tracking, see pathsOther). */
  pushPaths(prefix: Prefix, best: Route | undefined, previous: Route | undefined, ecmp: readonly Route[], prev: readonly Route[], cur: readonly Route[]): void {
    (this.pathsOther ??= new Map()).set(this.n, { prev, cur });
    this.push(prefix, best, previous, ecmp);
  }

  /**
   * Change i's candidate lists before and after when they are not the trivial ones (recorded
   * while the Loc-RIB tracks paths), else undefined: then they are `previous[i]` and `best[i]` alone.
   */
  pathsAt(i: number): { readonly prev: readonly Route[]; readonly cur: readonly Route[] } | undefined {
    return this.pathsOther?.get(i);
  }

  /** Every candidate of change i's prefix before the change (path tracking on; else the previous best alone). */
  prevPathsAt(i: number): readonly Route[] {
    const o = this.pathsOther?.get(i);
    if (o !== undefined) return o.prev;
    const p = this.previous[i];
    return p ? p.alone : NONE;
  }

  /** Every candidate of change i's prefix after the change (see prevPathsAt). */
  curPathsAt(i: number): readonly Route[] {
    const o = this.pathsOther?.get(i);
    if (o !== undefined) return o.cur;
    const b = this.best[i];
    return b ? b.alone : NONE;
  }

  /** The ECMP set of change i (best first; empty when withdrawn). */
  ecmpAt(i: number): readonly Route[] {
    const other = this.ecmpOther?.get(i);
    if (other !== undefined) return other;
    const b = this.best[i];
    return b ? b.alone : NONE;
  }

  /** Change i as an object (allocates). */
  at(i: number): BestChange {
    return { prefix: this.prefixes.prefix(i), best: this.best[i], previous: this.previous[i], ecmp: this.ecmpAt(i) };
  }

  *[Symbol.iterator](): Iterator<BestChange> {
    for (let i = 0; i < this.n; i++) yield this.at(i);
  }
}
