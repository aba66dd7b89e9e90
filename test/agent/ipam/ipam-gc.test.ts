/** ipam-gc on the in-memory store (etcd semantics): what a deleted node or pool leaves, and what must stay. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKvStore } from '../../../agent/datastore/memory-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { releaseBlockAffinity, sweepIpam } from '../../../agent/ipam/ipam-gc.js';
import { blockKey, handleKey, livenessKey } from '../../../agent/datastore/key-layout.js';
import { parseBlock } from '../../../agent/ipam/stored.js';
import { putWorkloadRecord } from '../../../agent/ipam/workload-records.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

async function setup(manifest: string) {
  const store = new MemoryKvStore();
  const logger = silentLogger();
  const datastore = new KvDatastore({ store, clock: systemClock, logger });
  for (const r of await loadManifest(manifest, 'setup.yaml')) await datastore.apply(r);
  return { store, datastore, logger, ipam: new Ipam({ store, datastore, logger }, { strictAffinity: false }) };
}
const pool = (name: string, cidr: string): string =>
  `---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ${name}}\nspec: {cidr: "${cidr}", blockSize: 30}\n`;
const node = (name: string): string => `---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}}\nspec: {}\n`;

describe('ipam gc', () => {
  it('a deleted node: its addresses, handles and records go; its block keeps another node\'s borrowed address, without affinity', async () => {
    const { store, datastore, logger, ipam } = await setup(pool('p', '10.80.0.0/29') + node('n1') + node('n2'));
    const own = await ipam.autoAssign({ handle: 'n2-pod', attrs: { pod: 'a', node: 'n2' }, node: 'n2', num4: 1, num6: 0 });
    await putWorkloadRecord(store, { handle: 'n2-pod', node: 'n2', iface: 'cali0', addresses: [`${own.ipv4[0]?.address ?? ''}/32`] });
    const n2Block = own.ipv4[0]?.block ?? '';
    // n1 fills its own block and borrows the rest of n2's (which is what borrowing leaves in a dead node's block).
    const n1 = await ipam.autoAssign({ handle: 'n1-pods', attrs: { pod: 'b', node: 'n1' }, node: 'n1', num4: 7, num6: 0 });
    assert.ok(n1.ipv4.some((a) => a.block === n2Block), 'n1 borrowed from n2\'s block');
    await datastore.delete('Node', 'n2');
    const alive = await store.create(livenessKey('n2'), '{}');
    assert.deepEqual((await sweepIpam({ store, datastore, logger })).nodes, {}, 'a node whose liveness key lives is left alone');
    await store.delete(livenessKey('n2'), alive.modRevision);
    const r = await sweepIpam({ store, datastore, logger });
    assert.deepEqual(Object.keys(r.nodes), ['n2']);
    assert.deepEqual(r.nodes['n2']?.addressesReleased, [own.ipv4[0]?.address]);
    assert.deepEqual(r.nodes['n2']?.blocksUnaffined, [n2Block], 'the block stays for n1\'s borrowed addresses');
    assert.equal(await store.get(handleKey('n2-pod')), undefined);
    assert.equal(await store.get('/tortie/workloads/v1/n2-pod'), undefined);
    const b = await store.get(blockKey(4, n2Block));
    assert.equal(b === undefined ? 'gone' : parseBlock(b).affinity, null);
    assert.deepEqual((await ipam.addressesForHandle('n1-pods')).length, 7, 'n1 keeps every address');
    assert.deepEqual((await ipam.blocksForNode('n2')), []);
  });

  it('requireEmpty keeps a used block\'s affinity; a pool\'s deletion releases its affinities, the others stay', async () => {
    const { store, datastore, logger, ipam } = await setup(pool('p', '10.81.0.0/29') + pool('q', '10.82.0.0/29') + node('n1'));
    const p = await ipam.autoAssign({ handle: 'hp', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['p'] });
    const q = await ipam.autoAssign({ handle: 'hq', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['q'] });
    assert.equal(await releaseBlockAffinity({ store, datastore, logger }, 'n1', p.ipv4[0]?.block ?? '', true), 'not-empty');
    await datastore.delete('IPPool', 'q');
    const r = await sweepIpam({ store, datastore, logger });
    assert.deepEqual(r.pools.blocksUnaffined, [q.ipv4[0]?.block], 'q\'s block loses its affinity (an address still in it)');
    assert.deepEqual((await ipam.blocksForNode('n1')).map((b) => b.cidr), [p.ipv4[0]?.block], 'p\'s block stays affine');
    await ipam.releaseByHandle('hq');
    assert.deepEqual((await sweepIpam({ store, datastore, logger })).pools.blocksDeleted, [], 'nothing affine left to release');
  });
});
