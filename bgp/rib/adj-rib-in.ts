/**
 * Adj-RIB-In for one neighbour (RFC 4271 §3.2): what it announced, after import processing
 * (loop detection, RFC 4456 reflection loops, import policy). Rejected paths are remembered as
 * a marker so `received` vs `accepted` counts stay right and a later withdraw is understood.
 * Every change is passed on to the Loc-RIB at once; one call handles a whole UPDATE.
 * Routes are shared between the prefixes of an UPDATE (see routeFor).
 * Treat-as-withdraw (RFC 7606): call withdraw() with that UPDATE's NLRI.
 *
 * Storage (as BIRD's table, one hash per prefix instead of two): accepted paths live only in
 * the Loc-RIB, as candidates whose source is this neighbour (RibSink.swap finds and replaces
 * them); this object keeps only the rejected markers, in its own table (empty in the common
 * case), and the counts. Walking "everything this neighbour sent" (peer down, refilter, stale
 * marking) therefore walks the Loc-RIB.
 */
import type { Logger } from '../../common/logger.js';
import { bytesEqual, type Prefix } from '../../common/prefix.js';
import type { CompiledPolicy } from '../policy/compile-policy.js';
import type { PolicySubject } from '../policy/policy.js';
import { ipv4PrefixAt } from '../wire/nlri.js';
import { WellKnownCommunity, type Ipv4Prefixes, type Nlri, type PathAttributes } from '../wire/types.js';
import type { BgpRole } from '../wire/role.js';
import { otcIngressLeak, otcIngressMark } from './otc.js';
import { PrefixTable, v4Prefix } from './prefix-table.js';
import { SortedPrefixWalk } from './sorted-prefix-walk.js';
import { Route, type PeerInfo } from './route.js';
import { Rejected, find, put, remove, staleWith, staleWithout, type Slot } from './path-slots.js';
import { startsWith, withLlgrStale } from './import-attrs.js';
import type { RibSink } from './rib-sink.js';

export type { RibSink } from './rib-sink.js';


export interface ImportOptions {
  readonly policy?: CompiledPolicy;
  /** How many times our own AS may appear in AS_PATH (allowas-in; default 0). */
  readonly allowAsIn?: number;
  /** Our AS on this session when it is not the RIB's (local-as): the one loop detection looks for. */
  readonly localAs?: number;
  /** eBGP enforce-first-AS: the AS the AS_PATH must start with (the peer's); routes of other paths are refused. */
  readonly firstAs?: number;
  /** RFC 9234 role of ours on the session and the peer's AS: OTC ingress procedure (otc.ts). */
  readonly role?: { readonly local: BgpRole; readonly peerAs: number };
  /** Wall clock (ms) to stamp routes with their arrival (Route.since); absent: not stamped. */
  readonly now?: () => number;
}

/**
 * An UPDATE reuses the previous UPDATE's Route when the attributes are the same (see routeFor),
 * which would give its prefixes the earlier arrival time: reuse only within this many ms.
 */
const SINCE_RESOLUTION_MS = 1000;

/** Why an UPDATE's routes were refused before policy. */
export type ImportVerdict = 'accept' | 'as-path-loop' | 'originator-id-loop' | 'cluster-list-loop' | 'first-as-mismatch' | 'otc-route-leak';

type PathItem = Route | Rejected;

/** The speaker's classic IPv4 prefixes (typed arrays), as opposed to a list of Nlri. */
function isCompact(nlri: readonly Nlri[] | Ipv4Prefixes): nlri is Ipv4Prefixes {
  return (nlri as Ipv4Prefixes).addrs !== undefined;
}

/** Prefixes visited per slice when withdrawAll walks the Loc-RIB for this neighbour's paths. */
const DROP_SLICE = 65_536;
const BOTH_FAMILIES: ReadonlySet<4 | 6> = new Set([4, 6]);

