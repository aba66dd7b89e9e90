/** calc/bfd-sessions: which BGP peers get a BFD session, with which timers, single-hop or multihop. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { bgpSpeakerConfig } from '../../../agent/calc/bgp-peers.js';
import { bfdSessions } from '../../../agent/calc/bfd-sessions.js';
import type { NodeInfo, PeerInfo, Snapshot } from '../../../agent/calc/snapshot.js';
import type { BFDProfileSpec } from '../../../agent/resources/bfd-profile.js';

const node = (name: string, cidr: string): NodeInfo => ({ name, ipv4: cidr.split('/')[0] ?? '', ipv4Cidr: cidr, labels: {} });
const nodes = [node('a', '10.0.1.11/24'), node('b', '10.0.1.12/24'), node('c', '10.0.2.13/24')];

function snap(o: { peers?: PeerInfo[]; profiles?: Record<string, BFDProfileSpec>; mesh?: string }): Snapshot {
  return {
    localNode: 'a', nodes: new Map(nodes.map((n) => [n.name, n])), pools: [], peers: o.peers ?? [], bgpConfigs: new Map(), filters: new Map(), blocks: [],
    bfdProfiles: new Map(Object.entries(o.profiles ?? {})), ...(o.mesh === undefined ? {} : { meshBfdProfile: o.mesh }),
  };
}

const tor: PeerInfo = { name: 'tor', spec: { peerIP: '10.0.1.1', asNumber: 65000 }, bfdProfile: 'fast' };
const plainPeer: PeerInfo = { name: 'other', spec: { peerIP: '192.0.2.1', asNumber: 65001 } };

test('BFD on the mesh and the annotated BGPPeer only; single-hop on the own subnet, multihop across the ToR', () => {
  const s = snap({ peers: [tor, plainPeer], profiles: { fast: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 } }, mesh: 'fast' });
  const calc = bgpSpeakerConfig(s);
  const r = bfdSessions(s, calc.peers);
  assert.deepEqual(r.problems, []);
  const params = { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false };
  assert.deepEqual(Object.fromEntries(r.sessions), {
    Mesh_10_0_1_12: { peer: '10.0.1.12', local: '10.0.1.11', multihop: false, params },
    Mesh_10_0_2_13: { peer: '10.0.2.13', local: '10.0.1.11', multihop: true, params },
    Global_10_0_1_1: { peer: '10.0.1.1', local: '10.0.1.11', multihop: false, params },
  });
});

test('profile defaults (300 ms x 3), multihop and passive as the profile says; a missing profile is a problem, not a session', () => {
  const s = snap({ peers: [tor], profiles: { fast: { multihop: true, passive: true } }, mesh: 'nope' });
  const r = bfdSessions(s, bgpSpeakerConfig(s).peers);
  assert.deepEqual(Object.fromEntries(r.sessions), {
    Global_10_0_1_1: { peer: '10.0.1.1', local: '10.0.1.11', multihop: true, params: { desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, detectMult: 3, passive: true } },
  });
  assert.deepEqual(r.problems, [
    'BGPConfiguration default: metadata.annotations.tortie.io/bfd-profile: no BFDProfile "nope"; Mesh_10_0_1_12 runs without BFD',
    'BGPConfiguration default: metadata.annotations.tortie.io/bfd-profile: no BFDProfile "nope"; Mesh_10_0_2_13 runs without BFD',
  ]);
  assert.equal(bfdSessions(snap({ peers: [plainPeer] }), bgpSpeakerConfig(snap({ peers: [plainPeer] })).peers).sessions.size, 0);
});

test('a peer on another subnet connected to the host (a second uplink) is single-hop, not multihop', () => {
  const tor2: PeerInfo = { name: 'tor2', spec: { peerIP: '10.0.9.1', asNumber: 65000 }, bfdProfile: 'fast' };
  const s = snap({ peers: [tor2], profiles: { fast: {} } });
  const calc = bgpSpeakerConfig(s);
  assert.equal(bfdSessions(s, calc.peers).sessions.get('Global_10_0_9_1')?.multihop, true, 'unknown subnet: multihop');
  assert.equal(bfdSessions(s, calc.peers, ['10.0.9.11/24', 'fe80::1/64']).sessions.get('Global_10_0_9_1')?.multihop, false, 'connected: single-hop');
});
