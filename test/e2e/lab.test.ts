/**
 * End to end on the lab (agent/lab): real etcd, FRR as the ToR, tortie-node in every node, pods
 * made by the CNI plugin. One lab for the whole file, always taken down in `after`.
 *
 *   e2e-etcd ── e2e-tor (FRR zebra+bgpd, AS 65000)
 *                 │ br1 10.100.1.0/24              │ br2 10.100.2.0/24
 *       node1 .11        node2 .12            node3 .13          AS 64512, full mesh + ToR
 *       pod1-1 pod1-2    pod2-1 pod2-2        pod3-1 pod3-2      pool 10.244.0.0/16 CrossSubnet
 *
 * node1↔node2 are on one subnet (direct routes), node3 on the other (VXLAN).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../helpers/poll.js';
import { Proc, trySh } from '../helpers/sh.js';
import { type LabState, addPod, ctl, runCni } from '../../agent/lab/lab.js';
import { check } from '../../agent/lab/lab-report.js';
import { alive, readPid } from '../../agent/lab/lab-host.js';
import { labResources, type NodePlan, type PodPlan } from '../../agent/lab/lab-plan.js';
import { stringify } from 'yaml';
import type { LabPod } from '../../agent/lab/ping-matrix.js';
import { agentRoutes } from './robust-tools.js';
import { downChecked, labNode, labPod, labSkipReason, torVtysh, upConverged } from './lab-fixture.js';

const skip = labSkipReason(['etcd', 'etcdctl', 'vtysh', 'tcpdump', 'ping']);

const prefix = `e${process.pid % 100000}`;
let stateDir = '';
let lab: LabState;
const log: string[] = [];

const node = (i: number): NodePlan => labNode(lab, i);
const pod = (name: string): LabPod => labPod(lab, name);
function inNs(ns: string, cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  return trySh('ip', ['netns', 'exec', ns, cmd, ...args]);
}
/** The node's own blocks: its blackhole routes. */
function blocksOf(n: NodePlan): string[] {
  return agentRoutes(n.netns).filter((r) => r.type === 'blackhole').map((r) => r.dst);
}
function torBgp(): Record<string, Array<{ nexthops: Array<{ ip: string }> }>> {
  return (JSON.parse(torVtysh(lab, 'show ip bgp json')) as { routes?: Record<string, Array<{ nexthops: Array<{ ip: string }> }>> }).routes ?? {};
}
function ping(from: LabPod, to: LabPod): boolean {
  return inNs(from.netns, 'ping', ['-n', '-q', '-c', '1', '-W', '1', to.address]).status === 0;
}

/** Start tcpdump in a node on its underlay veth; resolves once it is listening. */
async function capture(ns: string, filter: string): Promise<Proc> {
  const p = new Proc('ip', ['netns', 'exec', ns, 'tcpdump', '-l', '-n', '-i', 'eth0', '-c', '1', filter]);
  await pollUntil(() => p.output.includes('listening on') || (p.exited ? Promise.reject(new Error(p.output)) : false),
    { timeoutMs: 5000, what: `tcpdump in ${ns}` });
  return p;
}

before(async () => {
  if (skip) return;
  stateDir = mkdtempSync(join(tmpdir(), 'tortie-e2e-'));
  lab = await upConverged({ prefix, stateDir, nodes: 3, podsPerNode: 2, tor: 'frr' }, (l) => log.push(l));
});

after(async () => {
  if (skip) return;
  await downChecked(stateDir, prefix, (l) => log.push(l));
});

test('every pod reaches every pod; same-subnet pairs route directly, cross-subnet over VXLAN', { skip }, async () => {
  const report = await check(lab, () => {});
  assert.equal(report.results.length, 30);
  assert.deepEqual(report.failed, []);
  assert.deepEqual(report.unconverged, [], 'every pair goes over an agent route, none via the ToR default route');
  const path = (a: string, b: string): string | undefined => report.results.find((r) => r.from === a && r.to === b)?.path;
  assert.equal(path('pod1-1', 'pod1-2'), 'local');
  assert.equal(path('pod1-1', 'pod2-1'), 'direct');
  assert.equal(path('pod2-2', 'pod1-1'), 'direct');
  assert.equal(path('pod1-1', 'pod3-1'), 'vxlan');
  assert.equal(path('pod3-2', 'pod2-1'), 'vxlan');
});

