/**
 * Adj-RIB-Out (RFC 4271 §3.2) per neighbour, fed by an ExportGroup: peers with the same
 * ExportTarget share one group, so the export transform (and policy) runs once per change for
 * all of them (FRR update-groups); each member only filters "not back to its source" and diffs
 * against what it already sent. Changes coalesce until drain(), which returns announcements
 * grouped by (interned) attribute set, ready to pack many NLRI per UPDATE.
 */
import type { Prefix } from '../../common/prefix.js';
import type { PathAttributes } from '../wire/types.js';
import type { AttrInterner } from './attr-intern.js';
import { exportRoute, prefixIndependent, type ExportedAttributes, type ExportTarget } from './export.js';
import type { BestChange, LocRib } from './loc-rib.js';
import { PrefixTable } from './prefix-table.js';
import type { Route } from './route.js';

/** `attrs` is an ExportedAttributes (export.ts): IPv6 groups carry their MP_REACH next hop in attrs.mpNextHop. */
export interface Announcement { readonly attrs: ExportedAttributes; readonly prefixes: readonly Prefix[] }
export interface OutboundBatch { readonly announce: readonly Announcement[]; readonly withdraw: readonly Prefix[] }

const WITHDRAW = null;
const CACHE_LIMIT = 4096;
const DROPPED = undefined;

/**
 * Changes waiting for drain(), in arrival order. Keeps the Prefix objects it was given (from
 * the Loc-RIB change), so draining allocates none; the table only maps prefix → slot.
 */
class Pending {
  private readonly index = new PrefixTable<number>();
  prefixes: Prefix[] = [];
  values: Array<PathAttributes | null | undefined> = [];

  /** Holds one interner reference per queued attribute set (handed over to `sent` on drain). */
  constructor(private readonly interner: AttrInterner) {}

  get size(): number { return this.index.size; }

  get(p: Prefix): PathAttributes | null | undefined {
    const i = this.index.get(p);
    return i === undefined ? undefined : this.values[i];
  }

  set(p: Prefix, a: PathAttributes | null): void {
    if (a) this.interner.acquire(a);
    const n = this.prefixes.length;
    const prev = this.index.set(p, n);
    if (prev !== undefined) {
      this.index.set(p, prev);
      const old = this.values[prev];
      if (old) this.interner.release(old);
      this.values[prev] = a;
      return;
    }
    this.prefixes.push(p);
    this.values.push(a);
  }

  delete(p: Prefix): void {
    const i = this.index.delete(p);
    if (i === undefined) return;
    const old = this.values[i];
    if (old) this.interner.release(old);
    this.values[i] = DROPPED;
  }

  /** Forget everything; `release` false when the references were handed over. */
  clear(release: boolean): void {
    if (release) for (const v of this.values) if (v) this.interner.release(v);
    this.index.clear();
    this.prefixes = [];
    this.values = [];
  }
}

export class AdjRibOut {
  private readonly sent = new PrefixTable<PathAttributes>();
  private readonly pending: Pending;
  private resend = false;

  constructor(readonly peerId: string, private readonly interner: AttrInterner) {
    this.pending = new Pending(interner);
  }

  /** Prefixes currently advertised to this peer (as of the last drain). */
  get size(): number { return this.sent.size; }
  get hasPending(): boolean { return this.pending.size > 0 || (this.resend && this.sent.size > 0); }
  advertised(prefix: Prefix): PathAttributes | undefined { return this.sent.get(prefix); }

  /** Desired state for one prefix: attributes to announce, or null to withdraw. */
  queue(prefix: Prefix, attrs: PathAttributes | null): void {
    const have = this.sent.get(prefix);
    if (attrs === (have ?? null)) this.pending.delete(prefix);
    else this.pending.set(prefix, attrs);
  }

