/**
 * Property tests (fast-check) of the pure planner and parsers:
 *  - for any believed kernel state and any desired ruleset, applying the plan to the believed
 *    state (as a backend would) yields a state for which the plan is empty;
 *  - the iptables in-place chain edit turns the old hash list into the new one;
 *  - the read-back parsers never throw on arbitrary text (iptables-save, ipset save lines with
 *    valid addresses) and unknown input yields no state of ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAddress, intToIpv4 } from '../../../common/prefix.js';
import { planIsEmpty, planWrite, type ChainSeen, type KernelRulesState } from '../../../felix/rules/rules-backend.js';
import { hashRules, type ChainDef, type Ruleset } from '../../../felix/rules/rule-model.js';
import { parseIptablesSave } from '../../../felix/rules/iptables-render.js';

const chainNames = ['A', 'B', 'C', 'D'] as const;
const port = fc.integer({ min: 1, max: 12 });
const chainArb = (name: string): fc.Arbitrary<ChainDef> => fc.array(port, { maxLength: 8 }).map((ports) => ({
  name, table: 'filter' as const,
  rules: hashRules(name, ports.map((p) => ({ matches: [{ type: 'udp-dport' as const, port: p }], action: { type: 'accept' as const } }))),
}));
const elems = fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 20 }).map((xs) => new Set(xs.map((x) => formatAddress(intToIpv4(x)))));

const rulesetArb: fc.Arbitrary<Ruleset> = fc.record({
  chains: fc.subarray([...chainNames]).chain((names) => fc.tuple(...names.map(chainArb))),
  sets: fc.subarray(['s1', 's2', 's3']).chain((names) => fc.tuple(...names.map((n) => elems.map((e) => ({ name: n, kind: 'addr' as const, elements: e }))))),
}).map((r) => ({ family: 4 as const, chains: r.chains, sets: r.sets }));

const stateArb: fc.Arbitrary<KernelRulesState> = fc.record({
  chains: fc.subarray([...chainNames, 'stale']).chain((names) => fc.tuple(...names.map((n) =>
    fc.array(fc.oneof(fc.constantFrom('', 'junk'), port.map((p) => hashRules(n, [{ matches: [{ type: 'udp-dport', port: p }], action: { type: 'accept' } }])[0]?.hash ?? '')), { maxLength: 8 })
      .map((hashes) => [n, { table: 'filter' as const, hashes }] as const)))),
  sets: fc.subarray(['s1', 's2', 's3', 'old']).chain((names) => fc.tuple(...names.map((n) => elems.map((e) => [n, e] as const)))),
}).map((s) => ({ chains: new Map<string, ChainSeen>(s.chains), sets: new Map(s.sets), hooks: new Map() }));

/** Apply a plan the way a backend does; for iptables chains, via the in-place edit. */
function simulate(state: KernelRulesState, desired: Ruleset, inPlace: boolean): KernelRulesState {
  const plan = planWrite(desired, state, false);
  const chains = new Map(state.chains);
  for (const name of plan.chainsToWrite) {
    const c = desired.chains.find((x) => x.name === name);
    assert.ok(c);
    const edit = plan.chainEdits.get(name);
    if (inPlace && edit !== undefined) {
      const hashes = [...(chains.get(name)?.hashes ?? [])];
      hashes.splice(edit.from, edit.remove, ...edit.insert.map((r) => r.hash));
      chains.set(name, { table: c.table, hashes });
    } else {
      chains.set(name, { table: c.table, hashes: c.rules.map((r) => r.hash) });
    }
  }
  for (const c of plan.chainsToDelete) chains.delete(c.name);
  const sets = new Map<string, Set<string>>([...state.sets].map(([k, v]) => [k, new Set(v)]));
  for (const s of plan.setsToCreate) sets.set(s.name, new Set(s.elements));
  for (const [s, es] of plan.setDels) for (const e of es) sets.get(s)?.delete(e);
  for (const [s, es] of plan.setAdds) for (const e of es) sets.get(s)?.add(e);
  for (const s of plan.setsToDelete) sets.delete(s);
  return { chains, sets, hooks: new Map() };
}

test('property: one plan brings any believed state to the desired one (whole-chain and in-place)', () => {
  fc.assert(fc.property(stateArb, rulesetArb, fc.boolean(), (state, desired, inPlace) => {
    const after = simulate(state, desired, inPlace);
    assert.ok(planIsEmpty(planWrite(desired, after, false)));
  }), { numRuns: 500 });
});

test('property: iptables-save parsing never throws and only reports tortie- chains and tortie: comments', () => {
  const line = fc.oneof(fc.string(), fc.constantFrom('*filter', '*nat', 'COMMIT', ':tortie-X - [0:0]', ':FOO ACCEPT [0:0]',
    '-A INPUT -m comment --comment "tortie:abc" -j tortie-X', '-A tortie-X -j ACCEPT', '-A FOO -j DROP', '-A', '-A '));
  fc.assert(fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
    const seen = parseIptablesSave(lines.join('\n'), 'filter');
    for (const name of seen.chains.keys()) assert.ok(lines.some((l) => l.startsWith(`:tortie-${name}`)));
    for (const hooks of seen.hooks.values()) for (const h of hooks) assert.match(h.spec, /tortie:/);
  }), { numRuns: 500 });
});
