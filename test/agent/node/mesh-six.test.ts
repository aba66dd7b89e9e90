/**
 * Six tortie-node processes in a full mesh on one L2 segment (15 sessions, each dialled by the
 * side whose IP string sorts lower), started at the same moment:
 *
 *   n1 10.95.0.1 … n6 10.95.0.6 ─ bridge (ns sw)
 *
 * Every node ends with every other node's block via its owner, the mesh has no duplicate or
 * stuck session, and a pod on n1 reaches a pod on n6.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
const nodes: LabNode[] = [];
const N = 6;

before(async () => {
  if (skip) return;
  lab = new NodeLab('mesh6');
  await lab.startEtcd();
  const sw = lab.topo.ns('sw');
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  for (let i = 1; i <= N; i++) {
    const ip = `10.95.0.${i}`;
    const n = lab.node(`n${i}`, { IP: `${ip}/24`, CALICO_IPV4POOL_CIDR: '10.252.0.0/16', TORTIE_LOG_LEVEL: 'info' });
    lab.topo.link(n.ns, 'eth0', `${ip}/24`, sw, `p${i}`, []);
    sh('ip', ['-n', sw, 'link', 'set', `p${i}`, 'master', 'br0']);
    sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', '10.95.0.254']);
    nodes.push(n);
  }
  for (const n of nodes) lab.start(n);
});

after(async () => { if (lab) await lab.cleanup(); });

test(`a ${N}-node mesh converges: every session up once, every block routed to its owner`, { skip }, async (t) => {
  const t0 = Date.now();
  const blocks = new Map<string, string>();
  for (const n of nodes) {
    blocks.set(n.name, await pollUntil(() => lab.routes(n).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 30_000, what: `${n.name} block\n${lab.logs(800)}` }));
  }
  assert.equal(new Set(blocks.values()).size, N, 'one block per node, all different');
  for (const [i, n] of nodes.entries()) {
    await pollUntil(async () => {
      const r = await lab.call(n, 'node.ctl', { command: 'bgp-status' });
      const peers = r['peers'] as Array<{ peerIP: string; state: string }>;
      return peers.length === N - 1 && peers.every((p) => p.state === 'up');
    }, { timeoutMs: 30_000, what: `${n.name} has ${N - 1} sessions up` });
    for (const [j, m] of nodes.entries()) {
      if (i === j) continue;
      const b = blocks.get(m.name) ?? '';
      await pollUntil(() => lab.routes(n).some((r) => r.dst === b && r.gateway === `10.95.0.${j + 1}`), { timeoutMs: 20_000, what: `${n.name} → ${b} via ${m.name}` });
    }
  }
  t.diagnostic(`${N} nodes started together: full mesh and all block routes in ${Date.now() - t0} ms`);
  const rss = nodes.map((n) => Number(/VmRSS:\s+(\d+)/.exec(sh('cat', [`/proc/${n.proc?.pid ?? 0}/status`]))?.[1] ?? NaN) / 1024);
  t.diagnostic(`tortie-node RSS MiB: ${rss.map((x) => x.toFixed(0)).join(' ')}`);
  // Exactly one TCP session per pair: n1 sees 5 established BGP connections.
  const conns = sh('ip', ['netns', 'exec', nodes[0]?.ns ?? '', 'ss', '-Htn', 'state', 'established', '( sport = :179 or dport = :179 )']).trim().split('\n').filter(Boolean);
  assert.equal(conns.length, N - 1, conns.join('\n'));
  const a = lab.addPod(nodes[0] as LabNode, 'm-a');
  const b = lab.addPod(nodes[N - 1] as LabNode, 'm-b');
  await pollUntil(() => lab.ping(a.ns, b.address), { timeoutMs: 10_000, what: `ping ${a.address} -> ${b.address}` });
});
