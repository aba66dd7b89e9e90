/**
 * Workloads whose host interface vanished without a CNI DEL (the pod's network namespace was
 * destroyed, the veth pair with it): their route can never be programmed, and the runtime may
 * never call DEL. The reaper forgets such an endpoint (its route goes on the next sync) and
 * releases its IPAM handle.
 *
 *   netlink link del (cali*) ─┐
 *   sweep every 30 s ─────────┼─> interface absent at two looks `graceMs` apart ─> removeEndpoint + releaseByHandle
 *
 * Two looks, as Calico's IPAM GC confirms a leak twice: a re-ADD of the same pod deletes and
 * re-creates the host side under the same name within milliseconds, and must not lose its address.
 * A later DEL from the runtime still succeeds (release is idempotent).
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { NetlinkEvent, Unsubscribe } from '../../felix/netlink/types.js';

export interface WorkloadReaperDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly subscribe: (handler: (e: NetlinkEvent) => void) => Unsubscribe;
  /** Interface index by name, undefined when absent. */
  readonly ifindexOf: (name: string) => number | undefined;
  readonly endpoints: () => Iterable<readonly [string, { readonly iface: string }]>;
  readonly removeEndpoint: (containerId: string) => boolean;
  readonly syncNow: () => Promise<void>;
  readonly releaseByHandle: (handle: string) => Promise<string[]>;
}

export interface WorkloadReaperOptions {
  /** Time between the two looks that find an interface absent (default 1 s). */
  readonly graceMs?: number;
  /** Sweep period, for deletions whose notification was lost (default 30 s). */
  readonly sweepMs?: number;
  /** Host-side name prefix of workload interfaces (default "cali"). */
  readonly ifacePrefix?: string;
}

export class WorkloadReaper {
  /** containerId → when its interface was first seen absent. */
  private readonly missingSince = new Map<string, number>();
  private unsubscribe: Unsubscribe | undefined;
  private sweepTimer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;
  readonly stats = { reaped: 0 };

  constructor(private readonly deps: WorkloadReaperDeps, private readonly options: WorkloadReaperOptions = {}) {
    this.log = deps.logger.child({ component: 'workload-reaper' });
  }

  private get graceMs(): number { return this.options.graceMs ?? 1000; }

  start(): void {
    const prefix = this.options.ifacePrefix ?? 'cali';
    this.unsubscribe = this.deps.subscribe((e) => {
      if (e.type === 'overflow' || (e.type === 'link' && e.action === 'del' && e.link.name.startsWith(prefix))) this.sweepSoon();
    });
    this.armSweep();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.sweepTimer?.cancel();
    this.soon?.cancel();
  }

  /** Look now (a look that finds an interface newly absent looks again once the grace has passed). */
  private sweepSoon(): void { void this.sweep(); }

  private lookAgain(): void {
    if (this.soon !== undefined || this.stopped) return;
    this.soon = this.deps.clock.setTimeout(() => { this.soon = undefined; void this.sweep(); }, this.graceMs + 10);
  }

  private armSweep(): void {
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      if (this.stopped) return;
      void this.sweep();
      this.armSweep();
    }, this.options.sweepMs ?? 30_000);
  }

  /** One pass; returns how many interfaces were seen absent for the first time. */
  async sweep(): Promise<number> {
    while (this.running !== undefined) await this.running;
    let first = 0;
    const run = (async () => {
      const now = this.deps.clock.now();
      const present = new Set<string>();
      const reap: string[] = [];
      for (const [id, ep] of this.deps.endpoints()) {
        // Endpoints adopted at start-up are verified against IPAM by the agent; not ours to judge.
        if (id.startsWith('adopted:')) continue;
        present.add(id);
        if (this.deps.ifindexOf(ep.iface) !== undefined) { this.missingSince.delete(id); continue; }
        const since = this.missingSince.get(id);
        if (since === undefined) { this.missingSince.set(id, now); first++; this.log.debug({ containerId: id, iface: ep.iface }, 'workload interface absent: looking again after the grace'); continue; }
        if (now - since >= this.graceMs) reap.push(id);
      }
      for (const id of [...this.missingSince.keys()]) if (!present.has(id)) this.missingSince.delete(id);
      if (reap.length === 0) return;
      for (const id of reap) {
        this.missingSince.delete(id);
        this.deps.removeEndpoint(id);
      }
      await this.deps.syncNow();
      for (const id of reap) {
        try {
          const released = await this.deps.releaseByHandle(id);
          this.stats.reaped++;
          this.log.info({ containerId: id, released }, 'workload interface vanished without CNI DEL: endpoint removed, addresses released');
        } catch (err) {
          this.log.warn({ containerId: id, err: describeError(err) }, 'workload interface vanished: releasing its addresses failed; CNI GC or ipam check finds them');
        }
      }
    })();
    this.running = run;
    try { await run; } finally { this.running = undefined; }
    if (first > 0 || this.missingSince.size > 0) this.lookAgain();
    return first;
  }
}
