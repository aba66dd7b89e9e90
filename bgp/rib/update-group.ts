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
import type { BestChange, LocRib } from './loc-rib.js';
import { PrefixTable } from './prefix-table.js';
import type { Route } from './route.js';

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

export interface GroupAnnouncement { readonly attrs: ExportedAttributes; readonly prefixes: Prefix[] }
export interface GroupBatch { readonly announce: readonly GroupAnnouncement[]; readonly withdraw: readonly Prefix[] }

/** Cached transforms (and exported attribute objects) kept before the caches are reset. */
const CACHE_LIMIT = 8192;

class BatchBuilder {
  readonly announce: GroupAnnouncement[] = [];
  readonly withdraw: Prefix[] = [];
  private readonly byAttrs = new Map<ExportedAttributes, Prefix[]>();
  private lastAttrs: ExportedAttributes | undefined;
  private lastList: Prefix[] = [];

  add(attrs: ExportedAttributes, prefix: Prefix): void {
    if (attrs !== this.lastAttrs) {
      let l = this.byAttrs.get(attrs);
      if (!l) { l = []; this.byAttrs.set(attrs, l); this.announce.push({ attrs, prefixes: l }); }
      this.lastAttrs = attrs;
      this.lastList = l;
    }
    this.lastList.push(prefix);
  }

  get empty(): boolean { return this.announce.length === 0 && this.withdraw.length === 0; }
}

export class UpdateGroup {
  private readonly members = new Map<string, { advertised: number }>();
  private readonly cacheable: boolean;
  // pending changes since the last flush (arrival order)
  private readonly index = new PrefixTable<number>();
  private prefixes: Prefix[] = [];
  private prev: Array<Route | undefined> = [];
  private cur: Array<Route | undefined> = [];
  // export results: one object per distinct exported attribute set (identity = equality)
  private exported = new Map<string, ExportedAttributes>();
  /** By family: the result depends on the Route (attributes, source, next hop) and the family only. */
  private cache4 = new Map<Route, ExportedAttributes | null>();
  private cache6 = new Map<Route, ExportedAttributes | null>();
  private memoRoute: Route | undefined;
  private memoFamily = 0;
  private memoOut: ExportedAttributes | null = null;
  private gen = 0;

  constructor(readonly target: ExportTarget) {
    this.cacheable = prefixIndependent(target);
  }

  get size(): number { return this.members.size; }
  get hasPending(): boolean { return this.prefixes.length > 0; }
  /** Changes whenever exported attribute objects may have been replaced (reset caches keyed by them). */
  get generation(): number { return this.gen; }
  memberIds(): IterableIterator<string> { return this.members.keys(); }
  /** Prefixes currently announced to the member (as far as the batches it was given go). */
  advertised(memberId: string): number { return this.members.get(memberId)?.advertised ?? 0; }

  /** Add a member; call flush() first, then send it table(). */
  addMember(memberId: string): void {
    if (this.prefixes.length > 0) throw new Error(`update group: flush() pending changes before adding member ${memberId}`);
    if (!this.members.has(memberId)) this.members.set(memberId, { advertised: 0 });
  }

  removeMember(memberId: string): void { this.members.delete(memberId); }

  /** Record Loc-RIB changes (subscribe with `rib.onBestChange((c) => group.apply(c))`). */
  apply(changes: readonly BestChange[]): void {
    if (this.members.size === 0) return;
    for (const c of changes) {
      const n = this.prefixes.length;
      const had = this.index.set(c.prefix, n);
      if (had !== undefined) { this.index.set(c.prefix, had); this.cur[had] = c.best; continue; }
      this.prefixes.push(c.prefix);
      this.prev.push(c.previous);
      this.cur.push(c.best);
    }
  }

  /**
   * Export the pending changes and hand each member its batch (members that are not the source
   * of any changed route get the same batch object). The caller must send every batch.
   */
  flush(emit: (memberId: string, batch: GroupBatch) => void): void {
    const n = this.prefixes.length;
    if (n === 0) return;
    const { prefixes, prev, cur } = this;
    this.prefixes = []; this.prev = []; this.cur = [];
    this.index.clear();
    if (this.cache4.size + this.cache6.size >= CACHE_LIMIT || this.exported.size >= CACHE_LIMIT) this.resetCaches();
    const newA: Array<ExportedAttributes | null> = new Array(n);
    const oldA: Array<ExportedAttributes | null> = new Array(n);
    const sources = new Set<string>();
    for (let i = 0; i < n; i++) {
      const c = cur[i], p = prev[i], prefix = prefixes[i]!;
      newA[i] = c ? this.transform(prefix, c) : null;
      oldA[i] = p === c ? newA[i]! : p ? this.transform(prefix, p) : null;
      if (c) sources.add(c.source.id);
      if (p) sources.add(p.source.id);
    }
    let generic: GroupBatch | undefined;
    let genericDelta = 0;
    for (const [id, m] of this.members) {
      const own = sources.has(id);
      if (!own && generic) { m.advertised += genericDelta; if (!(generic.announce.length === 0 && generic.withdraw.length === 0)) emit(id, generic); continue; }
      const b = new BatchBuilder();
      let delta = 0;
      for (let i = 0; i < n; i++) {
        const c = cur[i], p = prev[i];
        const nn = own && c !== undefined && c.source.id === id ? null : newA[i]!;
        const oo = own && p !== undefined && p.source.id === id ? null : oldA[i]!;
        if (nn === oo) continue;
        if (nn) { b.add(nn, prefixes[i]!); if (!oo) delta++; } else { b.withdraw.push(prefixes[i]!); delta--; }
      }
      m.advertised += delta;
      if (!own) { generic = b; genericDelta = delta; }
      if (!b.empty) emit(id, b);
    }
  }

  /** The whole current table for one member (initial update after Established, route refresh). */
  table(memberId: string, rib: LocRib): GroupBatch {
    const m = this.members.get(memberId);
    const b = new BatchBuilder();
    let count = 0;
    rib.forEachBest((prefix, best) => {
      if (best.source.id === memberId) return;
      const a = this.transform(prefix, best);
      if (a) { b.add(a, prefix); count++; }
    });
    if (m) m.advertised = count;
    return b;
  }

  /** Exported attributes for `route` (one object per distinct result), or null when it must not be sent. */
  transform(prefix: Prefix, route: Route): ExportedAttributes | null {
    const cache = prefix.family === 4 ? this.cache4 : this.cache6;
    if (this.cacheable) {
      if (route === this.memoRoute && prefix.family === this.memoFamily) return this.memoOut;
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

  private resetCaches(): void {
    this.exported = new Map();
    this.cache4 = new Map();
    this.cache6 = new Map();
    this.memoRoute = undefined; this.memoOut = null;
    this.gen++;
  }
}
