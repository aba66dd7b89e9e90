/**
 * KvStore over etcd v3 (npm `etcd3`): create = txn "create_revision == 0 ? put : get",
 * update/delete = txn "mod_revision == R ? op : get" (Calico libcalico-go etcdv3.go), prefix
 * watches with previous KVs that resume from the last revision on reconnect (the client does
 * that) and end with an error when etcd cancels them (compaction), so the caller re-lists.
 */
import type { Etcd3, IOptions } from 'etcd3';
import type { Logger } from '../../common/logger.js';
import { DatastoreError } from './errors.js';
import { prefixRangeEnd, type KvEntry, type LeaderCampaign, type LeaderElection, type KvEvent, type KvLease, type KvStore, type KvTxnOp, type KvWatch,
  type KvWatchHandlers, type KvWriteOptions } from './kv-store.js';
import type { EtcdConnectionConfig } from './datastore-config.js';
import { ROOT } from './key-layout.js';
import { readFileSync } from 'node:fs';

interface RawKv { key?: Buffer | null; value?: Buffer | null; mod_revision?: string | number | null;
  create_revision?: string | number | null; lease?: string | number | null }

function toEntry(kv: RawKv): KvEntry {
  const lease = kv.lease === undefined || kv.lease === null || String(kv.lease) === '0' ? undefined : String(kv.lease);
  return {
    key: kv.key?.toString() ?? '', value: kv.value?.toString() ?? '',
    modRevision: String(kv.mod_revision ?? '0'), createRevision: String(kv.create_revision ?? '0'),
    ...(lease === undefined ? {} : { lease }),
  };
}

/** A reason a person can act on, for the usual connection failures (gRPC wraps them in noise). */
function explain(msg: string): string | undefined {
  if (/ECONNREFUSED/.test(msg)) return 'connection refused: is etcd running there? (check ETCD_ENDPOINTS or --config)';
  if (/ENOTFOUND|EAI_AGAIN/.test(msg)) return 'host name does not resolve (check ETCD_ENDPOINTS)';
  if (/alert bad certificate|alert number 42|certificate required|alert number 116/.test(msg)) {
    return 'etcd refused our client certificate (check ETCD_CERT_FILE / ETCD_KEY_FILE and that etcd trusts its CA)';
  }
  if (/unable to verify|self[- ]signed|certificate has expired|unable to get local issuer|Hostname\/IP does not match/i.test(msg)) {
    return "cannot verify etcd's server certificate with ETCD_CA_CERT_FILE (wrong CA, expired, or wrong host)";
  }
  if (/wrong version number|packet length too long/.test(msg)) return 'TLS/plaintext mismatch (http:// vs https:// endpoint)';
  if (/DEADLINE_EXCEEDED|Deadline exceeded/i.test(msg)) return 'etcd did not answer in time';
  return undefined;
}