export class AdjRibIn {
  /** Rejected markers only; accepted paths are in the Loc-RIB (see the header). */
  private readonly rejected = new PrefixTable<Slot>();
  /** Stale paths by prefix: `true` for path id 0 alone (no ADD-PATH), else the stale path ids. */
  private stale: PrefixTable<true | Set<number>> | undefined;
  private staleMarks = 0;
  private nReceived = 0;
  private nRejected = 0;
  /** The IPv6 part of nReceived and nRejected (per-family counts in the show views). */
  private n6Received = 0;
  private n6Rejected = 0;
  private relObj: PathAttributes | undefined;
  private relN = 0;
  private lastRoute: Route | undefined;
  /** Wall ms of the UPDATE being imported (0: routes not stamped). */
  private arrival = 0;
  /** Received attributes of routes whose import policy changed them (for refilter()). */
  private receivedAttrs = new WeakMap<Route, PathAttributes>();
  private sliceCursor = 0;
  /** The sliced stale marking under way, and the prefixes changed by the peer since it began. */
  private markWalk: { readonly families: ReadonlySet<4 | 6>; readonly withdrawOthers: boolean; cursor: number; layout: number; readonly fresh: PrefixTable<true>; readonly table: PrefixTable<true | Set<number>> } | undefined;
  /** Paths withdrawn since withdrawSome's walk last started at slot 0 (detects a walk that finds nothing). */
  private passHits = 0;

  constructor(
    readonly peer: PeerInfo,
    private readonly sink: RibSink,
    private options: ImportOptions = {},
    private readonly logger?: Logger,
  ) {}

  /**
   * Replace the import policy (a reconfiguration without a session reset). It applies to what
   * arrives from now on; refilter() applies it to what is held.
   */
  setPolicy(policy: CompiledPolicy | undefined): void {
    const { policy: _old, ...rest } = this.options;
    this.options = policy ? { ...rest, policy } : rest;
  }

  /** Paths received and currently held (accepted or not). */
  get received(): number { return this.nReceived; }
  /** Paths that passed import processing. */
  get accepted(): number { return this.nReceived - this.nRejected; }
  /** received, of one address family. */
  receivedOf(family: 4 | 6): number { return family === 6 ? this.n6Received : this.nReceived - this.n6Received; }
  /** accepted, of one address family. */
  acceptedOf(family: 4 | 6): number { return family === 6 ? this.n6Received - this.n6Rejected : this.nReceived - this.n6Received - (this.nRejected - this.n6Rejected); }

  /** The prefixes with a path refused on import, in network order and in slices (show route filtered). */
  rejectedWalk(): SortedPrefixWalk { return new SortedPrefixWalk(this.rejected); }

  /** Loop checks that do not depend on the prefix (RFC 4271 §9.1.2, RFC 4456 §8). */
  check(attrs: PathAttributes): ImportVerdict {
    if (this.peer.kind === 'local') return 'accept';
    let own = 0;
    const ours = this.options.localAs ?? this.sink.localAs;
    for (const s of attrs.asPath ?? []) for (const a of s.asns) if (a === ours) own++;
    if (own > (this.options.allowAsIn ?? 0)) return 'as-path-loop';
    const first = this.options.firstAs;
    if (first !== undefined && this.peer.kind === 'ebgp' && !startsWith(attrs, first)) return 'first-as-mismatch';
    const role = this.options.role;
    if (role && otcIngressLeak(role.local, attrs, role.peerAs)) return 'otc-route-leak';
    if (this.peer.kind === 'ibgp') {
      if (attrs.originatorId === this.sink.routerId) return 'originator-id-loop';
      if (attrs.clusterList?.includes(this.sink.clusterId)) return 'cluster-list-loop';
    }
    return 'accept';
  }