  /** Everything to send now; the caller must send all of it (this becomes the believed state). */
  drain(): OutboundBatch {
    const groups = new Map<PathAttributes, Prefix[]>();
    const withdraw: Prefix[] = [];
    const pend = this.pending;
    let lastAttrs: PathAttributes | undefined;
    let lastList: Prefix[] = [];
    const add = (attrs: PathAttributes, prefix: Prefix) => {
      if (attrs !== lastAttrs) {
        lastAttrs = attrs;
        const g = groups.get(attrs);
        if (g) lastList = g; else { lastList = []; groups.set(attrs, lastList); }
      }
      lastList.push(prefix);
    };
    if (this.resend) {
      this.resend = false;
      this.sent.forEach((prefix, attrs) => { if (pend.get(prefix) === undefined) add(attrs, prefix); });
    }
    // the pending reference moves to `sent`; old sent values are released in runs
    const released: Array<[PathAttributes, number]> = [];
    const { prefixes, values } = pend;
    for (let i = 0; i < prefixes.length; i++) {
      const attrs = values[i];
      if (attrs === DROPPED) continue;
      const prefix = prefixes[i]!;
      const old = attrs === WITHDRAW ? this.sent.delete(prefix) : this.sent.set(prefix, attrs);
      if (old) {
        const last = released[released.length - 1];
        if (last && last[0] === old) last[1]++; else released.push([old, 1]);
      }
      if (attrs === WITHDRAW) { if (old) withdraw.push(prefix); continue; }
      add(attrs, prefix);
    }
    pend.clear(false);
    for (const [a, n] of released) this.interner.release(a, n);
    return { announce: [...groups].map(([attrs, prefixes]) => ({ attrs, prefixes })), withdraw };
  }

  /** Route refresh (RFC 2918): send everything again on the next drain. */
  resendAll(): void { this.resend = true; }

  /** Session down: forget what was sent. */
  clear(): void {
    this.sent.forEach((_p, a) => this.interner.release(a));
    this.sent.clear();
    this.pending.clear(true);
    this.resend = false;
  }
}

export class ExportGroup {
  private readonly members = new Map<string, AdjRibOut>();
  /** Per family and Route: the result depends on attributes, source and next hop (IPv6, local). */
  private cache4 = new Map<Route, PathAttributes | null>();
  private cache6 = new Map<Route, PathAttributes | null>();
  private cached = 0;
  /** One-entry memo: consecutive changes usually carry the same shared Route. */
  private memoRoute: Route | undefined;
  private memoFamily = 0;
  private memoOut: PathAttributes | null = null;
  private readonly cacheable: boolean;

  constructor(readonly target: ExportTarget, private readonly interner: AttrInterner) {
    this.cacheable = prefixIndependent(target);
  }

  get size(): number { return this.members.size; }
  member(peerId: string): AdjRibOut | undefined { return this.members.get(peerId); }

  /** Add a neighbour; when `rib` is given, queue the current Loc-RIB for it (initial update). */
  addMember(peerId: string, rib?: LocRib): AdjRibOut {
    const out = this.members.get(peerId) ?? new AdjRibOut(peerId, this.interner);
    this.members.set(peerId, out);
    rib?.forEachBest((prefix, best) => {
      const attrs = best.source.id === peerId ? null : this.transform(prefix, best);
      out.queue(prefix, attrs);
      if (attrs && !this.cacheable) this.interner.release(attrs, 0);
    });
    return out;
  }

  removeMember(peerId: string): void {
    this.members.get(peerId)?.clear();
    this.members.delete(peerId);
  }

  /** Feed Loc-RIB changes (subscribe with `rib.onBestChange((c) => group.apply(c))`). */
  apply(changes: Iterable<BestChange>): void {
    for (const c of changes) {
      const attrs = c.best ? this.transform(c.prefix, c.best) : null;
      const src = c.best?.source.id;
      for (const m of this.members.values()) m.queue(c.prefix, src === m.peerId ? null : attrs);
      if (attrs && !this.cacheable) this.interner.release(attrs, 0); // drop if nobody queued it
    }
  }

  /** Exported (interned) attributes for `best`, or null when it must not be sent. */
  transform(prefix: Prefix, best: Route): PathAttributes | null {
    if (this.cacheable && best === this.memoRoute && prefix.family === this.memoFamily) return this.memoOut;
    const cache = prefix.family === 4 ? this.cache4 : this.cache6;
    if (this.cacheable) {
      const hit = cache.get(best);
      if (hit !== undefined) { this.memoRoute = best; this.memoFamily = prefix.family; this.memoOut = hit; return hit; }
    }
    const r = exportRoute(prefix, best, this.target);
    const attrs = r.type === 'export' ? this.interner.intern(r.attrs, this.cacheable ? 1 : 0) : null;
    if (this.cacheable) {
      if (this.cached >= CACHE_LIMIT) this.clearCache();
      cache.set(best, attrs);
      this.cached++;
      this.memoRoute = best; this.memoFamily = prefix.family; this.memoOut = attrs;
    }
    return attrs;
  }

  clearCache(): void {
    for (const m of [this.cache4, this.cache6]) for (const a of m.values()) if (a) this.interner.release(a);
    this.cache4 = new Map();
    this.cache6 = new Map();
    this.cached = 0;
    this.memoRoute = undefined; this.memoOut = null;
  }
}
