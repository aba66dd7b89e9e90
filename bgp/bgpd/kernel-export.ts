/**
 * The `kernel` section at run time (BIRD's `protocol kernel`): best or multipath routes from the
 * speaker into a KernelSink, at start and across reloads (SIGHUP, `tortie-bgpctl configure`).
 *
 *   speaker.onBestPathChange ──▶ kernelNextHops ──▶ KernelSink.set (felix/routes GatewayRoutes)
 *   reload: same table/protocol/families → the table replayed into the same sink (mergePaths);
 *           otherwise the old sink removes its routes, a new one is filled, then programs.
 *
 * A replay walks the speaker's table in slices (streamRoutes), so a reload never stalls the loop;
 * changes arriving meanwhile go to the sink through the listener, attached first, and a replayed
 * prefix is read when its turn comes, so the sink always ends with the latest paths.
 */
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
import type { BgpSpeaker } from '../speaker/speaker.js';
import type { BestPathChange, RouteView } from '../speaker/views.js';
import type { BgpdKernel } from './config.js';

/**
 * Where the `kernel` section's routes go: main.ts (the daemon's composition root) passes
 * felix/routes GatewayRoutes, the reconciler tortie-node uses; bgp/ itself stays free of netlink.
 */
export interface KernelSink {
  start(): Promise<void>;
  /** Begin writing (and removing) routes; before it, set() only records. */
  program(): void;
  /** The next hops of `prefix`, best first (an IPv6 link-local one as "fe80::1%eth0"); undefined: no route. */
  set(prefix: string, nextHops: readonly string[] | undefined): void;
  stop(persist: boolean): Promise<void>;
}

export type KernelSinkFactory = (k: BgpdKernel) => Promise<KernelSink>;

/** Longest wait with `kernel.persist` for every peer's End-of-RIB before the kernel is programmed. */
const PERSIST_WAIT_MS = 30_000;

/**
 * What the kernel gets for a best-path change: learned routes only, the multipath set when merged.
 * An IPv6 link-local next hop needs its interface: `interfaceOf(peer)` names the one the session
 * to that peer runs over (RFC 2545 §3: a link-local next hop is on the link of the session).
 */
export function kernelNextHops(c: BestPathChange, mergePaths: boolean, interfaceOf?: (peer: string) => string | undefined): string[] | undefined {
  const b = c.best;
  if (b === undefined || b.from === 'local' || b.nextHop === 'self') return undefined;
  const family = c.prefix.includes(':') ? 6 : 4;
  const paths = mergePaths && c.multipath !== undefined ? c.multipath : [b];
  const hops: string[] = [];
  for (const r of paths) {
    if (r.from === 'local' || r.nextHop === 'self' || r.nextHop.includes(':') !== (family === 6)) continue;
    let nh = r.nextHop;
    if (/^fe[89ab]/i.test(nh) && !nh.includes('%')) {
      const ifname = interfaceOf?.(r.from);
      if (ifname !== undefined) nh = `${nh}%${ifname}`;
    }
    if (!hops.includes(nh)) hops.push(nh);
  }
  return hops.length === 0 ? undefined : hops;
}

/** What a reload did to the kernel section. */
export type KernelChange = 'unchanged' | 'added' | 'removed' | 'restarted' | 'replayed' | 'updated';

export class KernelExport {
  private cfg: BgpdKernel | undefined;
  private sink: KernelSink | undefined;
  private detach = (): void => undefined;
  private waitTimer: ReturnType<typeof setInterval> | undefined;
  /** Reloads run one after another. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly speaker: BgpSpeaker, private readonly factory: KernelSinkFactory | undefined,
    private readonly deps: { readonly logger: Logger; readonly clock: Clock; readonly interfaceOf?: (peer: string) => string | undefined }) {}

  /** Before the speaker starts: every change from the first one reaches the sink. */
  async attach(k: BgpdKernel | undefined): Promise<void> {
    if (k === undefined || this.factory === undefined) return;
    const sink = await this.factory(k);
    await sink.start();
    this.listen(sink, k);
    this.deps.logger.info({ table: k.table, protocol: k.protocol, mergePaths: k.mergePaths, persist: k.persist }, 'kernel routes: exporting best paths');
  }

  /**
   * After the speaker started: program now, or with `persist` once every peer has sent its
   * End-of-RIB (routes kept from the last run forward meanwhile; BIRD's kernel protocol defers
   * its sync until graceful-restart recovery ends likewise), at most PERSIST_WAIT_MS.
   */
  begin(): void {
    const k = this.cfg, sink = this.sink;
    if (k === undefined || sink === undefined) return;
    if (!k.persist) { sink.program(); return; }
    const t0 = this.deps.clock.now();
    const timer = this.waitTimer = setInterval(() => {
      const peers = this.speaker.status().filter((p) => p.enabled);
      const synced = peers.every((p) => p.state === 'Established' && p.eorReceived.length > 0);
      if (!synced && this.deps.clock.now() - t0 < PERSIST_WAIT_MS) return;
      clearInterval(timer);
      this.waitTimer = undefined;
      this.deps.logger.info({ synced, waitedMs: this.deps.clock.now() - t0 }, 'kernel routes: programming');
      if (this.sink === sink) sink.program();
    }, 200);
    timer.unref();
  }

