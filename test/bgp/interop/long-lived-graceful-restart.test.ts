/**
 * Long-lived graceful restart (RFC 9494) against BIRD 2, both roles, read from BIRD's own view:
 * - BIRD (GR restart time 2 s, LLGR stale time 60 s) crashes: past its restart time tortie-bgpd
 *   keeps its routes with LLGR_STALE (65535,6), the NO_LLGR (65535,7) one is removed; the LLGR
 *   watcher BIRD gets them with (65535,6), the watcher without LLGR has them withdrawn; BIRD's
 *   return refreshes them everywhere.
 * - tortie-bgpd (restart time 2 s, longLivedStaleTime 60) crashes: BIRD keeps our route past 2 s
 *   with (65535,6), and drops the mark when we are back (-R); FRR 8 the same (vtysh json:
 *   community llgr-stale, stale).
 *
 *   bird-r AS65001 10.0.0.1 (GR + LLGR on) ──veth── 10.0.0.2 ┐
 *   bird-w AS65003 10.0.1.3 (LLGR aware)   ──veth── 10.0.1.2 ├ tortie-bgpd AS65002 (ns t)
 *   bird-p AS65005 10.0.2.5 (LLGR off)     ──veth── 10.0.2.2 ┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc');
const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';

const BIRD_R = `router id 10.0.0.1;
protocol device {}
protocol static s4 { ipv4; route 10.91.0.0/24 blackhole; route 10.91.1.0/24 blackhole { bgp_community.add((65535,7)); }; }
protocol bgp tortie { local 10.0.0.1 as 65001; neighbor 10.0.0.2 as 65002; ipv4 { import all; export all; };
  graceful restart on; graceful restart time 2; long lived graceful restart on; long lived stale time 60; ${TIMERS} }
`;
const watcher = (id: string, asn: number, llgr: 'aware' | 'off'): string => `router id ${id};
protocol device {}
protocol bgp tortie { local ${id} as ${asn}; neighbor ${id.replace(/\.\d+$/, '.2')} as 65002; ipv4 { import all; export none; };
  ${llgr === 'off' ? 'graceful restart off; long lived graceful restart off;' : 'long lived graceful restart aware;'} ${TIMERS} }
`;

const TORTIE = `routerId: 10.0.0.2
asn: 65002
peers:
  - { name: birdr, address: 10.0.0.1, asn: 65001, connectRetry: 1 }
  - { name: birdw, address: 10.0.1.3, asn: 65003, connectRetry: 1 }
  - { name: birdp, address: 10.0.2.5, asn: 65005, connectRetry: 1 }
originate:
  - { prefix: 10.50.0.0/24 }
gracefulRestart: { restartTime: 2, longLivedStaleTime: 60, forwardingPreserved: true }
`;

describe('interop: long-lived graceful restart, tortie-bgpd ↔ BIRD 2', { skip, timeout: 180_000 }, () => {
  const topo = new Topology('llgr');
  let r: BirdPeer, w: BirdPeer, p: BirdPeer, t: TortieBgpd;
  const fromR = async () => (await t.routes()).filter((x) => x.from === 'birdr');
  const community = (b: BirdPeer, prefix: string): string | undefined => b.routes(prefix)[0]?.attrs['BGP.community'];
  /** BIRD holds the route and it carries no LLGR_STALE. */
  const fresh = (b: BirdPeer, prefix: string): boolean => b.routes(prefix).length === 1 && !/\(65535,6\)/.test(community(b, prefix) ?? '');

  before(async () => {
    const nsR = topo.ns('r'), nsW = topo.ns('w'), nsP = topo.ns('p'), nsT = topo.ns('t');
    topo.link(nsR, 'veR', '10.0.0.1/24', nsT, 'veTR', '10.0.0.2/24');
    topo.link(nsW, 'veW', '10.0.1.3/24', nsT, 'veTW', '10.0.1.2/24');
    topo.link(nsP, 'veP', '10.0.2.5/24', nsT, 'veTP', '10.0.2.2/24');
    [r, w, p] = await Promise.all([BirdPeer.start(topo, nsR, BIRD_R), BirdPeer.start(topo, nsW, watcher('10.0.1.3', 65003, 'aware')),
      BirdPeer.start(topo, nsP, watcher('10.0.2.5', 65005, 'off'))]);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    await pollUntil(async () => (await fromR()).length === 2, { what: 'tortie has bird-r routes', timeoutMs: 20_000 });
    await pollUntil(() => w.routes('10.91.0.0/24').length === 1 && p.routes('10.91.0.0/24').length === 1, { what: 'watchers have them', timeoutMs: 10_000 });
  });
  after(async () => { await topo.cleanup(); });

  it('BIRD crashes: past its restart time its routes carry LLGR_STALE, go only to the LLGR watcher, NO_LLGR removed; back: fresh', async () => {
    assert.ok((await t.peer('birdr')).capabilities.includes('long-lived graceful restart'), JSON.stringify((await t.peer('birdr')).capabilities));
    await r.kill();
    await pollUntil(async () => (await t.peer('birdr')).gracefulRestart?.state === 'long-lived', { what: 'tortie: bird-r long-lived stale', timeoutMs: 10_000 });
    let seen = '';
    await pollUntil(async () => (seen = JSON.stringify((await fromR()).map((x) => [x.prefix, x.communities.join(' ')]))) === '[["10.91.0.0/24","65535:6"]]',
      { what: () => `LLGR_STALE on the kept route, NO_LLGR route removed: ${seen}` });
    assert.match(t.ctl('show', 'protocols', 'all', 'birdr'), /Graceful restart: long-lived stale/);
    // BIRD's own view: the LLGR watcher has the route with (65535,6); the other had it withdrawn
    await pollUntil(() => /\(65535,6\)/.test(community(w, '10.91.0.0/24') ?? ''), { what: () => `bird-w: ${w.cmd('show', 'route', '10.91.0.0/24', 'all')}` });
    await pollUntil(() => p.routes('10.91.0.0/24').length === 0, { what: 'bird-p (no LLGR): route withdrawn' });
    await pollUntil(() => w.routes('10.91.1.0/24').length === 0 && p.routes('10.91.1.0/24').length === 0, { what: 'NO_LLGR route withdrawn at both' });

    await r.restart();
    await pollUntil(async () => (await t.peer('birdr')).state === 'Established' && (await t.peer('birdr')).gracefulRestart === undefined,
      { what: 'bird-r back, End-of-RIB in', timeoutMs: 30_000 });
    await pollUntil(async () => (await fromR()).every((x) => x.communities.length === 0 || !x.communities.includes('65535:6')) && (await fromR()).length === 2,
      { what: 'fresh routes at tortie' });
    await pollUntil(() => fresh(w, '10.91.0.0/24') && fresh(p, '10.91.0.0/24'),
      { what: () => `watchers: fresh route again: ${w.cmd('show', 'route', '10.91.0.0/24', 'all')} / ${p.cmd('show', 'route', '10.91.0.0/24', 'all')}`, timeoutMs: 10_000 });
  });

  it('tortie-bgpd crashes: BIRD keeps our route past our restart time as LLGR_STALE, refreshed when we are back', async () => {
    await pollUntil(() => r.protocol('tortie').bgpState === 'Established', { what: 'bird-r Established', timeoutMs: 30_000 });
    await pollUntil(() => r.routes('10.50.0.0/24').length === 1, { what: 'our route at bird-r' });
    assert.match(r.cmd('show', 'protocols', 'all', 'tortie'), /Neighbor capabilities[\s\S]*Long-lived graceful restart[\s\S]*LL stale time: 60/,
      'BIRD lists our LLGR capability');
    await t.kill();
    await pollUntil(() => /\(65535,6\)/.test(community(r, '10.50.0.0/24') ?? ''),
      { what: () => `bird-r marks our route LLGR_STALE after 2 s: ${r.cmd('show', 'route', '10.50.0.0/24', 'all')}`, timeoutMs: 15_000 });
    await t.restart(['-R']);
    await pollUntil(() => r.protocol('tortie').bgpState === 'Established', { what: 'bird-r sees us back', timeoutMs: 20_000 });
    await pollUntil(() => fresh(r, '10.50.0.0/24'),
      { what: () => `our route fresh at bird-r: ${r.cmd('show', 'route', '10.50.0.0/24', 'all')}`, timeoutMs: 20_000 });
  });
});

