/**
 * Policy: prefix-list ge/le against a naive bit-by-bit implementation (fast-check), matchers,
 * actions, rule flow, errors naming the rule (Calico BGPFilter semantics: test/agent/calc/bgp-filter-rules.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskBytes, parsePrefix, type Prefix } from '../../../common/prefix.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { compilePrefixList, PolicyError } from '../../../bgp/policy/prefix-list.js';
import type { PolicySubject, PrefixListEntry } from '../../../bgp/policy/policy.js';
import type { PathAttributes } from '../../../bgp/wire/types.js';

const p = (s: string) => parsePrefix(s);

function bit(b: Uint8Array, i: number): number { return ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1; }

/** Naive: same family, the first entry.length bits equal, length within the bounds. */
function naive(entries: readonly PrefixListEntry[], x: Prefix): boolean {
  return entries.some((e) => {
    if (e.prefix.family !== x.family) return false;
    const max = x.family === 4 ? 32 : 128;
    const ge = e.ge ?? e.prefix.length;
    const le = e.le ?? (e.ge !== undefined ? max : e.prefix.length);
    if (x.length < ge || x.length > le || x.length < e.prefix.length) return false;
    for (let i = 0; i < e.prefix.length; i++) if (bit(e.prefix.bytes, i) !== bit(x.bytes, i)) return false;
    return true;
  });
}

const prefixArb = (fam: 4 | 6) => fc.tuple(fc.uint8Array({ minLength: fam === 4 ? 4 : 16, maxLength: fam === 4 ? 4 : 16 }), fc.integer({ min: 0, max: fam === 4 ? 32 : 128 }))
  .map(([b, l]): Prefix => ({ family: fam, bytes: maskBytes(b, l), length: l }));
const entryArb = fc.oneof(prefixArb(4), prefixArb(6)).chain((prefix) => {
  const max = prefix.family === 4 ? 32 : 128;
  return fc.tuple(fc.option(fc.integer({ min: prefix.length, max }), { nil: undefined }), fc.option(fc.integer({ min: prefix.length, max }), { nil: undefined }))
    .map(([a, b]): PrefixListEntry => {
      const ge = a !== undefined && b !== undefined ? Math.min(a, b) : a;
      const le = a !== undefined && b !== undefined ? Math.max(a, b) : b;
      return { prefix, ...(ge !== undefined ? { ge } : {}), ...(le !== undefined ? { le } : {}) };
    });
});
/** Candidates biased to fall near an entry (same leading bits), so matches actually happen. */
const near = (e: PrefixListEntry) => fc.tuple(fc.uint8Array({ minLength: e.prefix.bytes.length, maxLength: e.prefix.bytes.length }), fc.integer({ min: 0, max: e.prefix.family === 4 ? 32 : 128 }), fc.boolean())
  .map(([b, l, keep]): Prefix => {
    const bytes = Uint8Array.from(b);
    if (keep) for (let i = 0; i < e.prefix.length; i++) { const m = 0x80 >> (i & 7); bytes[i >> 3] = (bytes[i >> 3]! & ~m) | (e.prefix.bytes[i >> 3]! & m); }
    return { family: e.prefix.family, bytes: maskBytes(bytes, l), length: l };
  });

describe('prefix lists', () => {
  it('agree with a naive implementation (property)', () => {
    fc.assert(fc.property(fc.array(entryArb, { minLength: 1, maxLength: 4 }).chain((es) => fc.tuple(fc.constant(es), fc.array(fc.oneof(near(es[0]!), prefixArb(4), prefixArb(6)), { maxLength: 30 }))), ([entries, xs]) => {
      const m = compilePrefixList(entries);
      for (const x of xs) assert.equal(m(x), naive(entries, x));
    }), { numRuns: 500 });
  });
  it('exact, orlonger, ge only, le only', () => {
    const exact = compilePrefixList([{ prefix: p('10.0.0.0/8') }]);
    assert.deepEqual(['10.0.0.0/8', '10.1.0.0/16', '11.0.0.0/8'].map((x) => exact(p(x))), [true, false, false]);
    const orlonger = compilePrefixList([{ prefix: p('10.0.0.0/8'), le: 32 }]);
    assert.deepEqual(['10.0.0.0/8', '10.1.2.3/32', '11.0.0.0/8', '0.0.0.0/0'].map((x) => orlonger(p(x))), [true, true, false, false]);
    const ge = compilePrefixList([{ prefix: p('10.0.0.0/8'), ge: 24 }]);
    assert.deepEqual(['10.1.0.0/16', '10.1.1.0/24', '10.1.1.1/32'].map((x) => ge(p(x))), [false, true, true]);
    const v6 = compilePrefixList([{ prefix: p('2001:db8::/32'), ge: 48, le: 64 }]);
    assert.deepEqual(['2001:db8:1::/48', '2001:db8::/32', '2001:db9::/48', '10.0.0.0/8'].map((x) => v6(p(x))), [true, false, false, false]);
  });
  it('rejects impossible bounds, naming where', () => {
    assert.throws(() => compilePrefixList([{ prefix: p('10.0.0.0/16'), ge: 8 }], 'import.rules[2]'), (e: unknown) => e instanceof PolicyError && /import\.rules\[2\]\[0\].*10\.0\.0\.0\/16 ge 8/.test(e.message));
    assert.throws(() => compilePrefixList([{ prefix: p('10.0.0.0/8'), ge: 28, le: 24 }]), /need 8 ≤ ge ≤ le ≤ 32/);
    assert.throws(() => compilePolicy({ name: 'imp', rules: [{ name: 'x', actions: [{ type: 'set-med', value: -1 }] }] }), /imp\.rules\[0\] \(x\)\.actions\[0\]\.value/);
  });
});

