/**
 * Typed resources by kind on any KvStore: JSON under /tortie/v3/projectcalico.org/<plural>/<name>,
 * `metadata.resourceVersion` = etcd mod revision (the CAS token for update/delete),
 * uid and creationTimestamp set on create. Callers validate (agent/resources) before writing.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { kindInfo, validateResource, type Kind, type Resource, type ResourceOfKind } from '../resources/kinds.js';
import { IPPOOL_IMMUTABLE } from '../resources/ip-pool.js';
import { parsePrefix, prefixOverlaps } from '../../common/prefix.js';
import { DatastoreError, isDatastoreError } from './errors.js';
import type { KvEntry, KvStore } from './kv-store.js';
import { resourceKey, resourceKindPrefix } from './key-layout.js';
import { WatchSyncer } from './watch-syncer.js';

export type ResourceEvent<K extends Kind> =
  | { readonly type: 'upsert'; readonly resource: ResourceOfKind<K> }
  | { readonly type: 'delete'; readonly name: string };

export interface ResourceWatch { stop(): Promise<void> }

export interface Datastore {
  get<K extends Kind>(kind: K, name: string): Promise<ResourceOfKind<K> | undefined>;
  list<K extends Kind>(kind: K): Promise<{ readonly items: ResourceOfKind<K>[]; readonly revision: string }>;
  /** Fails with `already-exists`. */
  create<R extends Resource>(resource: R): Promise<R>;
  /** CAS on `metadata.resourceVersion` when present (else last-writer-wins); `not-found` if absent. */
  update<R extends Resource>(resource: R): Promise<R>;
  /** Create or update (calicoctl apply). */
  apply<R extends Resource>(resource: R): Promise<R>;
  delete<K extends Kind>(kind: K, name: string, resourceVersion?: string): Promise<ResourceOfKind<K>>;
  /** Current state as upserts, then changes; re-lists by itself after compaction. */
  watch<K extends Kind>(kind: K, onEvents: (events: readonly ResourceEvent<K>[]) => void): Promise<ResourceWatch>;
}

export interface KvDatastoreDeps { readonly store: KvStore; readonly clock: Clock; readonly logger: Logger }

export class KvDatastore implements Datastore {
  constructor(private readonly deps: KvDatastoreDeps) {}

  private key(kind: Kind, name: string): string { return resourceKey(kindInfo(kind).plural, name); }