  /**
   * Announce (or implicitly replace) `nlri` with one attribute set, as received in one UPDATE.
   * `nextHop` is the MP_REACH next hop for IPv6 routes (IPv4 uses attrs.nextHop).
   */
  /** `iface`: the interface of originated routes (the local origin only). */
  update(nlri: readonly Nlri[] | Ipv4Prefixes, attrs: PathAttributes, nextHop?: Uint8Array, iface?: string): ImportVerdict {
    const compact = isCompact(nlri) ? nlri : undefined;
    const list = compact === undefined ? nlri as readonly Nlri[] : undefined;
    const verdict = this.check(attrs);
    const a = this.importView(attrs);
    this.arrival = this.options.now?.() ?? 0;
    const policy = this.options.policy;
    const subject = this.policySubject();
    const interner = this.sink.interner;
    let shared: PathAttributes | undefined;
    let sharedRejected = verdict !== 'accept';
    // With a policy that changed the attributes, the received ones are remembered (refilter()).
    let keep: PathAttributes | undefined;
    if (!sharedRejected) {
      if (!policy) shared = interner.intern(a, nlri.length);
      else if (policy.prefixIndependent && nlri.length > 0) {
        const r = policy.evaluate(compact ? ipv4PrefixAt(compact, 0) : list![0]!.prefix, a, subject);
        if (r.type === 'reject') sharedRejected = true;
        else { shared = interner.intern(r.attrs, nlri.length); if (r.attrs !== a) keep = a; }
      }
    }
    let sharedRoute: Route | undefined;
    let memoIn: PathAttributes | undefined;
    let memoOut: PathAttributes | undefined;
    let rejected0: Rejected | undefined;
    const count = nlri.length;
    const ids = compact?.pathIds;
    for (let k = 0; k < count; k++) {
      const n = list?.[k];
      const pathId = n !== undefined ? n.pathId ?? 0 : ids !== undefined ? ids[k]! : 0;
      let item: PathItem;
      if (sharedRejected) item = pathId === 0 ? (rejected0 ??= new Rejected(0, a, nextHop)) : new Rejected(pathId, a, nextHop);
      else if (shared) item = pathId === 0 ? (sharedRoute ??= this.routeFor(shared, nextHop, keep, 0, iface)) : this.routeFor(shared, nextHop, keep, pathId, iface);
      else {
        const r = policy!.evaluate(n ? n.prefix : ipv4PrefixAt(compact!, k), a, subject);
        if (r.type === 'reject') item = pathId === 0 ? (rejected0 ??= new Rejected(0, a, nextHop)) : new Rejected(pathId, a, nextHop);
        else {
          // policies mostly return the input object unchanged: intern it once per UPDATE
          let i: PathAttributes;
          if (r.attrs === memoIn && memoOut) { i = memoOut; interner.acquire(i, 1); } else { i = interner.intern(r.attrs, 1); memoIn = r.attrs; memoOut = i; }
          const orig = r.attrs === a ? undefined : a;
          item = this.routeFor(i, nextHop, orig, pathId, iface);
        }
      }
      if (n) this.store(n.prefix, pathId, item); else this.storeV4(compact!.addrs[k]!, compact!.lens[k]!, pathId, item);
    }
    if (shared && nlri.length === 0) interner.release(shared, 0);
    this.flushRelease();
    this.sink.flush();
    if (verdict !== 'accept') this.logger?.debug({ peer: this.peer.id, verdict, count: nlri.length }, 'routes refused by loop detection');
    return verdict;
  }

  /** Withdraw `nlri` (also the RFC 7606 treat-as-withdraw path). Unknown NLRI are ignored. */
  withdraw(nlri: readonly Nlri[] | Ipv4Prefixes): void {
    if (isCompact(nlri)) { this.withdrawV4(nlri); return; }
    for (const n of nlri) {
      const pathId = n.pathId ?? 0;
      let old: PathItem | undefined = this.sink.swap(n.prefix, this.peer, pathId, undefined);
      if (old === undefined && this.rejected.size > 0) old = this.takeRejected(n.prefix, pathId);
      if (old !== undefined) this.forget(old, n.prefix.family);
      if (this.stale !== undefined) this.unmarkStale(n.prefix, pathId);
    }
    this.flushRelease();
    this.sink.flush();
  }

