/**
 * RouteTable against the real kernel in a namespace (driven through ns-agent).
 *
 *   ns n: eth0 192.168.60.1/24 fd00:60::1/64 ──veth── ns p: eth0 192.168.60.2/24 fd00:60::2/64
 *         cali1 ──veth── cali1p (in n, a stand-in for a pod's host-side veth)
 */
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { sh } from '../../helpers/sh.js';
import { pollUntil, matchesSubset } from '../../helpers/poll.js';
import { NsAgent } from './ns-agent-client.js';
import { blackholeRoute, ecmpRoute, sameSubnetRoute, workloadRoute, type DesiredRoute } from '../../../felix/routes/route.js';
import type { KernelRoute } from '../../../felix/netlink/types.js';

const skip = topologySkipReason('ip');

function ipRoutes(ns: string, family: 4 | 6, extra: string[] = []): Array<Record<string, unknown>> {
  return JSON.parse(sh('ip', ['-n', ns, '-j', `-${family}`, 'route', 'show', ...extra])) as Array<Record<string, unknown>>;
}

const DESIRED: DesiredRoute[] = [
  workloadRoute('10.65.0.5', 'cali1'),
  workloadRoute('fd00:65::5', 'cali1'),
  blackholeRoute('10.65.0.0/26'),
  blackholeRoute('fd00:65::/122'),
  sameSubnetRoute('10.65.1.0/26', '192.168.60.2', 'eth0'),
  ecmpRoute('10.65.2.0/26', [{ iface: 'eth0', gateway: '192.168.60.2', onlink: true }, { iface: 'eth0', gateway: '192.168.60.3', onlink: true }]),
  ecmpRoute('fd00:65:2::/122', [{ iface: 'eth0', gateway: 'fd00:60::2' }, { iface: 'eth0', gateway: 'fd00:60::3' }]),
  { dst: '10.65.3.0/26', type: 'unicast', iface: 'eth0', gateway: '192.168.60.2', onlink: true, metric: 0, mtu: 1480 },
];

