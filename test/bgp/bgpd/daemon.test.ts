/**
 * tortie-bgpd as a process: precise config errors at start-up, SIGHUP reload that touches only
 * the peers whose config changed (others keep their established-transition count), Cease/3 to a
 * removed peer, a bad reload keeps the running config, and SIGTERM sends Cease/2 (B10).
 *
 *   bird AS65001 10.0.6.1 ──────────────────veth── 10.0.6.2 ┐
 *                                                             ├ tortie-bgpd AS65002
 *   frr bgpd AS65003 10.0.7.1 ───────────────veth── 10.0.7.2 ─┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const MAIN = new URL('../../../bgp/bgpd/tortie-bgpd.cjs', import.meta.url).pathname;
const CTL = new URL('../../../bgp/bgpd/tortie-bgpctl.cjs', import.meta.url).pathname;

describe('tortie-bgpd start-up errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-bgpd-cfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 10_000 });

  it('names the file, line, field path and reason, and exits 2', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'routerId: 10.0.0.1\nasn: 65001\npeers:\n  - address: 10.0.0.2\n    asn: 65002\n    holdTime: 2\n    colour: blue\n');
    const r = run('--config', file, '--check');
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${file}:6: peers\\[0\\]\\.holdTime: holdTime must be 0 or 3\\.\\.65535`));
    assert.match(r.stderr, new RegExp(`${file}:7: peers\\[0\\]\\.colour: unknown field "colour"`));
  });

  it('rejects bad quick-form peers with the offending option', () => {
    const r = run('--as', '65002', '--router-id', '10.0.0.2', '--peer', '10.0.0.1,as=65001,weight=3', '--check');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--peer #1 "10\.0\.0\.1,as=65001,weight=3": unknown peer option "weight"/);
    const ok = run('--as', '1.10', '--router-id', '10.0.0.2', '--peer', '10.0.0.1,as=65001,passive,hold=9', '--check');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /AS 65546, 1 peers/);
  });

  it('tortie-bgpctl reports an unreachable daemon clearly', () => {
    const r = spawnSync(process.execPath, [CTL, '-s', join(dir, 'nope.ctl'), 'show', 'protocols'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach tortie-bgpd at .*nope\.ctl/);
  });
});

const skip = topologySkipReason('bird', 'birdc', 'vtysh');
const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';
const BIRD = `router id 10.0.6.1;
protocol device {}
protocol bgp p1 { local 10.0.6.1 as 65001; neighbor 10.0.6.2 as 65002; ipv4 { import all; export none; }; ${TIMERS} }
`;
const FRR = `frr defaults datacenter
hostname frr
router bgp 65003
 bgp router-id 10.0.7.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.7.2 remote-as 65002
 neighbor 10.0.7.2 timers connect 1
 address-family ipv4 unicast
  network 10.93.0.0/24
  neighbor 10.0.7.2 activate
 exit-address-family
`;
const tortie = (opts: { p1Hold: number; frr: boolean; extra: string; frrPolicy?: string }) => `routerId: 10.0.6.2
asn: 65002
listen: { address: 0.0.0.0, port: 179 }
peers:
  - { name: p1, address: 10.0.6.1, asn: 65001, holdTime: ${opts.p1Hold} }
${opts.frr ? `  - { name: frr, address: 10.0.7.1, asn: 65003, connectRetry: 1${opts.frrPolicy ?? ''} }\n` : ''}originate:
  - { prefix: 10.90.0.0/24 }
${opts.extra}`;

interface FrrNeighbor { bgpState?: string; lastNotificationReason?: string; connectionsEstablished?: number }

describe('tortie-bgpd reload and shutdown', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('bgpd');
  let t: TortieBgpd, bird: BirdPeer, frr: FrrPeer, nsT: string;
  const frrNeighbor = () => (frr.json('show bgp neighbors 10.0.7.2 json') as Record<string, FrrNeighbor>)['10.0.7.2'] ?? {};
  const transitions = async (name: string) => (await t.peer(name)).establishedTransitions;

  before(async () => {
    nsT = topo.ns('t');
    const nsB = topo.ns('b'), nsF = topo.ns('f');
    topo.link(nsB, 'veB', '10.0.6.1/24', nsT, 'veTB', '10.0.6.2/24');
    topo.link(nsF, 'veF', '10.0.7.1/24', nsT, 'veTF', '10.0.7.2/24');
    bird = await BirdPeer.start(topo, nsB, BIRD);
    frr = await FrrPeer.start(topo, nsF, FRR);
    t = await TortieBgpd.start(topo, nsT, { yaml: tortie({ p1Hold: 90, frr: true, extra: '' }) });
    await pollUntil(async () => (await t.peer('p1')).state === 'Established' && (await t.peer('frr')).state === 'Established', { what: 'all sessions Established', timeoutMs: 15_000 })
      .catch(async (err: unknown) => {
        throw new Error(`${String(err)}; ours: ${JSON.stringify((await t.request({ cmd: 'show-protocols' }) as Array<{ name: string; state: string; lastError?: string }>).map((p) => [p.name, p.state, p.lastError]))}`);
      });
  });
  after(async () => { await topo.cleanup(); });

  it('SIGHUP resets only the changed peer and applies new originations', async () => {
    const [p1, f, fc] = [await transitions('p1'), await transitions('frr'), frrNeighbor().connectionsEstablished];
    t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: '  - { prefix: 10.91.0.0/24 }\n' }));
    t.signal('SIGHUP');
    await pollUntil(async () => (await transitions('p1')) === p1 + 1 && (await t.peer('p1')).state === 'Established', { what: 'p1 re-established' });
    await pollUntil(() => bird.routes('10.91.0.0/24').length === 1, { what: 'new origination at BIRD' });
    await pollUntil(() => (frr.json('show bgp ipv4 unicast json') as { routes?: Record<string, unknown> }).routes?.['10.91.0.0/24'], { what: 'new origination at FRR' });
    assert.equal(await transitions('frr'), f, 'frr untouched');
    assert.equal(frrNeighbor().connectionsEstablished, fc, 'FRR saw no reset');
    assert.equal(bird.protocol('p1').fields['Hold timer']?.split('/')[1], '30');
  });

  it('a broken config on SIGHUP keeps the running config and sessions', async () => {
    const p1 = await transitions('p1');
    t.writeConfig('routerId: 10.0.6.2\nasn: banana\n');
    t.signal('SIGHUP');
    await pollUntil(() => /reload failed, keeping the running configuration: .*asn/.test(t.proc.output), { what: 'reload error logged' });
    assert.equal(await transitions('p1'), p1);
    assert.equal((await t.peer('p1')).state, 'Established');
    assert.throws(() => t.ctl('reload'), /asn: "banana" is not an AS number/);
  });

  const rrRecv = () => (frr.json('show bgp neighbors 10.0.7.2 json') as Record<string, { messageStats?: { routeRefreshRecv?: number } }>)['10.0.7.2']?.messageStats?.routeRefreshRecv ?? 0;
  const EXTRA = '  - { prefix: 10.91.0.0/24 }\n';

  /** FRR's view of what we sent it: prefix → MED (null: none). */
  const fromUs = (): Record<string, number | null> => {
    const routes = (frr.json('show bgp ipv4 unicast json') as { routes?: Record<string, Array<{ metric?: number; nexthops?: Array<{ ip?: string }> }>> }).routes ?? {};
    const out: Record<string, number | null> = {};
    for (const [prefix, paths] of Object.entries(routes)) {
      const ours = paths.find((x) => x.nexthops?.some((n) => n.ip === '10.0.7.2'));
      if (ours) out[prefix] = ours.metric ?? null;
    }
    return out;
  };

  it('an export-policy-only change applies without a reset: FRR holds exactly the new export, and the old one after going back', async () => {
    const [f, c0] = [await transitions('frr'), frrNeighbor().connectionsEstablished];
    await pollUntil(() => JSON.stringify(fromUs()) === JSON.stringify({ '10.90.0.0/24': null, '10.91.0.0/24': null }), { what: () => `FRR holds our two routes (${JSON.stringify(fromUs())})` });
    try {
      t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: EXTRA,
        frrPolicy: ', export: { rules: [{ match: { prefixes: [{ prefix: 10.91.0.0/24 }] }, action: reject }, { action: accept, set: { med: 33 } }], default: accept }' }));
      assert.match(t.ctl('reload'), /"changed":\["frr"\]/);
      await pollUntil(() => JSON.stringify(fromUs()) === JSON.stringify({ '10.90.0.0/24': 33 }),
        { what: () => `FRR holds 10.90.0.0/24 with MED 33 and no longer 10.91.0.0/24 (holds ${JSON.stringify(fromUs())})` });
      assert.equal((await t.peer('frr')).prefixes.advertised, 1);
    } finally {
      t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: EXTRA }));
      assert.match(t.ctl('reload'), /"changed":\["frr"\]/);
    }
    await pollUntil(() => JSON.stringify(fromUs()) === JSON.stringify({ '10.90.0.0/24': null, '10.91.0.0/24': null }),
      { what: () => `FRR holds both routes again, without MED (holds ${JSON.stringify(fromUs())})` });
    assert.equal((await t.peer('frr')).prefixes.advertised, 2);
    assert.equal(await transitions('frr'), f, 'our session to FRR was not reset');
    assert.equal(frrNeighbor().connectionsEstablished, c0, 'FRR saw no reset');
  });

  // The speaker applies a new import policy by sending ROUTE-REFRESH and filtering what FRR re-sends.
  it('an import-policy-only change re-filters FRR\'s routes without a reset', async () => {
    await pollUntil(async () => (await t.routes('10.93.0.0/24')).length === 1, { what: 'FRR\'s 10.93.0.0/24 at tortie' });
    const [f, rr0] = [await transitions('frr'), rrRecv()];
    try {
      t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: EXTRA, frrPolicy: ', import: { rules: [{ match: { prefixes: [{ prefix: 10.93.0.0/24 }] }, action: reject }], default: accept }' }));
      assert.match(t.ctl('reload'), /"changed":\["frr"\]/);
      await pollUntil(() => rrRecv() > rr0, { what: 'FRR received our ROUTE-REFRESH' });
      await pollUntil(async () => (await t.routes('10.93.0.0/24')).length === 0, { what: '10.93.0.0/24 refused by the new import policy' })
        .catch((e: unknown) => { throw new Error(`${String(e)}; FRR message stats: ${JSON.stringify((frr.json('show bgp neighbors 10.0.7.2 json') as Record<string, { messageStats?: unknown }>)['10.0.7.2']?.messageStats)}`); });
      assert.equal(await transitions('frr'), f, 'our session to FRR was not reset');
    } finally {
      t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: EXTRA }));
      t.ctl('reload');
    }
  });

  it('removing a peer sends it Cease/3 (peer de-configured)', async () => {
    const p1 = await transitions('p1');
    t.writeConfig(tortie({ p1Hold: 30, frr: false, extra: '' }));
    assert.match(t.ctl('reload'), /"removed":\["frr"\]/);
    await pollUntil(() => /Cease\/Peer Unconfigured|Cease\/Peer De-configured/i.test(frrNeighbor().lastNotificationReason ?? ''),
      { what: 'FRR received Cease/3' });
    await pollUntil(() => bird.routes('10.91.0.0/24').length === 0, { what: '10.91.0.0/24 withdrawn' });
    assert.equal(await transitions('p1'), p1);
    assert.throws(() => t.ctl('show', 'protocols', 'frr'), /no such protocol "frr"/);
  });

  it('SIGTERM sends Cease/2 administrative shutdown to every peer and exits 0', async () => {
    t.writeConfig(tortie({ p1Hold: 30, frr: true, extra: '' }));
    t.ctl('reload');
    await pollUntil(() => frrNeighbor().bgpState === 'Established', { what: 'FRR re-added', timeoutMs: 15_000 });
    const exited = new Promise<number | null>((r) => t.proc.child.once('exit', (code) => r(code)));
    // BIRD's "last error" is overwritten by its next attempt ("Connection refused" once we are
    // gone): record every value it shows from now on, and look for ours among them.
    const birdErrors = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        birdErrors.add(bird.protocol('p1').lastError ?? '');
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    t.signal('SIGTERM');
    assert.equal(await exited, 0);
    // FRR and we both set the RFC 8538 N bit: the Cease/2 goes out wrapped in Cease/9 Hard Reset
    // (so FRR flushes our routes instead of keeping them stale)
    await pollUntil(() => /Cease\/(Administrative Shutdown|Hard Reset)/.test(frrNeighbor().lastNotificationReason ?? '') && frrNeighbor().bgpState !== 'Established',
      { what: () => `FRR received Cease/2 (as Hard Reset) (has ${JSON.stringify(frrNeighbor().lastNotificationReason)})` });
    try {
      await pollUntil(() => [...birdErrors].some((e) => /Received: Administrative shutdown/.test(e)),
        { what: () => `BIRD p1 to show our Cease/2 (seen: ${JSON.stringify([...birdErrors])})` });
    } finally {
      watching = false;
      await watch;
    }
  });

  it('quick form (no file): eBGP by AS, accepts all and passes all on, as BIRD and FRR see it', async () => {
    const q = await TortieBgpd.start(topo, nsT, { args: ['--as', '65002', '--router-id', '10.0.6.2',
      '--peer', '10.0.6.1,as=65001', '--peer', '10.0.7.1,as=65003', '--originate', '10.92.0.0/24'] });
    await pollUntil(() => bird.protocol('p1').bgpState === 'Established' && frrNeighbor().bgpState === 'Established',
      { what: 'BIRD and FRR Established with the quick-form daemon', timeoutMs: 20_000 });
    const atBird = await pollUntil(() => bird.routes('10.92.0.0/24')[0], { what: 'BIRD has 10.92.0.0/24' });
    assert.equal(atBird.attrs['BGP.as_path'], '65002');
    // FRR's route reaches BIRD through us: accept all from FRR, pass all on to BIRD.
    const passed = await pollUntil(() => bird.routes('10.93.0.0/24')[0], { what: 'FRR\'s 10.93.0.0/24 at BIRD via tortie' });
    assert.equal(passed.attrs['BGP.as_path'], '65002 65003');
    assert.equal(passed.attrs['BGP.next_hop'], '10.0.6.2');
    await pollUntil(() => (frr.json('show bgp ipv4 unicast json') as { routes?: Record<string, unknown> }).routes?.['10.92.0.0/24'], { what: 'FRR has 10.92.0.0/24' });
    const text = q.ctl('show', 'protocols', 'all');
    assert.match(text, /^peer_10_0_6_1\s+BGP\s+---\s+up\s+/m);
    assert.match(text, /^peer_10_0_7_1\s+BGP\s+---\s+up\s+/m);
    assert.match(text, /Session:\s+external AS4/);
    // No file to re-read: reload says so instead of failing silently.
    assert.throws(() => q.ctl('reload'), /reload needs a config file/);
  });
});