  /** Peer down (or reset): withdraw everything this neighbour sent. */
  withdrawAll(): void {
    this.sliceCursor = 0;
    while (!this.dropSome(DROP_SLICE));
    this.stale = undefined;
    this.flushRelease();
    this.sink.flush();
  }

  /** Withdraw every path of one address family (RFC 7606 AFI/SAFI disable); returns how many. */
  withdrawFamily(family: 4 | 6): number {
    const gone: Nlri[] = [];
    this.forEachPath((prefix, item) => { if (prefix.family === family) gone.push({ prefix, pathId: item.pathId }); });
    this.withdraw(gone);
    return gone.length;
  }

  /**
   * withdrawAll in slices, so that a peer's million routes do not stall the event loop (keepalives
   * of the other sessions): call repeatedly, e.g. from setImmediate, until it returns true.
   * Each call withdraws about `max` paths and notifies subscribers once.
   */
  withdrawSome(max = 10_000): boolean {
    const done = this.dropSome(max);
    this.flushRelease();
    this.sink.flush();
    return done;
  }

  /**
   * Graceful restart (RFC 4724 §4.2), the peer's session went down: mark every prefix held of
   * `families` (default both) stale. They stay candidates; a re-announcement un-marks one.
   * Marks add up: prefixes still stale from an earlier restart stay so. All at once: see
   * beginMarkStale for large tables.
   */
  markStale(families: ReadonlySet<4 | 6> = BOTH_FAMILIES): number {
    this.beginMarkStale(families);
    while (!this.markStaleSome(Infinity));
    return this.staleCount;
  }

  /**
   * markStale in slices, so that a million routes do not stall the event loop: start here, then
   * call markStaleSome until it returns true. `withdrawOthers`: the paths of the other families
   * are withdrawn on the way (graceful restart for the families the peer listed only). What the
   * peer sends or withdraws before the walk reaches it is left alone (it is not stale), and a
   * walk that the Loc-RIB's growth re-laid out starts again (marking twice is harmless).
   * Sweeps must wait until `marking` is false.
   */
  beginMarkStale(families: ReadonlySet<4 | 6>, withdrawOthers = false): void {
    this.staleMarks++;
    // sized for every path held: growing it slice by slice (a resize rehashes all so far) made
    // single turns of several hundred ms at 1M routes
    const st = this.stale ?? new PrefixTable<true | Set<number>>(this.nReceived);
    // the rejected markers (few) at once
    this.rejected.forEach((p, slot) => {
      if (families.has(p.family)) for (const r of Array.isArray(slot) ? slot : [slot]) st.set(p, staleWith(st.get(p), r.pathId));
    });
    this.stale = st.size > 0 ? st : undefined;
    this.markWalk = { families, withdrawOthers, cursor: 0, layout: this.sink.layout, fresh: new PrefixTable<true>(), table: st };
  }

  /** One slice of the marking begun by beginMarkStale: up to `max` prefixes; true when done. */
  markStaleSome(max: number): boolean {
    const m = this.markWalk;
    if (!m) return true;
    if (this.sink.layout !== m.layout) { m.layout = this.sink.layout; m.cursor = 0; }
    const st = this.stale ?? m.table;
    const gone: Nlri[] = [];
    const fresh = m.fresh;
    const v4 = m.families.has(4);
    const next = this.sink.forEachOfV4(this.peer, m.cursor, max, (addr, len, route) => {
      if (fresh.size > 0 && fresh.getV4(addr, len) !== undefined) return; // sent again (or withdrawn) since the session went down
      if (v4) st.setV4(addr, len, staleWith(st.getV4(addr, len), route.pathId));
      else if (m.withdrawOthers) gone.push({ prefix: v4Prefix(addr, len), pathId: route.pathId });
    }, (prefix, route) => {
      if (fresh.get(prefix) !== undefined) return;
      if (m.families.has(6)) st.set(prefix, staleWith(st.get(prefix), route.pathId));
      else if (m.withdrawOthers) gone.push({ prefix, pathId: route.pathId });
    });
    this.stale = st.size > 0 ? st : undefined;
    if (gone.length > 0) this.withdraw(gone);
    if (next !== -1 && this.markWalk === m) { m.cursor = next; return false; }
    if (this.markWalk === m) this.markWalk = undefined;
    return true;
  }

