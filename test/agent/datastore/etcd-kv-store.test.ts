/**
 * EtcdKvStore and WatchSyncer against a real etcd 3.4 (started per file on free loopback
 * ports): CAS create/update/delete, watch resume across an etcd restart, re-list with
 * mark-and-sweep after a compaction during a partition (robustness.md E4), lease expiry.
 *
 *   test ──client A──> TcpProxy ──> etcd <──client B── test (writes during the cut)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdServer, TcpProxy, etcdSkipReason } from '../../helpers/etcd.js';
import { pollUntil } from '../../helpers/poll.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { WatchSyncer } from '../../../agent/datastore/watch-syncer.js';
import { LivenessKey } from '../../../agent/datastore/liveness-key.js';
import { isDatastoreError } from '../../../agent/datastore/errors.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const skip = etcdSkipReason();

describe('etcd KvStore', { skip }, () => {
  let etcd: EtcdServer;
  let store: EtcdKvStore;
  const logger = silentLogger();
  before(async () => {
    etcd = await EtcdServer.start();
    store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger });
  });
  after(async () => {
    await store?.close();
    await etcd?.stop();
  });

  it('create is create-only, update and delete compare the mod revision', async () => {
    const a = await store.create('/t/cas/a', 'v1');
    await assert.rejects(store.create('/t/cas/a', 'v2'), (e: unknown) => isDatastoreError(e, 'already-exists') && e.current?.value === 'v1');
    const b = await store.update('/t/cas/a', 'v2', a.modRevision);
    assert.ok(BigInt(b.modRevision) > BigInt(a.modRevision));
    assert.equal(b.createRevision, a.createRevision);
    assert.deepEqual(await store.get('/t/cas/a'), b);
    await assert.rejects(store.update('/t/cas/a', 'v3', a.modRevision), (e: unknown) => isDatastoreError(e, 'conflict') && e.current?.value === 'v2');
    await assert.rejects(store.update('/t/cas/none', 'x', '5'), (e: unknown) => isDatastoreError(e, 'not-found'));
    await assert.rejects(store.delete('/t/cas/a', a.modRevision), (e: unknown) => isDatastoreError(e, 'conflict'));
    const gone = await store.delete('/t/cas/a', b.modRevision);
    assert.equal(gone.value, 'v2');
    assert.equal(await store.get('/t/cas/a'), undefined);
    await assert.rejects(store.delete('/t/cas/a'), (e: unknown) => isDatastoreError(e, 'not-found'));
  });

  it('commit writes several keys in one revision, or nothing, naming the key whose condition failed', async () => {
    const base = await store.create('/t/txn/b', 'b1');
    const [a, b] = await store.commit([{ op: 'create', key: '/t/txn/a', value: 'a1' }, { op: 'update', key: '/t/txn/b', value: 'b2', expectedModRevision: base.modRevision }]);
    assert.equal(a?.modRevision, b?.modRevision, 'one revision for the whole commit');
    assert.equal(b?.createRevision, base.createRevision);
    assert.deepEqual(await store.get('/t/txn/a'), a);
    assert.deepEqual(await store.get('/t/txn/b'), b);
    // Each failing condition alone: nothing of the commit is written.
    const failures: Array<[Parameters<EtcdKvStore['commit']>[0], string, string]> = [
      [[{ op: 'create', key: '/t/txn/c', value: 'c' }, { op: 'create', key: '/t/txn/a', value: 'x' }], 'already-exists', '/t/txn/a'],
      [[{ op: 'create', key: '/t/txn/c', value: 'c' }, { op: 'update', key: '/t/txn/b', value: 'x', expectedModRevision: base.modRevision }], 'conflict', '/t/txn/b'],
      [[{ op: 'create', key: '/t/txn/c', value: 'c' }, { op: 'update', key: '/t/txn/none', value: 'x', expectedModRevision: '1' }], 'not-found', '/t/txn/none'],
    ];
    for (const [ops, code, where] of failures) {
      await assert.rejects(store.commit(ops), (e: unknown) => isDatastoreError(e) && e.code === code && e.where === where
        && (code === 'not-found' || e.current !== undefined), `${code} on ${where}`);
      assert.equal(await store.get('/t/txn/c'), undefined, 'nothing written');
    }
    assert.equal((await store.get('/t/txn/b'))?.value, 'b2');
  });

  it('a watch survives an etcd restart and resumes from the last revision', async () => {
    const seen = new Map<string, string>();
    const syncer = new WatchSyncer({ store, clock: systemClock, logger }, '/t/restart/', {
      onUpdates: (evs) => { for (const e of evs) if (e.type === 'put') seen.set(e.entry.key, e.entry.value); else seen.delete(e.key); },
    });
    try {
      await store.create('/t/restart/before', '1');
      await syncer.start();
      assert.equal(seen.get('/t/restart/before'), '1');
      await etcd.restart();
      await pollUntil(async () => { try { await store.create('/t/restart/after', '2'); return true; } catch (e) { return isDatastoreError(e, 'already-exists'); } },
        { timeoutMs: 20_000, what: 'write after restart' });
      await pollUntil(() => seen.get('/t/restart/after') === '2', { timeoutMs: 30_000, what: 'event after restart' });
      assert.equal(syncer.stats.resyncs, 0, 'a plain restart resumes the watch, no re-list needed');
    } finally { await syncer.stop(); }
  });

  it('compaction during a partition: watch canceled, full re-list, deletions applied (E4)', async () => {
    const proxy = await TcpProxy.start(etcd.clientPort);
    const viaProxy = await EtcdKvStore.connect({ endpoints: [proxy.endpoint] }, { logger });
    const seen = new Map<string, string>();
    const syncer = new WatchSyncer({ store: viaProxy, clock: systemClock, logger }, '/t/compact/', {
      onUpdates: (evs) => { for (const e of evs) if (e.type === 'put') seen.set(e.entry.key, e.entry.value); else seen.delete(e.key); },
    });
    try {
      for (let i = 0; i < 5; i++) await store.create(`/t/compact/k${i}`, 'old');
      await syncer.start();
      assert.equal(seen.size, 5);
      await proxy.down();
      for (let i = 0; i < 100; i++) await store.create(`/t/compact/new${i}`, String(i));
      await store.delete('/t/compact/k0');
      await store.delete('/t/compact/k1');
      etcd.ctl(['compaction', String(etcd.headRevision())]);
      await proxy.up();
      await pollUntil(() => syncer.stats.resyncs >= 1 && seen.size === 103, { timeoutMs: 60_000, what: 'resync after compaction' });
      const truth = await store.list('/t/compact/');
      assert.deepEqual(new Map(truth.entries.map((e) => [e.key, e.value])), seen);
      assert.ok(!seen.has('/t/compact/k0'));
      // The watch works again after the re-list, and did not loop at the compacted revision.
      await store.create('/t/compact/later', 'x');
      await pollUntil(() => seen.get('/t/compact/later') === 'x', { timeoutMs: 10_000, what: 'event after resync' });
      assert.equal(syncer.stats.resyncs, 1);
    } finally {
      await syncer.stop();
      await viaProxy.close();
      await proxy.down();
    }
  });

  it('a stalled etcd (SIGSTOP) is detected by gRPC keep-alive, and the watch recovers after SIGCONT (E3)', async () => {
    const fast = await EtcdKvStore.connect({ endpoints: [etcd.endpoint], keepaliveTimeMs: 6000, keepaliveTimeoutMs: 2000 }, { logger });
    const changes: boolean[] = [];
    const seen = new Map<string, string>();
    const syncer = new WatchSyncer({ store: fast, clock: systemClock, logger }, '/t/stall/', {
      onUpdates: (evs) => { for (const e of evs) if (e.type === 'put') seen.set(e.entry.key, e.entry.value); },
      onConnectionChange: (up) => changes.push(up),
    });
    const pid = etcd.pid;
    assert.ok(pid !== undefined);
    let stopped = false;
    try {
      await syncer.start();
      assert.equal(syncer.connected, true);
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      const t0 = Date.now();
      await pollUntil(() => !syncer.connected, { timeoutMs: 30_000, what: 'stall detected' });
      const detectMs = Date.now() - t0;
      process.kill(pid, 'SIGCONT');
      stopped = false;
      await pollUntil(async () => { try { await store.create('/t/stall/after', 'x'); return true; } catch (e) { return isDatastoreError(e, 'already-exists'); } },
        { timeoutMs: 20_000, what: 'write after SIGCONT' });
      await pollUntil(() => seen.get('/t/stall/after') === 'x', { timeoutMs: 30_000, what: 'event after SIGCONT' });
      assert.deepEqual(changes.slice(0, 1), [false]);
      process.stderr.write(`# stall detected after ${detectMs} ms (keep-alive 6 s + 2 s)\n`);
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      await syncer.stop();
      await fast.close();
    }
  });

  it('a key under a lease without keep-alive is deleted at expiry', async () => {
    const lease = await store.grantLease(2, { keepAlive: false });
    await store.create('/t/lease/k', 'alive', { lease });
    assert.equal((await store.get('/t/lease/k'))?.lease, lease.id);
    await pollUntil(async () => (await store.get('/t/lease/k')) === undefined, { timeoutMs: 10_000, what: 'lease expiry' });
  });

  it('a liveness key is re-put under a new lease after its lease is revoked behind its back', async () => {
    const live = new LivenessKey({ store, clock: systemClock, logger }, '/t/live/node1', 'up', 5, 100);
    try {
      await live.start();
      const first = await store.get('/t/live/node1');
      assert.ok(first?.lease !== undefined);
      etcd.ctl(['lease', 'revoke', BigInt(first.lease).toString(16)]);
      await pollUntil(async () => {
        const cur = await store.get('/t/live/node1');
        return cur !== undefined && cur.lease !== first.lease;
      }, { timeoutMs: 20_000, what: 'liveness key re-put' });
      assert.ok(live.stats.grants >= 2);
    } finally { await live.stop(); }
  });
});
