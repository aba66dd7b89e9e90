/**
 * The tortie-node ⇄ tortie-bfd line codec (bgp/bfd/socket-transport.ts): messages survive the
 * trip, auth keys (Uint8Array, Buffer) included; lines split anywhere are joined; an over-long
 * line is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_LINE_BYTES, decodeLine, encodeLine, lineReader } from '../../../bgp/bfd/socket-transport.js';
import type { ToEngine } from '../../../bgp/bfd/engine-protocol.js';

test('an add with a SHA1 key round-trips, the key as bytes again', () => {
  const key = Uint8Array.of(0, 1, 2, 250, 255);
  const m: ToEngine = { type: 'add', id: 'tor', spec: { peer: '10.0.0.1', multihop: false,
    params: { desiredMinTxUs: 1e5, requiredMinRxUs: 1e5, detectMult: 3, passive: false, auth: { type: 'keyed-sha1', keyId: 2, key } } } };
  const line = encodeLine(m);
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
  assert.deepEqual(decodeLine(line.trim()), m);
  // A Buffer key (what a Secret read gives) arrives as plain bytes too.
  const b = decodeLine(encodeLine({ ...m, spec: { ...m.spec, params: { ...m.spec.params, auth: { type: 'keyed-sha1', keyId: 2, key: Buffer.from(key) } } } }).trim()) as typeof m;
  assert.deepEqual(b.spec.params.auth?.key, key);
});

test('lines cut into arbitrary byte chunks (inside a UTF-8 character too) come out whole and in order', () => {
  fc.assert(fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), fc.array(fc.nat({ max: 40 }), { maxLength: 10 }), (ids, cuts) => {
    const bytes = Buffer.from(ids.map((id) => encodeLine({ type: 'remove', id })).join(''));
    const got: string[] = [];
    const read = lineReader((l) => got.push((decodeLine(l) as { id: string }).id));
    let at = 0;
    for (const c of cuts) { read(bytes.subarray(at, Math.min(bytes.length, at + c))); at = Math.min(bytes.length, at + c); }
    read(bytes.subarray(at));
    assert.deepEqual(got, ids);
  }));
});

test('a line longer than the limit is refused', () => {
  const read = lineReader(() => {});
  assert.equal(read(Buffer.alloc(MAX_LINE_BYTES + 1, 0x61)), false);
});
