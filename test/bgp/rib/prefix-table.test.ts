/**
 * PrefixTable against a Map model: random set/get/delete/forEach/forEachFrom (deleting or updating
 * the visited entry during the walk, and deleting a slice's entries between slices as Adj-RIB-In's
 * withdrawAll does)/reset/clear over IPv4 and IPv6 keys, plus the edge cases: /0 and /32 (/128),
 * one address at every length, tombstone reuse under churn, a table emptied and refilled, growth
 * past many resizes, a walk that updates entries of a table at its load limit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix, intToIpv4, maskBytes, parsePrefix, type Prefix } from '../../../common/prefix.js';
import { PrefixTable } from '../../../bgp/rib/prefix-table.js';

const v4 = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([b, l]): Prefix => ({ family: 4, bytes: maskBytes(b, l), length: l }));
const v6 = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, l]): Prefix => ({ family: 6, bytes: maskBytes(b, l), length: l }));
/** A small pool so that sets, gets and deletes hit the same keys; /0, /32, /128 and nested lengths included. */
const POOL = ['0.0.0.0/0', '0.0.0.0/32', '255.255.255.255/32', '10.0.0.0/8', '10.0.0.0/16', '10.0.0.0/24', '10.0.0.0/32',
  '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.16.0/24', '192.168.0.0/16', '128.0.0.0/1', '1.2.3.4/32',
  '::/0', '::/128', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', '2001:db8::/32', '2001:db8::/64', 'fd00::/8']
  .map((s) => parsePrefix(s));
const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...POOL) }, { weight: 3, arbitrary: v4 }, { weight: 1, arbitrary: v6 });

/** count consecutive prefixes of length `len` from the `start`-th one on (wrapping at the top of the space). */
function run(start: number, count: number, len: number): Prefix[] {
  const out: Prefix[] = [];
  const step = len === 0 ? 0 : 2 ** (32 - len);
  for (let i = 0; i < count; i++) out.push({ family: 4, bytes: intToIpv4(((start + i) * step) % 2 ** 32), length: len });
  return out;
}

type Op =
  | { readonly t: 'set'; readonly p: Prefix; readonly v: number }
  | { readonly t: 'get'; readonly p: Prefix }
  | { readonly t: 'delete'; readonly p: Prefix }
  | { readonly t: 'fill'; readonly start: number; readonly count: number; readonly len: number; readonly v: number }
  | { readonly t: 'drain'; readonly keep: number }
  | { readonly t: 'walk'; readonly max: number; readonly del: number; readonly filter: number; readonly after: boolean }
  | { readonly t: 'forEach' }
  | { readonly t: 'reset' }
  | { readonly t: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('set' as const), p: key, v: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), p: key }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('delete' as const), p: key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fill' as const), start: fc.nat(1 << 16), count: fc.nat(700), len: fc.constantFrom(16, 22, 24, 32), v: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drain' as const), keep: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('walk' as const), max: fc.integer({ min: 1, max: 300 }), del: fc.integer({ min: 0, max: 3 }), filter: fc.integer({ min: 0, max: 3 }), after: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'forEach' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
);

type Model = Map<string, { readonly p: Prefix; v: number }>;

/** Check that a walk of the whole table visits `expect` exactly once each, with their values. */
function visitsOnce(seen: Map<string, number>, k: string, v: number, m: Model): void {
  assert.ok(!seen.has(k), `${k} visited twice`);
  assert.equal(v, m.get(k)?.v, `${k} visited with the model's value`);
  seen.set(k, v);
}

