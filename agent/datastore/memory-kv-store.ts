/**
 * In-memory KvStore with etcd semantics (one global revision, CAS on mod revision, history
 * for watches, compaction): for unit tests of logic only; production uses EtcdKvStore.
 */
import { DatastoreError } from './errors.js';
import type { KvEntry, KvEvent, KvLease, KvStore, KvTxnOp, KvWatch, KvWatchHandlers, KvWriteOptions } from './kv-store.js';

interface Watcher { prefix: string; handlers: KvWatchHandlers }

export class MemoryKvStore implements KvStore {
  private revision = 1;
  private compacted = 0;
  private readonly data = new Map<string, KvEntry>();
  private readonly history: Array<{ rev: number; event: KvEvent }> = [];
  private readonly watchers = new Set<Watcher>();
  private nextLease = 1;

  async get(key: string): Promise<KvEntry | undefined> { return this.data.get(key); }

  async list(prefix: string): Promise<{ entries: KvEntry[]; revision: string }> {
    const entries = [...this.data.values()].filter((e) => e.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    return { entries, revision: String(this.revision) };
  }

  private write(key: string, value: string, createRevision: string | undefined, options: KvWriteOptions): KvEntry {
    this.revision++;
    const rev = String(this.revision);
    const entry: KvEntry = { key, value, modRevision: rev, createRevision: createRevision ?? rev,
      ...(options.lease === undefined ? {} : { lease: options.lease.id }) };
    this.data.set(key, entry);
    this.emit({ type: 'put', entry });
    return entry;
  }

  private emit(event: KvEvent): void {
    this.history.push({ rev: this.revision, event });
    const key = event.type === 'put' ? event.entry.key : event.key;
    for (const w of this.watchers) {
      if (key.startsWith(w.prefix)) {
        const rev = String(this.revision);
        queueMicrotask(() => { if (this.watchers.has(w)) w.handlers.onEvents([event], rev); });
      }
    }
  }

  async create(key: string, value: string, options: KvWriteOptions = {}): Promise<KvEntry> {
    const cur = this.data.get(key);
    if (cur !== undefined) throw new DatastoreError('already-exists', `${key} already exists`, { current: cur });
    return this.write(key, value, undefined, options);
  }

  async update(key: string, value: string, expectedModRevision: string, options: KvWriteOptions = {}): Promise<KvEntry> {
    const cur = this.data.get(key);
    if (cur === undefined) throw new DatastoreError('not-found', `${key} does not exist`);
    if (cur.modRevision !== expectedModRevision) {
      throw new DatastoreError('conflict', `${key} was modified (revision ${cur.modRevision}, expected ${expectedModRevision})`, { current: cur });
    }
    return this.write(key, value, cur.createRevision, options);
  }

  async commit(ops: readonly KvTxnOp[]): Promise<KvEntry[]> {
    for (const o of ops) {
      const cur = this.data.get(o.key);
      if (o.op === 'create' && cur !== undefined) throw new DatastoreError('already-exists', 'already exists', { where: o.key, current: cur });
      if (o.op === 'update') {
        if (cur === undefined) throw new DatastoreError('not-found', 'does not exist', { where: o.key });
        if (cur.modRevision !== o.expectedModRevision) {
          throw new DatastoreError('conflict', `was modified (revision ${cur.modRevision}, expected ${o.expectedModRevision})`, { where: o.key, current: cur });
        }
      }
    }
    // One revision for the whole commit, as etcd gives a txn.
    this.revision++;
    const rev = String(this.revision);
    const out: KvEntry[] = [];
    for (const o of ops) {
      const entry: KvEntry = { key: o.key, value: o.value, modRevision: rev, createRevision: this.data.get(o.key)?.createRevision ?? rev };
      this.data.set(o.key, entry);
      this.emit({ type: 'put', entry });
      out.push(entry);
    }
    return out;
  }

  async delete(key: string, expectedModRevision?: string): Promise<KvEntry> {
    const cur = this.data.get(key);
    if (cur === undefined) throw new DatastoreError('not-found', `${key} does not exist`);
    if (expectedModRevision !== undefined && cur.modRevision !== expectedModRevision) {
      throw new DatastoreError('conflict', `${key} was modified (revision ${cur.modRevision}, expected ${expectedModRevision})`, { current: cur });
    }
    this.data.delete(key);
    this.revision++;
    this.emit({ type: 'delete', key, modRevision: String(this.revision) });
    return cur;
  }

  async watchPrefix(prefix: string, fromRevision: string, handlers: KvWatchHandlers): Promise<KvWatch> {
    const from = Number(fromRevision);
    if (from <= this.compacted) {
      queueMicrotask(() => handlers.onError(new DatastoreError('compacted', `required revision ${from} has been compacted (at ${this.compacted})`)));
      return { close: async () => undefined };
    }
    const w: Watcher = { prefix, handlers };
    const replay = this.history.filter((h) => h.rev >= from
      && (h.event.type === 'put' ? h.event.entry.key : h.event.key).startsWith(prefix));
    for (const h of replay) queueMicrotask(() => { if (this.watchers.has(w)) handlers.onEvents([h.event], String(h.rev)); });
    this.watchers.add(w);
    return { close: async () => { this.watchers.delete(w); } };
  }

  /** Drop history up to `rev` (etcdctl compaction). */
  compact(rev: number = this.revision): void {
    this.compacted = rev;
    while (this.history.length > 0 && (this.history[0]?.rev ?? Infinity) <= rev) this.history.shift();
  }

  /** Fail every open watch (as if etcd canceled them), for resync tests. */
  breakWatches(err: Error): void {
    const ws = [...this.watchers];
    this.watchers.clear();
    for (const w of ws) w.handlers.onError(err);
  }

  async grantLease(): Promise<KvLease> {
    const id = String(this.nextLease++);
    const lost: Array<(err: Error) => void> = [];
    return { id, onLost: (cb) => { lost.push(cb); }, revoke: async () => { this.expireLease(id); } };
  }

  /** Delete every key attached to the lease, as etcd does on expiry. */
  expireLease(id: string): void {
    for (const e of [...this.data.values()]) if (e.lease === id) void this.delete(e.key);
  }

  async close(): Promise<void> { this.watchers.clear(); }
}
