/**
 * The IPAM controller (one agent at a time, by etcd election) against real tortie-node processes
 * and a real etcd:
 *
 *   db (etcd) ─mgmt─ node1 10.93.0.1/24 ══ eth0 ══ node2 10.93.0.2/24 ─mgmt─ db
 *
 * Both agents campaign, exactly one leads; a deleted Node's addresses, handles, affinities and
 * blocks are released; an IPPool deleted behind tortiectl's back (etcdctl) loses its block
 * affinities and the node its blackhole route.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode, n2: LabNode;

before(async () => {
  if (skip) return;
  lab = new NodeLab('ipamgc');
  await lab.startEtcd();
  [n1, n2] = lab.pair('10.93.0', { CALICO_IPV4POOL_CIDR: '10.248.0.0/16', CALICO_IPV4POOL_BLOCK_SIZE: '26' });
  lab.start(n1);
  lab.start(n2);
  for (const n of [n1, n2]) await pollUntil(() => lab.routes(n).some((r) => r.type === 'blackhole'), { timeoutMs: 20_000, what: () => `${n.name} block\n${lab.logs()}` });
});

after(async () => { if (lab) await lab.cleanup(); });

const keys = (prefix: string): string[] => lab.etcdctl(['get', '--prefix', '--keys-only', prefix]).split('\n').filter((l) => l !== '');
const leaders = (): string[] => [n1, n2].filter((n) => (n.proc?.output ?? '').includes('elected to run the IPAM controller')).map((n) => n.name);

test('both agents campaign in the ipam-gc election and exactly one leads', { skip }, async () => {
  await pollUntil(() => keys('/tortie/election/ipam-gc/').length === 2, { timeoutMs: 10_000, what: () => `two candidates: ${keys('/tortie/election/')}` });
  await pollUntil(() => leaders().length === 1, { timeoutMs: 10_000, what: () => `one leader, got ${JSON.stringify(leaders())}\n${lab.logs()}` });
});

test('a deleted node\'s addresses, handles, affinities and blocks are released', { skip }, async () => {
  const pod = lab.addPod(n2, 'gone-node-pod');
  assert.ok(keys('/tortie/ipam/v2/host/node2/').length > 0, 'node2 has block affinities');
  assert.ok(keys('/tortie/ipam/v2/handle/ctr-gone-node-pod').length === 1);
  await pollUntil(() => keys('/tortie/workloads/v1/ctr-gone-node-pod').length === 1, { timeoutMs: 5000, what: 'the running pod\'s workload record' });
  // The node goes away as an operator removes one: agent stopped, Node resource deleted.
  await lab.stop(n2, 'SIGTERM');
  lab.etcdctl(['del', '/tortie/v3/projectcalico.org/nodes/node2']);
  await pollUntil(() => keys('/tortie/ipam/v2/host/node2/').length === 0 && keys('/tortie/ipam/v2/handle/ctr-gone-node-pod').length === 0,
    { timeoutMs: 20_000, what: () => `node2's IPAM released: ${keys('/tortie/ipam/v2/')}\n${lab.logs()}` });
  assert.deepEqual(keys('/tortie/workloads/v1/ctr-gone-node-pod'), [], 'its workload record too');
  const blocks = lab.etcdctl(['get', '--prefix', '/tortie/ipam/v2/assignment/ipv4/block/', '--print-value-only']).split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { cidr: string; affinity: string | null; allocations: Array<number | null> });
  assert.ok(blocks.every((b) => b.affinity !== 'host:node2'), `no block affine to node2: ${JSON.stringify(blocks.map((b) => [b.cidr, b.affinity]))}`);
  assert.ok(!blocks.some((b) => b.cidr.startsWith(pod.address.split('.').slice(0, 3).join('.')) && b.allocations.some((a) => a !== null) && b.affinity === null),
    'node2\'s block (holding only its own pod) was deleted');
  assert.ok((n1.proc?.output ?? '').includes('elected to run the IPAM controller'), 'node1 leads once node2 is gone');
});

test('an IPPool deleted behind tortiectl\'s back loses its affinities and the node its blackhole', { skip }, async () => {
  const hole = lab.routes(n1).find((r) => r.type === 'blackhole')?.dst;
  assert.ok(hole !== undefined);
  lab.etcdctl(['del', '/tortie/v3/projectcalico.org/ippools/default-ipv4-ippool']);
  await pollUntil(() => keys('/tortie/ipam/v2/host/node1/').length === 0, { timeoutMs: 20_000, what: () => `node1's affinities released: ${keys('/tortie/ipam/v2/')}\n${lab.logs()}` });
  await pollUntil(() => !lab.routes(n1).some((r) => r.type === 'blackhole'), { timeoutMs: 10_000, what: () => `blackhole ${hole} removed: ${JSON.stringify(lab.routes(n1))}` });
  assert.equal(keys('/tortie/ipam/v2/assignment/ipv4/block/').length, 0, 'empty blocks deleted');
});
