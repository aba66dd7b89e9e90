/**
 * Property tests (fast-check): encode→decode is the identity for arbitrary valid messages under
 * several negotiated contexts, and (W2) arbitrary bytes or single-byte mutations of valid
 * UPDATEs never throw anything but a BgpWireError, decide deterministically, and reset the
 * session only through a thrown session-reset error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import fc from 'fast-check';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/message.js';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import { MessageFramer } from '../../../bgp/wire/framer.js';
import { maskBytes, type Prefix } from '../../../common/prefix.js';
import {
  AS_TRANS, INITIAL_CONTEXT, type AsPathSegment, type BgpMessage, type Capability, type CodecContext,
  type Ipv4Prefixes, type Nlri, type OpenMessage, type PathAttributes, type UpdateMessage,
} from '../../../bgp/wire/types.js';
import { ipv4PrefixAt } from '../../../bgp/wire/nlri.js';
import { hex } from './wire-test-helpers.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const asn4 = fc.integer({ min: 1, max: 0xffffffff });

function prefixArb(family: 4 | 6): fc.Arbitrary<Prefix> {
  const size = family === 4 ? 4 : 16;
  return fc.tuple(fc.integer({ min: 0, max: size * 8 }), fc.uint8Array({ minLength: size, maxLength: size }))
    .map(([length, raw]) => ({ family, length, bytes: maskBytes(raw, length) }));
}

function nlriArb(family: 4 | 6, addPath: boolean, max: number): fc.Arbitrary<Nlri[]> {
  const one: fc.Arbitrary<Nlri> = addPath
    ? fc.record({ prefix: prefixArb(family), pathId: u32 })
    : prefixArb(family).map((prefix) => ({ prefix }));
  return fc.array(one, { maxLength: max });
}

const segType = fc.constantFrom(1, 2, 3, 4) as fc.Arbitrary<1 | 2 | 3 | 4>;

function asPathArb(ctx: CodecContext): fc.Arbitrary<AsPathSegment[]> {
  if (ctx.fourOctetAs) {
    return fc.array(fc.record({ type: segType, asns: fc.array(asn4, { minLength: 1, maxLength: 8 }) }), { maxLength: 4 });
  }
  // 2-octet session: confederation segments only in front (where RFC 5065 puts them).
  const confed = fc.record({ type: fc.constantFrom(3, 4) as fc.Arbitrary<3 | 4>, asns: fc.array(fc.integer({ min: 1, max: 0xffff }), { minLength: 1, maxLength: 4 }) });
  const plain = fc.record({ type: fc.constantFrom(1, 2) as fc.Arbitrary<1 | 2>, asns: fc.array(fc.oneof(asn4, fc.integer({ min: 1, max: 0xffff })), { minLength: 1, maxLength: 8 }) });
  return fc.tuple(fc.array(confed, { maxLength: 1 }), fc.array(plain, { maxLength: 4 })).map(([c, p]) => [...c, ...p]);
}

const unicastNextHop = fc.tuple(fc.oneof(fc.integer({ min: 1, max: 126 }), fc.integer({ min: 128, max: 223 })), fc.uint8Array({ minLength: 3, maxLength: 3 }))
  .map(([a, rest]) => Uint8Array.of(a, ...rest));
const UNKNOWN_CODES = [11, 12, 13, 19, 20, 21, 22, 23, 25, 26, 29, 33, 36, 40, 128, 200, 254, 255];

function attrsArb(ctx: CodecContext): fc.Arbitrary<PathAttributes> {
  return fc.record({
    origin: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    asPath: asPathArb(ctx),
    nextHop: unicastNextHop,
    med: u32,
    ...(ctx.ibgp ? { localPref: u32 } : {}),
    atomicAggregate: fc.constant(true),
    aggregator: fc.record({ asn: ctx.fourOctetAs ? asn4 : fc.oneof(fc.integer({ min: 0x10000, max: 0xffffffff }), fc.constant(AS_TRANS)), address: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
    communities: fc.array(u32, { minLength: 1, maxLength: 6 }),
    ...(ctx.ibgp ? { originatorId: u32, clusterList: fc.array(u32, { minLength: 1, maxLength: 4 }) } : {}),
    extendedCommunities: fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
    largeCommunities: fc.array(fc.record({ globalAdmin: u32, localData1: u32, localData2: u32 }), { minLength: 1, maxLength: 4 }),
    onlyToCustomer: u32,
    unknown: fc.uniqueArray(fc.record({ typeCode: fc.constantFrom(...UNKNOWN_CODES), flags: fc.constant(0xe0), value: fc.uint8Array({ maxLength: 300 }) }),
      { selector: (u) => u.typeCode, minLength: 1, maxLength: 3 }).map((us) => us.sort((a, b) => a.typeCode - b.typeCode)),
  }, { requiredKeys: [] });
}

function updateArb(ctx: CodecContext): fc.Arbitrary<UpdateMessage> {
  const ap4 = ctx.addPathSend.has('1/1');
  const ap6 = ctx.addPathSend.has('2/1');
  const mpReach = fc.oneof(
    fc.record({ afi: fc.constant(2), safi: fc.constant(1), nextHops: fc.oneof(
      fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 })), fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))),
    nlri: nlriArb(6, ap6, 15) }),
    fc.record({ afi: fc.constant(1), safi: fc.constant(1), nextHops: fc.tuple(unicastNextHop), nlri: nlriArb(4, ap4, 15) }),
  );
  const mpUnreach = fc.record({ afi: fc.constant(2), safi: fc.constant(1), withdrawn: nlriArb(6, ap6, 15) });
  return fc.record({
    type: fc.constant('update' as const),
    withdrawn: nlriArb(4, ap4, 15),
    attributes: attrsArb(ctx),
    mpReach, mpUnreach,
    nlri: nlriArb(4, ap4, 15),
  }, { requiredKeys: ['type', 'withdrawn', 'attributes', 'nlri'] });
}

const CONTEXTS: Array<[string, CodecContext]> = [
  ['eBGP 4-octet', { ...INITIAL_CONTEXT, fourOctetAs: true, extendedMessage: true }],
  ['iBGP 4-octet ADD-PATH', { ...INITIAL_CONTEXT, fourOctetAs: true, ibgp: true, extendedMessage: true,
    addPathReceive: new Set(['1/1', '2/1']), addPathSend: new Set(['1/1', '2/1']) }],
  ['eBGP 2-octet (AS4_PATH / AS4_AGGREGATOR)', { ...INITIAL_CONTEXT, extendedMessage: true }],
];

/** RFC 6793 §4.2.3: with a 2-byte non-AS_TRANS AGGREGATOR, AS4_PATH is ignored; not a round trip. */
function roundTrippable(m: UpdateMessage, ctx: CodecContext): boolean {
  if (ctx.fourOctetAs) return true;
  const agg = m.attributes.aggregator;
  const big = (m.attributes.asPath ?? []).some((s) => s.asns.some((a) => a > 0xffff));
  return !(agg !== undefined && agg.asn <= 0xffff && agg.asn !== AS_TRANS && big);
}

