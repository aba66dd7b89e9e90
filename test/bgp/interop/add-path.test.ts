/**
 * ADD-PATH (RFC 7911) both ways, checked on the peers' own views. GoBGP (src) announces one
 * prefix over three sessions to FRR, so FRR holds three paths and sends them all to us
 * (`addpath-tx-all-paths`; we `addPaths: rx`); we pass them to a second GoBGP (sink) over three
 * sessions: `tx` (all three paths, each under its own path id), `{ send, limit: 2 }` (two) and
 * without ADD-PATH (the best one). FRR dropping one of its paths withdraws that path id only.
 * An export policy change on `tx` (reload) re-announces the paths under their ids, or withdraws them.
 *
 *   gobgpd src AS65004 10.0.71.1 .3 .5 ──veth── .2 .4 .6 FRR AS65001 10.0.72.1 ──veth── 10.0.72.2 tortie-bgpd AS65002
 *   tortie-bgpd 10.0.73.2 .4 .6 ──veth── 10.0.73.1 .3 .5 gobgpd sink AS65005
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { FrrPeer, GOBGP_ESTABLISHED, GobgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('gobgpd', 'gobgp', 'vtysh', '/usr/lib/frr/bgpd');

const goNeighbor = (addr: string, local: string, peerAs: number, addPaths: boolean) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = ${peerAs}
  [neighbors.transport.config]
    local-address = "${local}"
  [neighbors.timers.config]
    connect-retry = 1
    idle-hold-time-after-reset = 1
${addPaths ? '  [neighbors.add-paths.config]\n    receive = true\n' : ''}  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`;
const SRC = `[global.config]
  as = 65004
  router-id = "10.0.71.1"
${goNeighbor('10.0.71.2', '10.0.71.1', 65001, false)}${goNeighbor('10.0.71.4', '10.0.71.3', 65001, false)}${goNeighbor('10.0.71.6', '10.0.71.5', 65001, false)}`;
const SINK = `[global.config]
  as = 65005
  router-id = "10.0.73.1"
${goNeighbor('10.0.73.2', '10.0.73.1', 65002, true)}${goNeighbor('10.0.73.4', '10.0.73.3', 65002, true)}${goNeighbor('10.0.73.6', '10.0.73.5', 65002, false)}`;

const FRR = `frr defaults datacenter
hostname frrap
router bgp 65001
 bgp router-id 10.0.72.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.71.1 remote-as 65004
 neighbor 10.0.71.1 update-source 10.0.71.2
 neighbor 10.0.71.1 timers connect 1
 neighbor 10.0.71.3 remote-as 65004
 neighbor 10.0.71.3 update-source 10.0.71.4
 neighbor 10.0.71.3 timers connect 1
 neighbor 10.0.71.5 remote-as 65004
 neighbor 10.0.71.5 update-source 10.0.71.6
 neighbor 10.0.71.5 timers connect 1
 neighbor 10.0.72.2 remote-as 65002
 neighbor 10.0.72.2 timers connect 1
 address-family ipv4 unicast
  neighbor 10.0.72.2 addpath-tx-all-paths
 exit-address-family
`;

const TORTIE = `routerId: 10.0.72.2
asn: 65002
peers:
  - { name: frr, address: 10.0.72.1, asn: 65001, connectRetry: 1, addPaths: rx }
  - { name: sinkall, address: 10.0.73.1, asn: 65005, localAddress: 10.0.73.2, connectRetry: 1, addPaths: tx }
  - { name: sink2, address: 10.0.73.3, asn: 65005, localAddress: 10.0.73.4, connectRetry: 1, addPaths: { send: true, limit: 2 } }
  - { name: sinkbest, address: 10.0.73.5, asn: 65005, localAddress: 10.0.73.6, connectRetry: 1 }
`;

const PREFIX = '10.70.0.0/24';

describe('interop: ADD-PATH with FRR (receive) and GoBGP (send)', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('addpath');
  let src: GobgpPeer, sink: GobgpPeer, frr: FrrPeer, t: TortieBgpd;
  /**
   * The path ids of the sink's paths for PREFIX received from our session at `from` (its
   * Adj-RIB-In): its text view, whose ID column is the received path id (its JSON leaves it out);
   * 0 for a session without ADD-PATH.
   */
  const sinkPaths = (from: string): number[] => {
    const out = sink.cli('neighbor', from, 'adj-in', '-a', 'ipv4');
    const withId = /^\s*ID\s/m.test(out);
    return out.split('\n').filter((l) => l.includes(PREFIX)).map((l) => (withId ? Number(l.trim().split(/\s+/)[0]) : 0));
  };
  const ourPaths = async () => (await t.routes(PREFIX)).filter((r) => r.from === 'frr');

  before(async () => {
    const nsS = topo.ns('s'), nsF = topo.ns('f'), nsT = topo.ns('t'), nsK = topo.ns('k');
    topo.link(nsS, 'veS', ['10.0.71.1/24', '10.0.71.3/24', '10.0.71.5/24'], nsF, 'veFs', ['10.0.71.2/24', '10.0.71.4/24', '10.0.71.6/24']);
    topo.link(nsF, 'veFt', '10.0.72.1/24', nsT, 'veTf', '10.0.72.2/24');
    topo.link(nsT, 'veTk', ['10.0.73.2/24', '10.0.73.4/24', '10.0.73.6/24'], nsK, 'veK', ['10.0.73.1/24', '10.0.73.3/24', '10.0.73.5/24']);
    src = await GobgpPeer.start(topo, nsS, SRC);
    sink = await GobgpPeer.start(topo, nsK, SINK);
    frr = await FrrPeer.start(topo, nsF, FRR);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    src.cli('global', 'rib', 'add', '-a', 'ipv4', PREFIX);
  });
  after(async () => { await topo.cleanup(); });

  it('FRR holds three paths and sends all three: tortie-bgpd keeps three, each with its path id', async () => {
    await pollUntil(() => {
      const r = frr.json(`show bgp ipv4 unicast ${PREFIX} json`) as { paths?: unknown[] };
      return (r.paths?.length ?? 0) === 3;
    }, { what: 'FRR has three paths for the prefix', timeoutMs: 30_000 });
    const ours = await pollUntil(async () => { const p = await ourPaths(); return p.length === 3 ? p : undefined; },
      { what: 'tortie-bgpd holds three paths from FRR', timeoutMs: 20_000 });
    const ids = ours.map((r) => r.pathId);
    assert.equal(new Set(ids).size, 3, `three distinct path ids: ${JSON.stringify(ids)}`);
    assert.equal(ours.filter((r) => r.best).length, 1, 'one best among them');
    const text = t.ctl('show', 'route', PREFIX);
    assert.equal((text.match(/\[frr [^\]]* path \d+\]/g) ?? []).length, 3, `show route lists the three paths:\n${text}`);
    const caps = (await t.peer('frr')).capabilities.join(' ');
    assert.match(caps, /ADD-PATH/, caps);
  });

  it('GoBGP receives three paths with distinct ids on `tx`, two with limit 2, one without ADD-PATH', async () => {
    const all = await pollUntil(() => { const p = sinkPaths('10.0.73.2'); return p.length === 3 ? p : undefined; },
      { what: 'GoBGP adj-in from sinkall holds three paths', timeoutMs: 20_000 });
    assert.equal(new Set(all).size, 3, `three distinct path ids in GoBGP's view: ${sink.cli('neighbor', '10.0.73.2', 'adj-in', '-a', 'ipv4')}`);
    assert.ok(all.every((id) => id > 0), `ids ${JSON.stringify(all)}`);
    await pollUntil(() => sinkPaths('10.0.73.4').length === 2, { what: 'GoBGP adj-in from sink2 (limit 2) holds two paths', timeoutMs: 20_000 });
    await pollUntil(() => sinkPaths('10.0.73.6').length === 1, { what: 'GoBGP adj-in from sinkbest holds one path', timeoutMs: 20_000 });
    const st = sink.neighbor('10.0.73.6').state;
    assert.equal(st?.session_state, GOBGP_ESTABLISHED);
  });

  it('FRR losing one path withdraws that path id only, at tortie-bgpd and at GoBGP', async () => {
    const before = sinkPaths('10.0.73.2');
    frr.configure('router bgp 65001', 'neighbor 10.0.71.5 shutdown');
    await pollUntil(async () => (await ourPaths()).length === 2, { what: 'tortie-bgpd holds two paths from FRR', timeoutMs: 20_000 });
    const after2 = await pollUntil(() => { const p = sinkPaths('10.0.73.2'); return p.length === 2 ? p : undefined; },
      { what: 'GoBGP adj-in from sinkall holds two paths', timeoutMs: 20_000 });
    const left = after2;
    assert.ok(left.every((id) => before.includes(id)), `the two left keep their ids: before ${JSON.stringify(before)}, after ${JSON.stringify(left)}`);
    assert.equal(sinkPaths('10.0.73.4').length, 2, 'limit 2: still two');
    frr.configure('router bgp 65001', 'no neighbor 10.0.71.5 shutdown');
    await pollUntil(() => sinkPaths('10.0.73.2').length === 3, { what: 'the third path back at GoBGP', timeoutMs: 30_000 });
  });

  it('an export policy change on the ADD-PATH session (reload, no reset): GoBGP sees the new attributes under the same path ids, then none, then the old ones', async () => {
    const adjIn = (): string[] => sink.cli('neighbor', '10.0.73.2', 'adj-in', '-a', 'ipv4').split('\n').filter((l) => l.includes(PREFIX));
    const ids = sinkPaths('10.0.73.2').sort();
    assert.equal(ids.length, 3);
    const n0 = (await t.peer('sinkall')).establishedTransitions;
    const withPolicy = (policy: string) => TORTIE.replace('localAddress: 10.0.73.2, connectRetry: 1, addPaths: tx }', `localAddress: 10.0.73.2, connectRetry: 1, addPaths: tx, export: ${policy} }`);
    try {
      t.writeConfig(withPolicy('{ rules: [{ action: accept, set: { med: 44 } }], default: accept }'));
      assert.match(t.ctl('reload'), /"changed":\["sinkall"\]/);
      await pollUntil(() => { const l = adjIn(); return l.length === 3 && l.every((x) => /Med: 44/.test(x)); }, { what: () => `GoBGP holds three paths with MED 44 (${adjIn().join(' | ')})`, timeoutMs: 20_000 });
      assert.deepEqual(sinkPaths('10.0.73.2').sort(), ids, 'the same path ids, re-announced with the new attributes');
      t.writeConfig(withPolicy(`{ rules: [{ match: { prefixes: [{ prefix: ${PREFIX} }] }, action: reject }], default: accept }`));
      assert.match(t.ctl('reload'), /"changed":\["sinkall"\]/);
      await pollUntil(() => sinkPaths('10.0.73.2').length === 0, { what: 'the three paths withdrawn at GoBGP', timeoutMs: 20_000 });
      assert.equal(sinkPaths('10.0.73.4').length, 2, 'the other ADD-PATH session keeps its two paths');
    } finally {
      t.writeConfig(TORTIE);
      t.ctl('reload');
    }
    await pollUntil(() => { const l = adjIn(); return l.length === 3 && l.every((x) => !/Med:/.test(x)); }, { what: () => `GoBGP holds three paths without MED again (${adjIn().join(' | ')})`, timeoutMs: 20_000 });
    assert.deepEqual(sinkPaths('10.0.73.2').sort(), ids, 'under the same path ids');
    assert.equal((await t.peer('sinkall')).establishedTransitions, n0, 'no session reset');
  });
});