test('same-subnet pod traffic is unencapsulated on the underlay; cross-subnet is VXLAN (udp 4789)', { skip }, async () => {
  const a = pod('pod1-1'), b = pod('pod2-1'), c = pod('pod3-1');
  // node1 → node2: ICMP with the pod addresses themselves on node1's eth0, in a frame addressed
  // to node2's own MAC (straight to the peer node, not through the ToR).
  const mac2 = (JSON.parse(inNs(node(2).netns, 'ip', ['-j', 'link', 'show', 'eth0']).stdout) as Array<{ address: string }>)[0]?.address;
  assert.ok(mac2 !== undefined);
  const plain = await capture(node(1).netns, `ether dst ${mac2} and icmp and src host ${a.address} and dst host ${b.address}`);
  try {
    await pollUntil(() => { ping(a, b); return plain.exited; }, { timeoutMs: 5000, what: 'pod ICMP on node1 eth0' });
    assert.match(plain.output, new RegExp(`${a.address.replace(/\./g, '\\.')} > ${b.address.replace(/\./g, '\\.')}: ICMP echo request`));
  } finally { await plain.stop(); }
  // node1 → node3: VXLAN on node1's eth0, and no bare pod ICMP there.
  const vx = await capture(node(1).netns, `udp dst port 4789 and dst host ${node(3).address}`);
  const bare = await capture(node(1).netns, `icmp and host ${c.address}`);
  try {
    await pollUntil(() => { ping(a, c); return vx.exited; }, { timeoutMs: 5000, what: 'VXLAN on node1 eth0' });
    assert.match(vx.output, new RegExp(`${node(1).address.replace(/\./g, '\\.')}\\.\\d+ > ${node(3).address.replace(/\./g, '\\.')}\\.4789: VXLAN`));
    assert.equal(bare.exited, false, `pod ICMP to ${c.address} appeared unencapsulated on the underlay: ${bare.output}`);
  } finally {
    await vx.stop();
    await bare.stop();
  }
});

test('the pool switched live to the UDP backend: cross-subnet pairs go over tortie-udp (udp 8285 on the underlay), then back to VXLAN', { skip }, async () => {
  const pool = (udp: boolean): string => stringify(labResources({ ...lab.plan, options: { ...lab.plan.options, encap: udp ? 'udp' : 'vxlan' } })
    .find((d) => d['kind'] === 'IPPool'));
  const pathTo = async (encap: string): Promise<void> => {
    await pollUntil(async () => {
      const r = await check(lab, () => {});
      const p = r.results.find((x) => x.from === 'pod1-1' && x.to === 'pod3-1');
      return r.failed.length === 0 && r.unconverged.length === 0 && p?.path === encap ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, what: `every pair reachable and pod1-1 → pod3-1 over ${encap}` });
  };
  try {
    ctl(lab.plan, ['apply', '-f', '-'], pool(true));
    await pathTo('udp');
    const r = await check(lab, () => {});
    assert.deepEqual(r.results.filter((x) => x.path === 'vxlan'), [], 'no pair left on VXLAN');
    assert.equal(r.results.filter((x) => x.path === 'direct').length, 8, 'same-subnet pairs stay direct');
    const a = pod('pod1-1'), c = pod('pod3-1');
    const udp = await capture(node(1).netns, `udp dst port 8285 and src host ${node(1).address} and dst host ${node(3).address}`);
    try {
      await pollUntil(() => { ping(a, c); return udp.exited; }, { timeoutMs: 5000, what: 'UDP backend datagram on node1 eth0' });
      assert.match(udp.output, new RegExp(`${node(1).address.replace(/\./g, '\\.')}\\.\\d+ > ${node(3).address.replace(/\./g, '\\.')}\\.8285: UDP`));
    } finally { await udp.stop(); }
    const mtu = (JSON.parse(inNs(node(3).netns, 'ip', ['-j', 'link', 'show', 'tortie-udp']).stdout) as Array<{ mtu: number }>)[0]?.mtu;
    assert.equal(mtu, 1500 - 28);
  } finally {
    ctl(lab.plan, ['apply', '-f', '-'], pool(false));
    await pathTo('vxlan');
  }
});

test('the ToR learns every block, from the node that owns it, and nothing else', { skip }, async () => {
  const owners = new Map<string, string>();
  for (const n of lab.plan.nodes) for (const b of blocksOf(n)) owners.set(b, n.address);
  assert.equal(owners.size, 3, `one block per node: ${[...owners.keys()].join(' ')}`);
  const routes = await pollUntil(() => {
    const r = torBgp();
    return Object.keys(r).length === owners.size ? r : false;
  }, { timeoutMs: 10_000, what: 'the ToR to hold exactly the blocks' });
  assert.deepEqual(Object.keys(routes).sort(), [...owners.keys()].sort());
  for (const [block, owner] of owners) {
    assert.ok(routes[block]?.some((p) => p.nexthops.some((h) => h.ip === owner)), `${block} learned from its owner ${owner}`);
  }
  // zebra installed them: the ToR forwards pod traffic in its kernel.
  const kernel = inNs(lab.plan.torNetns, 'ip', ['-j', 'route', 'show', 'proto', 'bgp']).stdout;
  for (const block of owners.keys()) assert.ok(kernel.includes(`"${block}"`), `${block} in the ToR kernel`);
});