for (const [name, ctx] of CONTEXTS) {
  test(`round trip: arbitrary valid UPDATE, ${name}`, () => {
    fc.assert(fc.property(updateArb(ctx), (raw) => {
      const m = structuredClone(raw); // plain prototypes, as a caller would build them
      fc.pre(roundTrippable(m, ctx));
      const bytes = encodeMessage(m, ctx);
      const d = decodeMessage(bytes, ctx);
      assert.deepEqual(d.message, m);
    }), { numRuns: 300 });
  });
}

const capabilityArb: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ type: fc.constant('multiprotocol' as const), afi: fc.integer({ min: 0, max: 0xffff }), safi: fc.integer({ min: 0, max: 255 }) }),
  fc.constant({ type: 'route-refresh' as const }),
  fc.constant({ type: 'enhanced-route-refresh' as const }),
  fc.constant({ type: 'extended-message' as const }),
  fc.record({ type: fc.constant('four-octet-as' as const), asn: u32 }),
  fc.record({
    type: fc.constant('graceful-restart' as const), restarting: fc.boolean(), notification: fc.boolean(),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(fc.record({ afi: fc.integer({ min: 0, max: 0xffff }), safi: fc.integer({ min: 0, max: 255 }), forwardingPreserved: fc.boolean() }), { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('add-path' as const),
    families: fc.array(fc.record({ afi: fc.integer({ min: 0, max: 0xffff }), safi: fc.integer({ min: 0, max: 255 }), mode: fc.constantFrom(1, 2, 3) as fc.Arbitrary<1 | 2 | 3> }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('long-lived-graceful-restart' as const),
    families: fc.array(fc.record({ afi: fc.integer({ min: 0, max: 0xffff }), safi: fc.integer({ min: 0, max: 255 }), forwardingPreserved: fc.boolean(),
      staleTime: fc.integer({ min: 0, max: 0xffffff }) }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant('unknown' as const), code: fc.constantFrom(3, 5, 9, 73, 128, 131, 255), value: fc.uint8Array({ maxLength: 20 }) }),
);

const openArb: fc.Arbitrary<OpenMessage> = fc.record({
  type: fc.constant('open' as const), version: fc.constant(4), myAs: fc.integer({ min: 1, max: 0xffff }),
  holdTime: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })), bgpId: fc.integer({ min: 1, max: 0xffffffff }),
  capabilities: fc.array(capabilityArb, { maxLength: 40 }),
});

test('round trip: arbitrary OPEN, NOTIFICATION, ROUTE-REFRESH, KEEPALIVE', () => {
  const ctx = INITIAL_CONTEXT;
  const msgArb: fc.Arbitrary<BgpMessage> = fc.oneof(
    openArb,
    fc.record({ type: fc.constant('notification' as const), code: fc.integer({ min: 0, max: 255 }), subcode: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 100 }) }),
    fc.record({ type: fc.constant('route-refresh' as const), afi: fc.integer({ min: 0, max: 0xffff }), safi: fc.integer({ min: 0, max: 255 }), subtype: fc.integer({ min: 0, max: 255 }) }),
    fc.constant({ type: 'keepalive' as const }),
  );
  fc.assert(fc.property(msgArb, (raw) => {
    const m = structuredClone(raw);
    assert.deepEqual(decodeMessage(encodeMessage(m, ctx), ctx).message, m);
  }), { numRuns: 500 });
});

