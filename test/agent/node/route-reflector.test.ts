/**
 * Route reflection instead of the mesh (calico-compat §1.3, §2.3): BGPConfiguration turns the
 * mesh off, node rr1 carries routeReflectorClusterID and the label `rr`, one global BGPPeer
 * with peerSelector has(rr) makes every node peer with it (and it with them, reverse peering).
 *
 *   a 10.97.0.1 ─┐
 *   b 10.97.0.2 ─┼─ bridge (ns sw)      a and b never peer; rr1 reflects their blocks
 *   rr1 10.97.0.10 ─┘
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let a: LabNode, b: LabNode, rr: LabNode;

before(async () => {
  if (skip) return;
  lab = new NodeLab('rr');
  await lab.startEtcd();
  const v3 = 'projectcalico.org/v3';
  lab.putResource('bgpconfigurations', { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false } });
  lab.putResource('nodes', { apiVersion: v3, kind: 'Node', metadata: { name: 'rr1', labels: { rr: 'true' } }, spec: { bgp: { routeReflectorClusterID: '244.0.0.1' } } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-reflectors' }, spec: { peerSelector: 'has(rr)' } });
  const sw = lab.topo.ns('sw');
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  const env = { CALICO_IPV4POOL_CIDR: '10.247.0.0/16' };
  const mk = (name: string, ip: string): LabNode => {
    const n = lab.node(name, { IP: `${ip}/24`, ...env });
    lab.topo.link(n.ns, 'eth0', `${ip}/24`, sw, `p-${name}`, []);
    sh('ip', ['-n', sw, 'link', 'set', `p-${name}`, 'master', 'br0']);
    sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', '10.97.0.254']);
    return n;
  };
  a = mk('a', '10.97.0.1');
  b = mk('b', '10.97.0.2');
  rr = mk('rr1', '10.97.0.10');
  for (const n of [rr, a, b]) lab.start(n);
});

after(async () => { if (lab) await lab.cleanup(); });

const peersOf = async (n: LabNode): Promise<string[][]> => {
  const r = await lab.call(n, 'node.ctl', { command: 'bgp-status' });
  return ((r['peers'] ?? []) as Array<{ peerIP: string; type: string; state: string }>).map((p) => [p.peerIP, p.type, p.state]).sort();
};

test('clients peer only with the reflector, which reflects their blocks with the original next hop', { skip }, async () => {
  await pollUntil(async () => JSON.stringify(await peersOf(a)) === JSON.stringify([['10.97.0.10', 'global', 'up']]), { timeoutMs: 20_000, what: `a peers ${JSON.stringify(await peersOf(a).catch(() => []))}\n${lab.logs()}` });
  // The reflector's side is the reverse peering, which confd renders node-specific (Node_<ip>).
  await pollUntil(async () => JSON.stringify(await peersOf(rr)) === JSON.stringify([['10.97.0.1', 'node specific', 'up'], ['10.97.0.2', 'node specific', 'up']]),
    { timeoutMs: 20_000, what: `rr1 peers with both clients: ${JSON.stringify(await peersOf(rr).catch(() => []))}` });
  const bb = await pollUntil(() => lab.routes(b).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 20_000, what: 'b block' });
  await pollUntil(() => lab.routes(a).some((r) => r.dst === bb && r.gateway === '10.97.0.2'), { timeoutMs: 20_000, what: `a routes ${bb} straight to b: ${JSON.stringify(lab.routes(a))}` });
  assert.deepEqual(await peersOf(b), [['10.97.0.10', 'global', 'up']], 'b has no mesh session either');
  const ba = lab.routes(a).find((r) => r.type === 'blackhole')?.dst ?? '';
  assert.ok(lab.routes(rr).some((r) => r.dst === ba && r.gateway === '10.97.0.1'), 'the reflector routes the clients\' blocks too');
  const pa = lab.addPod(a, 'rpa');
  const pb = lab.addPod(b, 'rpb');
  await pollUntil(() => lab.ping(pa.ns, pb.address), { timeoutMs: 10_000, what: `ping ${pa.address} -> ${pb.address}` });
});