  /** Parse and re-validate a stored resource: data written by other tools never reaches consumers unchecked. */
  private decode<K extends Kind>(kind: K, e: KvEntry): ResourceOfKind<K> {
    let raw: unknown;
    try { raw = JSON.parse(e.value); } catch (err) {
      throw new DatastoreError('invalid', `stored ${kind} is not JSON`, { cause: err, where: e.key });
    }
    const v = validateResource(raw);
    if (!v.ok) throw new DatastoreError('invalid', `stored ${kind} is invalid: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { where: e.key });
    if (v.resource.kind !== kind) throw new DatastoreError('invalid', `stored object is a ${v.resource.kind}, not a ${kind}`, { where: e.key });
    const r = v.resource as ResourceOfKind<K>;
    return { ...r, metadata: { ...r.metadata, resourceVersion: e.modRevision } };
  }

  /** decode for list/watch: a corrupt entry is logged and skipped instead of hiding every other one. */
  private tryDecode<K extends Kind>(kind: K, e: KvEntry): ResourceOfKind<K> | undefined {
    try { return this.decode(kind, e); } catch (err) {
      this.deps.logger.error({ key: e.key, err: (err as Error).message }, 'skipping invalid stored resource');
      return undefined;
    }
  }

  private encode(r: Resource): string {
    const { resourceVersion: _rv, ...md } = r.metadata;
    return JSON.stringify({ ...r, metadata: md });
  }

  async get<K extends Kind>(kind: K, name: string): Promise<ResourceOfKind<K> | undefined> {
    const e = await this.deps.store.get(this.key(kind, name));
    return e === undefined ? undefined : this.decode(kind, e);
  }

  async list<K extends Kind>(kind: K): Promise<{ items: ResourceOfKind<K>[]; revision: string }> {
    const { entries, revision } = await this.deps.store.list(resourceKindPrefix(kindInfo(kind).plural));
    return { items: entries.map((e) => this.tryDecode(kind, e)).filter((r): r is ResourceOfKind<K> => r !== undefined), revision };
  }

  async create<R extends Resource>(resource: R): Promise<R> {
    if (resource.kind === 'IPPool') await this.refuseOverlap(resource);
    const stored = { ...resource, metadata: { ...resource.metadata, uid: resource.metadata.uid ?? randomUUID(),
      creationTimestamp: resource.metadata.creationTimestamp ?? new Date(this.deps.clock.wallNow()).toISOString().replace(/\.\d+Z$/, 'Z') } } as R;
    try {
      const e = await this.deps.store.create(this.key(resource.kind, resource.metadata.name), this.encode(stored));
      return { ...stored, metadata: { ...stored.metadata, resourceVersion: e.modRevision } };
    } catch (err) {
      if (isDatastoreError(err, 'already-exists')) {
        throw new DatastoreError('already-exists', `${resource.kind} ${JSON.stringify(resource.metadata.name)} already exists`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * A new IPPool must not overlap another (libcalico-go's validateAndSetDefaults does this on
   * create only: cidr is immutable, so an update cannot make an overlap). Same wording as Calico.
   */
  private async refuseOverlap(pool: ResourceOfKind<'IPPool'>): Promise<void> {
    const mine = parsePrefix(pool.spec.cidr);
    for (const other of (await this.list('IPPool')).items) {
      if (other.metadata.name === pool.metadata.name) continue;
      if (prefixOverlaps(parsePrefix(other.spec.cidr), mine)) {
        throw new DatastoreError('invalid', `IPPool(${pool.metadata.name}) CIDR overlaps with IPPool(${other.metadata.name}) CIDR ${other.spec.cidr}`, { where: 'IPPool.Spec.CIDR' });
      }
    }
  }

  async update<R extends Resource>(resource: R): Promise<R> {
    const key = this.key(resource.kind, resource.metadata.name);
    const cur = await this.deps.store.get(key);
    const what = `${resource.kind} ${JSON.stringify(resource.metadata.name)}`;
    if (cur === undefined) throw new DatastoreError('not-found', `${what} does not exist`);
    const old = this.decode(resource.kind, cur);
    const rv = resource.metadata.resourceVersion ?? cur.modRevision;
    if (resource.kind === 'IPPool') {
      for (const f of IPPOOL_IMMUTABLE) {
        const before = (old.spec as Record<string, unknown>)[f], after = (resource.spec as Record<string, unknown>)[f];
        if (before !== after) {
          throw new DatastoreError('invalid', `spec.${f} is immutable (${JSON.stringify(before)} → ${JSON.stringify(after)}); delete and re-create the pool`, { where: what });
        }
      }
    }
    const stored = { ...resource, metadata: { ...resource.metadata, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp } } as R;
    try {
      const e = await this.deps.store.update(key, this.encode(stored), rv);
      return { ...stored, metadata: { ...stored.metadata, resourceVersion: e.modRevision } };
    } catch (err) {
      if (isDatastoreError(err, 'conflict')) {
        throw new DatastoreError('conflict', `${what} was changed by someone else (resourceVersion ${rv} is stale); get it again and retry`, { cause: err });
      }
      throw err;
    }
  }

  async apply<R extends Resource>(resource: R): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.deps.store.get(this.key(resource.kind, resource.metadata.name));
      try {
        if (cur === undefined) return await this.create(resource);
        return await this.update({ ...resource, metadata: { ...resource.metadata, resourceVersion: cur.modRevision } });
      } catch (err) {
        if (attempt < 5 && (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found'))) continue;
        throw err;
      }
    }
  }

  async delete<K extends Kind>(kind: K, name: string, resourceVersion?: string): Promise<ResourceOfKind<K>> {
    try {
      const e = await this.deps.store.delete(this.key(kind, name), resourceVersion);
      return this.decode(kind, e);
    } catch (err) {
      if (isDatastoreError(err, 'not-found')) throw new DatastoreError('not-found', `${kind} ${JSON.stringify(name)} does not exist`, { cause: err });
      throw err;
    }
  }

  async watch<K extends Kind>(kind: K, onEvents: (events: readonly ResourceEvent<K>[]) => void): Promise<ResourceWatch> {
    const prefix = resourceKindPrefix(kindInfo(kind).plural);
    const syncer = new WatchSyncer({ store: this.deps.store, clock: this.deps.clock, logger: this.deps.logger }, prefix, {
      onUpdates: (evs) => {
        const out: ResourceEvent<K>[] = [];
        for (const e of evs) {
          if (e.type === 'delete') { out.push({ type: 'delete', name: e.key.slice(prefix.length) }); continue; }
          const resource = this.tryDecode(kind, e.entry);
          // An invalid value (logged with its key by tryDecode) changes nothing: consumers keep the
          // last valid version, so one bad write cannot tear down a peer or a pool. (Calico treats
          // a parse failure as a deletion.) Deleting the key still deletes the resource.
          if (resource !== undefined) out.push({ type: 'upsert', resource });
        }
        if (out.length > 0) onEvents(out);
      },
    });
    await syncer.start();
    return { stop: () => syncer.stop() };
  }
}