/** Decode, and describe the outcome; anything but a BgpWireError fails the property. */
function outcome(bytes: Uint8Array, ctx: CodecContext): string {
  // CPU time, not wall time: the machine is shared and a descheduled test is not a slow decoder.
  const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
  const t0 = cpu();
  try {
    const d = decodeMessage(bytes, ctx);
    assert.notEqual(d.action, 'session-reset', 'session reset is thrown, never returned');
    return `ok:${d.action ?? 'none'}:${d.problems.map((p) => `${p.code}/${p.subcode}`).join(',')}`;
  } catch (err) {
    if (!(err instanceof BgpWireError)) throw new Error(`escaped non-BgpWireError: ${String(err)}`, { cause: err });
    assert.equal(err.action, 'session-reset');
    return `throw:${err.code}/${err.subcode}`;
  } finally {
    const ms = cpu() - t0;
    assert.ok(ms < 50, `decoding took ${ms.toFixed(1)} ms of CPU (limit 50)`);
  }
}

test('W2: arbitrary bytes never throw anything but BgpWireError', () => {
  const ctxs = CONTEXTS.map(([, c]) => c);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...ctxs), (b, ctx) => { outcome(b, ctx); }), { numRuns: 1000 });
  // With a valid marker, length and type so the bytes reach the body decoders.
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...ctxs), (type, body, ctx) => {
    const len = 19 + body.length;
    const m = new Uint8Array(len);
    m.fill(0xff, 0, 16); m[16] = len >>> 8; m[17] = len & 0xff; m[18] = type; m.set(body, 19);
    outcome(m, ctx);
  }), { numRuns: 3000 });
});

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(HERE, '../../../../test/fixtures/bgp');

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.json'))) {
    const j = JSON.parse(readFileSync(resolve(FIXTURES, f), 'utf8')) as { messages: Array<{ dir: string; hex: string }> };
    for (const m of j.messages) if (m.dir === 'in' && m.hex.slice(36, 38) === '02') out.push(hex(m.hex));
  }
  return out;
}

