/**
 * BGPFilter `interface` on the wire (confd renders it `((defined(ifname))&&(ifname ~ "<glob>"))`:
 * the interface of the route's next hop). tortie-node learns 198.51.100.0/24 from torB over eth1;
 * Calico's export rules never pass such a route on, unless a BGPFilter accepts it first.
 *
 *   db(etcd) ─mgmt─ node1 (AS 64512) ── eth0 10.95.0.1 ══ torA (BIRD 2, AS 65095) 10.95.0.2   BGPPeer torA, filters [via]
 *                                    └─ eth1 10.96.0.1 ══ torB (BIRD 2, AS 65096) 10.96.0.2   BGPPeer torB (sourceAddress None), announces 198.51.100.0/24
 *
 * torA's own view: with `exportV4: [{action: Accept, interface: eth1}]` it has the route (AS path
 * 64512 65096); with `eth?` too; with `eth0` it is withdrawn, while node1's own block stays.
 * Import: `importV4: [{action: Reject, interface: 'eth*'}]` on torB keeps the route out of node1's kernel.
 * A borrowed /32 (a pod on node1 with an address from a block affine to node `ghost`) has its
 * workload interface, as Calico's kernel protocol gives it: `Reject interface: cali*` keeps it from torA.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh } from '../../helpers/sh.js';
import { BirdPeer } from '../../helpers/bgp-peers.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';
import { affinityKey, blockKey } from '../../../agent/datastore/key-layout.js';
import { newBlock } from '../../../agent/ipam/block.js';

const skip = nodeLabSkipReason('bird', 'birdc');
let lab: NodeLab;
let n1: LabNode;
let torA: BirdPeer;
let torB: BirdPeer;
const v3 = 'projectcalico.org/v3';
const ROUTE = '198.51.100.0/24';

const bird = (me: string, asn: number, extra: string): string => `router id ${me};
protocol device {}
${extra}
protocol bgp tortie { local ${me} as ${asn}; neighbor ${me.replace(/\.2$/, '.1')} as 64512; connect retry time 1; ipv4 { import all; export all; }; }
`;

const filter = (name: string, spec: Record<string, unknown>): void =>
  lab.putResource('bgpfilters', { apiVersion: v3, kind: 'BGPFilter', metadata: { name }, spec });

before(async () => {
  if (skip) return;
  lab = new NodeLab('bgpif');
  await lab.startEtcd();
  n1 = lab.node('node1', { IP: '10.95.0.1/24', CALICO_IPV4POOL_CIDR: '10.249.0.0/16', TORTIE_LOG_LEVEL: 'info' });
  const a = lab.topo.ns('tora');
  const b = lab.topo.ns('torb');
  lab.topo.link(n1.ns, 'eth0', '10.95.0.1/24', a, 'eth0', '10.95.0.2/24');
  lab.topo.link(n1.ns, 'eth1', '10.96.0.1/24', b, 'eth0', '10.96.0.2/24');
  filter('via', { exportV4: [{ action: 'Accept', interface: 'eth1' }] });
  filter('in-b', {});
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'tora' }, spec: { peerIP: '10.95.0.2', asNumber: 65095, filters: ['via'] } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'torb' }, spec: { peerIP: '10.96.0.2', asNumber: 65096, filters: ['in-b'], sourceAddress: 'None' } });
  torA = await BirdPeer.start(lab.topo, a, bird('10.95.0.2', 65095, ''));
  torB = await BirdPeer.start(lab.topo, b, bird('10.96.0.2', 65096, `protocol static { ipv4; route ${ROUTE} blackhole; }`));
  lab.start(n1);
  for (const t of [torA, torB]) await pollUntil(() => t.protocol('tortie').bgpState === 'Established', { timeoutMs: 30_000, what: () => `session up\n${lab.logs()}` });
});

after(async () => { if (lab) await lab.cleanup(); });

const torAHas = (prefix: string): boolean => torA.routes(prefix).some((r) => r.proto === 'tortie');
const block = (): string | undefined => lab.routes(n1).find((r) => r.type === 'blackhole')?.dst;

test('export: a rule on the interface a route was learned over passes it on; another interface does not', { skip }, async () => {
  const r = await pollUntil(() => torA.routes(ROUTE).find((x) => x.proto === 'tortie'), { timeoutMs: 20_000, what: () => `${ROUTE} at torA (interface eth1)\n${lab.logs()}` });
  assert.equal(r.attrs['BGP.as_path'], '64512 65096');
  const own = await pollUntil(block, { timeoutMs: 20_000, what: 'node1 block' });
  await pollUntil(() => torAHas(own), { timeoutMs: 20_000, what: `node1's block ${own} at torA` });

  filter('via', { exportV4: [{ action: 'Accept', interface: 'eth0' }] });
  await pollUntil(() => !torAHas(ROUTE), { timeoutMs: 20_000, what: () => `${ROUTE} withdrawn from torA (interface eth0 does not match)\n${lab.logs()}` });
  assert.ok(torAHas(own), 'the block is still exported');

  filter('via', { exportV4: [{ action: 'Accept', interface: 'eth?' }] });
  await pollUntil(() => torAHas(ROUTE), { timeoutMs: 20_000, what: `${ROUTE} at torA again (eth? matches eth1)` });
});

test('import: a Reject rule on the interface keeps the route out of the kernel', { skip }, async () => {
  const inKernel = (): boolean => sh('ip', ['-n', n1.ns, 'route', 'show', ROUTE]).includes('via 10.96.0.2');
  await pollUntil(inKernel, { timeoutMs: 20_000, what: `${ROUTE} in node1's kernel` });
  filter('in-b', { importV4: [{ action: 'Reject', interface: 'eth*' }] });
  await pollUntil(() => !inKernel(), { timeoutMs: 20_000, what: () => `${ROUTE} gone from node1's kernel\n${lab.logs()}` });
  filter('in-b', { importV4: [{ action: 'Reject', interface: 'eth0' }] });
  await pollUntil(inKernel, { timeoutMs: 20_000, what: `${ROUTE} back (eth0 is not the interface toward torB)` });
});

test('a borrowed /32 carries its workload interface: Reject interface cali* keeps it from torA', { skip }, async () => {
  // A block of the pool affine to another node: an address requested from it (IP=) is borrowed.
  const cidr = '10.249.200.0/26';
  lab.putResource('nodes', { apiVersion: v3, kind: 'Node', metadata: { name: 'ghost' }, spec: {} });
  lab.etcdctl(['put', blockKey(4, cidr), JSON.stringify(newBlock(cidr, 'ghost'))]);
  lab.etcdctl(['put', affinityKey('ghost', 4, cidr), JSON.stringify({ state: 'confirmed' })]);
  filter('via', {});
  lab.cniArgsExtra = ['IP=10.249.200.5'];
  try { lab.addPod(n1, 'bor1'); } finally { lab.cniArgsExtra = []; }
  const host = '10.249.200.5/32';
  await pollUntil(() => torAHas(host), { timeoutMs: 20_000, what: () => `borrowed ${host} at torA\n${lab.logs()}` });
  filter('via', { exportV4: [{ action: 'Reject', interface: 'cali*' }] });
  await pollUntil(() => !torAHas(host), { timeoutMs: 20_000, what: () => `${host} withdrawn from torA (on a cali interface)\n${lab.logs()}` });
  assert.ok(torAHas(block() ?? ''), 'the block (a blackhole, no interface) is still exported');
  filter('via', { exportV4: [{ action: 'Reject', interface: 'eth*' }] });
  await pollUntil(() => torAHas(host), { timeoutMs: 20_000, what: `${host} at torA again (not on eth*)` });
});
