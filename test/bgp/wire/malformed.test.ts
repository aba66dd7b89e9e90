/**
 * Malformed-input table (robustness.md §7.1 W3, W4, W5, W9 and the RFC 7606 table in §1.3):
 * every row names the fault, the session kind, and the exact code, subcode, data and action.
 * `reset` rows must throw a BgpWireError with action 'session-reset'; the others must return
 * the message with that action as the strongest among `problems`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '../../../bgp/wire/message.js';
import { parseHeader } from '../../../bgp/wire/header.js';
import { BgpWireError, type ErrorAction } from '../../../bgp/wire/errors.js';
import type { CodecContext, UpdateMessage } from '../../../bgp/wire/types.js';
import { attr, BASE_ATTRS, EBGP2, EBGP4, hex, IBGP4, MARKER, message, ONE_PREFIX, toHex, update } from './wire-test-helpers.js';

interface Row {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly ctx?: CodecContext;
  readonly code: number;
  readonly subcode: number;
  readonly action: ErrorAction;
  /** Expected NOTIFICATION data, hex (checked when given). */
  readonly data?: string;
  /** Extra assertion on a returned (non-reset) message. */
  readonly check?: (m: UpdateMessage) => void;
}

const ORIGIN = attr(0x40, 1, '00');
const ASP = attr(0x40, 2, '0201 0000fde9');
const NH = attr(0x40, 3, 'c0000201');
const u = (extra: string, nlri = ONE_PREFIX, base = BASE_ATTRS) => update({ attrs: base + extra, nlri });
const OPEN_HEAD = (v = '04', as = 'fde8', hold = '005a', id = '0a000001') => `${v}${as}${hold}${id}`;

