/**
 * Dual stack (IP + IP6, an IPv4 and an IPv6 pool) with two real tortie-node processes:
 *
 *   node1 10.94.0.1/24 fd94::1/64 ══ eth0 ══ node2 10.94.0.2/24 fd94::2/64
 *
 * Each node registers both addresses, claims a block per family, meshes over IPv4 and over
 * IPv6 (one session per family, as Calico), installs the other node's IPv6 block via its IPv6
 * address, and pods get one address per family and reach each other over both.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode, n2: LabNode;

before(async () => {
  if (skip) return;
  lab = new NodeLab('dual');
  await lab.startEtcd();
  const env = { CALICO_IPV4POOL_CIDR: '10.253.0.0/16', CALICO_IPV6POOL_CIDR: 'fd00:94::/48' };
  [n1, n2] = lab.pair('10.94.0', env, 'fd94:');
  lab.start(n1);
  lab.start(n2);
});

after(async () => { if (lab) await lab.cleanup(); });

const routes6 = (n: LabNode): Array<{ dst: string; gateway?: string; dev?: string; type?: string }> =>
  JSON.parse(sh('ip', ['-n', n.ns, '-6', '-j', 'route', 'show', 'proto', '80']) || '[]') as Array<{ dst: string; gateway?: string; dev?: string; type?: string }>;

test('both families: Node addresses, a block each, one session per family, IPv6 blocks routed via the IPv6 peer', { skip }, async () => {
  const b6 = await Promise.all([n1, n2].map((n) => pollUntil(() => routes6(n).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 20_000, what: `${n.name} IPv6 block\n${lab.logs()}` })));
  for (const b of b6) assert.match(b, /^fd00:94:.*\/122$/);
  const doc = JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/v3/projectcalico.org/nodes/node1'])) as { spec: { bgp: { ipv4Address: string; ipv6Address?: string } } };
  assert.equal(doc.spec.bgp.ipv6Address, 'fd94::1/64');
  await pollUntil(async () => {
    const r = await lab.call(n1, 'node.ctl', { command: 'bgp-status' });
    const peers = (r['peers'] as Array<{ peerIP: string; family: number; state: string }>).map((p) => [p.peerIP, p.family, p.state]).sort();
    return JSON.stringify(peers) === JSON.stringify([['10.94.0.2', 4, 'up'], ['fd94::2', 6, 'up']]);
  }, { timeoutMs: 20_000, what: 'a v4 and a v6 session' });
  await pollUntil(() => routes6(n1).some((r) => r.dst === b6[1] && r.gateway === 'fd94::2' && r.dev === 'eth0'), { timeoutMs: 20_000, what: `node1 IPv6 route to ${b6[1]}: ${JSON.stringify(routes6(n1))}\n${lab.logs()}` });
  await pollUntil(() => routes6(n2).some((r) => r.dst === b6[0] && r.gateway === 'fd94::1'), { timeoutMs: 20_000, what: 'node2 IPv6 route' });
});

test('pods get one address per family and reach each other over both', { skip }, async () => {
  const a = lab.addDualStackPod(n1, 'd-a');
  const b = lab.addDualStackPod(n2, 'd-b');
  assert.ok(routes6(n1).some((r) => r.dst === a.v6 && r.dev?.startsWith('cali') === true), 'IPv6 workload route');
  await pollUntil(() => lab.ping(a.ns, b.v4), { timeoutMs: 10_000, what: 'ping IPv4' });
  await pollUntil(() => trySh('ip', ['netns', 'exec', a.ns, 'ping', '-6', '-c', '1', '-W', '1', b.v6]).status === 0,
    { timeoutMs: 15_000, what: `ping -6 ${a.v6} -> ${b.v6}: n1 ${JSON.stringify(routes6(n1))}` });
});
