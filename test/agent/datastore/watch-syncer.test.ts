/** WatchSyncer and KvDatastore logic on the in-memory store; datastore config parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKvStore } from '../../../agent/datastore/memory-kv-store.js';
import { WatchSyncer } from '../../../agent/datastore/watch-syncer.js';
import { KvDatastore, type ResourceEvent } from '../../../agent/datastore/datastore.js';
import { DatastoreError, isDatastoreError } from '../../../agent/datastore/errors.js';
import { etcdConfigFromEnv, etcdConfigFromFile } from '../../../agent/datastore/datastore-config.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import type { IPPool } from '../../../agent/resources/kinds.js';
import { pollUntil } from '../../helpers/poll.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const logger = silentLogger();

describe('WatchSyncer (memory store)', () => {
  it('a compacted watch re-lists once and sweeps keys deleted meanwhile', async () => {
    const store = new MemoryKvStore();
    const state = new Map<string, string>();
    let syncs = 0;
    const syncer = new WatchSyncer({ store, clock: systemClock, logger }, '/p/', {
      onUpdates: (evs) => { for (const e of evs) if (e.type === 'put') state.set(e.entry.key, e.entry.value); else state.delete(e.key); },
      onInSync: () => { syncs++; },
    });
    await store.create('/p/a', '1');
    await store.create('/p/b', '1');
    await store.create('/other/x', '1');
    await syncer.start();
    assert.deepEqual([...state.keys()].sort(), ['/p/a', '/p/b']);
    await syncer.stop();
    // Behind its back: b deleted, c added, a changed, history compacted.
    const resumed = new WatchSyncer({ store, clock: systemClock, logger }, '/p/', {
      onUpdates: (evs) => { for (const e of evs) if (e.type === 'put') state.set(e.entry.key, e.entry.value); else state.delete(e.key); },
      onInSync: () => { syncs++; },
    });
    await resumed.start();
    const a = await store.get('/p/a');
    store.breakWatches(new DatastoreError('compacted', 'required revision has been compacted'));
    await store.delete('/p/b');
    await store.create('/p/c', '2');
    await store.update('/p/a', '3', a?.modRevision ?? '');
    store.compact();
    await pollUntil(() => resumed.stats.resyncs === 1 && state.size === 2 && state.get('/p/a') === '3', { what: 'resync' });
    assert.deepEqual(Object.fromEntries(state), { '/p/a': '3', '/p/c': '2' });
    await store.create('/p/d', '4');
    await pollUntil(() => state.get('/p/d') === '4', { what: 'event after resync' });
    assert.equal(resumed.stats.watchErrors, 1);
    assert.equal(syncs, 3);
    await resumed.stop();
  });
});

describe('KvDatastore (memory store)', () => {
  const pool = async (cidr: string, name = 'p1'): Promise<IPPool> =>
    (await loadManifest(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ${name}}\nspec: {cidr: ${cidr}}\n`, 'p.yaml'))[0] as IPPool;

  it('create / update with a stale resourceVersion / immutable fields / delete', async () => {
    const ds = new KvDatastore({ store: new MemoryKvStore(), clock: systemClock, logger });
    const created = await ds.create(await pool('10.0.0.0/16'));
    assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    await assert.rejects(ds.create(await pool('10.0.0.0/16')), (e: unknown) => isDatastoreError(e, 'already-exists') && /IPPool "p1" already exists/.test(e.message));
    const updated = await ds.update({ ...created, spec: { ...created.spec, natOutgoing: true } });
    assert.equal(updated.metadata.uid, created.metadata.uid);
    await assert.rejects(ds.update({ ...created, spec: { ...created.spec, disabled: true } }), (e: unknown) => isDatastoreError(e, 'conflict') && /stale/.test(e.message));
    await assert.rejects(ds.update({ ...updated, spec: { ...updated.spec, cidr: '10.1.0.0/16' } }), (e: unknown) => isDatastoreError(e, 'invalid') && /spec\.cidr is immutable/.test(e.message));
    assert.equal((await ds.get('IPPool', 'p1'))?.spec.natOutgoing, true);
    await ds.delete('IPPool', 'p1');
    await assert.rejects(ds.delete('IPPool', 'p1'), (e: unknown) => isDatastoreError(e, 'not-found'));
  });

  it('corrupt stored data: get names the key, list and watch skip it, the rest still flows', async () => {
    const store = new MemoryKvStore();
    const ds = new KvDatastore({ store, clock: systemClock, logger });
    await ds.create(await pool('10.0.0.0/16', 'good'));
    await store.create('/tortie/v3/projectcalico.org/ippools/junk', '{not json');
    await store.create('/tortie/v3/projectcalico.org/ippools/wrong', JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'wrong' }, spec: { cidr: '10.0.0.1/16' } }));
    await assert.rejects(ds.get('IPPool', 'junk'), (e: unknown) => isDatastoreError(e, 'invalid') && e.message.startsWith('/tortie/v3/projectcalico.org/ippools/junk: stored IPPool is not JSON'));
    await assert.rejects(ds.get('IPPool', 'wrong'), (e: unknown) => isDatastoreError(e, 'invalid') && /spec\.cidr: .*host bits set/.test(e.message));
    assert.deepEqual((await ds.list('IPPool')).items.map((p) => p.metadata.name), ['good']);
    const events: ResourceEvent<'IPPool'>[] = [];
    let calls = 0;
    const w = await ds.watch('IPPool', (evs) => { calls++; if (calls === 1) throw new Error('consumer bug'); events.push(...evs); });
    await store.create('/tortie/v3/projectcalico.org/ippools/junk2', '[]');
    await ds.create(await pool('10.1.0.0/16', 'later'));
    await pollUntil(() => events.some((e) => e.type === 'upsert' && e.resource.metadata.name === 'later'), { what: 'watch survives a throwing consumer' });
    assert.ok(!events.some((e) => e.type === 'delete' && e.name === 'junk2'), 'a new invalid entry produces no event');
    await w.stop();
  });

  it('a valid resource overwritten with an invalid value keeps its last valid version; deleting the key deletes it', async () => {
    const store = new MemoryKvStore();
    const ds = new KvDatastore({ store, clock: systemClock, logger });
    await ds.create(await pool('10.0.0.0/16', 'p'));
    const events: ResourceEvent<'IPPool'>[] = [];
    const w = await ds.watch('IPPool', (evs) => events.push(...evs));
    await pollUntil(() => events.some((e) => e.type === 'upsert' && e.resource.metadata.name === 'p'), { what: 'initial state' });
    const key = '/tortie/v3/projectcalico.org/ippools/p';
    const bad1 = await store.update(key, JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'p' }, spec: { cidr: 'banana' } }),
      (await store.get(key))?.modRevision ?? '0');
    await store.update(key, '{garbage', bad1.modRevision);
    // A later valid change to another pool proves the watch has processed the bad writes.
    await ds.create(await pool('10.1.0.0/16', 'marker'));
    await pollUntil(() => events.some((e) => e.type === 'upsert' && e.resource.metadata.name === 'marker'), { what: 'marker pool' });
    assert.deepEqual(events.filter((e) => (e.type === 'delete' ? e.name : e.resource.metadata.name) === 'p').map((e) => e.type), ['upsert'],
      'the bad writes neither delete nor change p');
    await store.delete(key);
    await pollUntil(() => events.some((e) => e.type === 'delete' && e.name === 'p'), { what: 'delete of p' });
    await w.stop();
  });

  it('watch by kind: current state first, then upserts and deletes of that kind only', async () => {
    const ds = new KvDatastore({ store: new MemoryKvStore(), clock: systemClock, logger });
    await ds.create(await pool('10.0.0.0/16', 'a'));
    const events: ResourceEvent<'IPPool'>[] = [];
    const w = await ds.watch('IPPool', (evs) => events.push(...evs));
    await ds.create(await pool('10.1.0.0/16', 'b'));
    await ds.apply((await loadManifest('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n}\nspec: {}\n', 'n.yaml'))[0] as never);
    await ds.delete('IPPool', 'a');
    await pollUntil(() => events.length === 3, { what: 'events' });
    assert.deepEqual(events.map((e) => (e.type === 'upsert' ? `+${e.resource.metadata.name}:${e.resource.spec.cidr}` : `-${e.name}`)), ['+a:10.0.0.0/16', '+b:10.1.0.0/16', '-a']);
    await w.stop();
  });
});

describe('datastore config', () => {
  it('environment like calicoctl', () => {
    assert.deepEqual(etcdConfigFromEnv({}), { endpoints: ['http://127.0.0.1:2379'] });
    assert.deepEqual(etcdConfigFromEnv({ DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: 'https://a:2379, https://b:2379', ETCD_CA_CERT_FILE: '/ca', ETCD_CERT_FILE: '/c', ETCD_KEY_FILE: '/k' }),
      { endpoints: ['https://a:2379', 'https://b:2379'], caCertFile: '/ca', certFile: '/c', keyFile: '/k' });
    assert.throws(() => etcdConfigFromEnv({ ETCD_ENDPOINTS: '127.0.0.1:2379' }), /endpoint "127.0.0.1:2379" must look like http:\/\/host:port/);
    assert.throws(() => etcdConfigFromEnv({ DATASTORE_TYPE: 'kubernetes' }), /datastore type "kubernetes" is not supported/);
  });

  it('CalicoAPIConfig file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-cfg-'));
    try {
      const f = join(dir, 'calicoctl.cfg');
      writeFileSync(f, 'apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: http://10.0.0.1:2379\n  etcdCACertFile: /etc/ca.pem\n  etcdCertFile: /etc/c.pem\n  etcdKeyFile: /etc/k.pem\n');
      assert.deepEqual(await etcdConfigFromFile(f), { endpoints: ['http://10.0.0.1:2379'], caCertFile: '/etc/ca.pem', certFile: '/etc/c.pem', keyFile: '/etc/k.pem' });
      writeFileSync(f, 'kind: Something\n');
      await assert.rejects(etcdConfigFromFile(f), (e: unknown) => isDatastoreError(e, 'invalid') && e.message.startsWith(`${f}: kind must be CalicoAPIConfig`));
      await assert.rejects(etcdConfigFromFile(join(dir, 'none')), (e: unknown) => isDatastoreError(e, 'invalid') && /cannot read config file/.test(e.message));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