const FRR = `frr defaults datacenter
hostname frrl
router bgp 65004
 bgp router-id 10.0.4.1
 no bgp ebgp-requires-policy
 bgp graceful-restart
 bgp long-lived-graceful-restart stale-time 60
 neighbor 10.0.4.2 remote-as 65002
 neighbor 10.0.4.2 timers connect 1
 address-family ipv4 unicast
  neighbor 10.0.4.2 activate
 exit-address-family
`;

const TORTIE_F = `routerId: 10.0.4.2
asn: 65002
peers:
  - { name: frr, address: 10.0.4.1, asn: 65004, connectRetry: 1 }
originate:
  - { prefix: 10.50.0.0/24 }
gracefulRestart: { restartTime: 2, longLivedStaleTime: 60, forwardingPreserved: true }
`;

interface FrrPath { readonly community?: { readonly string?: string }; readonly stale?: boolean }

describe('interop: long-lived graceful restart, tortie-bgpd restarts, FRR 8 keeps our routes', { skip: skip ?? topologySkipReason('vtysh', '/usr/lib/frr/bgpd'), timeout: 120_000 }, () => {
  const topo = new Topology('llgrf');
  let f: FrrPeer, t: TortieBgpd;
  before(async () => {
    const nsF = topo.ns('f'), nsT = topo.ns('t');
    topo.link(nsF, 'veF', '10.0.4.1/24', nsT, 'veTF', '10.0.4.2/24');
    f = await FrrPeer.start(topo, nsF, FRR);
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE_F });
  });
  after(async () => { await topo.cleanup(); });

  const path = (): FrrPath | undefined => {
    const j = f.json('show bgp ipv4 unicast 10.50.0.0/24 json') as { paths?: FrrPath[] };
    return j.paths?.[0];
  };

  it('past our restart time FRR marks our route llgr-stale (its own JSON view); fresh again after -R', async () => {
    await pollUntil(() => path() !== undefined, { what: 'our route at FRR', timeoutMs: 30_000 });
    await t.kill();
    let seen = '';
    await pollUntil(() => { const x = path(); seen = JSON.stringify(x); return x?.stale === true && /llgr-stale/.test(x.community?.string ?? ''); },
      { what: () => `FRR: our route stale with llgr-stale: ${seen}`, timeoutMs: 15_000 });
    await t.restart(['-R']);
    await pollUntil(() => { const x = path(); seen = JSON.stringify(x); return x !== undefined && x.stale !== true && !/llgr-stale/.test(x.community?.string ?? ''); },
      { what: () => `FRR: our route fresh: ${seen}`, timeoutMs: 30_000 });
  });
});
