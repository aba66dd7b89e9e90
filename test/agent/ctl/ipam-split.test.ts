/**
 * `tortiectl ipam split` and the moment its old and new pools overlap, on a real etcd: IPAM sees
 * the old pool or the new ones, never both; a run stopped after its first step (the one txn)
 * leaves a state `ipam check` names and the same command run again finishes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EtcdServer, etcdSkipReason } from '../../helpers/etcd.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { IpamError } from '../../../agent/ipam/ipam-error.js';
import { beginSplit, splitCidr, splitPools } from '../../../agent/ctl/ipam-split.js';
import { resourceKey } from '../../../agent/datastore/key-layout.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const MAIN = new URL('../../../agent/ctl/main.js', import.meta.url).pathname;
const skip = etcdSkipReason();
interface Run { code: number; stdout: string; stderr: string }

describe('ipam split: the overlap window', { skip }, () => {
  let etcd: EtcdServer;
  let store: EtcdKvStore;
  const run = (args: readonly string[], stdin?: string): Promise<Run> => new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ETCD_ENDPOINTS: etcd.endpoint }, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }));
    child.stdin?.end(stdin ?? '');
  });
  const ok = (r: Run): Run => { assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`); return r; };

  before(async () => {
    etcd = await EtcdServer.start();
    store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger: silentLogger() });
  });
  after(async () => { await store?.close(); await etcd?.stop(); });

  it('stopped after its first step: IPAM uses only the new pools, ipam check says how to finish, a rerun finishes', async () => {
    const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
    const ipam = new Ipam({ store, datastore, logger: silentLogger() });
    ok(await run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: cut}\nspec: {cidr: 10.75.0.0/24, blockSize: 28, natOutgoing: true}\n'));
    const before = await ipam.autoAssign({ handle: 'pod-a', attrs: { pod: 'a', node: 'n1' }, node: 'n1', num4: 1, num6: 0 });
    assert.equal(before.ipv4[0]?.block, '10.75.0.0/28');

    // The first step alone, as a run killed right after it leaves things.
    const old = await datastore.get('IPPool', 'cut');
    assert.ok(old !== undefined);
    await beginSplit({ store, datastore, logger: silentLogger() }, old, splitPools(old, splitCidr(old.spec.cidr, 4)));
    const pools = await ipam.poolsForNode('n1', 4);
    assert.deepEqual(pools.map((p) => p.metadata.name).sort(), ['split-cut-0', 'split-cut-1', 'split-cut-2', 'split-cut-3'], 'never the old pool and the new ones together');
    await assert.rejects(ipam.autoAssign({ handle: 'x', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['cut'] }),
      (e: unknown) => e instanceof IpamError && /"cut" \(10\.75\.0\.0\/24\) is disabled/.test(e.message));
    // New addresses come from the new pools; the node's block (inside split-cut-0) is used first.
    assert.equal((await ipam.autoAssign({ handle: 'pod-b', attrs: { pod: 'b', node: 'n1' }, node: 'n1', num4: 1, num6: 0 })).ipv4[0]?.block, '10.75.0.0/28');

    const check = ok(await run(['ipam', 'check'])).stdout;
    assert.match(check, /IPPool cut \(10\.75\.0\.0\/24, disabled\) overlaps split-cut-0, split-cut-1, split-cut-2, split-cut-3: an ipam split stopped half way; run "tortiectl ipam split 4 --name cut" again to finish it/);
    const wrong = await run(['ipam', 'split', '2', '--name', 'cut']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /being split into 4 pools by an earlier ipam split that stopped half way; run "ipam split 4 --name cut" to finish it; nothing was changed/);

    const done = ok(await run(['ipam', 'split', '4', '--cidr', '10.75.0.0/24']));
    assert.match(done.stderr, /finishing a split an earlier run began/);
    assert.match(done.stdout, /^IP Pool cut was successfully split into 4 smaller pools\.\nCreated split-cut-0 with CIDR 10\.75\.0\.0\/26\./);
    assert.equal((await run(['get', 'ippool', 'cut'])).code, 1, 'the old pool is gone');
    assert.equal((await datastore.get('IPPool', 'split-cut-0'))?.metadata.annotations?.['tortie.io/split-into'], undefined, 'the new pools carry no split mark');
    assert.deepEqual((await ipam.blocksForNode('n1')).map((b) => [b.cidr, b.state]), [['10.75.0.0/28', 'confirmed']], 'the block and its affinity stay');
    assert.equal((await ipam.addressInfo(before.ipv4[0]?.address ?? ''))?.handle, 'pod-a', 'the allocation stays');
    assert.doesNotMatch(ok(await run(['ipam', 'check'])).stdout, /overlaps/);
  });

  it('a pool changed since it was read is not split (CAS on its revision); nothing is written', async () => {
    const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
    ok(await run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: race}\nspec: {cidr: 10.76.0.0/24, blockSize: 28}\n'));
    const old = await datastore.get('IPPool', 'race');
    assert.ok(old !== undefined);
    await datastore.update({ ...old, spec: { ...old.spec, natOutgoing: true } });
    await assert.rejects(beginSplit({ store, datastore, logger: silentLogger() }, old, splitPools(old, splitCidr(old.spec.cidr, 2))), /conflict|changed|revision/i);
    assert.equal(await datastore.get('IPPool', 'split-race-0'), undefined, 'no new pool');
    assert.notEqual((await datastore.get('IPPool', 'race'))?.spec.disabled, true, 'the old pool untouched');
  });

  it('ipam check reports other overlapping pools (written around the overlap check) once per pair', async () => {
    const pool = (name: string, cidr: string) => JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec: { cidr, blockSize: 28 } });
    await store.commit([{ op: 'create', key: resourceKey('ippools', 'wide'), value: pool('wide', '10.77.0.0/16') },
      { op: 'create', key: resourceKey('ippools', 'narrow'), value: pool('narrow', '10.77.3.0/24') }]);
    const out = ok(await run(['ipam', 'check'])).stdout;
    assert.equal(out.match(/overlaps/g)?.length, 1, out);
    assert.match(out, /IPPool (wide \(10\.77\.0\.0\/16\) overlaps narrow|narrow \(10\.77\.3\.0\/24\) overlaps wide): addresses in both pools follow whichever IPAM finds first; delete or shrink one/);
  });
});
