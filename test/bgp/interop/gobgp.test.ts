/**
 * tortie-bgpd against GoBGP 3: eBGP over IPv4 (IPv4 unicast) and over IPv6 (IPv6 unicast), iBGP
 * (a GoBGP neighbor with local-as 65002); announce with MED and communities, change attributes
 * both ways, withdraw; wrong AS both ways; resets from either side; GoBGP restarted; route
 * refresh. Assertions read `gobgp -j` (and GoBGP's log for NOTIFICATION codes) and our control
 * socket.
 *
 *   gobgpd AS65004 10.0.4.1 .3 .5 .7 fd04::1 ──veth── 10.0.4.2 .4 .6 .8 fd04::2 tortie-bgpd AS65002
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { GOBGP_ESTABLISHED, GobgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('gobgpd', 'gobgp');

const neighbor = (addr: string, families: string, o: { peerAs?: number; localAs?: number; localAddress?: string } = {}) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = ${o.peerAs ?? 65002}
${o.localAs !== undefined ? `    local-as = ${o.localAs}\n` : ''}${o.localAddress !== undefined ? `  [neighbors.transport.config]\n    local-address = "${o.localAddress}"\n` : ''}  [neighbors.timers.config]
    connect-retry = 1
    idle-hold-time-after-reset = 1
${families.split(',').map((f) => `  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "${f}"\n`).join('')}`;
const GOBGP = `[global.config]
  as = 65004
  router-id = "10.0.4.1"
${neighbor('10.0.4.2', 'ipv4-unicast')}${neighbor('fd04::2', 'ipv6-unicast')}${neighbor('10.0.4.4', 'ipv4-unicast,ipv6-unicast', { localAs: 65002, localAddress: '10.0.4.3' })}\
${neighbor('10.0.4.6', 'ipv4-unicast', { peerAs: 65099, localAddress: '10.0.4.5' })}${neighbor('10.0.4.8', 'ipv4-unicast', { localAddress: '10.0.4.7' })}`;

const TORTIE = `routerId: 10.0.4.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: gobgp4, address: 10.0.4.1, asn: 65004, connectRetry: 1 }
  - { name: gobgp6, address: "fd04::1", asn: 65004, families: [ipv6-unicast], connectRetry: 1 }
  # iBGP, IPv4 and IPv6 unicast over one IPv4 session; our IPv6 next hop given explicitly (the
  # interface fallback is exercised in frr.test.ts).
  - { name: gobgpi, address: 10.0.4.3, asn: 65002, localAddress: 10.0.4.4, families: [ipv4-unicast, ipv6-unicast], nextHopSelf6: "fd04::2", connectRetry: 1 }
  # GoBGP's 10.0.4.6 neighbor expects AS 65099: IT refuses our OPEN.
  - { name: wrongours, address: 10.0.4.5, asn: 65004, localAddress: 10.0.4.6, connectRetry: 1 }
  # GoBGP is AS 65004 on 10.0.4.7; we expect 65005, so WE refuse its OPEN.
  - { name: wrongtheirs, address: 10.0.4.7, asn: 65005, localAddress: 10.0.4.8, connectRetry: 1 }
originate:
  - { prefix: 10.61.0.0/24, communities: ["65002:61"] }
  - { prefix: "2001:db8:61::/48" }
`;

interface GoAttr { type: number; as_paths?: Array<{ asns: number[] }>; nexthop?: string; communities?: number[]; metric?: number; /** LOCAL_PREF (type 5) */ value?: number }
interface GoPath { best?: boolean; attrs: GoAttr[]; 'neighbor-ip'?: string }

