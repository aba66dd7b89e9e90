/**
 * RFC 6793: AS4_PATH / AS4_AGGREGATOR merge from a 2-octet peer (§4.2.3) and generation towards
 * one (§4.2.2), plus the 4-octet session where neither appears.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/message.js';
import { mergeAsPaths } from '../../../bgp/wire/attributes/as4-merge.js';
import type { AsPathSegment, PathAttributes, UpdateMessage } from '../../../bgp/wire/types.js';
import { attr, EBGP2, EBGP4, ONE_PREFIX, toHex, update } from './wire-test-helpers.js';

const ORIGIN = attr(0x40, 1, '00');
const NH = attr(0x40, 3, 'c0000201');
const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });

function decode2(attrs: string): PathAttributes {
  const d = decodeMessage(update({ attrs: ORIGIN + NH + attrs, nlri: ONE_PREFIX }), EBGP2);
  assert.deepEqual(d.problems.map((p) => p.message), []);
  assert.ok(d.message.type === 'update');
  return d.message.attributes;
}

test('AS4 merge: AS_PATH with AS_TRANS + AS4_PATH → the 4-octet path', () => {
  const a = decode2(attr(0x40, 2, '0202 fde9 5ba0') + attr(0xc0, 17, '0202 0000fde9 fa56ea00'));
  assert.deepEqual(a.asPath, [seq(65001, 4200000000)]);
});

test('AS4 merge: ASes prepended by a 2-octet speaker are kept in front', () => {
  const a = decode2(attr(0x40, 2, '0203 0064 00c8 5ba0') + attr(0xc0, 17, '0201 fa56ea00'));
  assert.deepEqual(a.asPath, [seq(100, 200, 4200000000)]);
});

test('AS4 merge: an AS4_PATH longer than AS_PATH is ignored', () => {
  const a = decode2(attr(0x40, 2, '0201 5ba0') + attr(0xc0, 17, '0202 00000001 00000002'));
  assert.deepEqual(a.asPath, [seq(23456)]);
});

test('AS4 merge: an AGGREGATOR other than AS_TRANS makes AS4_PATH and AS4_AGGREGATOR ignored', () => {
  const a = decode2(attr(0x40, 2, '0201 5ba0') + attr(0xc0, 7, '0064 c0000201') + attr(0xc0, 17, '0201 fa56ea00') + attr(0xc0, 18, 'fa56ea01 c0000202'));
  assert.deepEqual(a.asPath, [seq(23456)]);
  assert.equal(a.aggregator?.asn, 100);
});

test('AS4 merge: AGGREGATOR AS_TRANS + AS4_AGGREGATOR → the 4-octet aggregator', () => {
  const a = decode2(attr(0x40, 2, '0201 5ba0') + attr(0xc0, 7, '5ba0 c0000201') + attr(0xc0, 17, '0201 fa56ea00') + attr(0xc0, 18, 'fa56ea01 c0000202'));
  assert.deepEqual(a.asPath, [seq(4200000000)]);
  assert.deepEqual(a.aggregator, { asn: 4200000001, address: Uint8Array.of(192, 0, 2, 2) });
});

test('AS4 merge: confederation segments in AS4_PATH are dropped; the ones in AS_PATH stay in front', () => {
  const a = decode2(attr(0x40, 2, '0301 fdf2 0201 5ba0') + attr(0xc0, 17, '0301 0000fdf2 0201 fa56ea00'));
  assert.deepEqual(a.asPath, [{ type: 3, asns: [65010] }, seq(4200000000)]);
});

test('AS4 merge: an AS_SET counts as one AS', () => {
  assert.deepEqual(mergeAsPaths([seq(100), set(23456, 300)], [set(4200000000, 300)]), [seq(100), set(4200000000, 300)]);
  assert.deepEqual(mergeAsPaths([seq(100, 200), set(1, 2, 3)], [seq(4200000000), set(1, 2, 3)]), [seq(100, 4200000000), set(1, 2, 3)]);
});

test('AS4 generation towards a 2-octet peer: AS_TRANS in AS_PATH/AGGREGATOR plus AS4_PATH/AS4_AGGREGATOR', () => {
  const m: UpdateMessage = {
    type: 'update', withdrawn: [], nlri: [],
    attributes: { origin: 0, asPath: [seq(65001, 4200000000)], aggregator: { asn: 4200000001, address: Uint8Array.of(192, 0, 2, 2) } },
  };
  const bytes = toHex(encodeMessage(m, EBGP2));
  assert.ok(bytes.includes(attr(0x40, 2, '0202 fde9 5ba0').replace(/\s/g, '')), 'AS_PATH with AS_TRANS');
  assert.ok(bytes.includes(attr(0xc0, 7, '5ba0 c0000202').replace(/\s/g, '')), 'AGGREGATOR with AS_TRANS');
  assert.ok(bytes.includes(attr(0xc0, 17, '0202 0000fde9 fa56ea00').replace(/\s/g, '')), 'AS4_PATH');
  assert.ok(bytes.includes(attr(0xc0, 18, 'fa56ea01 c0000202').replace(/\s/g, '')), 'AS4_AGGREGATOR');
  assert.deepEqual(decodeMessage(encodeMessage(m, EBGP2), EBGP2).message, m);
});

test('AS4 generation: nothing extra when every AS fits 2 octets or the peer is 4-octet capable', () => {
  const small: UpdateMessage = { type: 'update', withdrawn: [], nlri: [], attributes: { origin: 0, asPath: [seq(65001, 65002)] } };
  assert.ok(!toHex(encodeMessage(small, EBGP2)).includes('c011'));
  const big: UpdateMessage = { type: 'update', withdrawn: [], nlri: [], attributes: { origin: 0, asPath: [seq(4200000000)] } };
  const hex4 = toHex(encodeMessage(big, EBGP4));
  assert.ok(!hex4.includes('c011') && hex4.includes('fa56ea00'));
});