  /** Apply a reloaded section (BIRD `configure`): see the file comment. */
  reconfigure(next: BgpdKernel | undefined): Promise<KernelChange> {
    const run = this.chain.then(() => this.apply(next));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stop following the speaker; the routes stay with `persist`, else they are removed. */
  async stop(): Promise<void> {
    await this.chain;
    const sink = this.sink, k = this.cfg;
    this.unlisten();
    if (sink && k) await sink.stop(k.persist).catch((err: unknown) => this.deps.logger.warn({ err: describeError(err) }, 'kernel routes: stop failed'));
  }

  /** Detach from the speaker first (at shutdown the sessions' withdrawals are not ours to program). */
  detachListener(): void { this.detach(); this.detach = () => undefined; }

  private async apply(next: BgpdKernel | undefined): Promise<KernelChange> {
    const prev = this.cfg, sink = this.sink;
    if (next !== undefined && this.factory === undefined) throw new Error('kernel section: this daemon has no kernel access');
    if (prev === undefined && next === undefined) return 'unchanged';
    const log = this.deps.logger;
    if (prev !== undefined && next !== undefined && sink !== undefined && prev.table === next.table && prev.protocol === next.protocol
      && sameFamilies(prev.families, next.families)) {
      this.cfg = next;
      if (prev.mergePaths === next.mergePaths) return prev.persist === next.persist ? 'unchanged' : 'updated';
      // Same routes' home, other next hops: the listener uses `next` from now on; replay the table
      // (a `persist` wait for End-of-RIB under way goes on: detach the listener only).
      this.detachListener();
      this.listen(sink, next);
      await this.replay(sink, next);
      log.info({ mergePaths: next.mergePaths }, 'kernel routes: merge paths changed, table replayed');
      return 'replayed';
    }
    if (prev !== undefined && sink !== undefined) {
      // Another table, protocol or family set (or no section): BIRD restarts its kernel protocol;
      // so do we: our routes leave the old table/protocol first (unless the section is gone
      // with `persist`), then the new home is filled and programmed.
      this.unlisten();
      await sink.stop(next === undefined && prev.persist);
      log.info({ table: prev.table, protocol: prev.protocol, removed: !(next === undefined && prev.persist) }, 'kernel routes: old export stopped');
      this.cfg = undefined;
      this.sink = undefined;
    }
    if (next === undefined) return 'removed';
    const fresh = await this.factory!(next);
    await fresh.start();
    this.listen(fresh, next);
    await this.replay(fresh, next);
    fresh.program();
    log.info({ table: next.table, protocol: next.protocol, mergePaths: next.mergePaths, persist: next.persist }, 'kernel routes: exporting best paths (reloaded)');
    return prev === undefined ? 'added' : 'restarted';
  }

  private listen(sink: KernelSink, k: BgpdKernel): void {
    const families = new Set(k.families);
    this.detach = this.speaker.onBestPathChange((c) => {
      if (families.has(c.prefix.includes(':') ? 6 : 4)) sink.set(c.prefix, kernelNextHops(c, k.mergePaths, this.deps.interfaceOf));
    });
    this.cfg = k;
    this.sink = sink;
  }

  private unlisten(): void {
    this.detachListener();
    if (this.waitTimer !== undefined) { clearInterval(this.waitTimer); this.waitTimer = undefined; }
  }

  /** Every prefix's current paths into `sink`, in slices (the views of one prefix arrive together, best first). */
  private async replay(sink: KernelSink, k: BgpdKernel): Promise<void> {
    const families = new Set(k.families);
    let group: RouteView[] = [];
    const flush = (): void => {
      const views = group;
      group = [];
      const first = views[0];
      if (first === undefined || !families.has(first.prefix.includes(':') ? 6 : 4)) return;
      const best = views.find((v) => v.best);
      if (best === undefined) { sink.set(first.prefix, undefined); return; }
      const set = [best, ...views.filter((v) => v.multipath === true && v !== best)];
      sink.set(first.prefix, kernelNextHops({ prefix: first.prefix, best, ...(set.length > 1 ? { multipath: set } : {}) }, k.mergePaths, this.deps.interfaceOf));
    };
    await this.speaker.streamRoutes({ type: 'table' }, (batch) => {
      for (const v of batch) {
        if (group.length > 0 && group[0]!.prefix !== v.prefix) flush();
        group.push(v);
      }
    });
    flush();
  }
}

const sameFamilies = (a: ReadonlyArray<4 | 6>, b: ReadonlyArray<4 | 6>): boolean =>
  a.length === b.length && a.every((f) => b.includes(f));