/** Map an etcd3/gRPC error onto a DatastoreError with a stable code. */
export function mapEtcdError(err: unknown, where: string, endpoints?: readonly string[]): DatastoreError {
  if (err instanceof DatastoreError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.constructor.name : '';
  const code = /compact/i.test(msg) ? 'compacted'
    : /permission denied|PermissionDenied|Unauthenticated|authentication/i.test(msg + name) ? 'permission-denied'
      : 'unavailable';
  const why = explain(msg) ?? msg.replace(/\s*Resolution note:\s*$/, '');
  return new DatastoreError(code, `etcd${endpoints === undefined ? '' : ` (${endpoints.join(',')})`} ${where}: ${why}`, { cause: err });
}

export interface EtcdKvStoreDeps { readonly logger: Logger }

/** Ceiling of the delay between two attempts to re-open the etcd watch stream. */
export const WATCH_RETRY_MAX_MS = 2000;

/**
 * Exponential back-off for the etcd3 watch stream (the client's IBackoff shape: `duration`, `next()`):
 * 100 ms doubling up to `maxMs`, with ±20 % jitter so many nodes don't reconnect in lock step.
 */
export class WatchBackoff {
  readonly duration: number;
  constructor(private readonly maxMs: number, private readonly attempt = -1, random: () => number = Math.random) {
    const base = attempt < 0 ? 0 : Math.min(maxMs, 100 * 2 ** Math.min(attempt, 20));
    this.duration = Math.round(base * (0.8 + 0.4 * random()));
  }
  next(): WatchBackoff { return new WatchBackoff(this.maxMs, this.attempt + 1); }
}

export class EtcdKvStore implements KvStore, LeaderElection {
  private constructor(private readonly client: Etcd3, private readonly log: Logger, private readonly endpoints: readonly string[]) {}

  private fail(err: unknown, where: string): DatastoreError { return mapEtcdError(err, where, this.endpoints); }

  /** Lazy-loads etcd3 so CLIs that never touch the datastore stay fast to start. */
  static async connect(config: EtcdConnectionConfig, deps: EtcdKvStoreDeps): Promise<EtcdKvStore> {
    const { Etcd3: Client } = await import('etcd3');
    const options: IOptions = {
      hosts: [...config.endpoints],
      dialTimeout: 10_000,
      grpcOptions: { 'grpc.keepalive_time_ms': config.keepaliveTimeMs ?? 30_000, 'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs ?? 10_000,
        'grpc.keepalive_permit_without_calls': 1 },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + (config.requestTimeoutMs ?? 10_000) }),
      // The client's default watch back-off grows to 30 s: after an etcd outage a watch could stay
      // down that long and miss config changes meanwhile. Cap it (Calico's watchers retry ~1 s).
      faultHandling: { watchBackoff: new WatchBackoff(config.watchRetryMaxMs ?? WATCH_RETRY_MAX_MS) },
    };
    if (config.caCertFile !== undefined) {
      const read = (file: string, what: string): Buffer => {
        try { return readFileSync(file); } catch (err) {
          throw new DatastoreError('invalid', `cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
        }
      };
      options.credentials = {
        rootCertificate: read(config.caCertFile, 'etcd CA certificate (ETCD_CA_CERT_FILE)'),
        ...(config.certFile === undefined ? {} : { certChain: read(config.certFile, 'etcd client certificate (ETCD_CERT_FILE)') }),
        ...(config.keyFile === undefined ? {} : { privateKey: read(config.keyFile, 'etcd client key (ETCD_KEY_FILE)') }),
      };
    } else if (config.endpoints.some((e) => e.startsWith('https:'))) {
      throw new DatastoreError('invalid', 'https etcd endpoint without ETCD_CA_CERT_FILE: refusing to guess a CA');
    }
    return new EtcdKvStore(new Client(options), deps.logger.child({ component: 'etcd' }), config.endpoints);
  }

  async get(key: string): Promise<KvEntry | undefined> {
    try {
      const res = await this.client.kv.range({ key: Buffer.from(key) });
      const kv = res.kvs[0];
      return kv === undefined ? undefined : toEntry(kv);
    } catch (err) { throw this.fail(err, `get ${key}`); }
  }

  async list(prefix: string): Promise<{ entries: KvEntry[]; revision: string }> {
    try {
      const res = await this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixRangeEnd(prefix) });
      return { entries: res.kvs.map(toEntry), revision: String(res.header.revision) };
    } catch (err) { throw this.fail(err, `list ${prefix}`); }
  }

  private async txn(key: string, target: 'Create' | 'Mod', rev: string, op: 'put' | 'delete', value: string,
    options: KvWriteOptions): Promise<{ ok: boolean; current: KvEntry | undefined; revision: string; deleted: KvEntry | undefined; previous?: KvEntry }> {
    const k = Buffer.from(key);
    const success = op === 'put'
      ? [{ request_put: { key: k, value: Buffer.from(value), prev_kv: true, ...(options.lease === undefined ? {} : { lease: options.lease.id }) } }]
      : [{ request_delete_range: { key: k, prev_kv: true } }];
    const res = await this.client.kv.txn({
      compare: [{ key: k, target, result: 'Equal', ...(target === 'Create' ? { create_revision: rev } : { mod_revision: rev }) }],
      success, failure: [{ request_range: { key: k } }],
    });
    const revision = String(res.header.revision);
    if (res.succeeded) {
      const prev = res.responses[0]?.response_delete_range?.prev_kvs?.[0];
      const before = res.responses[0]?.response_put?.prev_kv;
      return { ok: true, current: undefined, revision, deleted: prev === undefined ? undefined : toEntry(prev),
        ...(before === undefined || before === null ? {} : { previous: toEntry(before) }) };
    }
    const cur = res.responses[0]?.response_range?.kvs?.[0];
    return { ok: false, current: cur === undefined ? undefined : toEntry(cur), revision, deleted: undefined };
  }

  async create(key: string, value: string, options: KvWriteOptions = {}): Promise<KvEntry> {
    let r;
    try { r = await this.txn(key, 'Create', '0', 'put', value, options); } catch (err) { throw this.fail(err, `create ${key}`); }
    if (!r.ok) throw new DatastoreError('already-exists', `${key} already exists`, r.current === undefined ? {} : { current: r.current });
    return { key, value, modRevision: r.revision, createRevision: r.revision, ...(options.lease === undefined ? {} : { lease: options.lease.id }) };
  }

  async update(key: string, value: string, expectedModRevision: string, options: KvWriteOptions = {}): Promise<KvEntry> {
    let r;
    try { r = await this.txn(key, 'Mod', expectedModRevision, 'put', value, options); } catch (err) { throw this.fail(err, `update ${key}`); }
    if (!r.ok) {
      if (r.current === undefined) throw new DatastoreError('not-found', `${key} does not exist`);
      throw new DatastoreError('conflict', `${key} was modified (revision ${r.current.modRevision}, expected ${expectedModRevision})`, { current: r.current });
    }
    return { key, value, modRevision: r.revision, createRevision: r.previous?.createRevision ?? r.revision,
      ...(options.lease === undefined ? {} : { lease: options.lease.id }) };
  }

  async commit(ops: readonly KvTxnOp[]): Promise<KvEntry[]> {
    const keys = ops.map((o) => Buffer.from(o.key));
    let res;
    try {
      res = await this.client.kv.txn({
        compare: ops.map((o, i) => (o.op === 'create'
          ? { key: keys[i] as Buffer, target: 'Create' as const, result: 'Equal' as const, create_revision: '0' }
          : { key: keys[i] as Buffer, target: 'Mod' as const, result: 'Equal' as const, mod_revision: o.expectedModRevision })),
        success: ops.map((o, i) => ({ request_put: { key: keys[i] as Buffer, value: Buffer.from(o.value), prev_kv: true } })),
        failure: keys.map((k) => ({ request_range: { key: k } })),
      });
    } catch (err) { throw this.fail(err, `commit ${ops.map((o) => o.key).join(', ')}`); }
    const revision = String(res.header.revision);
    if (res.succeeded) {
      return ops.map((o, i) => {
        const before = res.responses[i]?.response_put?.prev_kv;
        return { key: o.key, value: o.value, modRevision: revision,
          createRevision: before === undefined || before === null ? revision : String(before.create_revision) };
      });
    }
    // Which condition failed: the first op whose key is not as it required.
    for (const [i, o] of ops.entries()) {
      const kv = res.responses[i]?.response_range?.kvs?.[0];
      const cur = kv === undefined ? undefined : toEntry(kv);
      if (o.op === 'create' && cur !== undefined) throw new DatastoreError('already-exists', 'already exists', { where: o.key, current: cur });
      if (o.op === 'update' && cur === undefined) throw new DatastoreError('not-found', 'does not exist', { where: o.key });
      if (o.op === 'update' && cur !== undefined && cur.modRevision !== o.expectedModRevision) {
        throw new DatastoreError('conflict', `was modified (revision ${cur.modRevision}, expected ${o.expectedModRevision})`, { where: o.key, current: cur });
      }
    }
    throw new DatastoreError('conflict', 'the commit was refused but every condition holds now (changed meanwhile)', { where: ops.map((o) => o.key).join(', ') });
  }

  async delete(key: string, expectedModRevision?: string): Promise<KvEntry> {
    let r;
    try {
      r = expectedModRevision === undefined
        ? await this.deleteAny(key)
        : await this.txn(key, 'Mod', expectedModRevision, 'delete', '', {});
    } catch (err) { throw this.fail(err, `delete ${key}`); }
    if (!r.ok || r.deleted === undefined) {
      if (r.current === undefined) throw new DatastoreError('not-found', `${key} does not exist`);
      throw new DatastoreError('conflict', `${key} was modified (revision ${r.current.modRevision}, expected ${expectedModRevision})`, { current: r.current });
    }
    return r.deleted;
  }

  private async deleteAny(key: string): Promise<{ ok: boolean; current: KvEntry | undefined; deleted: KvEntry | undefined }> {
    const res = await this.client.kv.deleteRange({ key: Buffer.from(key), prev_kv: true });
    const prev = res.prev_kvs[0];
    return { ok: prev !== undefined, current: undefined, deleted: prev === undefined ? undefined : toEntry(prev) };
  }

  async watchPrefix(prefix: string, fromRevision: string, handlers: KvWatchHandlers): Promise<KvWatch> {
    const watcher = await this.client.watch().prefix(prefix).startRevision(fromRevision).withPreviousKV().create()
      .catch((err: unknown) => { throw this.fail(err, `watch ${prefix}`); });
    let closed = false;
    watcher.on('data', (res) => {
      const events: KvEvent[] = [];
      for (const ev of res.events) {
        if (ev.kv === undefined || ev.kv === null) continue;
        const entry = toEntry(ev.kv);
        events.push(ev.type === 'Delete' || String(ev.type) === '1'
          ? { type: 'delete', key: entry.key, modRevision: entry.modRevision }
          : { type: 'put', entry });
      }
      if (events.length > 0) handlers.onEvents(events, String(res.header.revision));
    });
    watcher.on('connected', () => handlers.onConnectionChange?.(true));
    watcher.on('disconnected', () => handlers.onConnectionChange?.(false));
    watcher.on('error', (err: Error) => {
      if (closed) return;
      closed = true;
      this.log.warn({ prefix, err: err.message }, 'watch ended by etcd; caller re-lists');
      void watcher.cancel().catch(() => undefined);
      handlers.onError(this.fail(err, `watch ${prefix}`));
    });
    return { close: async () => { closed = true; await watcher.cancel().catch(() => undefined); } };
  }

  async grantLease(ttlSeconds: number, options: { keepAlive?: boolean } = {}): Promise<KvLease> {
    const lease = this.client.lease(ttlSeconds, { autoKeepAlive: options.keepAlive ?? true });
    let id: string;
    try { id = await lease.grant(); } catch (err) { throw this.fail(err, 'lease grant'); }
    const lost: Array<(err: Error) => void> = [];
    lease.on('lost', (err: Error) => { for (const cb of lost) cb(err); });
    return {
      id,
      onLost: (cb) => { lost.push(cb); },
      revoke: async () => { await lease.revoke().catch(() => undefined); },
    };
  }

  /** etcd3's Election: keys `/tortie/election/<election>/<lease>`, kept alive by the client. */
  campaign(election: string, value: string, ttlSeconds: number): LeaderCampaign {
    const c = this.client.namespace(`${ROOT}/`).election(election, ttlSeconds).campaign(value);
    const elected: Array<() => void> = [];
    const failed: Array<(err: Error) => void> = [];
    c.on('elected', () => { for (const cb of elected) cb(); });
    c.on('error', (err: Error) => { for (const cb of failed) cb(this.fail(err, `election ${election}`)); });
    return {
      onElected: (cb) => { elected.push(cb); },
      onError: (cb) => { failed.push(cb); },
      resign: async () => { await c.resign().catch(() => undefined); },
    };
  }

  async close(): Promise<void> { this.client.close(); }
}
