/** IPAM logic on the in-memory store (etcd semantics); the concurrency proof runs on real etcd. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKvStore } from '../../../agent/datastore/memory-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { IpamError } from '../../../agent/ipam/ipam-error.js';
import { updateIpamConfig } from '../../../agent/ipam/ipam-config.js';
import { checkIpam } from '../../../agent/ipam/ipam-check.js';
import { blockKey, blockPrefix, handleKey, IPAM_CONFIG_KEY } from '../../../agent/datastore/key-layout.js';
import { parseBlock } from '../../../agent/ipam/stored.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { compatNotes } from '../../../agent/resources/compat-notes.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

async function setup(manifest: string, strictAffinity = false) {
  const store = new MemoryKvStore();
  const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
  for (const r of await loadManifest(manifest, 'setup.yaml')) await datastore.apply(r);
  return { store, datastore, ipam: new Ipam({ store, datastore, logger: silentLogger() }, strictAffinity ? { strictAffinity } : {}) };
}

const pool = (name: string, cidr: string, extra = ''): string =>
  `---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ${name}}\nspec: {cidr: "${cidr}"${extra}}\n`;
const node = (name: string, labels = '{}'): string =>
  `---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}, labels: ${labels}}\nspec: {}\n`;
const attrs = (pod: string) => ({ pod, namespace: 'default' });

describe('ipam logic', () => {
  it('assigns from an affine block, then claims the next block, all unique', async () => {
    const { ipam, store, datastore } = await setup(pool('p', '10.10.0.0/24', ', blockSize: 30') + node('n1'));
    const r1 = await ipam.autoAssign({ handle: 'h1', attrs: attrs('a'), node: 'n1', num4: 3, num6: 0 });
    assert.deepEqual(r1.ipv4.map((a) => a.address), ['10.10.0.0', '10.10.0.1', '10.10.0.2']);
    const r2 = await ipam.autoAssign({ handle: 'h2', attrs: attrs('b'), node: 'n1', num4: 3, num6: 0 });
    assert.deepEqual(r2.ipv4.map((a) => a.address), ['10.10.0.3', '10.10.0.4', '10.10.0.5']);
    assert.deepEqual(await ipam.blocksForNode('n1'), [{ cidr: '10.10.0.0/30', state: 'confirmed' }, { cidr: '10.10.0.4/30', state: 'confirmed' }]);
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
    const info = await ipam.addressInfo('10.10.0.4');
    assert.equal(info?.handle, 'h2');
    assert.deepEqual(info?.attrs, { pod: 'b', namespace: 'default', node: 'n1' });
  });

  it('release by handle frees exactly that handle, idempotently; freed addresses go to the back of the queue', async () => {
    const { ipam, store, datastore } = await setup(pool('p', '10.10.0.0/24', ', blockSize: 29') + node('n1'));
    await ipam.autoAssign({ handle: 'h1', attrs: attrs('a'), node: 'n1', num4: 2, num6: 0 });
    await ipam.autoAssign({ handle: 'h2', attrs: attrs('b'), node: 'n1', num4: 1, num6: 0 });
    assert.deepEqual(await ipam.releaseByHandle('h1'), ['10.10.0.0', '10.10.0.1']);
    assert.deepEqual(await ipam.releaseByHandle('h1'), []);
    assert.equal(await store.get(handleKey('h1')), undefined);
    assert.equal((await ipam.addressInfo('10.10.0.2'))?.handle, 'h2');
    const r = await ipam.autoAssign({ handle: 'h3', attrs: attrs('c'), node: 'n1', num4: 1, num6: 0 });
    assert.equal(r.ipv4[0]?.address, '10.10.0.3', 'cooldown: FIFO reuse, the just-freed .0 is not handed out first');
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
  });

  it('assignmentMode Manual: a pool hands out addresses only when asked for by name or CIDR', async () => {
    const { ipam } = await setup(pool('auto', '10.4.0.0/24') + pool('manual', '10.5.0.0/24', ', assignmentMode: Manual') + node('n1'));
    assert.match((await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 })).ipv4[0]?.address ?? '', /^10\.4\.0\./);
    assert.match((await ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['manual'] })).ipv4[0]?.address ?? '', /^10\.5\.0\./);
    assert.match((await ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['10.5.0.0/24'] })).ipv4[0]?.address ?? '', /^10\.5\.0\./);
    // Reported (tortiectl on apply, the agent once): the annotations that would ask for it are not read.
    const [manual] = await loadManifest(pool('manual', '10.5.0.0/24', ', assignmentMode: Manual'), 'm.yaml');
    assert.ok(manual !== undefined);
    assert.deepEqual(compatNotes(manual).map((n) => /IPPool\(manual\): spec\.assignmentMode: Manual: .*cni\.projectcalico\.org\/ipv4pools.*ipam\.ipv4_pools.*IP=/.test(n)), [true]);
    const only = await setup(pool('manual', '10.5.0.0/24', ', assignmentMode: Manual') + node('n1'));
    await assert.rejects(only.ipam.autoAssign({ handle: 'd', attrs: {}, node: 'n1', num4: 1, num6: 0 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-no-pool');
  });

  it('requested pools that do not exist, are disabled or of the other family are refused naming the pool', async () => {
    const { ipam } = await setup(pool('auto', '10.4.0.0/24') + pool('dis', '10.5.0.0/24', ', disabled: true') + pool('v6', 'fd00:5::/64') + node('n1'));
    const refused = (ipv4Pools: string[], re: RegExp) => assert.rejects(ipam.autoAssign({ handle: 'x', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools }),
      (e: unknown) => e instanceof IpamError && e.code === 'ipam-unknown-pool' && re.test(e.message));
    await refused(['blue'], /requested IPv4 pool "blue" does not exist/);
    await refused(['auto', '10.99.0.0/24'], /"10\.99\.0\.0\/24" does not exist/);
    await refused(['dis'], /"dis" \(10\.5\.0\.0\/24\) is disabled/);
    await refused(['v6'], /"v6" \(fd00:5::\/64\) is an IPv6 pool/);
    assert.deepEqual(await ipam.addressesForHandle('x'), [], 'nothing assigned');
    // A CIDR with host bits names the pool as libcalico-go's ParseCIDR does (masked).
    assert.match((await ipam.autoAssign({ handle: 'y', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['10.4.0.9/24'] })).ipv4[0]?.address ?? '', /^10\.4\.0\./);
  });

  it('assignIp (CNI IP=): that address from any enabled pool, Manual included; refused when taken, outside pools, or another node\'s block under strictAffinity', async () => {
    const { ipam, store, datastore } = await setup(pool('auto', '10.4.0.0/24', ', blockSize: 28') + pool('manual', '10.5.0.0/24', ', assignmentMode: Manual, blockSize: 28')
      + pool('tun', '10.6.0.0/24', ', allowedUses: [Tunnel]') + node('n1') + node('n2'));
    const r = await ipam.assignIp({ handle: 'a', attrs: attrs('a'), node: 'n1', ip: '10.5.0.20' });
    assert.deepEqual(r, { ipv4: [{ address: '10.5.0.20', block: '10.5.0.16/28' }], ipv6: [] });
    assert.deepEqual((await ipam.blocksForNode('n1')).map((b) => b.cidr), ['10.5.0.16/28'], 'its block claimed for the node');
    assert.deepEqual(await ipam.assignIp({ handle: 'a', attrs: attrs('a'), node: 'n1', ip: '10.5.0.20', reuseHandle: true }),
      { ipv4: [{ address: '10.5.0.20', block: '10.5.0.16/28' }], ipv6: [], reused: true }, 'a retried ADD gets it again');
    const unavailable = (ip: string, node: string, re: RegExp, i = ipam) => assert.rejects(i.assignIp({ handle: `h-${ip}`, attrs: {}, node, ip }),
      (e: unknown) => e instanceof IpamError && e.code === 'ipam-address-unavailable' && re.test(e.message));
    await unavailable('10.5.0.20', 'n1', /10\.5\.0\.20 is already assigned \(handle a\)/);
    await unavailable('10.77.0.1', 'n1', /not in any enabled IP pool/);
    await unavailable('10.6.0.1', 'n1', /pool "tun", which does not allow use Workload/);
    // Another node's block: borrowed without strictAffinity, refused with it.
    assert.equal((await ipam.assignIp({ handle: 'b', attrs: {}, node: 'n2', ip: '10.5.0.21' })).ipv4[0]?.block, '10.5.0.16/28');
    const strict = new Ipam({ store, datastore, logger: silentLogger() }, { strictAffinity: true });
    await unavailable('10.5.0.22', 'n2', /block 10\.5\.0\.16\/28, affine to n1 \(strictAffinity\)/, strict);
    // The block's FIFO queue no longer offers the requested addresses.
    const next = await ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n1', num4: 14, num6: 0, ipv4Pools: ['manual'] });
    assert.ok(!next.ipv4.some((a) => a.address === '10.5.0.20' || a.address === '10.5.0.21'));
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
  });

  it('IPReservation: reserved addresses and CIDRs are never handed out, in any block; the rest of the block is', async () => {
    const reservation = '---\napiVersion: projectcalico.org/v3\nkind: IPReservation\nmetadata: {name: r}\nspec:\n  reservedCIDRs: [10.10.0.0/30, 10.10.0.5, 10.10.0.8/29, "fd00::1"]\n';
    const { ipam, store, datastore } = await setup(pool('p', '10.10.0.0/24', ', blockSize: 29') + node('n1') + reservation);
    const r = await ipam.autoAssign({ handle: 'h', attrs: attrs('a'), node: 'n1', num4: 5, num6: 0 });
    // .0-.3 and .5 reserved in the first block, the whole second block (.8/29) reserved and skipped: the third serves the rest.
    assert.deepEqual(r.ipv4.map((a) => a.address), ['10.10.0.4', '10.10.0.6', '10.10.0.7', '10.10.0.16', '10.10.0.17']);
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
    assert.deepEqual((await ipam.blocksForNode('n1')).map((b) => b.cidr), ['10.10.0.0/29', '10.10.0.16/29'], 'the wholly reserved block is never claimed');
    // A reservation lifted: its addresses are handed out again.
    await datastore.delete('IPReservation', 'r');
    const again = await ipam.autoAssign({ handle: 'h2', attrs: attrs('b'), node: 'n1', num4: 2, num6: 0 });
    assert.deepEqual(again.ipv4.map((a) => a.address), ['10.10.0.0', '10.10.0.1']);
  });

  it('requested pools are used as asked, selectors ignored (libcalico-go determinePools); pools need the use', async () => {
    const { ipam } = await setup(pool('rack9', '10.9.0.0/24', ", nodeSelector: \"rack == 'r9'\"") + pool('lb', '10.11.0.0/24', ', allowedUses: [LoadBalancer]') + node('n1', '{rack: r1}'));
    assert.match((await ipam.autoAssign({ handle: 'r', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['rack9'] })).ipv4[0]?.address ?? '', /^10\.9\.0\./);
    await assert.rejects(ipam.autoAssign({ handle: 'l', attrs: {}, node: 'n1', num4: 1, num6: 0, ipv4Pools: ['lb'] }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-no-pool');
  });

  it('namespaceSelector: matched on the namespace name (the labels Tortie knows); other labels only by explicit request, reported', async () => {
    const { ipam } = await setup(pool('prod', '10.6.0.0/24', ", namespaceSelector: \"projectcalico.org/name == 'prod'\"")
      + pool('team', '10.7.0.0/24', ", namespaceSelector: \"team == 'x'\"") + node('n1'));
    const at = (ns: string, pools?: string[]) => ipam.autoAssign({ handle: `h-${ns}-${pools?.join() ?? ''}`, attrs: { pod: 'p', namespace: ns }, node: 'n1', num4: 1, num6: 0, ...(pools === undefined ? {} : { ipv4Pools: pools }) });
    assert.match((await at('prod')).ipv4[0]?.address ?? '', /^10\.6\.0\./);
    await assert.rejects(at('dev'), (e: unknown) => e instanceof IpamError && e.code === 'ipam-no-pool');
    assert.match((await at('dev', ['team'])).ipv4[0]?.address ?? '', /^10\.7\.0\./);
    const [team] = await loadManifest(pool('team', '10.7.0.0/24', ", namespaceSelector: \"team == 'x' && kubernetes.io/metadata.name == 'a'\""), 't.yaml');
    assert.ok(team);
    assert.deepEqual(compatNotes(team).map((n) => /IPPool\(team\): spec\.namespaceSelector: .* label\(s\) team match no namespace/.test(n)), [true]);
    const [prod] = await loadManifest(pool('prod', '10.6.0.0/24', ", namespaceSelector: \"kubernetes.io/metadata.name in {'a', 'b'}\""), 'p.yaml');
    assert.ok(prod);
    assert.deepEqual(compatNotes(prod), []);
  });

  it('nodeSelector picks pools; disabled pools are never used; no pool is a clear error', async () => {
    const { ipam } = await setup(pool('rack1', '10.1.0.0/24', ", nodeSelector: \"rack == 'r1'\"") + pool('off', '10.2.0.0/24', ', disabled: true')
      + pool('rack2', '10.3.0.0/24', ", nodeSelector: \"rack == 'r2'\"") + node('n1', '{rack: r1}') + node('n2', '{rack: r2}') + node('n3', '{rack: r3}'));
    assert.match((await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 })).ipv4[0]?.address ?? '', /^10\.1\.0\./);
    assert.match((await ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n2', num4: 1, num6: 0 })).ipv4[0]?.address ?? '', /^10\.3\.0\./);
    await assert.rejects(ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n3', num4: 1, num6: 0 }),
      (e: unknown) => e instanceof IpamError && e.code === 'ipam-no-pool' && /node "n3"/.test(e.message));
  });

  it('borrows from another node\'s block when no block is free, unless strictAffinity', async () => {
    const manifest = pool('p', '10.20.0.0/29', ', blockSize: 30') + node('n1') + node('n2');
    const { ipam } = await setup(manifest);
    await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 });
    await ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n2', num4: 1, num6: 0 });
    const r = await ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n2', num4: 4, num6: 0 });
    // n2's own block gives .5-.7, the fourth is borrowed from n1's block.
    assert.deepEqual(r.ipv4.map((a) => `${a.address} ${a.block}`), ['10.20.0.5 10.20.0.4/30', '10.20.0.6 10.20.0.4/30', '10.20.0.7 10.20.0.4/30', '10.20.0.1 10.20.0.0/30']);
    const strict = await setup(manifest, true);
    await strict.ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 });
    await strict.ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n2', num4: 4, num6: 0 });
    await assert.rejects(strict.ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n2', num4: 1, num6: 0 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-exhausted');
  });

  it('the stored IPAMConfig drives strictAffinity and autoAllocateBlocks', async () => {
    const { ipam, store } = await setup(pool('p', '10.21.0.0/29', ', blockSize: 30') + node('n1') + node('n2'));
    await updateIpamConfig(store, { autoAllocateBlocks: false });
    await assert.rejects(ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-exhausted');
    await updateIpamConfig(store, { autoAllocateBlocks: true, strictAffinity: true });
    await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 });
    await ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n2', num4: 4, num6: 0 });
    await assert.rejects(ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n2', num4: 1, num6: 0 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-exhausted');
    await updateIpamConfig(store, { strictAffinity: false });
    const r = await ipam.autoAssign({ handle: 'c', attrs: {}, node: 'n2', num4: 1, num6: 0 });
    assert.equal(r.ipv4[0]?.block, '10.21.0.0/30', 'borrowed from n1 once strictAffinity is off');
  });

  it('exhaustion leaves nothing behind; dual-stack is all or nothing', async () => {
    const { ipam, store, datastore } = await setup(pool('v4', '10.30.0.0/30', ', blockSize: 30') + pool('v6', 'fd00:30::/126', ', blockSize: 126') + node('n1'));
    await assert.rejects(ipam.autoAssign({ handle: 'big', attrs: {}, node: 'n1', num4: 5, num6: 0 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-exhausted');
    assert.equal(await store.get(handleKey('big')), undefined);
    const ok = await ipam.autoAssign({ handle: 'ds', attrs: {}, node: 'n1', num4: 1, num6: 1 });
    assert.deepEqual([ok.ipv4[0]?.address, ok.ipv6[0]?.address], ['10.30.0.0', 'fd00:30::']);
    await assert.rejects(ipam.autoAssign({ handle: 'half', attrs: {}, node: 'n1', num4: 1, num6: 4 }), (e: unknown) => e instanceof IpamError && e.code === 'ipam-exhausted');
    assert.equal(await ipam.addressInfo('10.30.0.1'), undefined, 'the IPv4 half was rolled back');
    assert.equal(await store.get(handleKey('half')), undefined);
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
  });

  it('a release with a stale sequence number is refused (ABA guard)', async () => {
    const { ipam } = await setup(pool('p', '10.40.0.0/30', ', blockSize: 30') + node('n1'));
    await ipam.autoAssign({ handle: 'old', attrs: {}, node: 'n1', num4: 4, num6: 0 });
    const seqOld = (await ipam.addressInfo('10.40.0.2'))?.sequenceNumber;
    await ipam.releaseByHandle('old');
    await ipam.autoAssign({ handle: 'new', attrs: {}, node: 'n1', num4: 4, num6: 0 });
    assert.ok(seqOld !== undefined);
    await assert.rejects(ipam.releaseIps(['10.40.0.2'], seqOld), (e: unknown) => e instanceof IpamError && e.code === 'ipam-stale-sequence');
    assert.equal((await ipam.addressInfo('10.40.0.2'))?.handle, 'new');
    const cur = (await ipam.addressInfo('10.40.0.2'))?.sequenceNumber;
    assert.deepEqual(await ipam.releaseIps(['10.40.0.2'], cur), { released: ['10.40.0.2'], notAssigned: [] });
    assert.deepEqual(await ipam.addressesForHandle('new'), ['10.40.0.0', '10.40.0.1', '10.40.0.3']);
  });

  it('empty blocks are released, busy ones kept', async () => {
    const { ipam, store } = await setup(pool('p', '10.50.0.0/24', ', blockSize: 30') + node('n1'));
    await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 6, num6: 0 });
    await ipam.releaseIps(['10.50.0.4', '10.50.0.5']);
    assert.deepEqual(await ipam.releaseEmptyBlocks('n1'), ['10.50.0.4/30']);
    assert.deepEqual(await ipam.blocksForNode('n1'), [{ cidr: '10.50.0.0/30', state: 'confirmed' }]);
    assert.equal(await store.get(blockKey(4, '10.50.0.4/30')), undefined);
  });

  it('a corrupt block is a clear datastore error naming its key, not a crash', async () => {
    const { ipam, store } = await setup(pool('p', '10.70.0.0/24', ', blockSize: 30') + node('n1'));
    await ipam.autoAssign({ handle: 'a', attrs: {}, node: 'n1', num4: 1, num6: 0 });
    const b = await store.get(blockKey(4, '10.70.0.0/30'));
    await store.update(blockKey(4, '10.70.0.0/30'), '{"cidr":"10.70.0.0/30","allocations":[]}', b?.modRevision ?? '');
    await assert.rejects(ipam.autoAssign({ handle: 'b', attrs: {}, node: 'n1', num4: 1, num6: 0 }),
      (e: unknown) => e instanceof Error && e.message === `${blockKey(4, '10.70.0.0/30')}: stored IPAM block is malformed (cidr, allocations, unallocated, attributes, sequenceNumber)`);
  });

  it('the leak check finds an allocation whose handle record is gone and a handle whose count is wrong', async () => {
    const { ipam, store, datastore } = await setup(pool('p', '10.60.0.0/24', ', blockSize: 29') + node('n1'));
    await ipam.autoAssign({ handle: 'leaky', attrs: { pod: 'x' }, node: 'n1', num4: 1, num6: 0 });
    await ipam.autoAssign({ handle: 'counted', attrs: { pod: 'y' }, node: 'n1', num4: 2, num6: 0 });
    await store.delete(handleKey('leaky'));
    const h = await store.get(handleKey('counted'));
    await store.update(handleKey('counted'), JSON.stringify({ handleID: 'counted', block: { '10.60.0.0/29': 5 } }), h?.modRevision ?? '');
    const report = await checkIpam({ store, datastore });
    assert.deepEqual(report.problems, [
      { type: 'allocation-without-handle', address: '10.60.0.0', handle: 'leaky', block: '10.60.0.0/29' },
      { type: 'handle-count-mismatch', handle: 'counted', block: '10.60.0.0/29', recorded: 5, actual: 2 },
    ]);
  });
});

/** MemoryKvStore that records each call as it starts and as it settles. */
class CountingStore extends MemoryKvStore {
  readonly log: string[] = [];
  /** The keys of every get, in order. */
  readonly gets: string[] = [];
  private track<T>(what: string, p: Promise<T>): Promise<T> {
    this.log.push(`start ${what}`);
    return p.finally(() => this.log.push(`end ${what}`));
  }
  override get(key: string) { this.gets.push(key); return this.track('get', super.get(key)); }
  override list(prefix: string) { return this.track('list', super.list(prefix)); }
  override commit(ops: Parameters<MemoryKvStore['commit']>[0]) { return this.track('commit', super.commit(ops)); }
  override create(...a: Parameters<MemoryKvStore['create']>) { return this.track('create', super.create(...a)); }
  override update(...a: Parameters<MemoryKvStore['update']>) { return this.track('update', super.update(...a)); }
  override delete(...a: Parameters<MemoryKvStore['delete']>) { return this.track('delete', super.delete(...a)); }
}

