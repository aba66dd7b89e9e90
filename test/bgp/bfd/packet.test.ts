/**
 * BFD Control packet codec (RFC 5880 §4.1): an annotated fixture both ways, the §6.8.6 discard
 * table, and fast-check properties (round trip; arbitrary bytes never throw anything but
 * BfdPacketError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BfdPacketError, BfdState, decodeControl, encodeControl, type BfdControlPacket, type BfdStateValue,
} from '../../../bgp/bfd/packet.js';
import { signSha1, verifySha1, sequenceAcceptable } from '../../../bgp/bfd/auth.js';

/** Hex with `# comments` per line. */
const hex = (s: string) => Uint8Array.from(Buffer.from(s.split('\n').map((l) => l.replace(/#.*$/, '')).join('').replace(/\s+/g, ''), 'hex'));

// An Up packet with Poll, as FRR sends after a timer change: 300 ms x 3.
const FIXTURE = hex(`
  20        # ver 1, diag 0
  e8        # Sta 3 (Up), P=1, F=0, C=1, A=0, D=0, M=0
  03        # Detect Mult 3
  18        # Length 24
  00000001  # My Discriminator 1
  8badf00d  # Your Discriminator
  000493e0  # Desired Min TX 300000 us
  000493e0  # Required Min RX 300000 us
  00000000  # Required Min Echo RX 0
`);

const FIXTURE_PACKET: BfdControlPacket = {
  diag: 0, state: BfdState.Up, poll: true, final: false, cpi: true, demand: false, detectMult: 3,
  myDiscr: 1, yourDiscr: 0x8badf00d, desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, requiredMinEchoRxUs: 0,
};

test('fixture decodes field by field and encodes back to the same bytes', () => {
  assert.equal(FIXTURE.length, 24);
  assert.deepEqual(decodeControl(FIXTURE), FIXTURE_PACKET);
  assert.deepEqual(encodeControl(FIXTURE_PACKET), FIXTURE);
});

test('§6.8.6 discard table: each malformed header names its reason', () => {
  const mut = (i: number, v: number, base = FIXTURE) => { const b = Uint8Array.from(base); b[i] = v; return b; };
  const rows: Array<[string, Uint8Array, string]> = [
    ['shorter than the header', FIXTURE.subarray(0, 23), 'truncated'],
    ['version 0', mut(0, 0x00), 'version'],
    ['version 2', mut(0, 0x40), 'version'],
    ['Length below 24', mut(3, 23), 'length'],
    ['Length beyond the datagram', mut(3, 25), 'length'],
    ['A bit but Length 24', mut(1, 0xe8 | 0x04), 'length'],
    ['Detect Mult 0', mut(2, 0), 'detect-mult'],
    ['M bit set', mut(1, 0xe9), 'multipoint'],
    ['My Discriminator 0', hex('20e80318 00000000 8badf00d 000493e0 000493e0 00000000'), 'my-discr'],
    ['SHA1 section with Auth Len 20', hex('20ec032c 00000001 00000000 000f4240 000f4240 00000000 0414 0100 00000001 ' + '00'.repeat(20)), 'auth-section'],
    ['Auth Len past Length', hex('20ec031a 00000001 00000000 000f4240 000f4240 00000000 0410'), 'auth-section'],
  ];
  for (const [name, bytes, code] of rows) {
    assert.throws(() => decodeControl(bytes), (err: unknown) => err instanceof BfdPacketError && err.code === code, name);
  }
});

const packetArb: fc.Arbitrary<BfdControlPacket> = fc.record({
  diag: fc.integer({ min: 0, max: 31 }),
  state: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<BfdStateValue>,
  poll: fc.boolean(), final: fc.boolean(), cpi: fc.boolean(), demand: fc.boolean(),
  detectMult: fc.integer({ min: 1, max: 255 }),
  myDiscr: fc.integer({ min: 1, max: 0xffffffff }),
  yourDiscr: fc.integer({ min: 0, max: 0xffffffff }),
  desiredMinTxUs: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinRxUs: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinEchoRxUs: fc.integer({ min: 0, max: 0xffffffff }),
}).chain((p) => fc.option(fc.record({
  type: fc.constantFrom(4, 5), keyId: fc.integer({ min: 0, max: 255 }), sequence: fc.integer({ min: 0, max: 0xffffffff }),
  digest: fc.uint8Array({ minLength: 20, maxLength: 20 }),
}), { nil: undefined }).map((auth) => (auth ? { ...p, auth: { ...auth } } : { ...p })));

test('property: decode(encode(p)) = p', () => {
  fc.assert(fc.property(packetArb, (p) => { assert.deepEqual(decodeControl(encodeControl(p)), p); }), { numRuns: 500 });
});

test('property: arbitrary bytes and single-byte mutations throw only BfdPacketError', () => {
  const onlyWireError = (b: Uint8Array) => {
    try { decodeControl(b); } catch (err) { if (!(err instanceof BfdPacketError)) throw err; }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), onlyWireError), { numRuns: 2000 });
  fc.assert(fc.property(packetArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (p, at, v) => {
    const b = encodeControl(p);
    b[at % b.length] = v;
    onlyWireError(b);
  }), { numRuns: 2000 });
});

test('keyed SHA1: a signed packet verifies with its key only, and any flipped bit fails', () => {
  const key = Buffer.from('secret');
  const b = encodeControl({ ...FIXTURE_PACKET, auth: { type: 4, keyId: 7, sequence: 42, digest: new Uint8Array(20) } });
  signSha1(b, key);
  assert.equal(verifySha1(b, key), true);
  assert.equal(verifySha1(b, Buffer.from('Secret')), false);
  fc.assert(fc.property(fc.integer({ min: 0, max: b.length * 8 - 1 }), (bit) => {
    const c = Uint8Array.from(b);
    c[bit >> 3] = (c[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    assert.equal(verifySha1(c, key), false);
  }));
});

test('auth sequence windows (§6.7.4): keyed accepts a repeat, meticulous does not; wrap-around', () => {
  assert.equal(sequenceAcceptable(4, 10, 10, 3), true);
  assert.equal(sequenceAcceptable(5, 10, 10, 3), false);
  assert.equal(sequenceAcceptable(5, 19, 10, 3), true);
  assert.equal(sequenceAcceptable(5, 20, 10, 3), false);
  assert.equal(sequenceAcceptable(4, 9, 10, 3), false);
  assert.equal(sequenceAcceptable(5, 2, 0xfffffffe, 3), true);
  assert.equal(sequenceAcceptable(4, 123, undefined, 3), true);
});
