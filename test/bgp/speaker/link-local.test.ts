/** link-local.ts: which received IPv6 next hop is used, and no link-local for a peer off our subnets. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '../../../common/prefix.js';
import { sharedSubnetLinkLocal, usableNextHop } from '../../../bgp/speaker/link-local.js';

const a = (s: string) => parseAddress(s).bytes;

it('uses the global next hop, the link-local one only when the global is all zeros (unnumbered peers)', () => {
  assert.deepEqual(usableNextHop([a('2001:db8::1'), a('fe80::1')]), a('2001:db8::1'));
  assert.deepEqual(usableNextHop([a('::'), a('fe80::1')]), a('fe80::1'));
  assert.deepEqual(usableNextHop([a('2001:db8::1')]), a('2001:db8::1'));
  assert.equal(usableNextHop([]), undefined);
});

it('adds no link-local address for a peer that is not on the session interface\'s subnets', () => {
  // loopback holds 127.0.0.1/8 and is internal: never a shared subnet, and it has no link-local address
  assert.equal(sharedSubnetLinkLocal('127.0.0.1', '127.0.0.2'), undefined);
  assert.equal(sharedSubnetLinkLocal('192.0.2.77', '192.0.2.1'), undefined, 'an address we do not hold');
  assert.equal(sharedSubnetLinkLocal(undefined, '192.0.2.1'), undefined);
});
