/**
 * IPAM races against a real etcd 3.4: three "nodes" (each its own etcd client and Ipam) assign
 * concurrently from one small pool, forcing block-claim races, CAS conflicts and borrowing.
 * Proves: no address handed out twice, none lost (handles and blocks agree), concurrent
 * release frees everything, and a contested block ends with exactly one confirmed affinity.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdServer, etcdSkipReason } from '../../helpers/etcd.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { checkIpam } from '../../../agent/ipam/ipam-check.js';
import { ALL_AFFINITIES_PREFIX } from '../../../agent/datastore/key-layout.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const skip = etcdSkipReason();
const logger = silentLogger();

describe('ipam on real etcd', { skip }, () => {
  let etcd: EtcdServer;
  const stores: EtcdKvStore[] = [];
  const connect = async () => {
    const store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger });
    stores.push(store);
    const datastore = new KvDatastore({ store, clock: systemClock, logger });
    return { store, datastore, ipam: new Ipam({ store, datastore, logger }) };
  };
  before(async () => { etcd = await EtcdServer.start(); });
  after(async () => {
    for (const s of stores) await s.close();
    await etcd?.stop();
  });

  it('3 nodes x 20 concurrent assignments: unique, none lost, all released', async () => {
    const admin = await connect();
    const manifest = `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: race}\nspec: {cidr: 10.70.0.0/26, blockSize: 29}\n`
      + ['n1', 'n2', 'n3'].map((n) => `---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${n}}\nspec: {}\n`).join('');
    for (const r of await loadManifest(manifest, 'race.yaml')) await admin.datastore.apply(r);
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map(async (name) => ({ name, ...(await connect()) })));
    const t0 = performance.now();
    const results = await Promise.all(nodes.flatMap((n) => Array.from({ length: 20 }, (_, i) =>
      n.ipam.autoAssign({ handle: `k8s-pod-network.${n.name}-${i}`, attrs: { pod: `pod-${i}`, namespace: 'race' }, node: n.name, num4: 1, num6: 0 })
        .then((r) => ({ handle: `k8s-pod-network.${n.name}-${i}`, address: r.ipv4[0]?.address ?? '' })))));
    const assignMs = performance.now() - t0;
    const addrs = results.map((r) => r.address);
    assert.equal(new Set(addrs).size, 60, 'no address handed out twice');
    for (const a of addrs) assert.match(a, /^10\.70\.0\.(\d|[1-5]\d|6[0-3])$/);
    for (const r of results) assert.equal((await admin.ipam.addressInfo(r.address))?.handle, r.handle);
    const report = await checkIpam(admin);
    assert.equal(report.allocations, 60);
    assert.deepEqual(report.problems, []);
    const affinities = (await admin.store.list(ALL_AFFINITIES_PREFIX)).entries.map((e) => JSON.parse(e.value) as { state: string });
    assert.equal(affinities.length, 8, 'each of the 8 blocks claimed by exactly one node');
    assert.ok(affinities.every((a) => a.state === 'confirmed'));
    const t1 = performance.now();
    const released = await Promise.all(results.map((r, i) => nodes[i % 3]?.ipam.releaseByHandle(r.handle)));
    const releaseMs = performance.now() - t1;
    assert.deepEqual(released.flat().sort(), [...addrs].sort());
    const after = await checkIpam(admin);
    assert.equal(after.allocations, 0);
    assert.equal(after.handles, 0);
    assert.deepEqual(after.problems, []);
    process.stderr.write(`# ipam-etcd: 60 concurrent assignments over 3 clients in ${assignMs.toFixed(0)} ms, 60 releases in ${releaseMs.toFixed(0)} ms\n`);
  });

  it('two nodes claiming the only free block: exactly one confirmed affinity, no pending left (E8)', async () => {
    const admin = await connect();
    for (const r of await loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: one}\nspec: {cidr: 10.80.0.0/29, blockSize: 29}\n', 'one.yaml')) {
      await admin.datastore.apply(r);
    }
    const [a, b] = await Promise.all([connect(), connect()]);
    const [ca, cb] = await Promise.all([a.ipam.ensureBlock('x1', 4), b.ipam.ensureBlock('x2', 4)]);
    assert.deepEqual([ca, cb].filter((c) => c !== undefined), ['10.80.0.0/29']);
    const x1 = await admin.ipam.blocksForNode('x1'), x2 = await admin.ipam.blocksForNode('x2');
    assert.deepEqual([...x1, ...x2].filter((i) => i.cidr === '10.80.0.0/29'), [{ cidr: '10.80.0.0/29', state: 'confirmed' }]);
    assert.deepEqual((await checkIpam(admin, { checkNodes: false })).problems, []);
  });
});
