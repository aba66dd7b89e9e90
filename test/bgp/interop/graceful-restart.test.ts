/**
 * Graceful restart (RFC 4724) against BIRD 2, both roles, read from BIRD's own view and ours:
 * BIRD restarts (`birdc graceful restart`, then bird -R) and tortie-bgpd keeps its routes as
 * stale with no withdrawal to a third peer, then End-of-RIB sweeps the route BIRD no longer has;
 * a NOTIFICATION (Cease) flushes; a crash without return flushes at the restart time; tortie-bgpd
 * is killed and restarted (-R) and BIRD keeps our routes stale, then refreshed. FRR 8 (N bit):
 * it sees us as a restarting speaker; killed and restarted, its routes stay stale here with no
 * withdrawal to the watcher; its `clear bgp` arrives as Cease/Hard Reset and flushes.
 *
 *   bird-r AS65001 10.0.0.1 (GR on, restarts) ──veth── 10.0.0.2 ┐
 *                                                                ├ tortie-bgpd AS65002 (ns t)
 *   bird-w AS65003 10.0.1.3 (watcher)   ───────veth── 10.0.1.2 ┘
 *   frr-g AS65004 10.0.4.1 (GR, F) ──veth── 10.0.4.2 ┬ tortie-bgpd AS65002 (second topology)
 *   bird-w AS65003 10.0.5.3 (watcher) ──veth── 10.0.5.2 ┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc');

const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';

const birdR = (routes: readonly string[], restartTime: number): string => `router id 10.0.0.1;
protocol device {}
protocol static s4 { ipv4; ${routes.map((r) => `route ${r} blackhole;`).join(' ')} }
protocol bgp tortie { local 10.0.0.1 as 65001; neighbor 10.0.0.2 as 65002; ipv4 { import all; export all; };
  graceful restart on; graceful restart time ${restartTime}; ${TIMERS} }
`;

const BIRD_W = `router id 10.0.1.3;
protocol device {}
protocol bgp tortie { local 10.0.1.3 as 65003; neighbor 10.0.1.2 as 65002; ipv4 { import all; export none; }; ${TIMERS} }
`;

const TORTIE = `routerId: 10.0.0.2
asn: 65002
peers:
  - { name: birdr, address: 10.0.0.1, asn: 65001, connectRetry: 1 }
  - { name: birdw, address: 10.0.1.3, asn: 65003, connectRetry: 1 }
originate:
  - { prefix: 10.50.0.0/24 }
gracefulRestart: { restartTime: 30, forwardingPreserved: true }
`;

describe('interop: graceful restart, tortie-bgpd ↔ BIRD 2', { skip, timeout: 180_000 }, () => {
  const topo = new Topology('gr');
  let r: BirdPeer, w: BirdPeer, t: TortieBgpd;
  /** "Import withdraws: received ..." at the watcher: how many withdrawals it has been sent. */
  const withdrawsAtWatcher = (): number => Number(/^(\d+)/.exec(w.protocol('tortie').fields['Import withdraws'] ?? '')?.[1] ?? NaN);
  const fromR = async () => (await t.routes()).filter((x) => x.from === 'birdr');

  before(async () => {
    const nsR = topo.ns('r'), nsW = topo.ns('w'), nsT = topo.ns('t');
    topo.link(nsR, 'veR', '10.0.0.1/24', nsT, 'veTR', '10.0.0.2/24');
    topo.link(nsW, 'veW', '10.0.1.3/24', nsT, 'veTW', '10.0.1.2/24');
    [r, w] = await Promise.all([BirdPeer.start(topo, nsR, birdR(['10.71.0.0/24', '10.71.1.0/24'], 30)), BirdPeer.start(topo, nsW, BIRD_W)]);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    await pollUntil(async () => (await fromR()).length === 2, { what: 'tortie has bird-r routes', timeoutMs: 20_000 });
    await pollUntil(() => w.routes('10.71.0.0/24').length === 1 && w.routes('10.71.1.0/24').length === 1, { what: 'watcher has them', timeoutMs: 10_000 });
  });
  after(async () => { await topo.cleanup(); });

  it('BIRD graceful restart: routes kept stale, no withdrawal at the watcher; End-of-RIB sweeps what BIRD dropped', async () => {
    assert.ok((await t.peer('birdr')).capabilities.includes('graceful restart'));
    const w0 = withdrawsAtWatcher();
    assert.ok(Number.isFinite(w0), `watcher import withdraws readable: ${JSON.stringify(w.protocol('tortie').fields)}`);
    r.cmd('graceful', 'restart');
    await pollUntil(async () => (await t.peer('birdr')).gracefulRestart?.state === 'restart-wait', { what: 'tortie in restart-wait for bird-r' });
    const kept = await fromR();
    assert.equal(kept.length, 2);
    assert.ok(kept.every((x) => x.stale === true && x.best), JSON.stringify(kept));
    assert.match(t.ctl('show', 'route'), /10\.71\.0\.0\/24\s+unicast \[birdr [\d:.]+ stale\] \*/);
    assert.match(t.ctl('show', 'protocols', 'all', 'birdr'), /Graceful restart: waiting for the peer to restart \(ipv4-unicast: 2 stale routes\)/);
    // bird-r comes back without 10.71.1.0/24
    await r.restart({ recovery: true, config: birdR(['10.71.0.0/24'], 30) });
    await pollUntil(async () => (await t.peer('birdr')).state === 'Established' && (await t.peer('birdr')).gracefulRestart === undefined,
      { what: 'bird-r back and its End-of-RIB in', timeoutMs: 30_000 });
    const after1 = await fromR();
    assert.deepEqual(after1.map((x) => [x.prefix, x.stale ?? false]), [['10.71.0.0/24', false]]);
    await pollUntil(() => w.routes('10.71.1.0/24').length === 0, { what: 'watcher lost the swept route' });
    assert.equal(w.routes('10.71.0.0/24').length, 1, 'watcher kept the refreshed route');
    assert.equal(withdrawsAtWatcher() - w0, 1, 'the watcher was sent exactly one withdrawal: the route bird-r dropped');
  });

  it('a NOTIFICATION from BIRD (Cease, administrative reset) flushes; a crash without return flushes at the restart time', async () => {
    r.cmd('restart', 'tortie');
    await pollUntil(async () => (await t.peer('birdr')).establishedTransitions >= 3 || (await fromR()).length === 0, { what: 'routes flushed or session back' });
    assert.match((await t.peer('birdr')).lastError ?? '', /Received: .*(Administrative reset|Hard reset)/);
    await pollUntil(async () => (await t.peer('birdr')).state === 'Established' && (await fromR()).length === 1, { what: 'bird-r back', timeoutMs: 20_000 });

    await r.kill();
    await r.restart({ config: birdR(['10.71.0.0/24'], 3) }); // a short restart time for the next session
    await pollUntil(async () => (await t.peer('birdr')).state === 'Established' && (await fromR()).length === 1, { what: 'bird-r with restart time 3', timeoutMs: 30_000 });
    const w0 = withdrawsAtWatcher();
    await r.kill();
    await pollUntil(async () => (await fromR())[0]?.stale === true, { what: 'stale after the crash', timeoutMs: 10_000 });
    assert.equal(withdrawsAtWatcher(), w0, 'no withdrawal while waiting');
    await pollUntil(async () => (await fromR()).length === 0, { what: 'flushed when the 3 s restart time expired', timeoutMs: 10_000 });
    await pollUntil(() => withdrawsAtWatcher() === w0 + 1, { what: 'watcher told once' });
    await r.restart({ config: birdR(['10.71.0.0/24'], 30) });
  });

  it('tortie-bgpd killed and restarted with -R: BIRD keeps our route (GR active) and then keeps it, never re-learnt', async () => {
    await pollUntil(() => r.protocol('tortie').bgpState === 'Established',
      { what: () => `bird-r Established (bird: ${JSON.stringify(r.protocol('tortie'))})`, timeoutMs: 45_000 });
    const routeLine = (): string | undefined => /^10\.50\.0\.0\/24\s.*$/m.exec(r.cmd('show', 'route', '10.50.0.0/24'))?.[0];
    // BIRD shows a route's time of last change as its monotonic time plus the current offset to
    // the wall clock, which moves by a millisecond between two `show route`: equal within 2 ms.
    const sameRoute = (a: string | undefined, b: string | undefined, msg: string): void => {
      const split = (l: string | undefined): [string, number] => {
        const m = /^(.*\[tortie )(\d\d):(\d\d):(\d\d)\.(\d{3})(\].*)$/.exec(l ?? '');
        assert.ok(m, `a BIRD route line with a time: ${JSON.stringify(l)}`);
        return [`${m[1]}${m[6]}`, ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1000 + Number(m[5])];
      };
      const [ta, ma] = split(a), [tb, mb] = split(b);
      assert.equal(ta, tb, msg);
      const d = Math.abs(ma - mb);
      assert.ok(Math.min(d, 86_400_000 - d) <= 2, `${msg}: ${JSON.stringify(a)} then ${JSON.stringify(b)}`);
    };
    const line0 = await pollUntil(() => routeLine(), { what: 'our route at bird-r' });
    const withdraws = (): number => Number(/^(\d+)/.exec(r.protocol('tortie').fields['Import withdraws'] ?? '')?.[1] ?? NaN);
    const w0 = withdraws();
    // BIRD (2.0) lists our graceful-restart capability with the restart time we configured
    assert.match(r.cmd('show', 'protocols', 'all', 'tortie'), /Neighbor capabilities[\s\S]*Graceful restart\n\s+Restart time: 30\n\s+AF supported: ipv4\n\s+AF preserved: ipv4/);
    await t.kill();
    await pollUntil(() => r.protocol('tortie').bgpState !== 'Established', { what: 'bird-r sees our session drop' });
    assert.match(r.cmd('show', 'protocols', 'all', 'tortie'), /Neighbor graceful restart active/);
    sameRoute(line0, routeLine(), 'BIRD keeps our route while we are down (its show route has no stale flag; the helper state above)');
    await t.restart(['-R']);
    await pollUntil(() => r.protocol('tortie').bgpState === 'Established', { what: 'bird-r sees us back', timeoutMs: 20_000 });
    assert.match(r.cmd('show', 'protocols', 'all', 'tortie'), /Neighbor capabilities[\s\S]*Graceful restart\n\s+Restart time: 30\n\s+Restart recovery/, 'R bit seen');
    await pollUntil(() => !/Neighbor graceful restart active/.test(r.cmd('show', 'protocols', 'all', 'tortie')), { what: 'BIRD done with our restart (our End-of-RIB)' });
    sameRoute(line0, routeLine(), 'same route, same timestamp: refreshed in place, never withdrawn and re-learnt');
    assert.equal(withdraws(), w0, 'BIRD received no withdrawal from us');
  });
});

