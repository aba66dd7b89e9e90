/** MessageFramer: stream splitting at every boundary, zero-copy, early header checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageFramer } from '../../../bgp/wire/framer.js';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import { KEEPALIVE } from '../../../bgp/wire/message.js';
import { encodeEndOfRib } from '../../../bgp/wire/update-encoder.js';
import { INITIAL_CONTEXT } from '../../../bgp/wire/types.js';
import { hex, MARKER, message, toHex } from './wire-test-helpers.js';

const MSGS = [KEEPALIVE, encodeEndOfRib({ afi: 2, safi: 1 }), message(3, '0602 03627965'), KEEPALIVE];
const STREAM = Uint8Array.from(MSGS.flatMap((m) => [...m]));

test('framer: the same messages come out whatever the chunk boundaries', () => {
  for (let a = 0; a <= STREAM.length; a++) {
    for (let b = a; b <= STREAM.length; b += 7) {
      const f = new MessageFramer(INITIAL_CONTEXT);
      const out: string[] = [];
      for (const chunk of [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)]) {
        f.push(chunk);
        for (let m = f.next(); m !== undefined; m = f.next()) out.push(toHex(m));
      }
      assert.deepEqual(out, MSGS.map(toHex), `split at ${a}/${b}`);
      assert.equal(f.buffered, 0);
    }
  }
});

test('framer: messages inside one chunk are zero-copy views; returned messages survive later pushes', () => {
  const f = new MessageFramer(INITIAL_CONTEXT);
  const chunk = STREAM.slice();
  f.push(chunk.subarray(0, 30));
  const first = f.next();
  assert.ok(first !== undefined && first.buffer === chunk.buffer, 'subarray of the pushed chunk');
  const partial = f.next();
  assert.equal(partial, undefined, 'second message incomplete');
  f.push(chunk.subarray(30, 48)); // the 29-byte End-of-RIB ends at 48
  const second = f.next();
  assert.ok(second !== undefined);
  const secondHex = toHex(second);
  f.push(chunk.subarray(48));
  const rest = [f.next(), f.next()].map((m) => toHex(m ?? new Uint8Array(0)));
  assert.equal(toHex(second), secondHex, 'not overwritten by later pushes');
  assert.deepEqual(rest, [toHex(MSGS[2] as Uint8Array), toHex(KEEPALIVE)]);
});

test('framer: a bad header throws as soon as 19 bytes are in, before the body arrives', () => {
  const f = new MessageFramer(INITIAL_CONTEXT);
  f.push(hex(`${MARKER} 2000 02`));
  assert.throws(() => f.next(), (e: unknown) => e instanceof BgpWireError && e.code === 1 && e.subcode === 2 && toHex(e.data) === '2000');
  const g = new MessageFramer(INITIAL_CONTEXT);
  g.push(hex(`${'00'.repeat(16)} 0013 04`));
  assert.throws(() => g.next(), (e: unknown) => e instanceof BgpWireError && e.code === 1 && e.subcode === 1);
});

test('framer: the context getter is consulted per message (extended message after OPEN)', () => {
  let ctx = INITIAL_CONTEXT;
  const f = new MessageFramer(() => ctx);
  const big = message(2, `0000 0000 ${'00'.repeat(5000)}`);
  f.push(big.subarray(0, 19));
  assert.throws(() => f.next(), BgpWireError);
  ctx = { ...INITIAL_CONTEXT, extendedMessage: true };
  const g = new MessageFramer(INITIAL_CONTEXT);
  g.setContext(() => ctx);
  g.push(big);
  assert.equal(g.next()?.length, big.length);
});
