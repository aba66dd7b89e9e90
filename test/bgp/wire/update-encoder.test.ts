/** Bulk UPDATE encoding: packing to the size limit, families, ADD-PATH, withdraws, End-of-RIB. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '../../../bgp/wire/message.js';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import { encodeEndOfRib, encodeUpdates, encodeWithdraws, endOfRibFamily } from '../../../bgp/wire/update-encoder.js';
import { formatPrefix, parseAddress, parsePrefix } from '../../../common/prefix.js';
import type { CodecContext, Nlri, PathAttributes, UpdateMessage } from '../../../bgp/wire/types.js';
import { EBGP4 } from './wire-test-helpers.js';

const ATTRS: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], med: 10, communities: [0xfde90064], largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] };
const v4 = (n: number): Nlri[] => Array.from({ length: n }, (_, i) => ({ prefix: parsePrefix(`10.${(i >> 8) & 255}.${i & 255}.0/24`) }));
const v6 = (n: number): Nlri[] => Array.from({ length: n }, (_, i) => ({ prefix: parsePrefix(`2001:db8:${i.toString(16)}::/48`) }));
const nh4 = parseAddress('192.0.2.1').bytes;
const nh6 = [parseAddress('2001:db8::1').bytes, parseAddress('fe80::1').bytes];

function decodeAll(msgs: readonly Uint8Array[], ctx: CodecContext): UpdateMessage[] {
  return msgs.map((m) => {
    const d = decodeMessage(m, ctx);
    assert.deepEqual(d.problems, []);
    assert.ok(d.message.type === 'update');
    return d.message;
  });
}

test('encodeUpdates IPv4: 3000 prefixes packed into full 4096-byte UPDATEs, in order, attributes intact', () => {
  const nlri = v4(3000);
  const msgs = encodeUpdates({ afi: 1, safi: 1 }, ATTRS, nlri, nh4, EBGP4);
  assert.ok(msgs.every((m) => m.length <= 4096));
  assert.ok((msgs[0]?.length ?? 0) > 4096 - 4, 'first message filled to the limit');
  const ups = decodeAll(msgs, EBGP4);
  assert.deepEqual(ups.flatMap((u) => u.nlri.map((n) => formatPrefix(n.prefix))), nlri.map((n) => formatPrefix(n.prefix)));
  for (const u of ups) assert.deepEqual(u.attributes, { ...ATTRS, nextHop: nh4 });
  const per = ups[0]?.nlri.length ?? 0;
  assert.equal(msgs.length, Math.ceil(3000 / per), 'as few messages as fit');
  assert.ok(ups.slice(0, -1).every((u) => u.nlri.length === per));
});

test('encodeUpdates with extended message: up to 65535 bytes each', () => {
  const ctx = { ...EBGP4, extendedMessage: true };
  const msgs = encodeUpdates({ afi: 1, safi: 1 }, ATTRS, v4(30000), nh4, ctx);
  assert.equal(msgs.length, 2);
  assert.ok(msgs.every((m) => m.length <= 65535));
  assert.equal(decodeAll(msgs, ctx).reduce((n, u) => n + u.nlri.length, 0), 30000);
});

test('encodeUpdates IPv6: MP_REACH_NLRI first, global + link-local next hop, no classic NEXT_HOP', () => {
  const msgs = encodeUpdates({ afi: 2, safi: 1 }, { ...ATTRS, nextHop: nh4 }, v6(1000), nh6, EBGP4);
  assert.ok(msgs.length > 1 && msgs.every((m) => m.length <= 4096));
  assert.equal(msgs[0]?.[23], 0x90, 'MP_REACH_NLRI (optional, extended length) is the first attribute');
  const ups = decodeAll(msgs, EBGP4);
  assert.equal(ups.reduce((n, u) => n + (u.mpReach?.nlri.length ?? 0), 0), 1000);
  for (const u of ups) {
    assert.deepEqual(u.mpReach?.nextHops, nh6);
    assert.equal(u.attributes.nextHop, undefined);
    assert.deepEqual(u.nlri, []);
  }
});

test('encodeUpdates IPv4 through MP_REACH_NLRI when asked (RFC 8950 style)', () => {
  const msgs = encodeUpdates({ afi: 1, safi: 1 }, ATTRS, v4(3), [parseAddress('2001:db8::1').bytes], EBGP4, { viaMpReach: true });
  const [u] = decodeAll(msgs, EBGP4);
  assert.equal(u?.mpReach?.afi, 1);
  assert.equal(u?.mpReach?.nlri.length, 3);
  assert.deepEqual(u?.nlri, []);
});

test('encodeUpdates with ADD-PATH: path identifiers survive', () => {
  const ctx = { ...EBGP4, addPathSend: new Set(['1/1', '2/1']), addPathReceive: new Set(['1/1', '2/1']) };
  const nlri = v4(5).map((n, i) => ({ ...n, pathId: i + 100 }));
  const [u] = decodeAll(encodeUpdates({ afi: 1, safi: 1 }, ATTRS, nlri, nh4, ctx), ctx);
  assert.deepEqual(u?.nlri, nlri);
  const n6 = v6(3).map((n, i) => ({ ...n, pathId: i }));
  const [w] = decodeAll(encodeWithdraws({ afi: 2, safi: 1 }, n6, ctx), ctx);
  assert.deepEqual(w?.mpUnreach?.withdrawn, n6);
});

test('encodeWithdraws: classic field for IPv4, MP_UNREACH_NLRI for IPv6, split at the limit', () => {
  const w4 = encodeWithdraws({ afi: 1, safi: 1 }, v4(2000), EBGP4);
  assert.ok(w4.length === 2 && w4.every((m) => m.length <= 4096));
  assert.equal(decodeAll(w4, EBGP4).reduce((n, u) => n + u.withdrawn.length, 0), 2000);
  const w6 = encodeWithdraws({ afi: 2, safi: 1 }, v6(10), EBGP4);
  const [u] = decodeAll(w6, EBGP4);
  assert.equal(u?.mpUnreach?.withdrawn.length, 10);
  assert.equal(endOfRibFamily(u as UpdateMessage), undefined, 'a withdraw is not an End-of-RIB');
});

test('End-of-RIB markers encode and are recognised; ordinary UPDATEs are not', () => {
  for (const f of [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }]) {
    const d = decodeMessage(encodeEndOfRib(f), EBGP4);
    assert.ok(d.message.type === 'update');
    assert.deepEqual(endOfRibFamily(d.message), f);
  }
  assert.equal(encodeEndOfRib({ afi: 1, safi: 1 }).length, 23);
  const [u] = decodeAll(encodeUpdates({ afi: 1, safi: 1 }, ATTRS, v4(1), nh4, EBGP4), EBGP4);
  assert.equal(endOfRibFamily(u as UpdateMessage), undefined);
});

test('End-of-RIB with compactIpv4 (the speaker\'s codec): an IPv4 withdraw (prefixes only in compact4) is not one; the marker still is', () => {
  const [w] = encodeWithdraws({ afi: 1, safi: 1 }, v4(3), EBGP4);
  const d = decodeMessage(w!, EBGP4, { compactIpv4: true });
  assert.ok(d.message.type === 'update');
  assert.deepEqual([d.message.withdrawn.length, d.message.compact4?.withdrawn.length], [0, 3]);
  assert.equal(endOfRibFamily(d.message), undefined, 'a compact withdraw is not an End-of-RIB');
  const eor = decodeMessage(encodeEndOfRib({ afi: 1, safi: 1 }), EBGP4, { compactIpv4: true });
  assert.ok(eor.message.type === 'update');
  assert.deepEqual(endOfRibFamily(eor.message), { afi: 1, safi: 1 });
});

test('encodeUpdates: attributes too large for one message is a BgpWireError, not a RangeError', () => {
  const huge: PathAttributes = { ...ATTRS, communities: Array.from({ length: 1100 }, (_, i) => i) };
  assert.throws(() => encodeUpdates({ afi: 1, safi: 1 }, huge, v4(1), nh4, EBGP4), BgpWireError);
  assert.deepEqual(encodeUpdates({ afi: 1, safi: 1 }, ATTRS, [], nh4, EBGP4), []);
});
