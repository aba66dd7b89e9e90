/**
 * What Calico's kube-controllers node controller does for IPAM, run by exactly one tortie-node
 * at a time: every agent campaigns in the etcd election `ipam-gc`; the leader sweeps
 * (agent/ipam/ipam-gc.ts: a deleted node's addresses, handles and block affinities; affinities
 * to blocks outside every IPPool) soon after a Node or IPPool disappears from the watch cache,
 * and every `intervalMs` as a safety net. Losing the lease ends the leadership at once (no sweep
 * runs without it) and a new campaign starts.
 *
 *   campaign ─elected─> sweep (node/pool gone: after 1 s; else every intervalMs) ─lease lost─> campaign
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { LeaderCampaign, LeaderElection } from '../datastore/kv-store.js';
import { sweepIpam, type IpamGcDeps, type SweepResult } from '../ipam/ipam-gc.js';

export interface IpamControllerDeps {
  readonly elector: LeaderElection;
  readonly gc: IpamGcDeps;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Names of the Nodes and IPPools the watch cache holds now (a name gone = something to collect). */
  readonly names: () => { readonly nodes: Iterable<string>; readonly pools: Iterable<string> };
  /** Overridable for tests. */
  readonly sweep?: (gc: IpamGcDeps) => Promise<SweepResult>;
}

export interface IpamControllerOptions {
  readonly nodeName: string;
  /** Safety-net sweep period while leader (default 5 min). */
  readonly intervalMs?: number;
  /** Election lease TTL: how long a dead leader blocks the others (default 15 s). */
  readonly ttlSeconds?: number;
  /** Delay between noticing a deletion and sweeping, coalescing bursts (default 1 s). */
  readonly debounceMs?: number;
}

export class IpamController {
  private campaign: LeaderCampaign | undefined;
  private leader = false;
  private stopped = false;
  private timer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private seen: { nodes: Set<string>; pools: Set<string> } | undefined;
  private readonly log: Logger;
  readonly stats = { elected: 0, sweeps: 0, failures: 0 };

  constructor(private readonly deps: IpamControllerDeps, private readonly options: IpamControllerOptions) {
    this.log = deps.logger.child({ component: 'ipam-controller' });
  }

  get isLeader(): boolean { return this.leader; }

  start(): void {
    if (this.stopped) return;
    const c = this.deps.elector.campaign('ipam-gc', this.options.nodeName, this.options.ttlSeconds ?? 15);
    this.campaign = c;
    c.onElected(() => {
      if (this.campaign !== c || this.stopped) return;
      this.leader = true;
      this.stats.elected++;
      this.log.info({ node: this.options.nodeName }, 'elected to run the IPAM controller (deleted nodes and pools)');
      this.sweepSoon(0);
    });
    c.onError((err) => {
      if (this.campaign !== c) return;
      const was = this.leader;
      this.leader = false;
      this.timer?.cancel();
      this.log.warn({ err: describeError(err), wasLeader: was }, 'IPAM controller election lost its lease; campaigning again in 1 s');
      this.retryTimer = this.deps.clock.setTimeout(() => this.start(), 1000);
    });
  }

  /** The watch cache changed: sweep soon when a Node or IPPool is gone (leader only). */
  kick(): void {
    const now = this.deps.names();
    const cur = { nodes: new Set(now.nodes), pools: new Set(now.pools) };
    const prev = this.seen;
    this.seen = cur;
    if (prev === undefined || !this.leader) return;
    const gone = [...prev.nodes].some((n) => !cur.nodes.has(n)) || [...prev.pools].some((p) => !cur.pools.has(p));
    if (gone) this.sweepSoon(this.options.debounceMs ?? 1000);
  }

  private sweepSoon(delayMs: number): void {
    if (!this.leader || this.stopped) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimeout(() => { void this.runSweep(); }, delayMs);
  }

  private async runSweep(): Promise<void> {
    if (this.running !== undefined) { this.again = true; return; }
    this.running = (async () => {
      if (!this.leader) return;
      try {
        const r = await (this.deps.sweep ?? sweepIpam)(this.deps.gc);
        this.stats.sweeps++;
        const nodes = Object.keys(r.nodes);
        if (nodes.length > 0 || r.pools.blocksDeleted.length + r.pools.blocksUnaffined.length > 0) {
          this.log.info({ nodes, poolBlocks: [...r.pools.blocksDeleted, ...r.pools.blocksUnaffined] }, 'IPAM controller released what deleted nodes and pools left');
        }
      } catch (err) {
        this.stats.failures++;
        this.log.warn({ err: describeError(err) }, 'IPAM sweep failed; retrying in 10 s');
        this.sweepSoon(10_000);
        return;
      }
      this.sweepSoon(this.options.intervalMs ?? 300_000);
    })();
    await this.running;
    this.running = undefined;
    if (this.again) { this.again = false; this.sweepSoon(0); }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.leader = false;
    this.timer?.cancel();
    this.retryTimer?.cancel();
    await this.running;
    await this.campaign?.resign();
  }
}
