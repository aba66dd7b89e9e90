/**
 * Inbound checks that need the session (bgp/speaker/inbound.ts), without sockets: a NEXT_HOP
 * (or MP_REACH next hop) equal to our own address on the session makes the route unusable
 * (RFC 4271 §5.1.3): it is treated as withdrawn, no NOTIFICATION. Over loopback (the other
 * speaker tests) our address is 127.0.0.1, which the decoder already refuses as a martian, and
 * BIRD and GoBGP will not send a next hop equal to their neighbour's address: hence a unit test
 * with the session's addresses set by hand.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, parsePrefix } from '../../../common/prefix.js';
import { systemClock } from '../../../common/clock.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import { INITIAL_CONTEXT, type PathAttributes, type UpdateMessage } from '../../../bgp/wire/types.js';
import type { NegotiatedSession } from '../../../bgp/fsm/fsm-types.js';
import { EstablishedSession } from '../../../bgp/speaker/established-session.js';
import { Inbound } from '../../../bgp/speaker/inbound.js';
import type { Peer } from '../../../bgp/speaker/peer.js';
import { testLogger } from '../../helpers/bgp-session-peers.js';

const a = (s: string) => parseAddress(s).bytes;

function setup() {
  const rib = new LocRib({ localAs: 65000, routerId: 0x0a000001 });
  const adjIn = rib.addPeer({ id: 'p', kind: 'ebgp', asn: 65001, routerId: 0x0a000002, address: a('10.0.0.1') });
  const negotiated = { codec: INITIAL_CONTEXT, families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] } as unknown as NegotiatedSession;
  const established = new EstablishedSession(negotiated, 0);
  established.setLocal(a('10.0.0.2'), a('2001:db8::2'));
  // a fake Peer: only what Inbound reads
  const peer = { config: { name: 'p' }, adjIn, established, routeRefreshIn: 0 } as unknown as Peer;
  const inbound = new Inbound({
    clock: systemClock, log: testLogger('inbound'),
    endOfRib: () => undefined, refresh: () => undefined, markStale: () => undefined, sweepStale: () => undefined, current: () => true,
  });
  return { rib, peer, inbound };
}

const base: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }] };
const v4 = (prefix: string, nextHop: string): UpdateMessage => ({
  type: 'update', withdrawn: [], nlri: [{ prefix: parsePrefix(prefix) }], attributes: { ...base, nextHop: a(nextHop) },
});
const v6 = (prefix: string, nextHop: string): UpdateMessage => ({
  type: 'update', withdrawn: [], nlri: [], attributes: base,
  mpReach: { afi: 2, safi: 1, nextHops: [a(nextHop)], nlri: [{ prefix: parsePrefix(prefix) }] },
});
const ok = { action: undefined, problems: [] } as const;

describe('Inbound: NEXT_HOP equal to our own address (RFC 4271 §5.1.3)', () => {
  it('IPv4: the route is ignored, and an earlier version of it withdrawn', () => {
    const { rib, peer, inbound } = setup();
    inbound.update(peer, v4('10.97.1.0/24', '10.0.0.9'), ok);
    assert.equal(rib.candidates(parsePrefix('10.97.1.0/24')).length, 1);
    inbound.update(peer, v4('10.97.1.0/24', '10.0.0.2'), ok);
    assert.equal(rib.candidates(parsePrefix('10.97.1.0/24')).length, 0, 'the version with our next hop replaced it as a withdrawal');
    inbound.update(peer, v4('10.97.2.0/24', '10.0.0.2'), ok);
    assert.equal(rib.candidates(parsePrefix('10.97.2.0/24')).length, 0, 'never installed');
  });
  it('IPv6: an MP_REACH next hop that is ours is ignored too', () => {
    const { rib, peer, inbound } = setup();
    inbound.update(peer, v6('2001:db8:97::/48', '2001:db8::2'), ok);
    assert.equal(rib.candidates(parsePrefix('2001:db8:97::/48')).length, 0);
    inbound.update(peer, v6('2001:db8:98::/48', '2001:db8::9'), ok);
    assert.equal(rib.candidates(parsePrefix('2001:db8:98::/48')).length, 1);
  });
});