const FRR = `frr defaults datacenter
hostname frrg
router bgp 65004
 bgp router-id 10.0.4.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 bgp graceful-restart preserve-fw-state
 bgp graceful-restart restart-time 30
 neighbor 10.0.4.2 remote-as 65002
 neighbor 10.0.4.2 timers connect 1
 address-family ipv4 unicast
  network 10.74.0.0/24
  network 10.74.1.0/24
  neighbor 10.0.4.2 activate
 exit-address-family
`;

const TORTIE_F = `routerId: 10.0.4.2
asn: 65002
peers:
  - { name: frr, address: 10.0.4.1, asn: 65004, connectRetry: 1 }
  - { name: birdw, address: 10.0.5.3, asn: 65003, connectRetry: 1 }
originate:
  - { prefix: 10.50.0.0/24 }
`;

const BIRD_W5 = BIRD_W.replace(/10\.0\.1\.3/g, '10.0.5.3').replace('10.0.1.2', '10.0.5.2');

describe('interop: graceful restart, tortie-bgpd ↔ FRR 8 (N bit)', { skip: skip ?? topologySkipReason('vtysh', '/usr/lib/frr/bgpd'), timeout: 180_000 }, () => {
  const topo = new Topology('grf');
  let f: FrrPeer, w: BirdPeer, t: TortieBgpd;
  let nsF = '';
  const withdrawsAtWatcher = (): number => Number(/^(\d+)/.exec(w.protocol('tortie').fields['Import withdraws'] ?? '')?.[1] ?? NaN);
  const fromF = async () => (await t.routes()).filter((x) => x.from === 'frr');
  const frrNeighbor = (): Record<string, unknown> => ((f.json('show bgp neighbors 10.0.4.2 json') as Record<string, Record<string, unknown>>)['10.0.4.2'] ?? {});

  before(async () => {
    nsF = topo.ns('f');
    const nsW = topo.ns('w'), nsT = topo.ns('t');
    topo.link(nsF, 'veF', '10.0.4.1/24', nsT, 'veTF', '10.0.4.2/24');
    topo.link(nsW, 'veW', '10.0.5.3/24', nsT, 'veTW', '10.0.5.2/24');
    [f, w] = await Promise.all([FrrPeer.start(topo, nsF, FRR), BirdPeer.start(topo, nsW, BIRD_W5)]);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE_F });
    await pollUntil(async () => (await fromF()).length === 2, { what: 'tortie has FRR routes', timeoutMs: 20_000 });
    await pollUntil(() => w.routes('10.74.0.0/24').length === 1 && w.routes('10.74.1.0/24').length === 1, { what: 'watcher has them', timeoutMs: 10_000 });
  });
  after(async () => { await topo.cleanup(); });

  it('FRR sees our GR capability (restart time 120, N bit); FRR killed and restarted: routes kept stale, no withdrawal', async () => {
    // FRR's view of us: a restarting speaker (before: 'Helper', restart time 0), N bit, F clear
    // (tortie-bgpd keeps no kernel routes), restart time 120 (the default)
    const gr = frrNeighbor()['gracefulRestartInfo'] as { remoteGrMode?: string; nBit?: boolean; timers?: { receivedRestartTimer?: number }; ipv4Unicast?: { fBit?: boolean } } | undefined;
    assert.equal(gr?.remoteGrMode, 'Restart', JSON.stringify(gr));
    assert.equal(gr?.nBit, true);
    assert.equal(gr?.timers?.receivedRestartTimer, 120);
    assert.equal(gr?.ipv4Unicast?.fBit, false);
    const w0 = withdrawsAtWatcher();
    const pid = Number(readFileSync(`${f.dir}/bgpd.pid`, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await pollUntil(async () => (await t.peer('frr')).gracefulRestart?.state === 'restart-wait', { what: 'tortie in restart-wait for FRR' });
    assert.ok((await fromF()).every((x) => x.stale === true));
    f = await FrrPeer.start(topo, nsF, FRR);
    await pollUntil(async () => (await t.peer('frr')).state === 'Established' && (await t.peer('frr')).gracefulRestart === undefined,
      { what: 'FRR back and its End-of-RIB in', timeoutMs: 40_000 });
    assert.deepEqual((await fromF()).map((x) => [x.prefix, x.stale ?? false]), [['10.74.0.0/24', false], ['10.74.1.0/24', false]]);
    assert.equal(withdrawsAtWatcher(), w0, 'the watcher was sent no withdrawal');
  });

  it('RFC 8538: clear bgp from FRR comes as Cease/Hard Reset and flushes', async () => {
    f.vtysh('clear bgp 10.0.4.2');
    await pollUntil(async () => /Received: /.test((await t.peer('frr')).lastError ?? ''), { what: 'a NOTIFICATION from FRR' });
    const err = (await t.peer('frr')).lastError ?? '';
    assert.match(err, /Received: Hard reset: Administrative reset/);
    await pollUntil(async () => (await t.peer('frr')).state === 'Established' && (await fromF()).length === 2, { what: 'FRR back', timeoutMs: 30_000 });
  });
});
