/** peerSocketOptions: the TTL rules of BIRD and FRR (single-hop eBGP 1, multihop N, iBGP kernel default, GTSM 255 / 256 - hops). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { peerSocketOptions, type PeerConfig } from '../../../bgp/speaker/peer-config.js';

const base: PeerConfig = {
  name: 'p', address: '10.0.0.1', asn: 65001, port: 179, passive: false, holdTime: 90, keepalive: 30, connectRetry: 5,
  families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false,
};

it('eBGP 1, multihop N, iBGP untouched, GTSM 255 with minimum 256 - hops, localAs decides eBGP, password passed on', () => {
  assert.deepEqual(peerSocketOptions(base, 65002), { ttl: 1 });
  assert.deepEqual(peerSocketOptions({ ...base, multihop: 3 }, 65002), { ttl: 3 });
  assert.deepEqual(peerSocketOptions({ ...base, asn: 65002 }, 65002), {});
  assert.deepEqual(peerSocketOptions({ ...base, asn: 65002, multihop: 2 }, 65002), { ttl: 2 });
  assert.deepEqual(peerSocketOptions({ ...base, localAs: 65001 }, 65002), {}, 'localAs equal to the peer AS: iBGP');
  assert.deepEqual(peerSocketOptions({ ...base, ttlSecurity: 1 }, 65002), { ttl: 255, minTtl: 255 });
  assert.deepEqual(peerSocketOptions({ ...base, ttlSecurity: 2, multihop: 9 }, 65002), { ttl: 255, minTtl: 254 });
  assert.deepEqual(peerSocketOptions({ ...base, password: 'k' }, 65002), { ttl: 1, md5Password: 'k' });
});