  /** A sliced marking is under way (beginMarkStale): sweeps wait for it. */
  get marking(): boolean { return this.markWalk !== undefined; }

  /**
   * Withdraw the prefixes still stale (the peer's End-of-RIB, or a GR timer), of `family` only
   * when given; returns how many paths went. All at once: see sweepStaleSome for large tables.
   */
  sweepStale(family?: 4 | 6): number {
    let n = 0;
    let cursor = 0;
    do { const r = this.sweepStaleSome(family, cursor, Infinity); n += r.withdrawn; cursor = r.cursor; } while (cursor !== -1);
    return n;
  }

  /**
   * One slice of sweepStale: the stale prefixes (of `family`) among up to `max` entries of the
   * stale table from `cursor` on are withdrawn; returns the cursor to continue from (-1: done)
   * and how many paths went. A prefix re-sent between slices is no longer stale and stays.
   */
  sweepStaleSome(family: 4 | 6 | undefined, cursor: number, max: number): { cursor: number; withdrawn: number } {
    const st = this.stale;
    if (!st) return { cursor: -1, withdrawn: 0 };
    const gone: Nlri[] = [];
    const next = st.forEachFrom(cursor, max, (prefix, m) => {
      if (family !== undefined && prefix.family !== family) return;
      st.delete(prefix);
      // the stale paths only: with ADD-PATH another path of the prefix may have been re-sent
      if (m === true) gone.push({ prefix, pathId: 0 }); else for (const pathId of m) gone.push({ prefix, pathId });
    });
    if (this.stale === st && st.size === 0) this.stale = undefined;
    if (gone.length > 0) this.withdraw(gone);
    return { cursor: next, withdrawn: gone.length };
  }

  /**
   * Long-lived graceful restart (RFC 9494 §4.2), one slice: the restart time ran out, so the
   * stale paths of `family` among up to `max` entries of the stale table from `cursor` on enter
   * the long-lived stale period: a path carrying NO_LLGR is withdrawn, every other one is
   * replaced by the same path with LLGR_STALE added (which makes it least preferred, and not
   * sent to peers without LLGR). Returns the cursor to continue from (-1: done) and the counts.
   */
  longLivedStaleSome(family: 4 | 6, cursor: number, max: number): { cursor: number; marked: number; withdrawn: number } {
    const st = this.stale;
    if (!st) return { cursor: -1, marked: 0, withdrawn: 0 };
    const gone: Nlri[] = [];
    const mark: Array<{ prefix: Prefix; route: Route }> = [];
    const next = st.forEachFrom(cursor, max, (prefix, m) => {
      if (prefix.family !== family) return;
      for (const r of this.sink.pathsOf(prefix, this.peer)) {
        // the stale paths only: with ADD-PATH another path of the prefix may have been re-sent
        if (m === true ? r.pathId !== 0 : !m.has(r.pathId)) continue;
        const c = r.attrs.communities;
        if (c?.includes(WellKnownCommunity.NO_LLGR)) { gone.push({ prefix, pathId: r.pathId }); st.delete(prefix); }
        else if (!r.llgrStale) mark.push({ prefix, route: r });
      }
    });
    const interner = this.sink.interner;
    const made = new Map<PathAttributes, Route>();
    for (const { prefix, route } of mark) {
      // one new Route per old one: the prefixes that shared a Route share its replacement
      let neu = made.get(route.attrs);
      if (neu === undefined || neu.nextHop !== route.nextHop || neu.pathId !== route.pathId) {
        const attrs = interner.intern(withLlgrStale(route.attrs), 0);
        const received = this.receivedAttrs.get(route);
        neu = this.newRoute(route.pathId, attrs, route.nextHop, received !== undefined ? withLlgrStale(received) : undefined);
        made.set(route.attrs, neu);
      }
      interner.acquire(neu.attrs, 1);
      const old = this.sink.swap(prefix, this.peer, route.pathId, neu);
      if (old !== undefined) this.release(old.attrs); else { this.release(neu.attrs); }
    }
    this.lastRoute = undefined;
    this.flushRelease();
    if (this.stale === st && st.size === 0) this.stale = undefined;
    if (gone.length > 0) this.withdraw(gone); else this.sink.flush();
    return { cursor: next, marked: mark.length, withdrawn: gone.length };
  }