test('W2: single-byte mutations of valid UPDATEs (captured + generated) decide deterministically', () => {
  const ctx4 = CONTEXTS[0]?.[1] as CodecContext;
  const seeds = corpus();
  assert.ok(seeds.length >= 8, 'captured UPDATEs present');
  const seedArb = fc.oneof(fc.constantFrom(...seeds), updateArb(ctx4).map((m) => encodeMessage(m, ctx4)));
  fc.assert(fc.property(seedArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (seed, at, value) => {
    const m = Uint8Array.from(seed);
    const i = 16 + (at % (m.length - 16)); // mutate the length, type or body
    m[i] = value;
    const a = outcome(m, ctx4);
    assert.equal(outcome(m, ctx4), a, 'same bytes, same decision');
  }), { numRuns: 3000 });
});

test('W2: a framer fed random chunks of random bytes only throws BgpWireError', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
    const f = new MessageFramer(INITIAL_CONTEXT);
    try {
      for (const c of chunks) { f.push(c); while (f.next() !== undefined) { /* drain */ } }
    } catch (err) {
      if (!(err instanceof BgpWireError)) throw err;
    }
  }), { numRuns: 500 });
});

test('W1-style corpus: every captured message truncated at every length (header length fixed up) decides in < 50 ms', () => {
  const ctx4 = CONTEXTS[0]?.[1] as CodecContext;
  let decided = 0;
  for (const seed of corpus()) {
    for (let len = 19; len < seed.length; len++) {
      const m = seed.slice(0, len);
      m[16] = len >>> 8; m[17] = len & 0xff;
      outcome(m, ctx4);
      // and with the original (now too large) length field, as a framer would never deliver but a caller might
      outcome(Uint8Array.from(seed.subarray(0, len)), ctx4);
      decided += 2;
    }
  }
  assert.ok(decided > 1000);
});

/** decodeMessage's result, or its error, as a comparable value; compact4 expanded into Nlri. */
function decodedAs(bytes: Uint8Array, ctx: CodecContext, compactIpv4: boolean): unknown {
  try {
    const d = decodeMessage(bytes, ctx, { compactIpv4 });
    const m = d.message;
    if (m.type !== 'update' || m.compact4 === undefined) return { ...d, problems: d.problems.map((p) => p.message) };
    const { compact4, ...rest } = m;
    const expand = (l: Ipv4Prefixes): Nlri[] => Array.from({ length: l.length }, (_, i) => ({ prefix: ipv4PrefixAt(l, i), ...(l.pathIds ? { pathId: l.pathIds[i]! } : {}) }));
    // re-encoding the compact form gives the bytes the Nlri form re-encodes to
    if (d.action === undefined) assert.deepEqual(encodeMessage(m, ctx), encodeMessage({ ...rest, withdrawn: expand(compact4.withdrawn), nlri: expand(compact4.nlri) }, ctx));
    return { ...d, message: { ...rest, withdrawn: expand(compact4.withdrawn), nlri: expand(compact4.nlri) }, problems: d.problems.map((p) => p.message) };
  } catch (err) {
    if (!(err instanceof BgpWireError)) throw err;
    return `throw:${err.code}/${err.subcode}:${err.message}`;
  }
}

for (const ctx4 of [CONTEXTS[0]?.[1] as CodecContext, CONTEXTS[1]?.[1] as CodecContext]) test(`compactIpv4${ctx4.addPathReceive.size ? ' with ADD-PATH' : ''}: the same prefixes, path ids, problems and errors as the Nlri form (valid, mutated and captured UPDATEs)`, () => {
  const seedArb = fc.oneof(fc.constantFrom(...corpus()), updateArb(ctx4).map((m) => encodeMessage(m, ctx4)));
  let compared = 0;
  fc.assert(fc.property(seedArb, fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))), (seed, mutation) => {
    const m = Uint8Array.from(seed);
    if (mutation) m[19 + (mutation[0] % (m.length - 19))] = mutation[1];
    assert.deepEqual(decodedAs(m, ctx4, true), decodedAs(m, ctx4, false));
    compared++;
  }), { numRuns: 2000 });
  assert.equal(compared, 2000);
});
