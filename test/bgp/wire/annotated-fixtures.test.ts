/**
 * Annotated byte fixtures, checked both ways: decode gives the model, encode gives the bytes.
 * One per message type and per path attribute (RFC 4271 §4, RFC 4760, 5492, 1997, 4360, 4456,
 * 8092, 4724, 7911, 8654, 7313, 9003).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, KEEPALIVE, decodeOpen, encodeOpen, decodeUpdate, encodeUpdate,
  decodeNotification, encodeNotification, decodeRouteRefresh, encodeRouteRefresh } from '../../../bgp/wire/message.js';
import { decodeShutdownCommunication } from '../../../bgp/wire/notification.js';
import { parsePrefix, parseAddress } from '../../../common/prefix.js';
import type { BgpMessage, CodecContext, OpenMessage, UpdateMessage } from '../../../bgp/wire/types.js';
import { annotated, EBGP2, EBGP4, IBGP4, MARKER, toHex } from './wire-test-helpers.js';

function bothWays(name: string, bytes: Uint8Array, model: BgpMessage, ctx: CodecContext): void {
  test(`fixture: ${name} decodes to the model`, () => {
    const d = decodeMessage(bytes, ctx);
    assert.deepEqual(d.problems, []);
    assert.equal(d.action, undefined);
    assert.deepEqual(d.message, model);
  });
  test(`fixture: ${name} encodes to the bytes`, () => {
    assert.equal(toHex(encodeMessage(model, ctx)), toHex(bytes));
  });
}

const p = (s: string) => parsePrefix(s);
const a = (s: string) => parseAddress(s).bytes;

const OPEN_BYTES = annotated([
  [MARKER, 'marker'], ['0052', 'length 82'], ['01', 'type OPEN'],
  ['04', 'version 4'], ['fde8', 'My AS 65000'], ['005a', 'hold time 90'], ['0a000001', 'BGP Identifier 10.0.0.1'],
  ['35', 'optional parameters length 53'],
  ['02 33', 'parameter: capabilities, 51 bytes'],
  ['01 04 0001 00 01', 'MP: IPv4 unicast'],
  ['01 04 0002 00 01', 'MP: IPv6 unicast'],
  ['02 00', 'route refresh'],
  ['41 04 0000fde8', '4-octet AS 65000'],
  ['40 06 8078 0001 01 80', 'GR: R bit, restart time 120; IPv4 unicast, F bit'],
  ['45 04 0001 01 03', 'ADD-PATH: IPv4 unicast, send+receive'],
  ['06 00', 'extended message'],
  ['46 00', 'enhanced route refresh'],
  ['47 07 0001 01 80 000e10', 'LLGR (RFC 9494): IPv4 unicast, F bit, long-lived stale time 3600'],
  ['83 02 abcd', 'unknown capability 131, kept'],
]);
const OPEN_MODEL: OpenMessage = {
  type: 'open', version: 4, myAs: 65000, holdTime: 90, bgpId: 0x0a000001,
  capabilities: [
    { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'multiprotocol', afi: 2, safi: 1 },
    { type: 'route-refresh' }, { type: 'four-octet-as', asn: 65000 },
    { type: 'graceful-restart', restarting: true, notification: false, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
    { type: 'add-path', families: [{ afi: 1, safi: 1, mode: 3 }] },
    { type: 'extended-message' }, { type: 'enhanced-route-refresh' },
    { type: 'long-lived-graceful-restart', families: [{ afi: 1, safi: 1, forwardingPreserved: true, staleTime: 3600 }] },
    { type: 'unknown', code: 131, value: Uint8Array.of(0xab, 0xcd) },
  ],
};
bothWays('OPEN with every capability', OPEN_BYTES, OPEN_MODEL, EBGP2);

const UPDATE_V4 = annotated([
  [MARKER, 'marker'], ['00a1', 'length 161'], ['02', 'type UPDATE'],
  ['0004', 'withdrawn routes length 4'], ['18 c00002', 'withdrawn 192.0.2.0/24'],
  ['0077', 'total path attribute length 119'],
  ['40 01 01 00', 'ORIGIN (well-known transitive) IGP'],
  ['40 02 10 02 02 0000fde9 0000fdea 01 01 0000fdeb', 'AS_PATH: AS_SEQUENCE 65001 65002, AS_SET {65003} (4-octet)'],
  ['40 03 04 c0000201', 'NEXT_HOP 192.0.2.1'],
  ['80 04 04 00000032', 'MULTI_EXIT_DISC (optional) 50'],
  ['40 05 04 00000064', 'LOCAL_PREF 100 (iBGP)'],
  ['40 06 00', 'ATOMIC_AGGREGATE'],
  ['c0 07 08 0000fde9 c0000201', 'AGGREGATOR AS 65001, 192.0.2.1'],
  ['c0 08 08 fde90064 ffffff01', 'COMMUNITIES 65001:100 no-export'],
  ['80 09 04 0a000009', 'ORIGINATOR_ID 10.0.0.9'],
  ['80 0a 08 0a000001 0a000002', 'CLUSTER_LIST 10.0.0.1 10.0.0.2'],
  ['c0 10 08 0002fde900000007', 'EXTENDED_COMMUNITIES rt:65001:7'],
  ['c0 20 0c 0000fde9 00000001 00000002', 'LARGE_COMMUNITY 65001:1:2'],
  ['e0 fe 03 010203', 'unknown optional transitive 254, Partial set'],
  ['18 c63364', 'NLRI 198.51.100.0/24'], ['19 cb007100', '203.0.113.0/25'], ['20 0a000001', '10.0.0.1/32'],
  ['00', '0.0.0.0/0'],
]);
const UPDATE_V4_MODEL: UpdateMessage = {
  type: 'update',
  withdrawn: [{ prefix: p('192.0.2.0/24') }],
  attributes: {
    origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }, { type: 1, asns: [65003] }], nextHop: a('192.0.2.1'),
    med: 50, localPref: 100, atomicAggregate: true, aggregator: { asn: 65001, address: a('192.0.2.1') },
    communities: [0xfde90064, 0xffffff01], originatorId: 0x0a000009, clusterList: [0x0a000001, 0x0a000002],
    extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xe9, 0, 0, 0, 7)],
    largeCommunities: [{ globalAdmin: 65001, localData1: 1, localData2: 2 }],
    unknown: [{ typeCode: 254, flags: 0xe0, value: Uint8Array.of(1, 2, 3) }],
  },
  nlri: [{ prefix: p('198.51.100.0/24') }, { prefix: p('203.0.113.0/25') }, { prefix: p('10.0.0.1/32') }, { prefix: p('0.0.0.0/0') }],
};
bothWays('IPv4 UPDATE with every attribute (iBGP, 4-octet AS)', UPDATE_V4, UPDATE_V4_MODEL, IBGP4);

const UPDATE_V6 = annotated([
  [MARKER, 'marker'], ['005a', 'length 90'], ['02', 'type UPDATE'],
  ['0000', 'no withdrawn routes'], ['0043', 'total path attribute length 67'],
  ['80 0e 35', 'MP_REACH_NLRI (optional non-transitive), 53 bytes'],
  ['0002 01', 'AFI IPv6, SAFI unicast'], ['20', 'next hop length 32: global + link-local'],
  ['20010db8000000000000000000000001', 'next hop 2001:db8::1'],
  ['fe800000000000000000000000000001', 'link-local fe80::1'],
  ['00', 'reserved'],
  ['30 20010db80001', 'NLRI 2001:db8:1::/48'], ['40 20010db800020000', '2001:db8:2::/64'],
  ['40 01 01 02', 'ORIGIN incomplete'],
  ['40 02 04 02 01 fde9', 'AS_PATH AS_SEQUENCE 65001 (2-octet session)'],
]);
bothWays('IPv6 UPDATE via MP_REACH_NLRI with link-local next hop (2-octet AS)', UPDATE_V6, {
  type: 'update', withdrawn: [], nlri: [],
  attributes: { origin: 2, asPath: [{ type: 2, asns: [65001] }] },
  mpReach: { afi: 2, safi: 1, nextHops: [a('2001:db8::1'), a('fe80::1')], nlri: [{ prefix: p('2001:db8:1::/48') }, { prefix: p('2001:db8:2::/64') }] },
}, EBGP2);

bothWays('IPv6 withdraw via MP_UNREACH_NLRI', annotated([
  [MARKER, 'marker'], ['0024', 'length 36'], ['02', 'UPDATE'], ['0000', 'no withdrawn'], ['000d', 'attributes 13'],
  ['80 0f 0a', 'MP_UNREACH_NLRI, 10 bytes'], ['0002 01', 'IPv6 unicast'], ['30 20010db80001', '2001:db8:1::/48'],
]), { type: 'update', withdrawn: [], nlri: [], attributes: {}, mpUnreach: { afi: 2, safi: 1, withdrawn: [{ prefix: p('2001:db8:1::/48') }] } }, EBGP4);

bothWays('IPv4 End-of-RIB', annotated([[MARKER, 'marker'], ['0017', 'length 23'], ['02', 'UPDATE'], ['0000 0000', 'nothing']]),
  { type: 'update', withdrawn: [], nlri: [], attributes: {} }, EBGP4);

bothWays('ADD-PATH IPv4 NLRI with path identifiers', annotated([
  [MARKER, 'marker'], ['0033', 'length 51'], ['02', 'UPDATE'], ['0000', 'no withdrawn'], ['0014', 'attributes 20'],
  ['40 01 01 00', 'ORIGIN'], ['40 02 06 0201 0000fde9', 'AS_PATH 65001'], ['40 03 04 c0000201', 'NEXT_HOP'],
  ['00000007 18 c63364', 'path id 7, 198.51.100.0/24'],
]), {
  type: 'update', withdrawn: [], attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: a('192.0.2.1') },
  nlri: [{ prefix: p('198.51.100.0/24'), pathId: 7 }],
}, { ...EBGP4, addPathReceive: new Set(['1/1']), addPathSend: new Set(['1/1']) });

bothWays('KEEPALIVE', annotated([[MARKER, 'marker'], ['0013', 'length 19'], ['04', 'KEEPALIVE']]), { type: 'keepalive' }, EBGP4);

bothWays('NOTIFICATION Cease/Administrative shutdown with RFC 9003 text', annotated([
  [MARKER, 'marker'], ['0019', 'length 25'], ['03', 'NOTIFICATION'], ['06', 'Cease'], ['02', 'Administrative shutdown'],
  ['03 627965', 'shutdown communication: length 3, "bye"'],
]), { type: 'notification', code: 6, subcode: 2, data: Uint8Array.of(3, 0x62, 0x79, 0x65) }, EBGP4);

bothWays('ROUTE-REFRESH IPv6 unicast', annotated([
  [MARKER, 'marker'], ['0017', 'length 23'], ['05', 'ROUTE-REFRESH'], ['0002', 'AFI IPv6'], ['00', 'subtype normal'], ['01', 'SAFI unicast'],
]), { type: 'route-refresh', afi: 2, safi: 1, subtype: 0 }, EBGP4);

bothWays('ROUTE-REFRESH Beginning of Route Refresh (RFC 7313)', annotated([
  [MARKER, 'marker'], ['0017', 'length 23'], ['05', 'ROUTE-REFRESH'], ['0001', 'AFI IPv4'], ['01', 'BoRR'], ['01', 'SAFI unicast'],
]), { type: 'route-refresh', afi: 1, safi: 1, subtype: 1 }, EBGP4);

test('per-type pairs agree with decodeMessage/encodeMessage', () => {
  assert.deepEqual(decodeOpen(OPEN_BYTES), OPEN_MODEL);
  assert.equal(toHex(encodeOpen(OPEN_MODEL)), toHex(OPEN_BYTES));
  assert.deepEqual(decodeUpdate(UPDATE_V4, IBGP4).message, UPDATE_V4_MODEL);
  assert.equal(toHex(encodeUpdate(UPDATE_V4_MODEL, IBGP4)), toHex(UPDATE_V4));
  const n = { type: 'notification', code: 6, subcode: 4, data: Uint8Array.of(2, 0x68, 0x69) } as const;
  assert.deepEqual(decodeNotification(encodeNotification(n)), n);
  assert.equal(decodeShutdownCommunication(n), 'hi');
  const rr = { type: 'route-refresh', afi: 1, safi: 1, subtype: 2 } as const;
  assert.deepEqual(decodeRouteRefresh(encodeRouteRefresh(rr)), rr);
  assert.equal(toHex(KEEPALIVE), `${MARKER}001304`);
});

test('RFC 9072 extended optional parameters decode, and an OPEN too big for 255 bytes encodes in that form', () => {
  const caps = Array.from({ length: 70 }, (_, i) => ({ type: 'multiprotocol', afi: 1, safi: i + 1 }) as const);
  const big: OpenMessage = { type: 'open', version: 4, myAs: 65000, holdTime: 90, bgpId: 1, capabilities: caps };
  const bytes = encodeOpen(big);
  assert.equal(bytes[28], 255, 'Non-Ext OP Len');
  assert.equal(bytes[29], 255, 'Non-Ext OP Type');
  assert.deepEqual(decodeOpen(bytes), big);
});
