/**
 * tortie-bgpd against BIRD 2: eBGP over IPv4 and over IPv6, iBGP, wrong AS both ways; announce,
 * change attributes, withdraw, restart and reset from either side, route refresh both ways.
 * Every assertion reads the peer's own view (birdc) and ours (control socket).
 *
 *   bird-a AS65001 10.0.0.1 fd00::1 ──veth── 10.0.0.2 fd00::2 ┐
 *   bird-c AS65002 10.0.1.3 ─────────veth── 10.0.1.2 ─────────┤ tortie-bgpd AS65002 (ns t)
 *   bird-d AS65001 10.0.2.4 .5 ──────veth── 10.0.2.2 ─────────┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc');

const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';

function birdA(med: number): string {
  return `router id 10.0.0.1;
protocol device {}
protocol static s4 { ipv4; route 10.9.0.0/24 blackhole; route 10.9.1.0/24 blackhole; }
protocol static both { ipv4; route 10.34.0.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:9::/48 blackhole; }
filter out4 { if net = 10.9.0.0/24 then { bgp_med = ${med}; bgp_community.add((65001, ${med})); } accept; }
protocol bgp tortie4 { local 10.0.0.1 as 65001; neighbor 10.0.0.2 as 65002; ipv4 { import all; export filter out4; }; ${TIMERS} }
protocol bgp tortie6 { local fd00::1 as 65001; neighbor fd00::2 as 65002; ipv6 { import all; export all; }; ${TIMERS} }
`;
}

function birdC(localPref: number): string {
  return `router id 10.0.1.3;
protocol device {}
protocol static st { ipv4; route 10.0.0.0/24 via 10.0.1.2; route 10.33.0.0/24 blackhole; route 10.34.0.0/24 blackhole; route 10.35.0.0/24 blackhole; }
filter outc { if proto != "st" || net = 10.0.0.0/24 then reject; if net = 10.33.0.0/24 then bgp_local_pref = ${localPref}; accept; }
protocol bgp tortie { local 10.0.1.3 as 65002; neighbor 10.0.1.2 as 65002; ipv4 { import all; export filter outc; gateway recursive; }; ${TIMERS} }
`;
}

const BIRD_D = `router id 10.0.2.4;
protocol device {}
protocol bgp wrongtheirs { local 10.0.2.4 as 65001; neighbor 10.0.2.2 as 65002; ipv4 { import all; export none; }; ${TIMERS} }
protocol bgp wrongours { local 10.0.2.5 as 65001; neighbor 10.0.2.2 as 65099; ipv4 { import all; export none; }; ${TIMERS} }
`;

const TORTIE = `routerId: 10.0.0.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: birda4, address: 10.0.0.1, asn: 65001, holdTime: 30 }
  - { name: birda6, address: "fd00::1", asn: 65001, families: [ipv6-unicast] }
  - { name: birdc, address: 10.0.1.3, asn: 65002, import: { rules: [{ match: { prefixes: [{ prefix: 10.35.0.0/24 }] }, action: reject }], default: accept } }
  # bird-d's wrongtheirs is AS 65001: we expect 65004, so WE refuse its OPEN.
  - { name: wrongtheirs, address: 10.0.2.4, asn: 65004 }
  # bird-d's wrongours expects us to be AS 65099: IT refuses our OPEN.
  - { name: wrongours, address: 10.0.2.5, asn: 65001 }
originate:
  - { prefix: 10.50.0.0/24, communities: ["65002:50"] }
  - { prefix: "2001:db8:50::/48" }
`;

describe('interop: tortie-bgpd ↔ BIRD 2', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('bird');
  let a: BirdPeer, c: BirdPeer, d: BirdPeer, t: TortieBgpd;

  before(async () => {
    const nsA = topo.ns('a'), nsC = topo.ns('c'), nsD = topo.ns('d'), nsT = topo.ns('t');
    topo.link(nsA, 'veA', ['10.0.0.1/24', 'fd00::1/64'], nsT, 'veTA', ['10.0.0.2/24', 'fd00::2/64']);
    topo.link(nsC, 'veC', '10.0.1.3/24', nsT, 'veTC', '10.0.1.2/24');
    topo.link(nsD, 'veD', ['10.0.2.4/24', '10.0.2.5/24'], nsT, 'veTD', '10.0.2.2/24');
    [a, c, d] = await Promise.all([BirdPeer.start(topo, nsA, birdA(50)), BirdPeer.start(topo, nsC, birdC(100)), BirdPeer.start(topo, nsD, BIRD_D)]);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
  });
  after(async () => { await topo.cleanup(); });

  it('establishes eBGP over IPv4 and IPv6 and iBGP, as seen by BIRD and by us', async () => {
    for (const [bird, proto] of [[a, 'tortie4'], [a, 'tortie6'], [c, 'tortie']] as const) {
      await pollUntil(() => bird.protocol(proto).bgpState === 'Established', { what: `BIRD ${proto} Established`, timeoutMs: 10_000 });
    }
    for (const name of ['birda4', 'birda6', 'birdc']) {
      await pollUntil(async () => (await t.peer(name)).state === 'Established', { what: `${name} Established`, timeoutMs: 10_000 });
    }
    const p = await t.peer('birda4');
    assert.ok(p.capabilities.includes('4-octet AS numbers'));
    assert.ok(p.capabilities.includes('enhanced route refresh'));
    const text = t.ctl('show', 'protocols');
    assert.match(text, /^Name\s+Proto\s+Table\s+State\s+Since\s+Info/);
    assert.match(text, /^birda4\s+BGP\s+---\s+up\s+\S+\s+Established$/m);
    assert.match(t.ctl('show', 'protocols', 'all', 'birda4'), /Neighbor AS:\s+65001/);
  });

  it('announces our routes: eBGP prepends our AS and sets next hop self; iBGP keeps the path and sends LOCAL_PREF', async () => {
    const r4 = await pollUntil(() => a.routes('10.50.0.0/24').find((r) => r.proto === 'tortie4'), { what: '10.50.0.0/24 at bird-a' });
    assert.equal(r4.attrs['BGP.as_path'], '65002');
    assert.equal(r4.attrs['BGP.next_hop'], '10.0.0.2');
    assert.equal(r4.attrs['BGP.community'], '(65002,50)');
    const r6 = await pollUntil(() => a.routes('2001:db8:50::/48').find((r) => r.proto === 'tortie6'), { what: 'v6 route at bird-a' });
    assert.equal(r6.attrs['BGP.as_path'], '65002');
    assert.match(r6.attrs['BGP.next_hop'] ?? '', /^fd00::2\b/);
    const ri = await pollUntil(() => c.routes('10.50.0.0/24').find((r) => r.proto === 'tortie'), { what: '10.50.0.0/24 at bird-c' });
    assert.equal(ri.attrs['BGP.as_path'], '');
    assert.equal(ri.attrs['BGP.local_pref'], '100');
  });

  it('learns BIRD routes over v4, v6 and iBGP, and passes eBGP routes on to the iBGP peer unchanged', async () => {
    await pollUntil(async () => (await t.routes()).some((r) => r.prefix === '10.9.0.0/24' && r.best && r.med === 50), { what: '10.9.0.0/24 MED 50 at tortie' });
    await pollUntil(async () => (await t.routes()).some((r) => r.prefix === '2001:db8:9::/48' && r.nextHop.startsWith('fd00::1')), { what: 'v6 route at tortie' });
    await pollUntil(async () => (await t.routes()).some((r) => r.prefix === '10.33.0.0/24' && r.from === 'birdc' && r.localPref === 100), { what: 'iBGP route at tortie' });
    const atC = await pollUntil(() => c.routes('10.9.0.0/24').find((r) => r.proto === 'tortie'), { what: '10.9.0.0/24 at bird-c' });
    assert.equal(atC.attrs['BGP.as_path'], '65001');
    assert.equal(atC.attrs['BGP.next_hop'], '10.0.0.1');
    // The iBGP-learned route goes to the eBGP peer with our AS prepended.
    const atA = await pollUntil(() => a.routes('10.33.0.0/24').find((r) => r.proto === 'tortie4'), { what: '10.33.0.0/24 at bird-a' });
    assert.equal(atA.attrs['BGP.as_path'], '65002');
  });

  it('tortie-bgpctl: show route [all], show route count, show status, -o json', () => {
    const all = t.ctl('show', 'route', 'all', '10.9.0.0/24');
    assert.match(all, /^Table master4:\n10\.9\.0\.0\/24\s+unicast \[birda4 [\d:.]+\] \* \(100\) \[AS65001i\]\n\tvia 10\.0\.0\.1/);
    assert.match(all, /\tBGP\.as_path: 65001\n/);
    assert.match(all, /\tBest: yes \(only route\)/);
    assert.match(t.ctl('show', 'route', 'count'), /^\d+ of \d+ routes for \d+ networks \(\d+ IPv4, \d+ IPv6\)$/m);
    // bird-c's 10.35.0.0/24 meets our import policy's reject: `show route filtered` shows it and why.
    const filtered = t.ctl('show', 'route', 'all', 'filtered');
    assert.match(filtered, /^Table master4:\n10\.35\.0\.0\/24\s+unicast \[birdc [\d:.]+\] \(100\) \[i\]\n\tvia 10\.0\.1\.3\n[^]*\tFiltered: import policy: rule 0\n?$/);
    assert.equal(t.ctl('show', 'route', '10.35.0.0/24').trim(), '', 'not among the accepted routes');
    const json = JSON.parse(t.ctl('-o', 'json', 'show', 'protocols')) as Array<{ name: string; state: string }>;
    assert.deepEqual(json.map((p) => p.name).sort(), ['birda4', 'birda6', 'birdc', 'wrongours', 'wrongtheirs']);
    const status = t.ctl('show', 'status');
    assert.match(status, /Router ID is 10\.0\.0\.2\nLocal AS 65002/);
    // Within 30 s of start every peer must be up (calico-node rule); the wrong-AS peers never are.
    assert.match(status, /BGP not ready: within 30 s of start, not all peers Established: .*wrongtheirs|BGP ready: \d+ of 5 peers Established/);
  });

  it('show route all: both paths of a prefix, the best marked, each with its best-path reason', async () => {
    // 10.34.0.0/24 from bird-c (iBGP, empty AS path) and from bird-a (eBGP, AS path 65001).
    await pollUntil(async () => (await t.routes('10.34.0.0/24')).length === 2, { what: 'two paths for 10.34.0.0/24' });
    const text = t.ctl('show', 'route', 'all', '10.34.0.0/24');
    assert.match(text, /^Table master4:\n10\.34\.0\.0\/24\s+unicast \[birdc [\d:.]+\] \* \(100\) \[i\]\n\tvia 10\.0\.1\.3\n/);
    assert.match(text, /\tBGP\.as_path: \n[^]*\tBest: yes \(shorter AS path\)\n\s+unicast \[birda4 [\d:.]+\] \(100\) \[AS65001i\]\n\tvia 10\.0\.0\.1\n[^]*\tBGP\.as_path: 65001\n[^]*\tBest: no \(shorter AS path\)/);
    const json = JSON.parse(t.ctl('-o', 'json', 'show', 'route', '10.34.0.0/24')) as Array<{ from: string; best: boolean; reason: string }>;
    assert.deepEqual(json.map((r) => [r.from, r.best, r.reason]), [['birdc', true, 'shorter AS path'], ['birda4', false, 'shorter AS path']]);
    // BIRD's own view agrees: the path via us (AS 65002) is what bird-a learns for it from tortie.
    const atA = await pollUntil(() => a.routes('10.34.0.0/24').find((r) => r.proto === 'tortie4'), { what: 'bird-a has our best for 10.34.0.0/24' });
    assert.equal(atA.attrs['BGP.as_path'], '65002');
  });

  it('show protocols all: state, uptime, last error and prefix counts that match BIRD\'s own', async () => {
    // Our received = what BIRD exported to us; our advertised = what BIRD imported from us.
    let seen = '';
    await pollUntil(async () => {
      const [ours, theirs] = [await t.peer('birda4'), a.protocol('tortie4').routes['ipv4']];
      seen = JSON.stringify({ ours: ours.prefixes, theirs });
      return theirs !== undefined && ours.prefixes.received === theirs.exported && ours.prefixes.received > 0
        && ours.prefixes.advertised === theirs.imported;
    }, { what: 'prefix counts agree with BIRD' }).catch((e: unknown) => { throw new Error(`${String(e)}: ${seen}`); });
    const p = await t.peer('birda4');
    const text = t.ctl('show', 'protocols', 'all', 'birda4');
    assert.match(text, /^birda4\s+BGP\s+---\s+up\s+\S+\s+Established$/m);
    assert.match(text, /^\s+BGP state:\s+Established$/m);
    assert.match(text, /^\s+Neighbor address: 10\.0\.0\.1$/m);
    assert.match(text, /^\s+Session:\s+external AS4$/m);
    assert.match(text, /^\s+Uptime:\s+\d+ s$/m);
    assert.match(text, new RegExp(`^\\s+Prefixes:\\s+${p.prefixes.received} received, ${p.prefixes.accepted} accepted, ${p.prefixes.advertised} advertised$`, 'm'));
    assert.match(text, /^\s+Hold timer:\s+\d+\.\d{3}\/30$/m, 'counting down, birdc style');
    assert.match(text, /^\s+Keepalive timer:\s+\d+\.\d{3}\/10$/m);
    assert.match(text, /^\s+InQ \/ OutQ:\s+\d+ \/ \d+ bytes$/m);
    assert.match(text, /^\s+KEEPALIVE\s+\d+\s+\d+$/m);
    assert.match(text, /Neighbor capabilities\n(\s{6}.*\n)*\s{6}4-octet AS numbers \(AS 65001\)\n/);
    const bad = t.ctl('show', 'protocols', 'all', 'wrongtheirs');
    assert.match(bad, /^wrongtheirs\s+BGP\s+---\s+start\s+/m);
    assert.match(bad, /^\s+Last error:\s+Error: Bad peer AS: 65001 \(expected 65004\)/m);
  });

  it('follows attribute changes (MED, communities, LOCAL_PREF) and a withdrawal, and passes them on', async () => {
    a.reconfigure(birdA(77));
    const r = await pollUntil(async () => (await t.routes('10.9.0.0/24')).find((x) => x.med === 77), { what: 'MED 77 at tortie' });
    assert.deepEqual(r.communities, ['65001:77']);
    // On to the iBGP peer: MED and community kept.
    await pollUntil(() => { const x = c.routes('10.9.0.0/24').find((y) => y.proto === 'tortie'); return x?.attrs['BGP.med'] === '77' && x.attrs['BGP.community'] === '(65001,77)'; },
      { what: 'bird-c sees MED 77 and (65001,77)' });
    c.reconfigure(birdC(250));
    await pollUntil(async () => (await t.routes('10.33.0.0/24')).some((x) => x.from === 'birdc' && x.localPref === 250), { what: 'LOCAL_PREF 250 from bird-c at tortie' });
    a.cmd('disable', 's4');
    await pollUntil(async () => !(await t.routes()).some((r) => r.prefix.startsWith('10.9.')), { what: '10.9.x withdrawn at tortie' });
    await pollUntil(() => c.routes('10.9.0.0/24').length === 0, { what: '10.9.0.0/24 withdrawn at bird-c' });
    a.cmd('enable', 's4');
    await pollUntil(async () => (await t.routes('10.9.1.0/24')).length === 1, { what: '10.9.1.0/24 back' });
  });

  it('reports a wrong AS on both sides with OPEN error Bad peer AS', async () => {
    await pollUntil(async () => /Bad peer AS/.test((await t.peer('wrongtheirs')).lastError ?? ''), { what: 'our error for wrongtheirs' });
    assert.match((await t.peer('wrongtheirs')).lastError ?? '', /^Error: Bad peer AS: 65001 \(expected 65004\)/);
    await pollUntil(() => /Received: Bad peer AS/.test(d.protocol('wrongtheirs').lastError ?? ''), { what: 'BIRD received Bad peer AS' });
    await pollUntil(async () => /Received: Bad peer AS/.test((await t.peer('wrongours')).lastError ?? ''), { what: 'we received Bad peer AS' });
    await pollUntil(() => /Error: Bad peer AS/.test(d.protocol('wrongours').lastError ?? ''), { what: 'BIRD detected Bad peer AS' });
    assert.notEqual((await t.peer('wrongours')).state, 'Established');
  });

  it('answers BIRD\'s route refresh and asks BIRD for one', async () => {
    const n0 = (await t.peer('birda4')).establishedTransitions;
    const before = a.protocol('tortie4');
    const importsBefore = Number(/^\s*(\d+)/.exec(before.fields['Import updates'] ?? '0')?.[1] ?? 0);
    a.cmd('reload', 'in', 'tortie4');
    await pollUntil(() => {
      const n = Number(/^\s*(\d+)/.exec(a.protocol('tortie4').fields['Import updates'] ?? '0')?.[1] ?? 0);
      return n > importsBefore;
    }, { what: 'BIRD received our routes again after its ROUTE-REFRESH' });
    const ours = (await t.peer('birda4')).messages.updatesIn;
    t.ctl('refresh', 'birda4');
    await pollUntil(async () => (await t.peer('birda4')).messages.updatesIn > ours, { what: 'BIRD re-sent its routes' });
    assert.equal((await t.peer('birda4')).establishedTransitions, n0, 'route refresh must not reset the session');
  });

  it('recovers from a reset by BIRD and from a reset by us, keeping other sessions untouched', async () => {
    const c0 = (await t.peer('birdc')).establishedTransitions;
    const n0 = (await t.peer('birda4')).establishedTransitions;
    a.cmd('restart', 'tortie4');
    await pollUntil(async () => { const p = await t.peer('birda4'); return p.establishedTransitions === n0 + 1 && p.state === 'Established'; }, { what: 're-established after BIRD restart' });
    await pollUntil(async () => (await t.routes('10.9.0.0/24')).length === 1, { what: 'routes back after BIRD restart' });
    t.ctl('restart', 'birda4');
    await pollUntil(async () => { const p = await t.peer('birda4'); return p.establishedTransitions === n0 + 2 && p.state === 'Established'; }, { what: 're-established after our restart' });
    await pollUntil(() => a.protocol('tortie4').bgpState === 'Established' && a.routes('10.50.0.0/24').length === 1, { what: 'BIRD has our route again' });
    assert.equal((await t.peer('birdc')).establishedTransitions, c0);
  });

  it('withdraws from BIRD everything learned from a peer that goes down', async () => {
    t.ctl('disable', 'birdc');
    await pollUntil(() => a.routes('10.33.0.0/24').length === 0, { what: 'iBGP route withdrawn at bird-a' });
    await pollUntil(() => c.protocol('tortie').bgpState !== 'Established', { what: 'bird-c session down' });
    assert.match(c.protocol('tortie').lastError ?? '', /Administrative shutdown|Connection refused|Connection closed/);
    t.ctl('enable', 'birdc');
    await pollUntil(() => a.routes('10.33.0.0/24').length === 1, { what: 'iBGP route back at bird-a' });
  });

  it('peer daemon restart: BIRD killed and restarted, routes return', async () => {
    const n0 = (await t.peer('birda4')).establishedTransitions;
    const { killPidFile } = await import('../../helpers/sh.js');
    await killPidFile(`${a.dir}/bird.pid`);
    await pollUntil(async () => !(await t.routes()).some((r) => r.prefix === '10.9.0.0/24'), { what: 'routes gone after BIRD died', timeoutMs: 40_000 });
    a = await BirdPeer.start(topo, a.ns, birdA(50));
    await pollUntil(async () => (await t.peer('birda4')).establishedTransitions > n0 && (await t.routes('10.9.0.0/24')).length === 1,
      { what: 'routes back after BIRD restart', timeoutMs: 20_000 });
  });
});