const subj: PolicySubject = { sourceKind: 'ebgp', sourcePeer: 'tor1', localAs: 65000 };
const base: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }], communities: [100], largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] };

describe('policy rules', () => {
  it('matches communities, large communities, AS path contains/prefix, source kind and peer', () => {
    const accept = (match: object) => compilePolicy({ rules: [{ match, result: 'accept' }], defaultAction: 'reject' }).evaluate(p('10.0.0.0/24'), base, subj).type;
    assert.equal(accept({ communities: [5, 100] }), 'accept');
    assert.equal(accept({ communities: [5] }), 'reject');
    assert.equal(accept({ largeCommunities: [{ globalAdmin: 1, localData1: 2, localData2: 3 }] }), 'accept');
    assert.equal(accept({ asPathContains: [65002] }), 'accept');
    assert.equal(accept({ asPathContains: [65003] }), 'reject');
    assert.equal(accept({ asPathPrefix: [65001] }), 'accept');
    assert.equal(accept({ asPathPrefix: [65002] }), 'reject');
    assert.equal(accept({ sourceKind: ['ibgp'] }), 'reject');
    assert.equal(accept({ sourcePeer: ['tor1'], communities: [100] }), 'accept');
    assert.equal(accept({ sourcePeer: ['tor1'], communities: [1] }), 'reject', 'fields are ANDed');
    assert.equal(accept({ allCommunities: [100] }), 'accept');
    assert.equal(accept({ allCommunities: [100, 5] }), 'reject', 'allCommunities needs every one');
    assert.equal(accept({ localPref: 100 }), 'reject', 'no LOCAL_PREF never matches');
    const withLp = compilePolicy({ rules: [{ match: { localPref: 2147482623 }, result: 'accept' }], defaultAction: 'reject' });
    assert.equal(withLp.evaluate(p('10.0.0.0/24'), { ...base, localPref: 2147482623 }, subj).type, 'accept');
    assert.equal(withLp.evaluate(p('10.0.0.0/24'), { ...base, localPref: 100 }, subj).type, 'reject');
  });
  it('applies actions without mutating the input; continue lets later rules add more', () => {
    const pol = compilePolicy({ rules: [
      { match: { communities: [100] }, actions: [{ type: 'add-communities', values: [200, 100] }, { type: 'remove-communities', values: [100] }], result: 'continue' },
      { actions: [{ type: 'set-local-pref', value: 250 }, { type: 'set-med', value: 9 }, { type: 'prepend', asns: [64999], count: 2 }, { type: 'add-large-communities', values: [{ globalAdmin: 9, localData1: 9, localData2: 9 }] }] },
    ] });
    const r = pol.evaluate(p('10.0.0.0/24'), base, subj);
    assert.equal(r.type, 'accept');
    if (r.type !== 'accept') return;
    assert.deepEqual(r.attrs.communities, [200]);
    assert.equal(r.attrs.localPref, 250);
    assert.equal(r.attrs.med, 9);
    assert.deepEqual(r.attrs.asPath, [{ type: 2, asns: [64999, 64999, 65001, 65002] }]);
    assert.equal(r.attrs.largeCommunities?.length, 2);
    assert.deepEqual(base.communities, [100]);
    const same = compilePolicy({ rules: [] }).evaluate(p('10.0.0.0/24'), base, subj);
    assert.equal(same.type === 'accept' && same.attrs, base, 'unchanged attributes keep their identity');
  });
});