  /** Counts markStale() calls: a sliced sweep started before a new marking stops (it would sweep the new marks). */
  get staleEpoch(): number { return this.staleMarks; }

  /** Whether `prefix` is stale (received before the peer's session went down, not re-sent since). */
  isStale(prefix: Prefix): boolean { return this.stale?.get(prefix) !== undefined; }

  get staleCount(): number { return this.stale?.size ?? 0; }

  /** Accepted routes (snapshot), for `show route received`. */
  routes(): Array<{ readonly prefix: Prefix; readonly route: Route }> {
    const out: Array<{ prefix: Prefix; route: Route }> = [];
    this.sink.forEachOf(this.peer, 0, Infinity, (prefix, route) => { out.push({ prefix, route }); });
    return out;
  }

  /**
   * Routes carry no prefix, so one immutable Route serves every NLRI of an UPDATE (and of the
   * next UPDATE with the same attributes): no per-prefix objects, and a re-announcement with
   * identical attributes is recognised as no change.
   */
  /**
   * The Route for these attributes, next hop and path id: the last one made when they are the
   * same (one Route serves the NLRI of an UPDATE, also with ADD-PATH where a path id repeats).
   */
  private routeFor(attrs: PathAttributes, nextHop: Uint8Array | undefined, received: PathAttributes | undefined, pathId = 0, iface?: string): Route {
    const nh = nextHop ?? attrs.nextHop;
    const last = this.lastRoute;
    if (last && last.attrs === attrs && last.pathId === pathId && last.iface === iface && this.receivedAttrs.get(last) === received && this.arrival - last.since < SINCE_RESOLUTION_MS
      && (last.nextHop === nh || (last.nextHop && nh && bytesEqual(last.nextHop, nh)))) return last;
    const r = this.newRoute(pathId, attrs, nh, received, iface);
    this.lastRoute = r;
    return r;
  }

  private newRoute(pathId: number, attrs: PathAttributes, nextHop: Uint8Array | undefined, received: PathAttributes | undefined, iface?: string): Route {
    const r = new Route(this.peer, pathId, attrs, nextHop, this.arrival, iface);
    if (received !== undefined) this.receivedAttrs.set(r, received);
    return r;
  }

  /**
   * Run import again (loop checks and the current policy) over every path held, from the
   * attributes as received: after setPolicy(), without asking the peer for a ROUTE-REFRESH
   * (BIRD's import table). Returns how many paths were looked at.
   */
  refilter(): number {
    const groups = new Map<PathAttributes, Map<Uint8Array | undefined, Nlri[]>>();
    let n = 0;
    const add = (prefix: Prefix, item: PathItem) => {
      const attrs = item instanceof Route ? (this.receivedAttrs.get(item) ?? item.attrs) : item.received;
      const nh = item.nextHop;
      let byNh = groups.get(attrs);
      if (!byNh) { byNh = new Map(); groups.set(attrs, byNh); }
      let list = byNh.get(nh);
      if (!list) { list = []; byNh.set(nh, list); }
      list.push({ prefix, pathId: item.pathId });
      n++;
    };
    this.forEachPath(add);
    this.lastRoute = undefined;
    for (const [attrs, byNh] of groups) for (const [nh, nlri] of byNh) this.update(nlri, attrs, nh);
    return n;
  }

