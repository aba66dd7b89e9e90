/**
 * The route reconciler (Calico `routetable` + `deltatracker` pattern). Desired routes (by
 * destination) and believed kernel routes (ours only: table + protocol) live side by side.
 * `apply()` deletes, then adds/replaces, in bounded batches, clearing a pending entry only on
 * success. Full resync on a timer (90 s), after any error and on netlink overflow. Kernel
 * notifications repair drift: a route of ours removed or changed by someone else is restored,
 * a route in our protocol we do not want is removed, debounced (default 50 ms, well under 1 s).
 * Routes of other protocols are never touched.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { Family } from '../../common/prefix.js';
import { formatPrefix, parsePrefix } from '../../common/prefix.js';
import { assertNever } from '../../common/assert-never.js';
import { errnoOf, NetlinkError } from '../netlink/netlink-error.js';
import { MAIN_TABLE, RouteProtocol, type KernelRoute, type Netlink, type NetlinkEvent, type RouteFingerprint, type Unsubscribe } from '../netlink/types.js';
import { ifacesOf, resolveRoute, routeSignature, sameRouteSignature, validateDesiredRoute, type DesiredRoute } from './route.js';

export interface RouteTableDeps {
  readonly netlink: Netlink;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RouteTableOptions {
  readonly table?: number;
  /** The protocol number we own (default 80, Felix's exclusive number; also used for workload routes). */
  readonly protocol?: number;
  readonly families?: readonly Family[];
  /** Full resync period (default 90 s, Felix routeRefreshInterval). */
  readonly resyncIntervalMs?: number;
  /** Routes handed to netlink per applyRoutes call (default 10000). */
  readonly batchSize?: number;
  /** Debounce between a kernel notification and the repair (default 50 ms). */
  readonly repairDelayMs?: number;
  /**
   * Routes of ours we do not want, on a workload interface (name starts with
   * `workloadIfacePrefix`, default "cali") first seen less than this long ago, are left alone:
   * the CNI plugin creates the veth and its route before we learn of the endpoint
   * (Felix routeCleanupGracePeriod, default 10 s).
   */
  readonly cleanupGraceMs?: number;
  readonly workloadIfacePrefix?: string;
}

export interface ApplyResult {
  readonly resynced: boolean;
  readonly deleted: number;
  readonly updated: number;
  readonly failed: number;
  /** Routes waiting for an interface that does not exist yet. */
  readonly pending: number;
}

/** Counters the metrics module can read (felix_route_table_* in Calico). */
export interface RouteTableStats {
  applies: number;
  resyncs: number;
  deletes: number;
  updates: number;
  failures: number;
  repairs: number;
  overflows: number;
  /** Times the notification subscription was (re)established. */
  subscriptions: number;
  lastResyncMs: number;
}

export class RouteTable {
  readonly table: number;
  readonly protocol: number;
  private readonly families: readonly Family[];
  private readonly desired = new Map<string, DesiredRoute>();
  /** Our routes as we believe the kernel has them, by destination (normally one per dst). */
  private readonly believed = new Map<string, Entry[]>();
  /** Marks the entries seen by the running resync (Entry.gen). */
  private resyncGen = 0;
  /** Our routes in the order the last resync's dump showed them (the kernel dumps in a stable order). */
  private order: Entry[] = [];
  private readonly dirty = new Set<string>();
  /** Destinations whose kernel route may be gone without a notification: rewrite on apply. */
  private readonly suspect = new Set<string>();
  private readonly ifaceUsers = new Map<string, Set<string>>();
  private links = new Map<string, number>();
  /** Bumped whenever the name → ifindex map changes; invalidates resolved routes. */
  private linksVersion = 0;
  /** When each link (by ifindex) was first seen, for the cleanup grace period. */
  private readonly firstSeen = new Map<number, number>();
  private readonly resolved = new Map<string, { version: number; want: Entry | undefined }>();
  private resyncNeeded = true;
  private queued: Promise<ApplyResult> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private repairTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private graceTimer: TimerHandle | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private retryDelayMs = 100;
  readonly stats: RouteTableStats = { applies: 0, resyncs: 0, deletes: 0, updates: 0, failures: 0, repairs: 0, overflows: 0, subscriptions: 0, lastResyncMs: 0 };
  private readonly log: Logger;