const ROWS: Row[] = [
  // ---- W4: header
  { name: 'marker not all ones', bytes: hex(`${'ff'.repeat(15)}fe 0013 04`), code: 1, subcode: 1, action: 'session-reset' },
  { name: 'length 18', bytes: hex(`${MARKER} 0012 04`), code: 1, subcode: 2, data: '0012', action: 'session-reset' },
  { name: 'length 4097', bytes: hex(`${MARKER} 1001 02`), code: 1, subcode: 2, data: '1001', action: 'session-reset' },
  { name: 'type 0', bytes: hex(`${MARKER} 0013 00`), code: 1, subcode: 3, data: '00', action: 'session-reset' },
  { name: 'type 6', bytes: hex(`${MARKER} 0013 06`), code: 1, subcode: 3, data: '06', action: 'session-reset' },
  { name: 'type 255', bytes: hex(`${MARKER} 0013 ff`), code: 1, subcode: 3, data: 'ff', action: 'session-reset' },
  { name: 'OPEN shorter than 29', bytes: hex(`${MARKER} 001c 01 ${OPEN_HEAD()}`), code: 1, subcode: 2, data: '001c', action: 'session-reset' },
  { name: 'KEEPALIVE of 20 bytes', bytes: hex(`${MARKER} 0014 04 00`), code: 1, subcode: 2, data: '0014', action: 'session-reset' },
  { name: 'UPDATE shorter than 23', bytes: hex(`${MARKER} 0016 02 000000`), code: 1, subcode: 2, data: '0016', action: 'session-reset' },
  { name: 'NOTIFICATION shorter than 21', bytes: hex(`${MARKER} 0014 03 06`), code: 1, subcode: 2, data: '0014', action: 'session-reset' },
  { name: 'length field disagrees with the bytes given', bytes: hex(`${MARKER} 0017 02 00000000 00`), code: 1, subcode: 2, data: '0017', action: 'session-reset' },
  { name: 'ROUTE-REFRESH shorter than 23', bytes: hex(`${MARKER} 0016 05 000100`), code: 1, subcode: 2, data: '0016', action: 'session-reset' },
  { name: 'ROUTE-REFRESH BoRR with a 5-byte body (RFC 7313 §5)', bytes: message(5, '0001 01 01 00'), code: 7, subcode: 1, action: 'session-reset' },
  { name: 'UPDATE of 4097 bytes without extended message', bytes: update({ attrs: BASE_ATTRS, nlri: '18c63364'.repeat(1013) + '0000' }), code: 1, subcode: 2, data: '1001', action: 'session-reset' },

  // ---- W5: OPEN
  { name: 'OPEN version 3', bytes: message(1, `${OPEN_HEAD('03')}00`), code: 2, subcode: 1, data: '0004', action: 'session-reset' },
  { name: 'OPEN hold time 1', bytes: message(1, `${OPEN_HEAD('04', 'fde8', '0001')}00`), code: 2, subcode: 6, action: 'session-reset' },
  { name: 'OPEN hold time 2', bytes: message(1, `${OPEN_HEAD('04', 'fde8', '0002')}00`), code: 2, subcode: 6, action: 'session-reset' },
  { name: 'OPEN BGP Identifier 0', bytes: message(1, `${OPEN_HEAD('04', 'fde8', '005a', '00000000')}00`), code: 2, subcode: 3, action: 'session-reset' },
  { name: 'OPEN My AS 0 (RFC 7607)', bytes: message(1, `${OPEN_HEAD('04', '0000')}00`), code: 2, subcode: 2, action: 'session-reset' },
  { name: 'OPEN unknown optional parameter type 1', bytes: message(1, `${OPEN_HEAD()}04 01 02 abcd`), code: 2, subcode: 4, data: '01', action: 'session-reset' },
  { name: 'OPEN RFC 9072 marker with a truncated extended length', bytes: message(1, `${OPEN_HEAD()}ff ff 00`), code: 2, subcode: 0, action: 'session-reset' },
  { name: 'OPEN capability length overruns its parameter', bytes: message(1, `${OPEN_HEAD()}04 02 02 41 04`), code: 2, subcode: 0, action: 'session-reset' },
  { name: 'OPEN parameter length overruns the message', bytes: message(1, `${OPEN_HEAD()}04 02 09 4100`), code: 2, subcode: 0, action: 'session-reset' },
  { name: 'OPEN optional parameters length disagrees with the message', bytes: message(1, `${OPEN_HEAD()}09 02 02 0200`), code: 2, subcode: 0, action: 'session-reset' },
  { name: 'OPEN 4-octet AS capability of length 2', bytes: message(1, `${OPEN_HEAD()}06 02 04 41 02 fde8`), code: 2, subcode: 0, action: 'session-reset' },

  // ---- UPDATE framing (BIRD bgp_rx_update; RFC 7606 §5.3)
  { name: 'withdrawn routes length past the message', bytes: message(2, '0010 18c00002 0000'), code: 3, subcode: 1, action: 'session-reset' },
  { name: 'total attribute length past the message', bytes: message(2, '0000 0040 400101 00'), code: 3, subcode: 1, action: 'session-reset' },
  { name: 'NLRI prefix length 33', bytes: u('', '21 c0000201 00'), code: 3, subcode: 10, action: 'session-reset' },
  { name: 'NLRI prefix overruns the message', bytes: u('', '18 c633'), code: 3, subcode: 10, action: 'session-reset' },
  { name: 'withdrawn prefix length 33', bytes: update({ withdrawn: '21 c0000201 00' }), code: 3, subcode: 10, action: 'session-reset' },

  // ---- W3: the RFC 7606 table, attribute by attribute
  { name: 'ORIGIN length 2', bytes: u('', ONE_PREFIX, attr(0x40, 1, '0000') + ASP + NH), code: 3, subcode: 5, data: '40010200 00', action: 'treat-as-withdraw' },
  { name: 'ORIGIN value 3', bytes: u('', ONE_PREFIX, attr(0x40, 1, '03') + ASP + NH), code: 3, subcode: 6, data: '40010103', action: 'treat-as-withdraw' },
  { name: 'ORIGIN flagged optional', bytes: u('', ONE_PREFIX, attr(0xc0, 1, '00') + ASP + NH), code: 3, subcode: 4, data: 'c0010100', action: 'treat-as-withdraw' },
  { name: 'AS_PATH segment type 0', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0001 0000fde9') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'AS_PATH segment type 5', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0501 0000fde9') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'AS_PATH segment length 0', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0200') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'AS_PATH segment overruns', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0202 0000fde9') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'AS_PATH with AS 0 (RFC 7607)', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0202 0000fde9 00000000') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'AS_PATH 2-octet data on a 4-octet session (odd length)', bytes: u('', ONE_PREFIX, ORIGIN + attr(0x40, 2, '0201 fde9') + NH), code: 3, subcode: 11, action: 'treat-as-withdraw' },
  { name: 'NEXT_HOP length 5', bytes: u('', ONE_PREFIX, ORIGIN + ASP + attr(0x40, 3, 'c000020101')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'NEXT_HOP 127.0.0.1', bytes: u('', ONE_PREFIX, ORIGIN + ASP + attr(0x40, 3, '7f000001')), code: 3, subcode: 8, action: 'treat-as-withdraw' },
  { name: 'NEXT_HOP 0.0.0.0', bytes: u('', ONE_PREFIX, ORIGIN + ASP + attr(0x40, 3, '00000000')), code: 3, subcode: 8, action: 'treat-as-withdraw' },
  { name: 'NEXT_HOP 224.0.0.5', bytes: u('', ONE_PREFIX, ORIGIN + ASP + attr(0x40, 3, 'e0000005')), code: 3, subcode: 8, action: 'treat-as-withdraw' },
  { name: 'MED of 5 bytes (the ExaBGP case)', bytes: u(attr(0x80, 4, '0000000064')), code: 3, subcode: 5, data: '8004050000000064', action: 'treat-as-withdraw' },
  { name: 'MED of 3 bytes', bytes: u(attr(0x80, 4, '000064')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'MED flagged transitive', bytes: u(attr(0xc0, 4, '00000064')), code: 3, subcode: 4, action: 'treat-as-withdraw' },
  { name: 'LOCAL_PREF from eBGP', bytes: u(attr(0x40, 5, '00000064')), code: 3, subcode: 1, action: 'attribute-discard', check: (m) => assert.equal(m.attributes.localPref, undefined) },
  { name: 'LOCAL_PREF of 3 bytes from eBGP', bytes: u(attr(0x40, 5, '000064')), code: 3, subcode: 1, action: 'attribute-discard' },
  { name: 'LOCAL_PREF of 3 bytes from iBGP', ctx: IBGP4, bytes: u(attr(0x40, 5, '000064')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'LOCAL_PREF flagged optional from iBGP', ctx: IBGP4, bytes: u(attr(0xc0, 5, '00000064')), code: 3, subcode: 4, action: 'treat-as-withdraw' },
  { name: 'ATOMIC_AGGREGATE of 1 byte', bytes: u(attr(0x40, 6, '00')), code: 3, subcode: 5, action: 'attribute-discard', check: (m) => assert.equal(m.attributes.atomicAggregate, undefined) },
  { name: 'ATOMIC_AGGREGATE flagged optional', bytes: u(attr(0xc0, 6, '')), code: 3, subcode: 4, action: 'attribute-discard' },
  { name: 'AGGREGATOR of 5 bytes', bytes: u(attr(0xc0, 7, '0000006400')), code: 3, subcode: 5, action: 'attribute-discard', check: (m) => assert.equal(m.attributes.aggregator, undefined) },
  { name: 'AGGREGATOR of 6 bytes on a 4-octet session', bytes: u(attr(0xc0, 7, 'fde9 c0000201')), code: 3, subcode: 5, action: 'attribute-discard' },
  { name: 'AGGREGATOR of 8 bytes on a 2-octet session', ctx: EBGP2, bytes: u(attr(0xc0, 7, '0000fde9 c0000201'), ONE_PREFIX, ORIGIN + attr(0x40, 2, '0201 fde9') + NH), code: 3, subcode: 5, action: 'attribute-discard' },
  { name: 'AGGREGATOR AS 0', bytes: u(attr(0xc0, 7, '00000000 c0000201')), code: 3, subcode: 9, action: 'attribute-discard' },
  { name: 'COMMUNITIES of length 0', bytes: u(attr(0xc0, 8, '')), code: 3, subcode: 9, action: 'treat-as-withdraw' },
  { name: 'COMMUNITIES of 5 bytes', bytes: u(attr(0xc0, 8, 'fde9006401')), code: 3, subcode: 9, action: 'treat-as-withdraw' },
  { name: 'COMMUNITIES flagged non-transitive', bytes: u(attr(0x80, 8, 'fde90064')), code: 3, subcode: 4, action: 'treat-as-withdraw' },
  { name: 'ORIGINATOR_ID from eBGP', bytes: u(attr(0x80, 9, '0a000009')), code: 3, subcode: 1, action: 'attribute-discard', check: (m) => assert.equal(m.attributes.originatorId, undefined) },
  { name: 'CLUSTER_LIST from eBGP', bytes: u(attr(0x80, 10, '0a000001')), code: 3, subcode: 1, action: 'attribute-discard', check: (m) => assert.equal(m.attributes.clusterList, undefined) },
  { name: 'ORIGINATOR_ID of 3 bytes from eBGP', bytes: u(attr(0x80, 9, '0a0000')), code: 3, subcode: 5, action: 'attribute-discard' },
  { name: 'ORIGINATOR_ID of 3 bytes from iBGP', ctx: IBGP4, bytes: u(attr(0x80, 9, '0a0000')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'CLUSTER_LIST of 6 bytes from eBGP', bytes: u(attr(0x80, 10, '0a0000010a00')), code: 3, subcode: 5, action: 'attribute-discard' },
  { name: 'CLUSTER_LIST of 6 bytes from iBGP', ctx: IBGP4, bytes: u(attr(0x80, 10, '0a0000010a00')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'CLUSTER_LIST of length 0 from iBGP', ctx: IBGP4, bytes: u(attr(0x80, 10, '')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'EXTENDED_COMMUNITIES of 7 bytes', bytes: u(attr(0xc0, 16, '0002fde9000000')), code: 3, subcode: 9, action: 'treat-as-withdraw' },
  { name: 'LARGE_COMMUNITY of 11 bytes', bytes: u(attr(0xc0, 32, '0000fde9000000010000')), code: 3, subcode: 9, action: 'treat-as-withdraw' },
  { name: 'LARGE_COMMUNITY of length 0', bytes: u(attr(0xc0, 32, '')), code: 3, subcode: 9, action: 'treat-as-withdraw' },
  { name: 'ONLY_TO_CUSTOMER of 3 bytes (RFC 9234 §5)', bytes: u(attr(0xc0, 35, '00fde9')), code: 3, subcode: 5, action: 'treat-as-withdraw' },
  { name: 'ONLY_TO_CUSTOMER flagged non-transitive', bytes: u(attr(0x80, 35, '0000fde9')), code: 3, subcode: 4, action: 'treat-as-withdraw' },
  { name: 'AS4_PATH from a 4-octet peer', bytes: u(attr(0xc0, 17, '0201 0000fde9')), code: 3, subcode: 9, action: 'attribute-discard' },
  { name: 'AS4_PATH malformed from a 2-octet peer', ctx: EBGP2, bytes: u(attr(0xc0, 17, '0200'), ONE_PREFIX, ORIGIN + attr(0x40, 2, '0201 5ba0') + NH), code: 3, subcode: 11, action: 'attribute-discard',
    check: (m) => assert.deepEqual(m.attributes.asPath, [{ type: 2, asns: [23456] }]) },
  { name: 'AS4_AGGREGATOR of 6 bytes from a 2-octet peer', ctx: EBGP2, bytes: u(attr(0xc0, 18, 'fde9c0000201'), ONE_PREFIX, ORIGIN + attr(0x40, 2, '0201 fde9') + NH), code: 3, subcode: 5, action: 'attribute-discard' },
  { name: 'attribute overruns the attribute list (§4)', bytes: update({ attrs: BASE_ATTRS + '80 04 0a 0000', nlri: ONE_PREFIX }), code: 3, subcode: 5, action: 'treat-as-withdraw',
    check: (m) => assert.equal(m.nlri.length, 1) },
  { name: 'attribute header truncated at the end of the list', bytes: update({ attrs: BASE_ATTRS + '80 04', nlri: ONE_PREFIX }), code: 3, subcode: 1, action: 'treat-as-withdraw' },

  // ---- MP_REACH / MP_UNREACH (§7.11)
  { name: 'MP_REACH_NLRI of 3 bytes', bytes: update({ attrs: attr(0x80, 14, '000201') + ORIGIN + ASP }), code: 3, subcode: 9, action: 'session-reset' },
  { name: 'MP_REACH_NLRI next hop overruns', bytes: update({ attrs: attr(0x80, 14, '000201 20 20010db8') + ORIGIN + ASP }), code: 3, subcode: 9, action: 'session-reset' },
  { name: 'MP_REACH_NLRI next hop of 5 bytes for IPv6 (AFI/SAFI disable)', bytes: update({ attrs: attr(0x80, 14, '000201 05 2001db8001 00 30 20010db80001') + ORIGIN + ASP, nlri: ONE_PREFIX }), code: 3, subcode: 9, action: 'afi-safi-disable',
    check: (m) => { assert.equal(m.mpReach, undefined); assert.equal(m.nlri.length, 1); } },
  { name: 'MP_REACH_NLRI prefix length 129', bytes: update({ attrs: attr(0x80, 14, `000201 10 ${'20010db8'.repeat(4)} 00 81 ${'ff'.repeat(17)}`) + ORIGIN + ASP }), code: 3, subcode: 10, action: 'session-reset' },
  { name: 'MP_REACH_NLRI flagged transitive', bytes: update({ attrs: attr(0xc0, 14, `000201 10 ${'20010db8'.repeat(4)} 00 30 20010db80001`) + ORIGIN + ASP }), code: 3, subcode: 4, action: 'session-reset' },
  { name: 'MP_REACH_NLRI overruns the attribute list', bytes: update({ attrs: ORIGIN + ASP + '80 0e 40 0002 01' }), code: 3, subcode: 9, action: 'session-reset' },
  { name: 'MP_REACH_NLRI for an unsupported family (AFI 25) is ignored', bytes: update({ attrs: attr(0x80, 14, '0019 46 04 0a000001 00 ab') + ORIGIN + ASP + NH, nlri: ONE_PREFIX }), code: 3, subcode: 9, action: 'attribute-discard',
    check: (m) => assert.equal(m.mpReach, undefined) },
  { name: 'MP_UNREACH_NLRI of 2 bytes', bytes: update({ attrs: attr(0x80, 15, '0002') }), code: 3, subcode: 9, action: 'session-reset' },
  { name: 'MP_UNREACH_NLRI prefix overruns', bytes: update({ attrs: attr(0x80, 15, '000201 40 20010db8') }), code: 3, subcode: 10, action: 'session-reset' },

  // ---- W9: duplicates, unknown attributes
  { name: 'duplicate ORIGIN: the first is kept', bytes: update({ attrs: BASE_ATTRS + attr(0x40, 1, '02'), nlri: ONE_PREFIX }), code: 3, subcode: 1, data: '40010102', action: 'attribute-discard',
    check: (m) => assert.equal(m.attributes.origin, 0) },
  { name: 'duplicate MP_REACH_NLRI', bytes: update({ attrs: `${attr(0x80, 14, `000201 10 ${'20010db8'.repeat(4)} 00 30 20010db80001`)}${attr(0x80, 14, `000201 10 ${'20010db8'.repeat(4)} 00`)}${ORIGIN}${ASP}` }), code: 3, subcode: 1, action: 'session-reset' },
  { name: 'duplicate MP_UNREACH_NLRI', bytes: update({ attrs: attr(0x80, 15, '000201') + attr(0x80, 15, '000201') }), code: 3, subcode: 1, action: 'session-reset' },
  { name: 'unrecognized well-known attribute 100 (BIRD: treat-as-withdraw)', bytes: u(attr(0x40, 100, 'abcd')), code: 3, subcode: 2, data: '406402abcd', action: 'treat-as-withdraw' },

  // ---- mandatory attributes (§3(d))
  { name: 'missing ORIGIN with NLRI', bytes: update({ attrs: ASP + NH, nlri: ONE_PREFIX }), code: 3, subcode: 3, data: '01', action: 'treat-as-withdraw' },
  { name: 'missing AS_PATH with NLRI', bytes: update({ attrs: ORIGIN + NH, nlri: ONE_PREFIX }), code: 3, subcode: 3, data: '02', action: 'treat-as-withdraw' },
  { name: 'missing NEXT_HOP with IPv4 NLRI', bytes: update({ attrs: ORIGIN + ASP, nlri: ONE_PREFIX }), code: 3, subcode: 3, data: '03', action: 'treat-as-withdraw' },
  { name: 'missing ORIGIN with MP_REACH NLRI', bytes: update({ attrs: attr(0x80, 14, `000201 10 ${'20010db8'.repeat(4)} 00 30 20010db80001`) + ASP }), code: 3, subcode: 3, data: '01', action: 'treat-as-withdraw' },

  // ---- §5.2 (our reading = BIRD's): TaW in an UPDATE with no reachable NLRI → reset
  { name: 'malformed MED in a withdraw-only UPDATE', bytes: update({ withdrawn: '18c00002', attrs: attr(0x80, 4, '0000000064') }), code: 3, subcode: 5, action: 'session-reset' },
  { name: 'strongest action wins: discard + TaW → TaW', bytes: u(attr(0x40, 6, '00') + attr(0x80, 4, '0000000064')), code: 3, subcode: 5, action: 'treat-as-withdraw',
    check: (m) => assert.equal(m.nlri.length, 1, 'TaW still lists the NLRI so the receiver can withdraw them') },
];

for (const row of ROWS) {
  test(`malformed: ${row.name} → ${row.code}/${row.subcode} ${row.action}`, () => {
    const ctx = row.ctx ?? EBGP4;
    if (row.action === 'session-reset') {
      assert.throws(() => decodeMessage(row.bytes, ctx), (err: unknown) => {
        assert.ok(err instanceof BgpWireError, `expected BgpWireError, got ${String(err)}`);
        assert.equal(err.code, row.code, err.message);
        assert.equal(err.subcode, row.subcode, err.message);
        assert.equal(err.action, 'session-reset');
        if (row.data !== undefined) assert.equal(toHex(err.data), toHex(hex(row.data)));
        return true;
      });
      return;
    }
    const d = decodeMessage(row.bytes, ctx);
    assert.equal(d.action, row.action, d.problems.map((p) => p.message).join('; '));
    const p = d.problems.find((x) => x.action === row.action);
    assert.ok(p, 'a problem with that action');
    assert.equal(p.code, row.code, p.message);
    assert.equal(p.subcode, row.subcode, p.message);
    if (row.data !== undefined) assert.equal(toHex(p.data), toHex(hex(row.data)));
    if (row.action === 'afi-safi-disable') assert.deepEqual(p.afiSafi, { afi: 2, safi: 1 });
    assert.equal(d.message.type, 'update');
    if (row.check && d.message.type === 'update') row.check(d.message);
  });
}

test('extended message: a 5000-byte UPDATE is accepted only when negotiated (RFC 8654)', () => {
  const big = update({ attrs: BASE_ATTRS, nlri: '18c63364'.repeat(1240) });
  assert.ok(big.length > 4096 && big.length < 65535);
  assert.throws(() => decodeMessage(big, EBGP4), (e: unknown) => e instanceof BgpWireError && e.code === 1 && e.subcode === 2);
  const d = decodeMessage(big, { ...EBGP4, extendedMessage: true });
  assert.equal(d.message.type === 'update' && d.message.nlri.length, 1240);
  // OPEN and KEEPALIVE stay limited to 4096 even then.
  assert.throws(() => parseHeader(hex(`${MARKER} 1001 01`), 0, { ...EBGP4, extendedMessage: true }), BgpWireError);
});

test('unknown optional transitive is kept (Partial set on re-encode), non-transitive dropped (W7)', async () => {
  const { encodeMessage } = await import('../../../bgp/wire/message.js');
  const d = decodeMessage(u(attr(0xc0, 0xfe, 'aabb') + attr(0x80, 0xfd, 'ccdd')), EBGP4);
  assert.deepEqual(d.problems, []);
  assert.ok(d.message.type === 'update');
  assert.deepEqual(d.message.attributes.unknown, [{ typeCode: 0xfe, flags: 0xc0, value: Uint8Array.of(0xaa, 0xbb) }]);
  const re = toHex(encodeMessage(d.message, EBGP4));
  assert.ok(re.includes('e0fe02aabb'), 'Partial bit set on the way out');
  assert.ok(!re.includes('fd02ccdd'), 'non-transitive not propagated');
});

test('every problem carries a message naming the attribute', () => {
  const d = decodeMessage(u(attr(0x80, 4, '0000000064')), EBGP4);
  assert.match(d.problems[0]?.message ?? '', /MULTI_EXIT_DISC: length 5, expected 4/);
});

test('Partial bit on a known optional transitive attribute is remembered and stays set when passed on (RFC 4271 §5)', async () => {
  const { encodeMessage } = await import('../../../bgp/wire/message.js');
  const d = decodeMessage(u(attr(0xe0, 8, 'fde90064')), EBGP4);
  assert.deepEqual(d.problems, []);
  assert.ok(d.message.type === 'update');
  assert.deepEqual(d.message.attributes.partial, [8]);
  assert.deepEqual(d.message.attributes.communities, [0xfde90064]);
  assert.ok(toHex(encodeMessage(d.message, EBGP4)).includes('e00804fde90064'));
  const fresh = decodeMessage(u(attr(0xc0, 8, 'fde90064')), EBGP4).message;
  assert.ok(fresh.type === 'update' && fresh.attributes.partial === undefined);
});

test('per-type decoders check the whole message first (marker, length field, type)', async () => {
  const { decodeOpen, decodeUpdate, decodeNotification, decodeRouteRefresh, KEEPALIVE } = await import('../../../bgp/wire/message.js');
  const isErr = (code: number, subcode: number) => (e: unknown) => e instanceof BgpWireError && e.code === code && e.subcode === subcode;
  assert.throws(() => decodeUpdate(KEEPALIVE, EBGP4), isErr(1, 3));
  assert.throws(() => decodeOpen(KEEPALIVE), isErr(1, 3));
  assert.throws(() => decodeNotification(KEEPALIVE), isErr(1, 3));
  assert.throws(() => decodeRouteRefresh(KEEPALIVE), isErr(1, 3));
  const upd = u('');
  assert.throws(() => decodeUpdate(upd.subarray(0, upd.length - 1), EBGP4), isErr(1, 2));
  const bad = Uint8Array.from(upd); bad[3] = 0;
  assert.throws(() => decodeUpdate(bad, EBGP4), isErr(1, 1));
});
