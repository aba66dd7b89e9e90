/**
 * Convergence latency of the whole pipeline, measured on the real thing: a CNI ADD on node1
 * that needs a new block (blocks of 4 addresses) → IPAM in etcd → block watch → BGP UPDATE →
 * node2's best path → node2's kernel. Times come from `ip -ts monitor route` in node2 against
 * the ADD's start; printed as diagnostics (p50/p99), asserted only loosely (p99 < 1 s; the
 * issue's goal is 100 ms).
 *
 *   node1 10.96.0.1/24 ══ node2 10.96.0.2/24     pool 10.248.0.0/24, blockSize 30
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { Proc, sh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode, n2: LabNode;
const PODS = Number(process.env['TORTIE_CONVERGENCE_PODS'] ?? 40);

before(async () => {
  if (skip) return;
  lab = new NodeLab('conv');
  await lab.startEtcd();
  const env = { CALICO_IPV4POOL_CIDR: '10.248.0.0/24', CALICO_IPV4POOL_BLOCK_SIZE: '30', TORTIE_LOG_LEVEL: 'info' };
  [n1, n2] = lab.pair('10.96.0', env);
  lab.start(n1);
  lab.start(n2);
});

after(async () => { if (lab) await lab.cleanup(); });

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN; };

test(`new-block convergence: ADD on node1 → route in node2's kernel (${PODS} pods, a new block every 4)`, { skip }, async (t) => {
  await pollUntil(async () => {
    const r = await lab.call(n2, 'node.ctl', { command: 'bgp-status' }).catch(() => undefined);
    return (r?.['peers'] as Array<{ state: string }> | undefined)?.[0]?.state === 'up';
  }, { timeoutMs: 20_000, what: `mesh up\n${lab.logs()}` });
  const monitor = new Proc('ip', ['-n', n2.ns, '-ts', 'monitor', 'route']);
  lab.topo.defer(() => monitor.stop());
  const monitor1 = new Proc('ip', ['-n', n1.ns, '-ts', 'monitor', 'route']);
  lab.topo.defer(() => monitor1.stop());
  sh('ip', ['-n', n2.ns, 'route', 'add', '192.0.2.9/32', 'dev', 'lo', 'proto', 'static']);
  sh('ip', ['-n', n1.ns, 'route', 'add', '192.0.2.9/32', 'dev', 'lo', 'proto', 'static']);
  await pollUntil(() => monitor.output.includes('192.0.2.9') && monitor1.output.includes('192.0.2.9'), { timeoutMs: 5000, what: 'monitors ready' });
  const existing = new Set(lab.routes(n1).filter((r) => r.type === 'blackhole').map((r) => r.dst));
  const adds: Array<{ address: string; t0: number; ms: number }> = [];
  for (let i = 0; i < PODS; i++) {
    const ns = lab.topo.ns(`v${i}`);
    const t0 = Date.now();
    const r = await lab.cniAsync(n1, 'ADD', `v${i}`, `/var/run/netns/${ns}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    adds.push({ address: (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0] ?? '', t0, ms: Date.now() - t0 });
  }
  const blockOf = (a: string): string => `${a}/30`;
  // The pods that made node1 claim a new block: the first address of a block it did not have before.
  const firstInBlock = adds.filter((a) => Number(a.address.split('.')[3]) % 4 === 0 && !existing.has(blockOf(a.address)));
  const stamp = (out: string, needle: string): number | undefined => {
    const line = out.split('\n').find((l) => l.includes(needle) && !l.includes('Deleted'));
    const ts = line === undefined ? undefined : /^\[([^\]]+)\]/.exec(line)?.[1];
    return ts === undefined ? undefined : Date.parse(`${ts}Z`);
  };
  const seen = (block: string): number | undefined => stamp(monitor.output, ` ${block} via 10.96.0.1 `);
  const latencies: number[] = [];
  const propagation: number[] = [];
  for (const a of firstInBlock) {
    const at = await pollUntil(() => seen(blockOf(a.address)), { timeoutMs: 10_000, what: `node2 route for ${blockOf(a.address)}` });
    latencies.push(at - a.t0);
    const local = stamp(monitor1.output, `blackhole ${blockOf(a.address)} `);
    if (local !== undefined) propagation.push(at - local);
  }
  assert.ok(latencies.length >= Math.floor(PODS / 4) - 1, `measured ${latencies.length} new blocks`);
  const addMs = adds.map((a) => a.ms);
  t.diagnostic(`CNI ADD duration ms: p50 ${pct(addMs, 50)} p99 ${pct(addMs, 99)} (n=${addMs.length})`);
  t.diagnostic(`new block: ADD start → route in node2 kernel ms: p50 ${pct(latencies, 50)} p99 ${pct(latencies, 99)} max ${Math.max(...latencies)} (n=${latencies.length})`);
  t.diagnostic(`new block: blackhole in node1 kernel → route in node2 kernel ms: p50 ${pct(propagation, 50)} p99 ${pct(propagation, 99)} (n=${propagation.length})`);
  assert.ok(pct(latencies, 99) < 1000, `p99 ${pct(latencies, 99)} ms`);
});