  constructor(private readonly deps: RouteTableDeps, private readonly options: RouteTableOptions = {}) {
    this.table = options.table ?? MAIN_TABLE;
    this.protocol = options.protocol ?? RouteProtocol.felix;
    this.families = options.families ?? [4, 6];
    this.log = deps.logger.child({ table: this.table, protocol: this.protocol });
  }

  // ----- desired state -----

  /** Replace the whole desired set. */
  setDesiredRoutes(routes: Iterable<DesiredRoute>): void {
    const next = new Map<string, DesiredRoute>();
    for (const r of routes) {
      validateDesiredRoute(r);
      const dst = canonDst(r.dst);
      next.set(dst, r.dst === dst ? r : { ...r, dst });
    }
    for (const dst of [...this.desired.keys()]) if (!next.has(dst)) this.deleteCanon(dst);
    for (const [dst, r] of next) {
      const old = this.desired.get(dst);
      if (old !== undefined && sameDesired(old, r)) continue; // unchanged: no work on a full refresh
      this.setCanon(dst, r);
    }
  }

  setRoute(route: DesiredRoute): void {
    validateDesiredRoute(route);
    const dst = canonDst(route.dst);
    this.setCanon(dst, route.dst === dst ? route : { ...route, dst });
  }

  deleteRoute(dst: string): void {
    this.deleteCanon(canonDst(dst));
  }

  private setCanon(dst: string, r: DesiredRoute): void {
    const old = this.desired.get(dst);
    if (old !== undefined) this.unindex(old);
    this.desired.set(dst, r);
    this.resolved.delete(dst);
    for (const i of ifacesOf(r)) {
      let s = this.ifaceUsers.get(i);
      if (s === undefined) this.ifaceUsers.set(i, s = new Set());
      s.add(dst);
    }
    this.dirty.add(dst);
  }

  private deleteCanon(key: string): void {
    const old = this.desired.get(key);
    if (old !== undefined) this.unindex(old);
    this.desired.delete(key);
    this.resolved.delete(key);
    this.dirty.add(key);
  }

  desiredRoutes(): DesiredRoute[] { return [...this.desired.values()]; }

  /** Re-read the kernel on the next apply. */
  queueResync(): void { this.resyncNeeded = true; }

  get pendingCount(): number { return this.dirty.size; }

  /** The route to `dst` is desired and in the kernel as desired (one workload's route, independent of the others'). */
  isProgrammed(dst: string): boolean {
    const key = canonDst(dst);
    return this.desired.has(key) && !this.dirty.has(key) && this.inSync(key);
  }

  // ----- autonomous mode: notifications + timer -----

  /** Subscribe to kernel notifications and start the periodic resync; applies as needed. */
  start(): void {
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.deps.netlink.subscribe((e) => this.onEvent(e));
    this.armResyncTimer();
    this.kick(0);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.repairTimer?.cancel();
    this.repairTimer = undefined;
    this.resyncTimer?.cancel();
    this.resyncTimer = undefined;
    this.graceTimer?.cancel();
    this.graceTimer = undefined;
  }

  private armResyncTimer(): void {
    this.resyncTimer?.cancel();
    this.resyncTimer = this.deps.clock.setTimeout(() => {
      this.queueResync();
      this.kick(0);
      this.armResyncTimer();
    }, this.options.resyncIntervalMs ?? 90_000);
  }

  /** Run apply after `delayMs` (debounced: one pending run at a time). */
  private kick(delayMs = this.options.repairDelayMs ?? 50): void {
    if (this.repairTimer !== undefined) return;
    this.repairTimer = this.deps.clock.setTimeout(() => {
      this.repairTimer = undefined;
      this.apply().then((res) => {
        if (res.failed > 0 && this.unsubscribe !== undefined) {
          this.retryDelayMs = Math.min(this.retryDelayMs * 2, 30_000);
          this.kick(this.retryDelayMs);
        } else {
          this.retryDelayMs = 100;
        }
      }, (err: unknown) => this.log.error({ err: String(err) }, 'route table apply failed'));
    }, delayMs);
  }

