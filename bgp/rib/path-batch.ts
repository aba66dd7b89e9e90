/**
 * A GroupBatch under construction whose entries are (prefix, path id) pairs: the ADD-PATH group's
 * flushes and initial tables (add-path-group.ts) and a regrouped session's difference
 * (bgp/speaker/table-sync.ts).
 */
import type { Prefix } from '../../common/prefix.js';
import type { ExportedAttributes } from './export.js';
import { PrefixList } from './prefix-list.js';
import type { GroupBatch } from './update-group.js';

function copyEntry(from: PrefixList, i: number, to: PrefixList): void {
  if (from.family(i) === 4) to.pushV4(from.addr(i), from.len(i)); else to.push(from.v6At(i));
}

/**
 * A GroupBatch under construction: entries are (prefix, path id), announcements grouped by
 * attribute set. While entry k is the k-th prefix of the pending list (one path per changed
 * prefix, the usual batch) the entries are that list itself, not a copy.
 */
export class PathBatch implements GroupBatch {
  readonly pathIds: number[] = [];
  readonly announce: Array<{ attrs: ExportedAttributes; idx: number[] }> = [];
  readonly withdraw: number[] = [];
  private own: PrefixList | undefined;
  private src: PrefixList | undefined;
  private readonly byAttrs = new Map<ExportedAttributes, number[]>();
  private lastAttrs: ExportedAttributes | undefined;
  private lastList: number[] = [];

  get prefixes(): PrefixList { return this.own ?? this.src ?? (this.own = new PrefixList()); }

  /** Entry i of `prefixes`, or `prefixes` itself when it is a Prefix. */
  private entry(prefixes: PrefixList | Prefix, i: number, id: number): number {
    const k = this.pathIds.length;
    if (this.own === undefined && i === k && prefixes instanceof PrefixList && (this.src === undefined || this.src === prefixes)) {
      this.src = prefixes;
    } else {
      const own = this.materialize(k);
      if (!(prefixes instanceof PrefixList)) own.push(prefixes);
      else copyEntry(prefixes, i, own);
    }
    this.pathIds.push(id);
    return k;
  }

  /** Own list holding the first k entries (copied from the pending list when they were it). */
  private materialize(k: number): PrefixList {
    if (this.own !== undefined) return this.own;
    const own = new PrefixList(Math.max(64, k * 2));
    if (this.src !== undefined) for (let j = 0; j < k; j++) copyEntry(this.src, j, own);
    this.own = own;
    return own;
  }

  /** Done adding: `prefixes` holds exactly the entries. */
  finish(): void {
    if (this.own === undefined && this.src !== undefined && this.src.length !== this.pathIds.length) this.materialize(this.pathIds.length);
  }

  add(prefixes: PrefixList | Prefix, i: number, id: number, attrs: ExportedAttributes): void {
    const k = this.entry(prefixes, i, id);
    if (attrs !== this.lastAttrs) {
      let l = this.byAttrs.get(attrs);
      if (!l) { l = []; this.byAttrs.set(attrs, l); this.announce.push({ attrs, idx: l }); }
      this.lastAttrs = attrs;
      this.lastList = l;
    }
    this.lastList.push(k);
  }

  remove(prefixes: PrefixList | Prefix, i: number, id: number): void {
    this.withdraw.push(this.entry(prefixes, i, id));
  }

  get empty(): boolean { return this.pathIds.length === 0; }
}