function apply(t: PrefixTable<number>, m: Model, o: Op): void {
  switch (o.t) {
    case 'set': {
      const k = formatPrefix(o.p);
      assert.equal(t.set(o.p, o.v), m.get(k)?.v, `set ${k} returns the previous value`);
      m.set(k, { p: o.p, v: o.v });
      break;
    }
    case 'get': assert.equal(t.get(o.p), m.get(formatPrefix(o.p))?.v); break;
    case 'delete': {
      const k = formatPrefix(o.p);
      assert.equal(t.delete(o.p), m.get(k)?.v, `delete ${k} returns the removed value`);
      m.delete(k);
      break;
    }
    case 'fill':
      for (const p of run(o.start, o.count, o.len)) { const k = formatPrefix(p); assert.equal(t.set(p, o.v), m.get(k)?.v); m.set(k, { p, v: o.v }); }
      break;
    case 'drain': {
      let i = 0;
      for (const [k, e] of [...m]) if (i++ % o.keep !== 0) { assert.equal(t.delete(e.p), e.v); m.delete(k); }
      break;
    }
    case 'walk': {
      // filter 0: none; else accept values divisible by filter+1. del 0: leave all; else delete
      // every del-th visit (in the callback, or after the slice) and update every other one
      const accept = (v: number): boolean => o.filter === 0 || v % (o.filter + 1) === 0;
      const expect = new Map<string, number>();
      for (const [k, e] of m) if (accept(e.v)) expect.set(k, e.v);
      const seen = new Map<string, number>();
      let cursor = 0, n = 0, calls = 0;
      do {
        const slice: Prefix[] = [];
        let inSlice = 0;
        const next = t.forEachFrom(cursor, o.max, (p, v) => {
          const k = formatPrefix(p);
          visitsOnce(seen, k, v, m);
          if (p.family === 4) inSlice++;
          const i = n++;
          if (o.del !== 0 && i % o.del === 0) {
            if (o.after) slice.push(p);
            else { assert.equal(t.delete(p), v); m.delete(k); }
          } else if (o.del !== 0 && !o.after && i % 2 === 1) {
            // a new value for the visited entry (Loc-RIB's dropFrom does this mid-walk)
            assert.equal(t.set(p, v + 1), v); m.set(k, { p, v: v + 1 });
          }
        }, o.filter === 0 ? undefined : accept);
        assert.ok(inSlice <= o.max, `a slice visits at most max IPv4 entries (${inSlice} > ${o.max})`);
        for (const p of slice) { const k = formatPrefix(p); assert.equal(t.delete(p), m.get(k)?.v); m.delete(k); }
        assert.ok(next === -1 || next > cursor, 'the cursor moves forward');
        cursor = next;
        assert.ok(++calls < 1e6);
      } while (cursor !== -1);
      assert.deepEqual(seen, expect);
      break;
    }
    case 'forEach': {
      const seen = new Map<string, number>();
      t.forEach((p, v) => visitsOnce(seen, formatPrefix(p), v, m));
      assert.equal(seen.size, m.size);
      assert.deepEqual(t.entries().map(([p, v]) => [formatPrefix(p), v]).sort(), [...m].map(([k, e]) => [k, e.v]).sort());
      break;
    }
    case 'reset': t.reset(); m.clear(); break;
    case 'clear': t.clear(); m.clear(); break;
  }
  assert.equal(t.size, m.size, `size after ${o.t}`);
}

describe('PrefixTable (model test)', () => {
  it('behaves like a Map keyed by prefix text under random operations', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), fc.array(op, { maxLength: 60 }), (cap, ops) => {
      const t = new PrefixTable<number>(cap % 7 === 0 ? cap : undefined);
      const m: Model = new Map();
      for (const o of ops) apply(t, m, o);
      for (const e of m.values()) assert.equal(t.get(e.p), e.v);
      for (const p of POOL) assert.equal(t.get(p), m.get(formatPrefix(p))?.v);
    }), { numRuns: 300 });
  });
});

