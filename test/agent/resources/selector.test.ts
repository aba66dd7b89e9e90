import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateSelector, formatSelector, parseSelector, selectorMatches, SelectorError } from '../../../agent/resources/selector.js';

const labels = { 'kubernetes.io/hostname': 'node-1', rack: 'r1', zone: 'eu-west-1a', role: 'worker' };

describe('selector', () => {
  const cases: Array<[string, boolean]> = [
    ['all()', true], ['', true], ['global()', true],
    ['has(rack)', true], ['!has(rack)', false], ['has(gpu)', false], ['!has(gpu)', true],
    ["rack == 'r1'", true], ['rack == "r2"', false], ["rack != 'r2'", true], ["gpu != 'x'", true],
    ["rack in {'r1', 'r2'}", true], ["rack in {'r3'}", false], ["rack not in {'r3'}", true], ["gpu not in {'a'}", true],
    ["rack in {}", false],
    ["rack == 'r1' && role == 'worker'", true], ["rack == 'r2' || role == 'worker'", true],
    ["rack == 'r2' || (role == 'worker' && !has(gpu))", true], ["!(rack == 'r1' && has(role))", false],
    ["kubernetes.io/hostname == 'node-1'", true],
    ["zone starts with 'eu-'", true], ["zone ends with '1a'", true], ["zone contains 'west'", true], ["zone not contains 'east'", true],
    ["rack == 'r2' || role == 'worker' && has(gpu)", false],
  ];
  for (const [src, want] of cases) {
    it(`${src || '(empty)'} → ${want}`, () => { assert.equal(selectorMatches(src, labels), want); });
  }

  const bad: Array<[string, number]> = [
    ['rack ==', 7], ["rack = 'x'", 5], ['has(rack', 8], ["(rack == 'a'", 12], ["rack in {'a' 'b'}", 13],
    ["rack == 'a' &&", 14], ["rack == 'unterminated", 8], ["rack == 'a' foo", 12],
  ];
  for (const [src, pos] of bad) {
    it(`refuses ${JSON.stringify(src)} at position ${pos}`, () => {
      assert.throws(() => parseSelector(src), (e: unknown) => e instanceof SelectorError && e.position === pos && e.message.includes(`position ${pos}`));
    });
  }

  it('formatSelector round-trips (property)', () => {
    const key = fc.constantFrom('a', 'b.c/d', 'rack');
    const val = fc.stringMatching(/^[a-z0-9-]{0,6}$/);
    const leaf = fc.oneof(
      key.map((k) => `has(${k})`), fc.tuple(key, val).map(([k, v]) => `${k} == '${v}'`),
      fc.tuple(key, fc.array(val, { maxLength: 3 })).map(([k, vs]) => `${k} in {${vs.map((v) => `'${v}'`).join(',')}}`),
    );
    const expr = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof({ depthSize: 'small' }, leaf, fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) && (${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) || (${b})`), tie('e').map((a) => `!(${a})`)),
    })).e;
    const labelsArb = fc.dictionary(key, val);
    fc.assert(fc.property(expr, labelsArb, (src, ls) => {
      const sel = parseSelector(src);
      const again = parseSelector(formatSelector(sel));
      assert.equal(evaluateSelector(again, ls), evaluateSelector(sel, ls));
    }));
  });

  it('arbitrary text never throws anything but SelectorError', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      try { parseSelector(s); } catch (e) { assert.ok(e instanceof SelectorError, String(e)); }
    }));
  });
});
