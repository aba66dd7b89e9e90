/**
 * tortie-bgpd against GoBGP 3: eBGP over IPv4 (IPv4 unicast) and over IPv6 (IPv6 unicast);
 * announce with MED and communities, change attributes, withdraw; resets from either side;
 * route refresh (GoBGP softresetin). Assertions read `gobgp -j` and our control socket.
 *
 *   gobgpd AS65004 10.0.4.1 fd04::1 ──veth── 10.0.4.2 fd04::2 tortie-bgpd AS65002
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { GOBGP_ESTABLISHED, GobgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('gobgpd', 'gobgp');

const neighbor = (addr: string, family: string) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = 65002
  [neighbors.timers.config]
    connect-retry = 1
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "${family}"
`;
const GOBGP = `[global.config]
  as = 65004
  router-id = "10.0.4.1"
${neighbor('10.0.4.2', 'ipv4-unicast')}${neighbor('fd04::2', 'ipv6-unicast')}`;

const TORTIE = `routerId: 10.0.4.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: gobgp4, address: 10.0.4.1, asn: 65004, connectRetry: 1 }
  - { name: gobgp6, address: "fd04::1", asn: 65004, families: [ipv6-unicast], connectRetry: 1 }
originate:
  - { prefix: 10.61.0.0/24, communities: ["65002:61"] }
  - { prefix: "2001:db8:61::/48" }
`;

interface GoAttr { type: number; as_paths?: Array<{ asns: number[] }>; nexthop?: string; communities?: number[]; metric?: number }
interface GoPath { best?: boolean; attrs: GoAttr[]; 'neighbor-ip'?: string }

describe('interop: tortie-bgpd ↔ GoBGP', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('gobgp');
  let g: GobgpPeer, t: TortieBgpd;
  const goRib = (afi: 'ipv4' | 'ipv6') => g.json('global', 'rib', '-a', afi) as Record<string, GoPath[]>;
  const goLearned = (afi: 'ipv4' | 'ipv6', prefix: string) => goRib(afi)[prefix]?.find((p) => p['neighbor-ip'] !== undefined);
  const goState = (addr: string) => g.neighbor(addr).state;

  before(async () => {
    const nsG = topo.ns('g'), nsT = topo.ns('t');
    topo.link(nsG, 'veG', ['10.0.4.1/24', 'fd04::1/64'], nsT, 'veT', ['10.0.4.2/24', 'fd04::2/64']);
    g = await GobgpPeer.start(topo, nsG, GOBGP);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
  });
  after(async () => { await topo.cleanup(); });

  it('establishes eBGP over IPv4 and over IPv6', async () => {
    await pollUntil(() => goState('10.0.4.2')?.session_state === GOBGP_ESTABLISHED && goState('fd04::2')?.session_state === GOBGP_ESTABLISHED,
      { what: 'GoBGP sees both sessions Established', timeoutMs: 15_000 });
    await pollUntil(async () => (await t.peer('gobgp4')).state === 'Established' && (await t.peer('gobgp6')).state === 'Established', { what: 'we are Established' });
  });

  it('GoBGP receives our routes with our AS prepended and next hop self', async () => {
    const p4 = await pollUntil(() => goLearned('ipv4', '10.61.0.0/24'), { what: 'GoBGP has 10.61.0.0/24' });
    assert.deepEqual(p4.attrs.find((a) => a.type === 2)?.as_paths?.[0]?.asns, [65002]);
    assert.equal(p4.attrs.find((a) => a.type === 3)?.nexthop, '10.0.4.2');
    assert.deepEqual(p4.attrs.find((a) => a.type === 8)?.communities, [(65002 << 16 | 61) >>> 0]);
    const p6 = await pollUntil(() => goLearned('ipv6', '2001:db8:61::/48'), { what: 'GoBGP has 2001:db8:61::/48' });
    assert.equal(p6.attrs.find((a) => a.type === 14)?.nexthop, 'fd04::2');
  });

  it('we receive, follow changes to, and drop withdrawn GoBGP routes', async () => {
    g.cli('global', 'rib', 'add', '10.80.0.0/24', 'med', '10', 'community', '65004:1', '-a', 'ipv4');
    g.cli('global', 'rib', 'add', '2001:db8:80::/48', '-a', 'ipv6');
    const r = await pollUntil(async () => (await t.routes('10.80.0.0/24')).find((x) => x.from === 'gobgp4'), { what: '10.80.0.0/24 at tortie' });
    assert.deepEqual(r.asPath, [65004]);
    assert.equal(r.med, 10);
    assert.deepEqual(r.communities, ['65004:1']);
    assert.equal(r.nextHop, '10.0.4.1');
    await pollUntil(async () => (await t.routes('2001:db8:80::/48')).some((x) => x.from === 'gobgp6' && x.nextHop === 'fd04::1'), { what: 'v6 route at tortie' });
    g.cli('global', 'rib', 'add', '10.80.0.0/24', 'med', '20', 'community', '65004:2', '-a', 'ipv4');
    await pollUntil(async () => (await t.routes('10.80.0.0/24')).some((x) => x.med === 20 && x.communities.includes('65004:2')), { what: 'changed attributes at tortie' });
    g.cli('global', 'rib', 'del', '10.80.0.0/24', '-a', 'ipv4');
    await pollUntil(async () => (await t.routes('10.80.0.0/24')).length === 0, { what: 'withdrawn at tortie' });
    // The MED learned from AS 65004 is not passed on; the route goes back out only to... nobody else here.
  });

  // GoBGP's softresetin re-applies its own policy without sending ROUTE-REFRESH, so only our
  // request is exercised here (BIRD and FRR send us ROUTE-REFRESH in their suites).
  it('our route refresh makes GoBGP re-send its routes without a reset', async () => {
    g.cli('global', 'rib', 'add', '10.81.0.0/24', '-a', 'ipv4');
    await pollUntil(async () => (await t.routes('10.81.0.0/24')).length === 1, { what: '10.81.0.0/24 at tortie' });
    const in0 = (await t.peer('gobgp4')).messages.updatesIn;
    t.ctl('refresh', 'gobgp4');
    await pollUntil(async () => (await t.peer('gobgp4')).messages.updatesIn > in0, { what: 'GoBGP re-sent its routes' });
    assert.equal((await t.peer('gobgp4')).establishedTransitions, 1);
  });

  it('recovers from resets by GoBGP and by us', async () => {
    const n0 = (await t.peer('gobgp4')).establishedTransitions;
    // `gobgp neighbor X reset` holds the peer Idle for 30 s (idle-hold-time-after-reset is not
    // honoured from the config); disable + enable is GoBGP's hard reset without that wait.
    g.cli('neighbor', '10.0.4.2', 'disable');
    await pollUntil(async () => (await t.peer('gobgp4')).state !== 'Established', { what: 'down after GoBGP disable' });
    assert.match((await t.peer('gobgp4')).lastError ?? '', /Received: Administrative shutdown/);
    assert.equal((await t.routes('10.81.0.0/24')).length, 0, 'GoBGP routes removed while the session is down');
    g.cli('neighbor', '10.0.4.2', 'enable');
    await pollUntil(async () => { const p = await t.peer('gobgp4'); return p.state === 'Established' && p.establishedTransitions > n0; }, { what: 're-established after GoBGP reset', timeoutMs: 15_000 });
    await pollUntil(async () => (await t.routes('10.81.0.0/24')).length === 1, { what: 'GoBGP routes back' });
    const n1 = (await t.peer('gobgp4')).establishedTransitions;
    t.ctl('restart', 'gobgp4');
    await pollUntil(async () => { const p = await t.peer('gobgp4'); return p.state === 'Established' && p.establishedTransitions > n1; }, { what: 're-established after our reset', timeoutMs: 15_000 });
    await pollUntil(() => goLearned('ipv4', '10.61.0.0/24'), { what: 'GoBGP has our route again' });
  });
});
