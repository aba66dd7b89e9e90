/**
 * tortie-bgpd against FRR 8 bgpd (alone, -Z): iBGP with IPv4 unicast over an IPv4 session and
 * IPv6 unicast over an IPv6 session; announce, change attributes, withdraw; resets from either
 * side; route refresh both ways. Assertions read FRR's vtysh JSON and our control socket.
 *
 *   frr bgpd AS65002 10.0.3.1 fd03::1 ──veth── 10.0.3.2 fd03::2 tortie-bgpd AS65002
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('vtysh', '/usr/lib/frr/bgpd');

const FRR = `frr defaults datacenter
hostname frr
router bgp 65002
 bgp router-id 10.0.3.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.3.2 remote-as 65002
 neighbor 10.0.3.2 timers connect 1
 neighbor fd03::2 remote-as 65002
 neighbor fd03::2 timers connect 1
 address-family ipv4 unicast
  network 10.70.0.0/24
  network 10.71.0.0/24
  neighbor 10.0.3.2 activate
  no neighbor fd03::2 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:70::/48
  neighbor fd03::2 activate
 exit-address-family
`;

const TORTIE = `routerId: 10.0.3.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: frr4, address: 10.0.3.1, asn: 65002 }
  - { name: frr6, address: "fd03::1", asn: 65002, families: [ipv6-unicast] }
originate:
  - { prefix: 10.60.0.0/24, communities: ["65002:60"] }
  - { prefix: "2001:db8:60::/48" }
`;

interface FrrPath { valid?: boolean; bestpath?: boolean; locPrf?: number; path?: string; metric?: number; nexthops?: Array<{ ip: string }>; community?: { string: string } }
type FrrRib = { routes?: Record<string, FrrPath[]> };
interface FrrNeighbor { bgpState?: string; connectionsEstablished?: number; lastNotificationReason?: string; messageStats?: { updatesRecv?: number; routeRefreshRecv?: number; updatesSent?: number } }

describe('interop: tortie-bgpd ↔ FRR bgpd', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('frr');
  let f: FrrPeer, t: TortieBgpd;
  const frrRoute = (afi: 'ipv4' | 'ipv6', prefix: string) => (f.json(`show bgp ${afi} unicast json`) as FrrRib).routes?.[prefix]?.[0];
  const frrNeighbor = (addr: string) => (f.json(`show bgp neighbors ${addr} json`) as Record<string, FrrNeighbor>)[addr] ?? {};

  before(async () => {
    const nsF = topo.ns('f'), nsT = topo.ns('t');
    topo.link(nsF, 'veF', ['10.0.3.1/24', 'fd03::1/64'], nsT, 'veT', ['10.0.3.2/24', 'fd03::2/64']);
    f = await FrrPeer.start(topo, nsF, FRR);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
  });
  after(async () => { await topo.cleanup(); });

  it('establishes iBGP over IPv4 and over IPv6, as seen by FRR and by us', async () => {
    await pollUntil(() => frrNeighbor('10.0.3.2').bgpState === 'Established' && frrNeighbor('fd03::2').bgpState === 'Established',
      { what: 'FRR sees both sessions Established', timeoutMs: 10_000 });
    assert.equal((await t.peer('frr4')).state, 'Established');
    assert.equal((await t.peer('frr6')).state, 'Established');
  });

  it('exchanges IPv4 and IPv6 routes with iBGP attributes', async () => {
    const r4 = await pollUntil(() => frrRoute('ipv4', '10.60.0.0/24'), { what: 'FRR has 10.60.0.0/24' });
    assert.equal(r4.valid, true);
    assert.equal(r4.locPrf, 100);
    assert.equal(r4.path, '');
    assert.equal(r4.nexthops?.[0]?.ip, '10.0.3.2');
    const r6 = await pollUntil(() => frrRoute('ipv6', '2001:db8:60::/48'), { what: 'FRR has 2001:db8:60::/48' });
    assert.equal(r6.nexthops?.[0]?.ip, 'fd03::2');
    await pollUntil(async () => (await t.routes('10.70.0.0/24')).some((r) => r.from === 'frr4' && r.nextHop === '10.0.3.1' && r.localPref === 100), { what: 'we have 10.70.0.0/24' });
    await pollUntil(async () => (await t.routes('2001:db8:70::/48')).some((r) => r.from === 'frr6' && r.nextHop === 'fd03::1'), { what: 'we have 2001:db8:70::/48' });
  });

  it('follows an attribute change and a withdrawal from FRR', async () => {
    f.configure('route-map SETMED permit 10', 'set metric 42', 'exit', 'router bgp 65002', 'address-family ipv4 unicast', 'network 10.70.0.0/24 route-map SETMED');
    await pollUntil(async () => (await t.routes('10.70.0.0/24')).some((r) => r.med === 42), { what: 'MED 42 at tortie' });
    f.configure('router bgp 65002', 'address-family ipv4 unicast', 'no network 10.71.0.0/24');
    await pollUntil(async () => (await t.routes('10.71.0.0/24')).length === 0, { what: '10.71.0.0/24 withdrawn at tortie' });
  });

  it('answers FRR\'s route refresh and asks FRR for one', async () => {
    const rr0 = frrNeighbor('10.0.3.2').messageStats?.updatesRecv ?? 0;
    f.vtysh('clear bgp ipv4 unicast 10.0.3.2 soft in');
    await pollUntil(() => (frrNeighbor('10.0.3.2').messageStats?.updatesRecv ?? 0) > rr0, { what: 'FRR received our UPDATEs again' });
    // FRR 8.4 counts our ROUTE-REFRESH but re-sends nothing when its Adj-RIB-Out is unchanged
    // (checked by hand: routeRefreshRecv 1, no UPDATE and no BoRR/EoRR), so assert on FRR's count.
    const rrRecv = (f.json('show bgp neighbors 10.0.3.2 json') as Record<string, { messageStats?: { routeRefreshRecv?: number } }>)['10.0.3.2']?.messageStats?.routeRefreshRecv ?? 0;
    t.ctl('refresh', 'frr4');
    await pollUntil(() => ((f.json('show bgp neighbors 10.0.3.2 json') as Record<string, { messageStats?: { routeRefreshRecv?: number } }>)['10.0.3.2']?.messageStats?.routeRefreshRecv ?? 0) > rrRecv,
      { what: 'FRR received our ROUTE-REFRESH' });
    assert.equal(frrNeighbor('10.0.3.2').connectionsEstablished, 1, 'route refresh must not reset the session');
  });

  it('recovers from a hard reset by FRR and by us', async () => {
    const n0 = (await t.peer('frr4')).establishedTransitions;
    const six0 = (await t.peer('frr6')).establishedTransitions;
    f.vtysh('clear bgp 10.0.3.2');
    await pollUntil(async () => { const p = await t.peer('frr4'); return p.state === 'Established' && p.establishedTransitions === n0 + 1; }, { what: 're-established after FRR reset' });
    await pollUntil(async () => (await t.routes('10.70.0.0/24')).length === 1, { what: 'FRR routes back' });
    const c0 = frrNeighbor('10.0.3.2').connectionsEstablished ?? 0;
    t.ctl('restart', 'frr4');
    await pollUntil(() => (frrNeighbor('10.0.3.2').connectionsEstablished ?? 0) > c0 && frrNeighbor('10.0.3.2').bgpState === 'Established', { what: 'FRR re-established after our reset' });
    assert.match(frrNeighbor('10.0.3.2').lastNotificationReason ?? '', /Cease\/Administrative Reset/);
    await pollUntil(() => frrRoute('ipv4', '10.60.0.0/24'), { what: 'FRR has our route again' });
    assert.equal((await t.peer('frr6')).establishedTransitions, six0, 'the IPv6 session was not touched');
  });
});