describe('interop: tortie-bgpd ↔ GoBGP', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('gobgp');
  let g: GobgpPeer, t: TortieBgpd, nsG: string;
  const goRib = (afi: 'ipv4' | 'ipv6') => g.json('global', 'rib', '-a', afi) as Record<string, GoPath[]>;
  /** GoBGP's path for `prefix` learned from our session at `from` (10.0.4.2 eBGP, 10.0.4.4 iBGP, fd04::2). */
  const goLearned = (afi: 'ipv4' | 'ipv6', prefix: string, from = afi === 'ipv4' ? '10.0.4.2' : 'fd04::2') =>
    goRib(afi)[prefix]?.find((p) => p['neighbor-ip'] === from);
  const goState = (addr: string) => g.neighbor(addr).state;
  const attr = (p: GoPath, type: number) => p.attrs.find((a) => a.type === type);
  const ours = async (prefix: string, from: string) => (await t.routes(prefix)).find((r) => r.from === from);

  before(async () => {
    nsG = topo.ns('g');
    const nsT = topo.ns('t');
    topo.link(nsG, 'veG', ['10.0.4.1/24', '10.0.4.3/24', '10.0.4.5/24', '10.0.4.7/24', 'fd04::1/64'], nsT, 'veT', ['10.0.4.2/24', '10.0.4.4/24', '10.0.4.6/24', '10.0.4.8/24', 'fd04::2/64']);
    g = await GobgpPeer.start(topo, nsG, GOBGP);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
  });
  after(async () => { await topo.cleanup(); });

  it('establishes eBGP over IPv4 and over IPv6, and iBGP', async () => {
    await pollUntil(() => ['10.0.4.2', 'fd04::2', '10.0.4.4'].every((a) => goState(a)?.session_state === GOBGP_ESTABLISHED),
      { what: 'GoBGP sees the three sessions Established', timeoutMs: 15_000 });
    for (const name of ['gobgp4', 'gobgp6', 'gobgpi']) assert.equal((await t.peer(name)).state, 'Established', name);
  });

  it('GoBGP receives our routes: eBGP with our AS prepended and next hop self, iBGP with LOCAL_PREF', async () => {
    const p4 = await pollUntil(() => goLearned('ipv4', '10.61.0.0/24'), { what: 'GoBGP has 10.61.0.0/24 over eBGP' });
    assert.deepEqual(attr(p4, 2)?.as_paths?.[0]?.asns, [65002]);
    assert.equal(attr(p4, 3)?.nexthop, '10.0.4.2');
    assert.deepEqual(attr(p4, 8)?.communities, [(65002 << 16 | 61) >>> 0]);
    assert.equal(attr(p4, 5), undefined, 'no LOCAL_PREF over eBGP');
    const p6 = await pollUntil(() => goLearned('ipv6', '2001:db8:61::/48'), { what: 'GoBGP has 2001:db8:61::/48' });
    assert.equal(attr(p6, 14)?.nexthop, 'fd04::2');
    const pi = await pollUntil(() => goLearned('ipv4', '10.61.0.0/24', '10.0.4.4'), { what: 'GoBGP has 10.61.0.0/24 over iBGP' });
    assert.deepEqual(attr(pi, 2)?.as_paths ?? [], []);
    assert.equal(attr(pi, 5)?.value, 100);
    assert.equal(attr(pi, 3)?.nexthop, '10.0.4.4');
    // IPv6 over the IPv4 iBGP session: MP_REACH next hop = nextHopSelf6.
    const pi6 = await pollUntil(() => goLearned('ipv6', '2001:db8:61::/48', '10.0.4.4'), { what: 'GoBGP has 2001:db8:61::/48 over the IPv4 iBGP session' });
    assert.equal(attr(pi6, 14)?.nexthop, 'fd04::2');
    assert.equal(attr(pi6, 5)?.value, 100);
  });

  it('we receive, follow changes to, and drop withdrawn GoBGP routes (eBGP and iBGP)', async () => {
    g.cli('global', 'rib', 'add', '10.80.0.0/24', 'med', '10', 'community', '65004:1', '-a', 'ipv4');
    g.cli('global', 'rib', 'add', '2001:db8:80::/48', '-a', 'ipv6');
    const r = await pollUntil(() => ours('10.80.0.0/24', 'gobgp4'), { what: '10.80.0.0/24 at tortie' });
    assert.deepEqual(r.asPath, [65004]);
    assert.equal(r.med, 10);
    assert.deepEqual(r.communities, ['65004:1']);
    assert.equal(r.nextHop, '10.0.4.1');
    const ri = await pollUntil(() => ours('10.80.0.0/24', 'gobgpi'), { what: '10.80.0.0/24 over iBGP at tortie' });
    assert.deepEqual(ri.asPath, []);
    assert.equal(ri.localPref, 100);
    // eBGP over iBGP (equal LOCAL_PREF, the iBGP path is shorter): the iBGP path wins on AS path length.
    const view = await t.routes('10.80.0.0/24');
    assert.equal(view.find((x) => x.best)?.from, 'gobgpi');
    await pollUntil(async () => (await t.routes('2001:db8:80::/48')).some((x) => x.from === 'gobgp6' && x.nextHop === 'fd04::1'), { what: 'v6 route at tortie' });
    // The same IPv6 route over the IPv4 iBGP session, its next hop unchanged.
    g.cli('global', 'rib', 'add', '2001:db8:83::/48', 'nexthop', 'fd04::3', '-a', 'ipv6');
    await pollUntil(async () => (await ours('2001:db8:83::/48', 'gobgpi'))?.nextHop === 'fd04::3', { what: 'IPv6 route over the IPv4 iBGP session at tortie' });
    g.cli('global', 'rib', 'add', '10.80.0.0/24', 'med', '20', 'community', '65004:2', 'local-pref', '250', '-a', 'ipv4');
    await pollUntil(async () => { const x = await ours('10.80.0.0/24', 'gobgp4'); return x?.med === 20 && x.communities.includes('65004:2'); }, { what: 'changed attributes at tortie' });
    await pollUntil(async () => (await ours('10.80.0.0/24', 'gobgpi'))?.localPref === 250, { what: 'LOCAL_PREF 250 over iBGP at tortie' });
    g.cli('global', 'rib', 'del', '10.80.0.0/24', '-a', 'ipv4');
    await pollUntil(async () => (await t.routes('10.80.0.0/24')).length === 0, { what: 'withdrawn at tortie' });
  });

  it('our MED, LOCAL_PREF and community changes reach GoBGP on reload, without a reset', async () => {
    const before = (await t.peer('gobgp4')).establishedTransitions;
    t.writeConfig(TORTIE.replace('{ prefix: 10.61.0.0/24, communities: ["65002:61"] }', '{ prefix: 10.61.0.0/24, communities: ["65002:62"], med: 7, localPref: 300 }'));
    assert.match(t.ctl('reload'), /"changed":\[\]/);
    const e = await pollUntil(() => { const x = goLearned('ipv4', '10.61.0.0/24'); return x && attr(x, 4)?.metric === 7 ? x : undefined; }, { what: 'GoBGP sees MED 7 over eBGP' });
    assert.deepEqual(attr(e, 8)?.communities, [(65002 << 16 | 62) >>> 0]);
    await pollUntil(() => { const x = goLearned('ipv4', '10.61.0.0/24', '10.0.4.4'); return x && attr(x, 5)?.value === 300; }, { what: 'GoBGP sees LOCAL_PREF 300 over iBGP' });
    assert.equal((await t.peer('gobgp4')).establishedTransitions, before);
  });

  it('reports a wrong AS on both sides with OPEN Message Error / Bad Peer AS', async () => {
    await pollUntil(async () => /^Error: Bad peer AS: 65004 \(expected 65005\)/.test((await t.peer('wrongtheirs')).lastError ?? ''), { what: 'we refused GoBGP\'s AS' });
    await pollUntil(async () => /Received: Bad peer AS/.test((await t.peer('wrongours')).lastError ?? ''), { what: 'GoBGP refused ours' });
    // GoBGP's side: it counted the NOTIFICATION it got from us, and logged why it sent its own.
    await pollUntil(() => (goState('10.0.4.8')?.messages?.received?.['notification'] ?? 0) > 0, { what: 'GoBGP received our NOTIFICATION' });
    await pollUntil(() => (goState('10.0.4.6')?.messages?.sent?.['notification'] ?? 0) > 0, { what: 'GoBGP sent a NOTIFICATION' });
    assert.match(g.proc.output, /"Data":"as number mismatch expected 65099, received 65002","Key":"10\.0\.4\.6".*"msg":"sent notification"/);
    for (const a of ['10.0.4.6', '10.0.4.8']) assert.notEqual(goState(a)?.session_state, GOBGP_ESTABLISHED);
  });

  // GoBGP's softresetin re-applies its own policy without sending ROUTE-REFRESH, so only our
  // request is exercised here (BIRD and FRR send us ROUTE-REFRESH in their suites).
  it('our route refresh makes GoBGP re-send its routes without a reset', async () => {
    g.cli('global', 'rib', 'add', '10.81.0.0/24', '-a', 'ipv4');
    await pollUntil(() => ours('10.81.0.0/24', 'gobgp4'), { what: '10.81.0.0/24 at tortie' });
    const { messages: { updatesIn: in0 }, establishedTransitions: n0 } = await t.peer('gobgp4');
    t.ctl('refresh', 'gobgp4');
    await pollUntil(async () => (await t.peer('gobgp4')).messages.updatesIn > in0, { what: 'GoBGP re-sent its routes' });
    assert.equal((await t.peer('gobgp4')).establishedTransitions, n0, 'route refresh must not reset the session');
  });

  it('recovers from resets by GoBGP and by us', async () => {
    const n0 = (await t.peer('gobgp4')).establishedTransitions;
    // `gobgp neighbor X reset` holds the peer Idle for 30 s (idle-hold-time-after-reset is not
    // honoured from the config); disable + enable is GoBGP's hard reset without that wait.
    g.cli('neighbor', '10.0.4.2', 'disable');
    await pollUntil(async () => (await t.peer('gobgp4')).state !== 'Established', { what: 'down after GoBGP disable' });
    assert.match((await t.peer('gobgp4')).lastError ?? '', /Received: Administrative shutdown/);
    assert.equal(await ours('10.81.0.0/24', 'gobgp4'), undefined, 'GoBGP routes removed while the session is down');
    g.cli('neighbor', '10.0.4.2', 'enable');
    await pollUntil(async () => { const p = await t.peer('gobgp4'); return p.state === 'Established' && p.establishedTransitions > n0; }, { what: 're-established after GoBGP reset', timeoutMs: 15_000 });
    await pollUntil(() => ours('10.81.0.0/24', 'gobgp4'), { what: 'GoBGP routes back' });
    const n1 = (await t.peer('gobgp4')).establishedTransitions;
    const notes = goState('10.0.4.2')?.messages?.received?.['notification'] ?? 0;
    t.ctl('restart', 'gobgp4');
    await pollUntil(async () => { const p = await t.peer('gobgp4'); return p.state === 'Established' && p.establishedTransitions > n1; }, { what: 're-established after our reset', timeoutMs: 15_000 });
    await pollUntil(() => goLearned('ipv4', '10.61.0.0/24'), { what: 'GoBGP has our route again' });
    assert.ok((goState('10.0.4.2')?.messages?.received?.['notification'] ?? 0) > notes, 'GoBGP counted our Cease');
  });

  it('GoBGP killed and restarted: its routes leave us, then it learns ours again', async () => {
    const n0 = (await t.peer('gobgp4')).establishedTransitions;
    await g.proc.stop('SIGKILL');
    await pollUntil(async () => (await ours('10.81.0.0/24', 'gobgp4')) === undefined && (await t.peer('gobgp4')).state !== 'Established',
      { what: 'GoBGP routes gone at tortie', timeoutMs: 15_000 });
    g = await GobgpPeer.start(topo, nsG, GOBGP);
    g.cli('global', 'rib', 'add', '10.82.0.0/24', '-a', 'ipv4');
    await pollUntil(async () => (await t.peer('gobgp4')).establishedTransitions > n0 && (await ours('10.82.0.0/24', 'gobgp4')) !== undefined,
      { what: 'restarted GoBGP\'s route at tortie', timeoutMs: 20_000 });
    await pollUntil(() => goLearned('ipv4', '10.61.0.0/24'), { what: 'restarted GoBGP has our route' });
  });
});