  /** Feed a kernel notification (called by the subscription; public for tests and the agent). */
  onEvent(e: NetlinkEvent): void {
    switch (e.type) {
      case 'route': {
        const r = e.route;
        if (r.table !== this.table || r.protocol !== this.protocol) return; // not ours: never touched
        const list = (this.believed.get(r.dst) ?? []).filter((b) => b.route.metric !== r.metric);
        if (e.action === 'new') list.push({ route: r, sig: routeSignature(r) });
        this.setBelieved(r.dst, list);
        if (!this.inSync(r.dst)) {
          this.dirty.add(r.dst);
          this.stats.repairs++;
          this.kick();
        }
        return;
      }
      case 'link': {
        const { name, index } = e.link;
        if (e.action === 'new' && !this.firstSeen.has(index)) this.firstSeen.set(index, this.deps.clock.now());
        if (e.action === 'del') this.firstSeen.delete(index);
        if (e.action === 'new' && this.links.get(name) !== index) { this.links.set(name, index); this.linksVersion++; }
        else if (e.action === 'del' && this.links.get(name) === index) { this.links.delete(name); this.linksVersion++; }
        // The kernel drops IPv4 routes of a link that goes down or away without telling us, so
        // forget what we believed about the routes using this link (a per-interface partial
        // resync): apply rewrites them, and NLM_F_REPLACE of an identical route is harmless.
        const users = this.ifaceUsers.get(name);
        if (users !== undefined && users.size > 0) {
          for (const d of users) { this.suspect.add(d); this.dirty.add(d); }
          this.kick();
        }
        return;
      }
      case 'address': {
        // Removing a link's last IPv4 address makes the kernel flush the IPv4 routes through it,
        // again without a notification (vxlan.calico's tunnel address flushed by hand): rewrite
        // the routes using the link, as for a link change.
        if (e.action !== 'del' || e.address.family !== 4) return;
        let name: string | undefined;
        for (const [n, i] of this.links) if (i === e.address.ifindex) { name = n; break; }
        const users = name === undefined ? undefined : this.ifaceUsers.get(name);
        if (users !== undefined && users.size > 0) {
          for (const d of users) { this.suspect.add(d); this.dirty.add(d); }
          this.kick();
        }
        return;
      }
      case 'neighbour':
      case 'fdb':
        return;
      case 'subscribed':
        this.stats.subscriptions++;
        this.queueResync();
        this.kick(0);
        return;
      case 'overflow':
        this.stats.overflows++;
        this.log.warn({ reason: e.reason }, 'netlink overflow; full resync');
        this.queueResync();
        this.kick();
        return;
      default:
        assertNever(e, 'netlink event');
    }
  }

  // ----- reconciliation -----