describe('ipam round trips (bench/e2e/RESULTS.md: "1 read round + 2 writes where there were 6 reads and 5 writes")', () => {
  it('a pod ADD that claims a new block, with the agent\'s view: 3 reads started together, then 2 commits', async () => {
    const store = new CountingStore();
    const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
    for (const r of await loadManifest(pool('p', '10.10.0.0/24', ', blockSize: 31') + node('n1'), 'setup.yaml')) await datastore.apply(r);
    const plain = new Ipam({ store, datastore, logger: silentLogger() });
    await plain.autoAssign({ handle: 'h1', attrs: attrs('a'), node: 'n1', num4: 2, num6: 0 }); // the node's first block, now full
    // The view as the agent's watch cache would show it after that ADD.
    const pools = (await datastore.list('IPPool')).items;
    const blocks = new Map((await store.list(blockPrefix(4))).entries.map((e) => { const b = parseBlock(e); return [b.cidr, b] as const; }));
    const ipam = new Ipam({ store, datastore, logger: silentLogger(), view: { pools: () => pools, nodeLabels: () => ({}), blocks: () => blocks, reservations: () => [] } });
    store.log.length = 0;
    const r = await ipam.autoAssign({ handle: 'h2', attrs: attrs('b'), node: 'n1', num4: 1, num6: 0, reuseHandle: true });
    assert.deepEqual(r.ipv4.map((a) => a.block), ['10.10.0.2/31'], 'a new block was claimed');
    const starts = store.log.filter((l) => l.startsWith('start'));
    assert.deepEqual([...starts.slice(0, 3)].sort().concat(starts.slice(3)), ['start get', 'start get', 'start list', 'start commit', 'start commit'],
      'the handle check, the node\'s affinities and the IPAM config, then block+affinity and handle+allocation');
    const firstEnd = store.log.findIndex((l) => l.startsWith('end'));
    assert.equal(store.log.slice(0, firstEnd).length, 3, `the 3 reads are in flight together: ${store.log.join(', ')}`);
    assert.deepEqual((await checkIpam({ store, datastore })).problems, []);
  });

  it('a dual-stack ADD reads the IPAM config once, not once per family', async () => {
    const store = new CountingStore();
    const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
    for (const r of await loadManifest(pool('p4', '10.10.0.0/24') + pool('p6', 'fd00:10::/120', ', blockSize: 122') + node('n1'), 'setup.yaml')) await datastore.apply(r);
    const ipam = new Ipam({ store, datastore, logger: silentLogger() });
    store.gets.length = 0;
    const r = await ipam.autoAssign({ handle: 'h1', attrs: attrs('a'), node: 'n1', num4: 1, num6: 1 });
    assert.deepEqual([r.ipv4.length, r.ipv6.length], [1, 1]);
    assert.equal(store.gets.filter((k) => k === IPAM_CONFIG_KEY).length, 1, store.gets.join(', '));
  });
});
