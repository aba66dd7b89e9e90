/**
 * List + watch one key prefix into a local cache and hand consumers a stream of updates:
 * list at R, watch from R+1; when the watch ends (compacted revision, canceled, permission)
 * re-list and mark-and-sweep (keys not seen again become deletes), as Calico's watchercache.
 * Reconnects after an etcd restart are resumed by the client from the last revision.
 *
 *   etcd --list--> cache --diff--> onUpdates()      watch error --> (500 ms) --> re-list
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { KvEntry, KvEvent, KvStore, KvWatch } from './kv-store.js';

export type SyncEvent =
  | { readonly type: 'put'; readonly entry: KvEntry }
  | { readonly type: 'delete'; readonly key: string };

export interface WatchSyncerCallbacks {
  onUpdates(events: readonly SyncEvent[]): void;
  /** After each complete list (first sync and every resync). */
  onInSync?(): void;
  /** The watch stream went down (etcd unreachable or stalled) or came back. */
  onConnectionChange?(connected: boolean): void;
}

export interface WatchSyncerDeps { readonly store: KvStore; readonly clock: Clock; readonly logger: Logger }

export const MIN_RESYNC_INTERVAL_MS = 500;
export const LIST_RETRY_INTERVAL_MS = 1000;

export class WatchSyncer {
  private readonly cache = new Map<string, KvEntry>();
  private watch: KvWatch | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private revision = '0';
  /** False while the watch stream is down (for readiness; the cache is kept). */
  connected = false;
  /** Full re-lists after the first one, and watch errors seen. */
  readonly stats = { lists: 0, resyncs: 0, watchErrors: 0 };
  private readonly log: Logger;

  constructor(private readonly deps: WatchSyncerDeps, readonly prefix: string, private readonly cb: WatchSyncerCallbacks) {
    this.log = deps.logger.child({ syncer: prefix });
  }

  /** The first list (rejects if it fails) and the watch. */
  async start(): Promise<void> {
    await this.listAndWatch();
  }

  snapshot(): ReadonlyMap<string, KvEntry> { return this.cache; }
  get lastRevision(): string { return this.revision; }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.watch?.close();
  }

  private async listAndWatch(): Promise<void> {
    const { entries, revision } = await this.deps.store.list(this.prefix);
    if (this.stopped) return;
    if (this.stats.lists > 0) this.stats.resyncs++;
    this.stats.lists++;
    const seen = new Set<string>();
    const events: SyncEvent[] = [];
    for (const e of entries) {
      seen.add(e.key);
      const old = this.cache.get(e.key);
      if (old === undefined || old.modRevision !== e.modRevision) {
        this.cache.set(e.key, e);
        events.push({ type: 'put', entry: e });
      }
    }
    for (const key of [...this.cache.keys()]) {
      if (!seen.has(key)) { this.cache.delete(key); events.push({ type: 'delete', key }); }
    }
    this.revision = revision;
    if (events.length > 0) this.deliver(events);
    try { this.cb.onInSync?.(); } catch (err) { this.log.error({ err: (err as Error).message }, 'onInSync callback threw'); }
    this.watch = await this.deps.store.watchPrefix(this.prefix, (BigInt(revision) + 1n).toString(), {
      onEvents: (evs, rev) => this.apply(evs, rev),
      onError: (err) => this.onWatchError(err),
      onConnectionChange: (up) => {
        if (up === this.connected) return;
        this.connected = up;
        this.log.info({ connected: up }, up ? 'watch connected' : 'watch disconnected');
        this.cb.onConnectionChange?.(up);
      },
    });
    this.connected = true;
    if (this.stopped) await this.watch.close();
  }

  private apply(evs: readonly KvEvent[], rev: string): void {
    const out: SyncEvent[] = [];
    for (const ev of evs) {
      if (ev.type === 'put') {
        const old = this.cache.get(ev.entry.key);
        if (old !== undefined && BigInt(old.modRevision) >= BigInt(ev.entry.modRevision)) continue;
        this.cache.set(ev.entry.key, ev.entry);
        out.push({ type: 'put', entry: ev.entry });
      } else if (this.cache.delete(ev.key)) {
        out.push({ type: 'delete', key: ev.key });
      }
    }
    if (BigInt(rev) > BigInt(this.revision)) this.revision = rev;
    if (out.length > 0) this.deliver(out);
  }

  /** A throwing consumer must not kill the watch (or, through the etcd client, the process). */
  private deliver(events: readonly SyncEvent[]): void {
    try { this.cb.onUpdates(events); } catch (err) {
      this.log.error({ err: (err as Error).message, events: events.length }, 'onUpdates callback threw');
    }
  }

  private onWatchError(err: Error): void {
    this.stats.watchErrors++;
    this.watch = undefined;
    if (this.stopped) return;
    this.log.warn({ err: err.message, revision: this.revision }, 'watch ended, triggering full resync');
    this.scheduleResync(MIN_RESYNC_INTERVAL_MS);
  }

  private scheduleResync(ms: number): void {
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimeout(() => {
      this.listAndWatch().catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 're-list failed, retrying');
        if (!this.stopped) this.scheduleResync(LIST_RETRY_INTERVAL_MS);
      });
    }, ms);
  }
}
