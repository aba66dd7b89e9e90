/** Attribute interning (equal → same frozen object, memory reclaimed) and the prefix table (vs a Map). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix, maskBytes, type Prefix } from '../../../common/prefix.js';
import { AttrInterner, attributesKey } from '../../../bgp/rib/attr-intern.js';
import { PrefixTable } from '../../../bgp/rib/prefix-table.js';
import { attrs, seq } from './fixtures.js';

describe('AttrInterner', () => {
  it('returns one frozen object for structurally equal attributes', () => {
    const i = new AttrInterner();
    const a = i.intern(attrs({ communities: [1, 2], med: 5 }), 1);
    const b = i.intern(attrs({ med: 5, communities: [1, 2] }), 1);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.communities) && Object.isFrozen(a.asPath));
    assert.notEqual(i.intern(attrs({ communities: [2, 1], med: 5 })), a, 'community order is significant');
    assert.notEqual(attributesKey(attrs({ asPath: seq(1, 23) })), attributesKey(attrs({ asPath: seq(12, 3) })));
    assert.notEqual(attributesKey(attrs({ asPath: [{ type: 1, asns: [1] }] })), attributesKey(attrs({ asPath: seq(1) })));
    assert.equal(i.refCount(a), 2);
  });
  it('forgets an attribute set when its last reference goes', () => {
    const i = new AttrInterner();
    const a = i.intern(attrs(), 3);
    i.release(a, 2);
    assert.equal(i.size, 1);
    i.release(a);
    assert.equal(i.size, 0);
    assert.equal(i.isInterned(a), false);
    assert.notEqual(i.intern(attrs(), 1), a, 'a new object after reclamation');
  });
});

const v4 = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([b, l]): Prefix => ({ family: 4, bytes: maskBytes(b, l), length: l }));
const v6 = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, l]): Prefix => ({ family: 6, bytes: maskBytes(b, l), length: l }));

describe('PrefixTable', () => {
  it('behaves like a Map keyed by prefix text under random set/delete (with growth and tombstones)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.oneof({ weight: 4, arbitrary: v4 }, { weight: 1, arbitrary: v6 }), fc.nat()), { maxLength: 300 }), (ops) => {
      const t = new PrefixTable<number>();
      const m = new Map<string, number>();
      for (const [set, prefix, v] of ops) {
        const k = formatPrefix(prefix);
        if (set) assert.equal(t.set(prefix, v), m.get(k)), m.set(k, v);
        else assert.equal(t.delete(prefix), m.get(k)), m.delete(k);
        assert.equal(t.size, m.size);
      }
      const seen = new Map<string, number>();
      t.forEach((prefix, v) => seen.set(formatPrefix(prefix), v));
      assert.deepEqual(seen, m);
      for (const [, prefix] of ops) assert.equal(t.get(prefix), m.get(formatPrefix(prefix)));
    }), { numRuns: 200 });
  });
});