  private withdrawV4(list: Ipv4Prefixes): void {
    const { addrs, lens, pathIds } = list;
    for (let k = 0; k < list.length; k++) {
      const pathId = pathIds !== undefined ? pathIds[k]! : 0;
      let old: PathItem | undefined = this.sink.swapV4(addrs[k]!, lens[k]!, this.peer, pathId, undefined);
      if (old === undefined && this.rejected.size > 0) old = this.takeRejected(ipv4PrefixAt(list, k), pathId);
      if (old !== undefined) this.forget(old, 4);
      if (this.stale !== undefined) this.unmarkStale(v4Prefix(addrs[k]!, lens[k]!), pathId);
    }
    this.flushRelease();
    this.sink.flush();
  }

  /** store() of an IPv4 prefix given as address and length; no Prefix object for an accepted route. */
  private storeV4(addr: number, len: number, pathId: number, item: PathItem): void {
    if (!(item instanceof Route) || this.rejected.size > 0 || this.stale !== undefined || this.markWalk !== undefined) {
      this.store(v4Prefix(addr, len), pathId, item);
      return;
    }
    const old = this.sink.swapV4(addr, len, this.peer, pathId, item);
    if (old === undefined) this.nReceived++; else this.release(old.attrs);
  }

  private store(prefix: Prefix, pathId: number, item: PathItem): void {
    let old: PathItem | undefined;
    if (item instanceof Route) {
      old = this.sink.swap(prefix, this.peer, pathId, item);
      if (old === undefined && this.rejected.size > 0) old = this.takeRejected(prefix, pathId);
    } else {
      old = this.sink.swap(prefix, this.peer, pathId, undefined);
      const slot = this.rejected.get(prefix);
      const before = find(slot, pathId);
      this.rejected.set(prefix, put(slot, item));
      old ??= before;
    }
    if (this.stale !== undefined) this.unmarkStale(prefix, pathId);
    this.markWalk?.fresh.set(prefix, true);
    const v6 = prefix.family === 6 ? 1 : 0;
    if (old) { if (old instanceof Rejected) { this.nRejected--; this.n6Rejected -= v6; } } else { this.nReceived++; this.n6Received += v6; }
    if (item instanceof Rejected) { this.nRejected++; this.n6Rejected += v6; }
    if (old instanceof Route) this.release(old.attrs);
  }

  /** The path was re-sent: no longer stale. */
  private unmarkStale(prefix: Prefix, pathId: number): void {
    const st = this.stale!;
    const m = st.get(prefix);
    if (m !== undefined && staleWithout(m, pathId) === undefined) st.delete(prefix);
    if (st.size === 0) this.stale = undefined;
  }

  /** Remove and return the rejected marker of `prefix` and `pathId`. */
  private takeRejected(prefix: Prefix, pathId: number): Rejected | undefined {
    const slot = this.rejected.get(prefix);
    const old = find(slot, pathId);
    if (old === undefined) return undefined;
    const rest = remove(slot!, pathId);
    if (rest === undefined) this.rejected.delete(prefix); else this.rejected.set(prefix, rest);
    return old;
  }

  /** Counts and attribute references of a path already taken out of the Loc-RIB (or the rejected table). */
  private forget(item: PathItem, family: 4 | 6): void {
    const v6 = family === 6 ? 1 : 0;
    this.nReceived--; this.n6Received -= v6;
    if (item instanceof Rejected) { this.nRejected--; this.n6Rejected -= v6; return; }
    this.release(item.attrs);
  }

