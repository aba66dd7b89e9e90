/**
 * A key that exists while this node is alive: put under a lease kept alive by the client.
 * When the lease is lost (partition longer than the TTL, etcd restart), grant a new lease and
 * re-put, retrying; never touches anything else (robustness.md §5: leases).
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { KvLease, KvStore } from './kv-store.js';

export interface LivenessKeyDeps { readonly store: KvStore; readonly clock: Clock; readonly logger: Logger }

export class LivenessKey {
  private lease: KvLease | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  readonly stats = { grants: 0 };

  constructor(private readonly deps: LivenessKeyDeps, readonly key: string, private readonly value: string,
    readonly ttlSeconds = 90, private readonly retryMs = 1000) {}

  async start(): Promise<void> { await this.establish(); }

  private async establish(): Promise<void> {
    const lease = await this.deps.store.grantLease(this.ttlSeconds);
    this.stats.grants++;
    this.lease = lease;
    lease.onLost((err) => {
      if (this.stopped || this.lease !== lease) return;
      this.deps.logger.warn({ key: this.key, err: err.message }, 'liveness lease lost; granting a new one');
      this.retry();
    });
    const cur = await this.deps.store.get(this.key);
    if (cur === undefined) await this.deps.store.create(this.key, this.value, { lease });
    else await this.deps.store.update(this.key, this.value, cur.modRevision, { lease });
  }

  private retry(): void {
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimeout(() => {
      if (this.stopped) return;
      this.establish().catch((err: unknown) => {
        this.deps.logger.warn({ key: this.key, err: (err as Error).message }, 'liveness re-put failed, retrying');
        this.retry();
      });
    }, this.retryMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.lease?.revoke();
  }
}