test('an agent route deleted behind its back is repaired within a second', { skip }, async (t) => {
  const n1 = node(1);
  const target = agentRoutes(n1.netns).find((r) => r.type !== 'blackhole' && r.dev === 'eth0');
  assert.ok(target !== undefined, 'node1 has a direct route to node2\'s block');
  const del = inNs(n1.netns, 'ip', ['route', 'del', target.dst, 'proto', '80']);
  assert.equal(del.status, 0, del.stderr);
  const t0 = performance.now();
  await pollUntil(() => agentRoutes(n1.netns).some((r) => r.dst === target.dst && r.gateway === target.gateway),
    { timeoutMs: 1000, intervalMs: 10, what: `${target.dst} back in node1's kernel` });
  t.diagnostic(`route ${target.dst} repaired in ${Math.round(performance.now() - t0)} ms`);
});

test('concurrent CNI ADD and DEL on two nodes leak no address and no interface', { skip }, async () => {
  const before = ctl(lab.plan, ['ipam', 'check']);
  const allocated = (text: string): number => Number(/Found (\d+) allocated IPs/.exec(text)?.[1] ?? NaN);
  const extra: PodPlan[] = [];
  for (const n of [node(1), node(2)]) {
    for (let j = 1; j <= 8; j++) extra.push({ node: n.name, name: `burst${n.index}-${j}`, netns: `${prefix}-pod${n.index}-${100 + j}`, containerId: `${prefix}-burst-${n.index}-${j}` });
  }
  try {
    const added = await Promise.all(extra.map((p) => addPod(lab.plan, p)));
    const addrs = added.map((p) => p.address);
    assert.equal(new Set(addrs).size, addrs.length, `distinct addresses: ${addrs.join(' ')}`);
    assert.equal(allocated(ctl(lab.plan, ['ipam', 'check'])), allocated(before) + extra.length);
    // The new pods are reachable from a pod on the other subnet.
    const from = pod('pod3-1');
    await pollUntil(() => added.every((p) => ping(from, p)), { timeoutMs: 10_000, what: 'burst pods reachable from pod3-1' });
    // DEL all at once, twice each (idempotent), interleaved.
    const dels = await Promise.all(extra.flatMap((p) => {
      const n = lab.plan.nodes.find((x) => x.name === p.node) as NodePlan;
      return [runCni(n, 'DEL', p), runCni(n, 'DEL', p)];
    }));
    for (const d of dels) assert.equal(d.status, 0, d.stdout + d.stderr);
    const after = ctl(lab.plan, ['ipam', 'check']);
    assert.match(after, /Found 0 problems/);
    assert.equal(allocated(after), allocated(before), 'every burst address released');
    for (const n of [node(1), node(2)]) {
      const cali = inNs(n.netns, 'ip', ['-o', 'link', 'show']).stdout.split('\n').filter((l) => / cali[0-9a-f]{11}@/.test(l));
      assert.equal(cali.length, 2, `${n.name} keeps only its two lab pods' interfaces`);
      const workload = agentRoutes(n.netns).filter((r) => r.dev?.startsWith('cali') === true);
      assert.equal(workload.length, 2, `${n.name} keeps only two workload routes`);
    }
  } finally {
    for (const p of extra) trySh('ip', ['netns', 'del', p.netns]);
  }
});

// SIGTERM is a graceful restart (peers keep the node's routes): restarts are in robustness.test.ts.
// A node leaves for good when its Node is deleted, as a Calico user removes one (last: node3 stays gone).
test('a node leaving for good (tortiectl delete node) has its routes withdrawn everywhere; its agent exits', { skip }, async () => {
  const n3 = node(3);
  const [block] = blocksOf(n3);
  assert.ok(block !== undefined);
  const pid = readPid(n3.pidFile);
  assert.ok(pid !== undefined);
  ctl(lab.plan, ['delete', 'node', n3.name]);
  await pollUntil(() => [node(1), node(2)].every((n) => !agentRoutes(n.netns).some((r) => r.dst === block)) && !(block in torBgp()),
    { timeoutMs: 15_000, what: `${block} withdrawn from node1, node2 and the ToR` });
  await pollUntil(() => !alive(pid), { timeoutMs: 10_000, what: 'node3\'s tortie-node to exit' });
  const tor = (JSON.parse(torVtysh(lab, `show ip bgp neighbors ${n3.address} json`)) as Record<string, { lastNotificationReason?: string }>)[n3.address];
  assert.match(tor?.lastNotificationReason ?? '', /Cease\/(Administrative Shutdown|Hard Reset)/, 'the ToR was told the node is going away');
});