  /**
   * The paths refused on import, as received, with why (loop detection, or the import policy
   * and its rule), for `show route filtered`. `prefix` narrows to one network. Read-only.
   */
  forEachRejected(fn: (prefix: Prefix, received: PathAttributes, nextHop: Uint8Array | undefined, why: string) => void, prefix?: Prefix): void {
    const visit = (p: Prefix, slot: Slot): void => {
      for (const r of Array.isArray(slot) ? slot : [slot]) fn(p, r.received, r.nextHop, this.whyRejected(p, r.received));
    };
    if (prefix !== undefined) { const slot = this.rejected.get(prefix); if (slot !== undefined) visit(prefix, slot); return; }
    this.rejected.forEach(visit);
  }

  /** The attributes import policy sees: a LOCAL_PREF from an eBGP neighbour is dropped (RFC 4271 §5.1.5). */
  private importView(received: PathAttributes): PathAttributes {
    const role = this.options.role;
    const a = role ? otcIngressMark(role.local, received, role.peerAs) : received;
    if (this.peer.kind !== 'ebgp' || a.localPref === undefined) return a;
    const { localPref: _l, ...rest } = a;
    return rest;
  }

  private policySubject(): PolicySubject {
    return { sourceKind: this.peer.kind, sourcePeer: this.peer.id, localAs: this.sink.localAs,
      ...(this.peer.interface === undefined ? {} : { interface: this.peer.interface }) };
  }

  private whyRejected(prefix: Prefix, received: PathAttributes): string {
    const verdict = this.check(received);
    if (verdict !== 'accept') return verdict;
    const policy = this.options.policy;
    const r = policy?.evaluate(prefix, this.importView(received), this.policySubject());
    return r?.type === 'reject' ? `import policy: ${r.rule}` : 'import policy';
  }

  /** Every path held (accepted ones from the Loc-RIB, then the rejected markers); fn must not change the RIB. */
  private forEachPath(fn: (prefix: Prefix, item: PathItem) => void): void {
    this.sink.forEachOf(this.peer, 0, Infinity, fn);
    this.rejected.forEach((prefix, slot) => { if (Array.isArray(slot)) for (const r of slot) fn(prefix, r); else fn(prefix, slot); });
  }

  /**
   * One slice of withdrawAll: the rejected markers, then the accepted paths of up to `max`
   * prefixes found by walking the Loc-RIB from the saved cursor. The Loc-RIB may have been
   * resized between slices (other peers' routes), which moves entries: the walk starts again
   * until every path counted is gone. Returns true when nothing is left.
   */
  private dropSome(max: number): boolean {
    if (this.rejected.size > 0) {
      this.rejected.forEach((p, slot) => { for (const r of Array.isArray(slot) ? slot : [slot]) this.forget(r, p.family); });
      this.rejected.clear();
    }
    if (this.nReceived === 0) { this.sliceCursor = 0; return true; }
    if (this.sliceCursor === 0) this.passHits = 0;
    let hits = 0;
    const next = this.sink.dropFrom(this.peer, this.sliceCursor, max, (r, p) => { this.forget(r, p.family); hits++; });
    this.passHits += hits;
    if (next !== -1) { this.sliceCursor = next; return this.nReceived === 0; }
    this.sliceCursor = 0;
    if (this.nReceived > 0 && this.passHits === 0) {
      // a whole walk found none of the paths counted: the counts are wrong, not the RIB
      this.logger?.error({ peer: this.peer.id, received: this.nReceived, rejected: this.nRejected }, 'Adj-RIB-In counts paths the Loc-RIB does not hold; counts reset');
      this.nReceived = 0; this.nRejected = 0; this.n6Received = 0; this.n6Rejected = 0;
    }
    return this.nReceived === 0;
  }

  private release(a: PathAttributes): void {
    if (a !== this.relObj) { this.flushRelease(); this.relObj = a; }
    this.relN++;
  }

  private flushRelease(): void {
    if (this.relObj) this.sink.interner.release(this.relObj, this.relN);
    this.relObj = undefined; this.relN = 0;
  }
}