  /**
   * Bring the kernel to the desired state. Runs are serialised; calls made while one runs share
   * the next run, so a caller always sees a run that started after its call.
   */
  apply(): Promise<ApplyResult> {
    if (this.queued !== undefined) return this.queued;
    const p = this.tail.then(() => {
      this.queued = undefined;
      return this.applyOnce();
    });
    this.queued = p;
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async applyOnce(): Promise<ApplyResult> {
    this.stats.applies++;
    let resynced = false;
    if (this.resyncNeeded) {
      this.resyncNeeded = false;
      try {
        await this.resync();
        resynced = true;
      } catch (err) {
        this.resyncNeeded = true;
        this.stats.failures++;
        this.log.warn({ err: String(err) }, 'route resync failed; will retry');
        return { resynced: false, deleted: 0, updated: 0, failed: 1, pending: this.dirty.size };
      }
    }
    const deletes: Entry[] = [];
    const updates: Entry[] = [];
    let pending = 0;
    let graceUntil = Infinity;
    for (const dst of [...this.dirty]) {
      const d = this.desired.get(dst);
      const want = this.wantOf(dst);
      const have = this.believed.get(dst) ?? [];
      for (const h of have) {
        if (want !== undefined && h.route.metric === want.route.metric) continue;
        const until = d === undefined ? this.graceEnd(h.route) : undefined;
        if (until !== undefined) { graceUntil = Math.min(graceUntil, until); pending++; continue; }
        deletes.push(h);
      }
      if (want !== undefined) {
        const same = have.find((h) => h.route.metric === want.route.metric);
        if (same === undefined || same.sig !== want.sig || this.suspect.has(dst)) updates.push(want);
      }
      if (d !== undefined && want === undefined) pending++;
    }
    let failed = 0;
    let deleted = 0;
    let updated = 0;
    const batch = this.options.batchSize ?? 10_000;
    // Deletions first, then adds/replaces; each in bounded batches.
    const run = async (op: 'delete' | 'replace', routes: readonly Entry[]): Promise<void> => {
      for (let i = 0; i < routes.length; i += batch) {
        const chunk = routes.slice(i, i + batch);
        const results = await this.deps.netlink.applyRoutes(chunk.map((e) => ({ op, route: e.route })));
        chunk.forEach((entry, j) => {
          const r = entry.route;
          const err = results[j];
          const gone = err !== undefined && op === 'delete' && (errnoOf(err) === 'ESRCH' || errnoOf(err) === 'ENOENT');
          if (err !== undefined && !gone) {
            failed++;
            this.log.warn({ err: err.message }, `route ${op} failed`);
            return;
          }
          const rest = (this.believed.get(r.dst) ?? []).filter((b) => b.route.metric !== r.metric);
          if (op === 'replace') rest.push(entry);
          this.setBelieved(r.dst, rest);
          if (op === 'delete') deleted++; else { updated++; this.suspect.delete(r.dst); }
        });
      }
    };
    await run('delete', deletes);
    await run('replace', updates);
    // Clear what is now in sync; leave failures and pending routes dirty.
    for (const dst of [...this.dirty]) {
      if (!this.desired.has(dst)) this.suspect.delete(dst);
      if (this.inSync(dst) && !this.suspect.has(dst)) this.dirty.delete(dst);
    }
    if (failed > 0) this.resyncNeeded = true;
    if (graceUntil !== Infinity && this.unsubscribe !== undefined) {
      this.graceTimer?.cancel();
      this.graceTimer = this.deps.clock.setTimeout(() => this.kick(0), Math.max(0, graceUntil - this.deps.clock.now()) + 10);
    }
    this.stats.deletes += deleted;
    this.stats.updates += updated;
    this.stats.failures += failed;
    return { resynced, deleted, updated, failed, pending };
  }

  /** End of the cleanup grace for an unwanted route on a young workload interface, else undefined. */
  private graceEnd(r: KernelRoute): number | undefined {
    const grace = this.options.cleanupGraceMs ?? 10_000;
    if (grace <= 0 || r.ifindex === undefined) return undefined;
    const prefix = this.options.workloadIfacePrefix ?? 'cali';
    let name: string | undefined;
    for (const [n, i] of this.links) if (i === r.ifindex) { name = n; break; }
    if (name === undefined || !name.startsWith(prefix)) return undefined;
    const seen = this.firstSeen.get(r.ifindex);
    if (seen === undefined) return undefined;
    const end = seen + grace;
    return end > this.deps.clock.now() ? end : undefined;
  }

  /** True when the believed kernel state for `dst` matches the desired one. */
  private inSync(dst: string): boolean {
    const d = this.desired.get(dst);
    const have = this.believed.get(dst) ?? [];
    if (d === undefined) return have.length === 0;
    const want = this.wantOf(dst);
    if (want === undefined) return false;
    return have.length === 1 && have[0]?.sig === want.sig;
  }

  /** The kernel route we want for `dst` (cached until the desired route or the links change). */
  private wantOf(dst: string): Entry | undefined {
    const c = this.resolved.get(dst);
    if (c !== undefined && c.version === this.linksVersion) return c.want;
    const d = this.desired.get(dst);
    if (d === undefined) return undefined;
    const kernel = resolveRoute(d, this.table, this.protocol, (n) => this.links.get(n));
    const want = kernel === undefined ? undefined : { route: kernel, sig: routeSignature(kernel) };
    this.resolved.set(dst, { version: this.linksVersion, want });
    return want;
  }

  private async resync(): Promise<void> {
    const t0 = this.deps.clock.now();
    const linksBefore = this.linksVersion;
    const links = await this.deps.netlink.listLinks();
    const byName = new Map(links.map((l) => [l.name, l.index]));
    const now = this.deps.clock.now();
    for (const l of links) if (!this.firstSeen.has(l.index)) this.firstSeen.set(l.index, now);
    const present = new Set(links.map((l) => l.index));
    for (const i of [...this.firstSeen.keys()]) if (!present.has(i)) this.firstSeen.delete(i);
    if (byName.size !== this.links.size || [...byName].some(([n, i]) => this.links.get(n) !== i)) {
      this.links = byName;
      this.linksVersion++;
    }
    // A resync that finds nothing to do must be cheap (it runs every 90 s, on every error and
    // overflow, at 100k routes): an entry whose signature is unchanged keeps its old object, and
    // only destinations whose kernel state changed are compared with the desired state, unless
    // the links changed (then every resolved route may differ).
    const linksVersion = this.linksVersion;
    let gen = 0;
    let touched: string[] = [];
    /** Destinations seen twice in this dump (several metrics), or changed: their new entry lists. */
    let multi = new Map<string, Entry[]>();
    // The kernel dumps a table in a stable order, so the route at position i is usually the one
    // the last dump showed there: if its message has the same fingerprint and that entry is still
    // the lone believed route of its destination, it is unchanged and is not even decoded (no
    // object, no destination text, no map lookup). Anything else is decoded and compared as
    // before, and the cursor follows the route found, so an added or removed route costs one
    // slow step, not a slow tail.
    const prev = this.order;
    let order: Entry[] = [];
    let cursor = 0;
    const known = (fp: RouteFingerprint): boolean => {
      const c = prev[cursor];
      if (c === undefined || c.fast !== true || c.fp1 !== fp.h1 || c.fp2 !== fp.h2 || c.gen === gen) return false;
      c.gen = gen;
      c.pos = order.length;
      order.push(c);
      cursor++;
      return true;
    };
    const seen = (e: Entry, fp: RouteFingerprint | undefined, was: Entry | undefined): void => {
      if (was?.pos !== undefined && prev[was.pos] === was) cursor = was.pos + 1;
      if (fp !== undefined) { e.fp1 = fp.h1; e.fp2 = fp.h2; }
      e.pos = order.length;
      order.push(e);
    };
    // Each route is compared as the dump is read, not collected first (a list of 100k routes
    // outlives the young generation and turns every resync into a major GC).
    const visit = (r: KernelRoute, fp?: RouteFingerprint): void => {
      if (r.protocol !== this.protocol || r.table !== this.table) return;
      const m = multi.get(r.dst);
      if (m !== undefined) { const e: Entry = { route: r, sig: routeSignature(r), gen }; m.push(e); seen(e, fp, undefined); return; }
      const old = this.believed.get(r.dst);
      const first = old?.[0];
      if (old !== undefined && old.length === 1 && first !== undefined && first.gen !== gen && sameRouteSignature(first.route, r)) {
        first.gen = gen; // unchanged: keep the object, no map write, no signature text
        seen(first, fp, first);
        first.fast = first.fp1 !== undefined;
        return;
      }
      const e: Entry = { route: r, sig: routeSignature(r), gen };
      seen(e, fp, first);
      // A second route for the destination after an unchanged first one: both go in the new list.
      multi.set(r.dst, first !== undefined && first.gen === gen ? [first, e] : [e]);
      touched.push(r.dst);
    };
    for (let attempt = 1; ; attempt++) {
      gen = ++this.resyncGen;
      touched = [];
      multi = new Map();
      order = [];
      cursor = 0;
      let consistent = true;
      for (const f of this.families) {
        if (!await this.deps.netlink.visitRoutes(f, this.table, this.protocol, visit, known)) { consistent = false; break; }
      }
      if (consistent) break;
      // NLM_F_DUMP_INTR: routes changed during the dump; what was seen is no snapshot.
      if (attempt >= 5) throw new NetlinkError('dump', 'routes', 'EINTR');
      this.log.debug({ attempt }, 'route dump interrupted by concurrent changes; dumping again');
    }
    this.order = order;
    for (const [dst, list] of multi) this.setBelieved(dst, list);
    // Entries the dump did not show are gone. Values only (an entries() iterator allocates a pair
    // per destination); the common single, seen entry is checked without a callback.
    const stale: string[] = [];
    for (const list of this.believed.values()) {
      if (list.length === 1 && list[0]?.gen === gen) continue;
      if (list.every((e) => e.gen === gen)) continue;
      const dst = list[0]?.route.dst;
      if (dst !== undefined) stale.push(dst);
    }
    for (const dst of stale) {
      this.setBelieved(dst, (this.believed.get(dst) ?? []).filter((e) => e.gen === gen));
      touched.push(dst);
    }
    if (this.stats.resyncs === 0 || linksVersion !== linksBefore) {
      for (const dst of this.desired.keys()) if (!this.inSync(dst)) this.dirty.add(dst);
      for (const dst of this.believed.keys()) if (!this.desired.has(dst)) this.dirty.add(dst);
    } else {
      // Untouched destinations are as the last apply left them: in sync unless already dirty.
      for (const dst of touched) if (!this.inSync(dst)) this.dirty.add(dst);
    }
    this.stats.resyncs++;
    this.stats.lastResyncMs = this.deps.clock.now() - t0;
  }

  /** Every change of `believed` goes here: an entry that leaves it can no longer be recognised by fingerprint. */
  private setBelieved(dst: string, list: Entry[] | undefined): void {
    const old = this.believed.get(dst);
    if (old !== undefined) for (const e of old) if (list === undefined || !list.includes(e)) e.fast = false;
    if (list === undefined || list.length === 0) { this.believed.delete(dst); return; }
    this.believed.set(dst, list);
    const only = list.length === 1 ? list[0] : undefined;
    if (only !== undefined) only.fast = only.fp1 !== undefined;
    else for (const e of list) e.fast = false;
  }

  private unindex(r: DesiredRoute): void {
    for (const i of ifacesOf(r)) this.ifaceUsers.get(i)?.delete(r.dst);
  }
}

function sameDesired(a: DesiredRoute, b: DesiredRoute): boolean {
  if (a === b) return true;
  return a.type === b.type && a.iface === b.iface && a.gateway === b.gateway && (a.onlink ?? false) === (b.onlink ?? false)
    && a.scope === b.scope && a.metric === b.metric && a.src === b.src && a.mtu === b.mtu
    && JSON.stringify(a.nexthops ?? null) === JSON.stringify(b.nexthops ?? null);
}

/**
 * A kernel route with its comparison signature, computed once; `gen`: the last resync that saw
 * it. `fp1`/`fp2`: the fingerprint of the kernel message it was read from, `pos` its place in
 * that dump, `fast`: it is the lone believed route of its destination, so the next resync may
 * recognise it by fingerprint alone (cleared whenever it leaves `believed`).
 */
interface Entry { readonly route: KernelRoute; readonly sig: string; gen?: number; fp1?: number; fp2?: number; pos?: number; fast?: boolean }

const V4_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Canonical text of a prefix; a fast path for already-canonical IPv4 (the 100k-route case). */
function canonDst(dst: string): string {
  const m = V4_PREFIX.exec(dst);
  if (m !== null) {
    const len = Number(m[5]);
    let n = 0;
    let canonical = len <= 32 && String(len) === m[5];
    for (let i = 1; i <= 4 && canonical; i++) {
      const o = m[i] ?? '';
      const v = Number(o);
      if (v > 255 || String(v) !== o) canonical = false;
      n = (n * 256) + v;
    }
    const hostBits = len === 32 ? 0 : n % 2 ** (32 - len);
    if (canonical && hostBits === 0) return dst;
  }
  return formatPrefix(parsePrefix(dst));
}
