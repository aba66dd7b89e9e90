/**
 * Publishes this node's BGP session status to the datastore, so that `tortiectl node status
 * --all` shows every node's sessions from one place (calicoctl only reaches the local node:
 * projectcalico/calico#2369; Calico's answer is the CalicoNodeStatus resource, updated by each
 * node periodically). Key /tortie/status/v1/<node>/bgp, value the node.ctl answer
 * (agent/ctl/node-status-protocol.ts) plus `node` and `updated` (wall ms). Looked at every
 * `checkMs`, written when it changed or `refreshMs` after the last write (so `updated` says how
 * fresh it is). Bound to a lease: a node that is gone disappears from the listing after the
 * lease's TTL. A failed write is logged (rate-limited by the change detection: one per change or
 * refresh) and retried at the next check; the lease is granted again when lost.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { KvLease, KvStore } from '../datastore/kv-store.js';
import { bgpStatusKey } from '../datastore/key-layout.js';
import type { NodeStatusResponse } from '../ctl/node-status-protocol.js';

export interface PublishedBgpStatus {
  readonly node: string;
  /** Wall ms of this write. */
  readonly updated: number;
  readonly status: NodeStatusResponse;
}

export interface BgpStatusPublisherDeps { readonly store: KvStore; readonly clock: Clock; readonly logger: Logger }

export interface BgpStatusPublisherOptions {
  readonly checkMs?: number;
  readonly refreshMs?: number;
  readonly ttlSeconds?: number;
}

export class BgpStatusPublisher {
  private timer: TimerHandle | undefined;
  private lease: KvLease | undefined;
  private last = '';
  private lastWrite = -Infinity;
  private busy = false;
  private stopped = false;
  readonly stats = { writes: 0, failures: 0 };
  private readonly key: string;
  private readonly log: Logger;
  private readonly checkMs: number;
  private readonly refreshMs: number;
  private readonly ttl: number;

  constructor(private readonly deps: BgpStatusPublisherDeps, private readonly node: string,
    private readonly read: () => NodeStatusResponse, o: BgpStatusPublisherOptions = {}) {
    this.key = bgpStatusKey(node);
    this.log = deps.logger.child({ component: 'bgp-status-publisher' });
    this.checkMs = o.checkMs ?? 2000;
    this.refreshMs = o.refreshMs ?? 60_000;
    this.ttl = o.ttlSeconds ?? 90;
  }

  start(): void { this.schedule(0); }

  /** Look now and write when changed (or due); resolves when done. */
  async check(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const status = this.read();
      const text = JSON.stringify(status);
      const now = this.deps.clock.now();
      if (text === this.last && now - this.lastWrite < this.refreshMs) return;
      const value: PublishedBgpStatus = { node: this.node, updated: this.deps.clock.wallNow(), status };
      await this.write(JSON.stringify(value));
      this.last = text;
      this.lastWrite = now;
      this.stats.writes++;
    } catch (err) {
      this.stats.failures++;
      this.log.warn({ key: this.key, err: describeError(err) }, 'cannot publish the BGP status; retrying');
    } finally {
      this.busy = false;
    }
  }

  private async write(value: string): Promise<void> {
    if (!this.lease) {
      const lease = await this.deps.store.grantLease(this.ttl);
      lease.onLost(() => { if (this.lease === lease) { this.lease = undefined; this.last = ''; } });
      this.lease = lease;
    }
    const cur = await this.deps.store.get(this.key);
    if (cur === undefined) await this.deps.store.create(this.key, value, { lease: this.lease });
    else await this.deps.store.update(this.key, value, cur.modRevision, { lease: this.lease });
  }

  private schedule(ms: number): void {
    this.timer = this.deps.clock.setTimeout(() => {
      void this.check().finally(() => { if (!this.stopped) this.schedule(this.checkMs); });
    }, ms);
  }

  /** Stop and remove the key (the lease is revoked): a node shut down cleanly is not listed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.lease?.revoke().catch(() => undefined);
  }
}