describe('PrefixTable (edge cases)', () => {
  it('holds /0, /32, /128 and one address at every length as distinct keys', () => {
    const t = new PrefixTable<string>();
    const keys: Prefix[] = [];
    for (let l = 0; l <= 32; l++) keys.push({ family: 4, bytes: maskBytes(Uint8Array.of(255, 255, 255, 255), l), length: l });
    for (let l = 0; l <= 32; l++) keys.push({ family: 4, bytes: Uint8Array.of(0, 0, 0, 0), length: l });
    for (const l of [0, 1, 64, 127, 128]) keys.push({ family: 6, bytes: maskBytes(new Uint8Array(16).fill(255), l), length: l });
    for (const p of keys) t.set(p, formatPrefix(p));
    const distinct = new Set(keys.map(formatPrefix));
    assert.equal(t.size, distinct.size);
    for (const p of keys) assert.equal(t.get(p), formatPrefix(p));
    assert.equal(t.getV4(0, 0), '0.0.0.0/0');
    assert.equal(t.getV4(0xffffffff, 32), '255.255.255.255/32');
    assert.equal(t.getV4(0, 32), '0.0.0.0/32');
    assert.equal(t.getV4(0xffffffff, 31), undefined, 'not stored: 255.255.255.255 is not a /31 network address');
    assert.equal(t.deleteV4(0, 0), '0.0.0.0/0');
    assert.equal(t.getV4(0, 0), undefined);
    assert.equal(t.getV4(0, 1), '0.0.0.0/1', 'deleting /0 leaves the /1 of the same address');
    assert.equal(t.size, distinct.size - 1);
  });

  it('reuses tombstones: churn of distinct keys at a steady size neither loses entries nor stalls', () => {
    const t = new PrefixTable<number>();
    const live = 1000;
    const start = Date.now();
    for (let i = 0; i < 200_000; i++) {
      assert.equal(t.setV4((i << 8) >>> 0, 24, i), undefined);
      if (i >= live) assert.equal(t.deleteV4(((i - live) << 8) >>> 0, 24), i - live);
    }
    assert.equal(t.size, live);
    for (let i = 200_000 - live; i < 200_000; i++) assert.equal(t.getV4((i << 8) >>> 0, 24), i);
    assert.equal(t.getV4(((200_000 - live - 1) << 8) >>> 0, 24), undefined);
    // the same key deleted and set again lands back in the table (a tombstone on its probe run is reused)
    for (let r = 0; r < 10_000; r++) { t.deleteV4(0x0a000000, 8); assert.equal(t.setV4(0x0a000000, 8, r), undefined); }
    assert.equal(t.getV4(0x0a000000, 8), 9_999);
    assert.equal(t.size, live + 1);
    assert.ok(Date.now() - start < 5000, `churn took ${Date.now() - start} ms`);
  });

  it('empties and refills (set after the last delete, after clear, after reset)', () => {
    const t = new PrefixTable<number>();
    const keys = run(0x0a0000, 20_000, 24);
    for (let round = 0; round < 3; round++) {
      keys.forEach((p, i) => assert.equal(t.set(p, i + round), undefined));
      assert.equal(t.size, keys.length);
      keys.forEach((p, i) => assert.equal(t.get(p), i + round));
      if (round === 0) keys.forEach((p, i) => assert.equal(t.delete(p), i));
      else if (round === 1) t.clear();
      else t.reset();
      assert.equal(t.size, 0);
      let n = 0;
      t.forEach(() => n++);
      assert.equal(n, 0);
      assert.equal(t.forEachFrom(0, 10, () => n++), -1);
      assert.equal(n, 0);
      for (const p of keys.slice(0, 100)) assert.equal(t.get(p), undefined);
    }
    // reset of a large table holding few entries, then a small refill
    keys.forEach((p, i) => t.set(p, i));
    keys.slice(10).forEach((p) => t.delete(p));
    t.reset();
    assert.equal(t.size, 0);
    t.set(keys[5]!, 5);
    assert.equal(t.get(keys[5]!), 5);
    assert.equal(t.get(keys[0]!), undefined);
  });

  it('lets a walk update or delete the entry it visits, even at the load limit (no resize mid-walk)', () => {
    // 16, 64, ... 4096 entries fill a table grown from empty to exactly its load limit: the next
    // new key resizes it (an update used to, moving entries under the cursor)
    for (const n of [16, 64, 256, 1024, 4096, 5000]) {
      const t = new PrefixTable<number>();
      const keys = run(0x0a0000, n, 24);
      keys.forEach((p, i) => t.set(p, i));
      const seen = new Uint8Array(n);
      let cursor = 0;
      do {
        cursor = t.forEachFrom(cursor, 7, (p, v) => {
          assert.ok(v < n, `${formatPrefix(p)} visited again after its update (n ${n})`);
          assert.equal(seen[v], 0, `${formatPrefix(p)} visited twice (n ${n})`);
          seen[v] = 1;
          if (v % 3 === 0) assert.equal(t.delete(p), v);
          else assert.equal(t.set(p, n + v), v);
        });
      } while (cursor !== -1);
      assert.ok(seen.every((x) => x === 1), `every entry visited (n ${n})`);
      keys.forEach((p, i) => assert.equal(t.get(p), i % 3 === 0 ? undefined : n + i));
    }
  });

  it('grows past many resizes, in address order and shuffled, and walks everything once with deletes', () => {
    for (const shuffled of [false, true]) {
      const t = new PrefixTable<number>();
      const keys = [...run(0x0b0000, 150_000, 24), ...run(0x0c00000, 50_000, 28), ...run(0, 1, 0)];
      if (shuffled) {
        let s = 12345;
        for (let i = keys.length - 1; i > 0; i--) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; const j = s % (i + 1); [keys[i], keys[j]] = [keys[j]!, keys[i]!]; }
      }
      keys.forEach((p, i) => assert.equal(t.set(p, i), undefined));
      assert.equal(t.size, keys.length);
      for (let i = 0; i < keys.length; i += 7) assert.equal(t.get(keys[i]!), i);
      assert.equal(t.getV4(0x0a000000, 24), undefined);
      // withdrawAll-like: slices of 1000, the visited entries deleted inside the callback
      const seen = new Uint8Array(keys.length);
      let cursor = 0;
      do {
        cursor = t.forEachFrom(cursor, 1000, (p, v) => {
          assert.equal(seen[v], 0, `${formatPrefix(p)} visited twice`);
          seen[v] = 1;
          if (v % 2 === 0) assert.equal(t.delete(p), v);
        });
      } while (cursor !== -1);
      assert.ok(seen.every((x) => x === 1), 'every entry visited');
      assert.equal(t.size, keys.length / 2 - 0.5);
      for (let i = 0; i < keys.length; i += 3) assert.equal(t.get(keys[i]!), i % 2 === 0 ? undefined : i);
    }
  });
});