test('route kinds appear in the kernel; drift is repaired within 1 s; other protocols untouched', { skip, timeout: 60_000 }, async () => {
  const topo = new Topology('rtk');
  let agent: NsAgent | undefined;
  try {
    const n = topo.ns('n');
    const p = topo.ns('p');
    topo.link(n, 'eth0', ['192.168.60.1/24', 'fd00:60::1/64'], p, 'eth0', ['192.168.60.2/24', 'fd00:60::2/64']);
    topo.exec(n, 'ip', ['link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'cali1p']);
    topo.exec(n, 'ip', ['link', 'set', 'cali1', 'up']);
    topo.exec(n, 'ip', ['link', 'set', 'cali1p', 'up']);
    // Routes of other daemons that must never be touched, one of them on a prefix we also use.
    topo.exec(n, 'ip', ['route', 'add', '10.77.0.0/24', 'via', '192.168.60.2', 'proto', 'static']);
    topo.exec(n, 'ip', ['route', 'add', '10.78.0.0/24', 'via', '192.168.60.2', 'proto', 'bird']);
    topo.exec(n, 'ip', ['route', 'add', '10.65.1.0/26', 'via', '192.168.60.2', 'proto', 'bird', 'metric', '50']);
    const foreignBefore = JSON.stringify(ipRoutes(n, 4).filter((r) => r['protocol'] === 'static' || r['protocol'] === 'bird'));

    agent = new NsAgent(n);
    await agent.call('routes.set', { routes: DESIRED });
    const res = await agent.call<{ failed: number; updated: number }>('routes.apply');
    assert.equal(res.failed, 0, agent.stderr);
    assert.equal(res.updated, DESIRED.length);

    // Read back through `ip -j route`.
    const v4 = ipRoutes(n, 4, ['proto', '80']);
    const v6 = ipRoutes(n, 6, ['proto', '80']);
    const expect4 = [
      { dst: '10.65.0.5', dev: 'cali1', scope: 'link' },
      { type: 'blackhole', dst: '10.65.0.0/26' },
      { dst: '10.65.1.0/26', gateway: '192.168.60.2', dev: 'eth0', flags: ['onlink'] },
      { dst: '10.65.2.0/26', nexthops: [{ gateway: '192.168.60.2', dev: 'eth0', flags: ['onlink'] }, { gateway: '192.168.60.3', dev: 'eth0', flags: ['onlink'] }] },
      { dst: '10.65.3.0/26', gateway: '192.168.60.2', dev: 'eth0', metrics: [{ mtu: 1480 }] },
    ];
    for (const e of expect4) assert.ok(v4.some((r) => matchesSubset(r, e)), `missing ${JSON.stringify(e)} in ${JSON.stringify(v4)}`);
    const expect6 = [
      { dst: 'fd00:65::5', dev: 'cali1' }, { type: 'blackhole', dst: 'fd00:65::/122' },
      { dst: 'fd00:65:2::/122', nexthops: [{ gateway: 'fd00:60::2', dev: 'eth0' }, { gateway: 'fd00:60::3', dev: 'eth0' }] },
    ];
    for (const e of expect6) assert.ok(v6.some((r) => matchesSubset(r, e)), `missing ${JSON.stringify(e)} in ${JSON.stringify(v6)}`);
    assert.equal(v4.length + v6.length, DESIRED.length, 'nothing else in our protocol');

    // And through our own netlink dump.
    const nl4 = await agent.call<KernelRoute[]>('nl.routes', { family: 4 });
    assert.equal(nl4.filter((r) => r.protocol === 80).length, 5);
    assert.ok(nl4.some((r) => r.dst === '10.65.2.0/26' && r.nexthops?.length === 2 && r.nexthops.every((h) => h.onlink)));

    // A no-op resync writes nothing.
    const again = await agent.call<{ updated: number; deleted: number; resynced: boolean }>('routes.resync');
    assert.deepEqual([again.resynced, again.updated, again.deleted], [true, 0, 0]);

    // Drift repair, each within a 1 s deadline.
    await agent.call('routes.start');
    await pollUntil(async () => (await agent?.call<{ subscriptions: number; pending: number }>('routes.stats'))?.subscriptions === 1,
      { timeoutMs: 5000, what: 'notification subscription' });
    topo.exec(n, 'ip', ['route', 'del', '10.65.0.0/26']);
    await pollUntil(() => ipRoutes(n, 4, ['proto', '80']).some((r) => r['dst'] === '10.65.0.0/26'), { timeoutMs: 1000, intervalMs: 20, what: 'deleted blackhole restored' });
    topo.exec(n, 'ip', ['-6', 'route', 'del', 'fd00:65::5']);
    await pollUntil(() => ipRoutes(n, 6, ['proto', '80']).some((r) => r['dst'] === 'fd00:65::5'), { timeoutMs: 1000, intervalMs: 20, what: 'deleted v6 workload route restored' });
    topo.exec(n, 'ip', ['route', 'replace', '10.65.1.0/26', 'via', '192.168.60.3', 'dev', 'eth0', 'proto', '80']);
    await pollUntil(() => ipRoutes(n, 4, ['proto', '80']).some((r) => r['dst'] === '10.65.1.0/26' && r['gateway'] === '192.168.60.2'),
      { timeoutMs: 1000, intervalMs: 20, what: 'changed route restored' });
    topo.exec(n, 'ip', ['route', 'add', 'blackhole', '10.99.0.0/24', 'proto', '80']);
    await pollUntil(() => !ipRoutes(n, 4, ['proto', '80']).some((r) => r['dst'] === '10.99.0.0/24'), { timeoutMs: 1000, intervalMs: 20, what: 'foreign proto-80 route removed' });

    // Workload veth flaps: the kernel drops its routes silently; they come back (D7).
    topo.exec(n, 'ip', ['link', 'set', 'cali1', 'down']);
    topo.exec(n, 'ip', ['link', 'set', 'cali1', 'up']);
    await pollUntil(() => ipRoutes(n, 4, ['proto', '80']).some((r) => r['dst'] === '10.65.0.5' && r['dev'] === 'cali1'),
      { timeoutMs: 1000, intervalMs: 20, what: 'workload route back after a link flap' });

    const foreignAfter = JSON.stringify(ipRoutes(n, 4).filter((r) => r['protocol'] === 'static' || r['protocol'] === 'bird'));
    assert.equal(foreignAfter, foreignBefore, 'routes of other protocols untouched');
    const stats = await agent.call<{ repairs: number }>('routes.stats');
    assert.ok(stats.repairs >= 4, JSON.stringify(stats));
  } finally {
    await agent?.stop();
    await topo.cleanup();
  }
});

test('netlink overflow (shrunk receive buffer, 5000-route burst): resync removes every stray route, no crash', { skip, timeout: 60_000 }, async () => {
  const topo = new Topology('rto');
  let agent: NsAgent | undefined;
  try {
    const n = topo.ns('n');
    topo.exec(n, 'ip', ['link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'cali1p']);
    topo.exec(n, 'ip', ['link', 'set', 'cali1', 'up']);
    agent = new NsAgent(n, { TORTIE_TEST_NOTIFY_RCVBUF: '4096' });
    await agent.call('routes.set', { routes: [blackholeRoute('10.66.0.0/26'), workloadRoute('10.66.0.5', 'cali1')] });
    await agent.call('routes.start');
    await pollUntil(async () => (await agent?.call<{ subscriptions: number }>('routes.stats'))?.subscriptions === 1, { timeoutMs: 5000, what: 'subscription' });
    // A burst of stray routes in our protocol, far more than a 4 KiB buffer holds. The reader
    // process (found among this namespace's PIDs) is paused meanwhile so the overflow is certain.
    const reader = sh('ip', ['netns', 'pids', n]).split(/\s+/).filter(Boolean).map(Number)
      .find((pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('notify-child.js'); } catch { return false; } });
    assert.ok(reader !== undefined, 'notification reader process found');
    process.kill(reader, 'SIGSTOP');
    try {
      const lines = Array.from({ length: 5000 }, (_, i) => `route add blackhole 10.67.${i >> 8}.${i & 255}/32 proto 80`);
      topo.exec(n, 'ip', ['-batch', '-'], `${lines.join('\n')}\n`);
    } finally {
      process.kill(reader, 'SIGCONT');
    }
    await pollUntil(() => ipRoutes(n, 4, ['proto', '80']).length === 2, { timeoutMs: 20_000, intervalMs: 100, what: 'stray routes removed' });
    const stats = await pollUntil(async () => {
      const s = await agent?.call<{ overflows: number; subscriptions: number }>('routes.stats');
      return s !== undefined && s.overflows >= 1 && s.subscriptions >= 2 ? s : undefined;
    }, { timeoutMs: 5000, what: 'overflow seen and re-subscribed' });
    assert.ok(stats.overflows >= 1);
    assert.deepEqual(ipRoutes(n, 4, ['proto', '80']).map((r) => r['dst']).sort(), ['10.66.0.0/26', '10.66.0.5']);
  } finally {
    await agent?.stop();
    await topo.cleanup();
  }
});

test('no-op resyncs write nothing (multipath included); drift made without notifications is found by the next resync', { skip, timeout: 60_000 }, async () => {
  // A resync recognises unchanged routes by the fingerprint of their kernel message at the same
  // place in the dump; a changed, missing or extra route anywhere in the dump must still be seen.
  const topo = new Topology('rtf');
  let agent: NsAgent | undefined;
  try {
    const n = topo.ns('n');
    const p = topo.ns('p');
    topo.link(n, 'eth0', ['192.168.60.1/24', 'fd00:60::1/64'], p, 'eth0', ['192.168.60.2/24', 'fd00:60::2/64']);
    const desired: DesiredRoute[] = [
      ...Array.from({ length: 300 }, (_, i) => blackholeRoute(`10.70.${i >> 8}.${i & 255}/32`)),
      ecmpRoute('10.65.2.0/26', [{ iface: 'eth0', gateway: '192.168.60.2', onlink: true }, { iface: 'eth0', gateway: '192.168.60.3', onlink: true }]),
      ecmpRoute('fd00:65:2::/122', [{ iface: 'eth0', gateway: 'fd00:60::2' }, { iface: 'eth0', gateway: 'fd00:60::3' }]),
      sameSubnetRoute('10.65.1.0/26', '192.168.60.2', 'eth0'),
    ];
    agent = new NsAgent(n);
    await agent.call('routes.set', { routes: desired });
    const res = await agent.call<{ failed: number; updated: number }>('routes.apply');
    assert.deepEqual([res.failed, res.updated], [0, desired.length], agent.stderr);
    type Res = { updated: number; deleted: number; failed: number };
    const resync = async (): Promise<Res> => {
      const x = await agent!.call<Res>('routes.resync');
      return { updated: x.updated, deleted: x.deleted, failed: x.failed };
    };
    for (let k = 0; k < 3; k++) assert.deepEqual(await resync(), { updated: 0, deleted: 0, failed: 0 }, `no-op resync ${k}`);

    // Behind its back (no subscription, so no notifications): one route changed, one deleted,
    // a stray one of ours added, the IPv4 multipath route narrowed to one next hop, the IPv6 one reordered.
    topo.exec(n, 'ip', ['route', 'replace', '10.70.0.150/32', 'via', '192.168.60.2', 'dev', 'eth0', 'proto', '80']);
    topo.exec(n, 'ip', ['route', 'del', '10.70.0.10/32']);
    topo.exec(n, 'ip', ['route', 'add', 'blackhole', '10.70.0.76/31', 'proto', '80']);
    topo.exec(n, 'ip', ['route', 'replace', '10.65.2.0/26', 'via', '192.168.60.2', 'dev', 'eth0', 'onlink', 'proto', '80']);
    assert.deepEqual(await resync(), { updated: 3, deleted: 1, failed: 0 });
    const v4 = ipRoutes(n, 4, ['proto', '80']);
    assert.ok(v4.some((x) => x['dst'] === '10.70.0.150' && x['type'] === 'blackhole'), 'changed route rewritten');
    assert.ok(v4.some((x) => x['dst'] === '10.70.0.10'), 'deleted route restored');
    assert.ok(!v4.some((x) => x['dst'] === '10.70.0.76/31'), 'stray route removed');
    assert.ok(v4.some((x) => x['dst'] === '10.65.2.0/26' && Array.isArray(x['nexthops']) && (x['nexthops'] as unknown[]).length === 2), 'multipath restored');
    assert.equal(v4.length + ipRoutes(n, 6, ['proto', '80']).length, desired.length);
    for (let k = 0; k < 2; k++) assert.deepEqual(await resync(), { updated: 0, deleted: 0, failed: 0 }, `no-op resync after repair ${k}`);
  } finally {
    await agent?.stop();
    await topo.cleanup();
  }
});
