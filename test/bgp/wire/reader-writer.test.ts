/** Reader underflow errors and Writer back-patching. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../../bgp/wire/reader.js';
import { Writer } from '../../../bgp/wire/writer.js';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import { toHex } from './wire-test-helpers.js';

test('Reader reads big-endian within its window and throws the given BgpWireError on underflow', () => {
  const buf = Uint8Array.of(0xff, 1, 2, 3, 4, 5, 6, 7, 0xff);
  const r = new Reader(buf, 1, 8);
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 0x0203);
  assert.equal(r.u32(), 0x04050607);
  assert.equal(r.remaining, 0);
  assert.throws(() => r.u8(), (e: unknown) => e instanceof BgpWireError && e.code === 3 && e.subcode === 1, 'default 3/1, never reading the 0xff past the window');
  const mine = new BgpWireError(2, 0, 'OPEN truncated');
  assert.throws(() => new Reader(buf, 0, 3, mine).u32(), (e: unknown) => e === mine);
  assert.throws(() => new Reader(buf, 0, 3, () => new BgpWireError(7, 1, 'x')).bytes(4), (e: unknown) => e instanceof BgpWireError && e.code === 7);
  const big = new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  assert.equal(big.u32(), 0xffffffff, 'unsigned');
});

test('Writer grows and back-patches lengths', () => {
  const w = new Writer(2);
  w.u8(1);
  const at = w.length;
  w.u16(0);
  for (let i = 0; i < 300; i++) w.u8(i);
  w.patchU16(at, w.length - at - 2);
  w.u32(0xdeadbeef);
  const out = w.finish();
  assert.equal(out.length, 1 + 2 + 300 + 4);
  assert.equal(toHex(out.subarray(0, 3)), '01012c');
  assert.equal(toHex(out.subarray(-4)), 'deadbeef');
  const g = new Writer(4);
  g.u8(9).u8(8).u8(7);
  g.insertGap(1, 1);
  g.patchU8(1, 0);
  assert.equal(toHex(g.finish()), '09000807');
});
