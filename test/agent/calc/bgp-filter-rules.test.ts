/**
 * Calico BGPFilter semantics through the one translation production runs: resource schema
 * (agent/resources/bgp-filter.ts) ─> filterRules + linearize (agent/calc/bgp-filter-rules.ts) ─>
 * the speaker's compiled policy (bgp/speaker/policy-config.ts), evaluated as the Adj-RIB-In and
 * the update groups evaluate it. First match decides, no match accepts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filterRules, linearize } from '../../../agent/calc/bgp-filter-rules.js';
import type { Snapshot } from '../../../agent/calc/snapshot.js';
import { bgpFilterSpec, type BGPFilterSpec } from '../../../agent/resources/bgp-filter.js';
import { compilePeerPolicy } from '../../../bgp/speaker/policy-config.js';
import type { PolicySubject } from '../../../bgp/policy/policy.js';
import type { PathAttributes } from '../../../bgp/wire/types.js';
import { parsePrefix } from '../../../common/prefix.js';

type Rule = NonNullable<BGPFilterSpec['importV4']>[number];

const subj: PolicySubject = { sourceKind: 'ebgp', sourcePeer: 'tor1', localAs: 65000 };
const base: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }], communities: [100] };

function snapshot(filter: BGPFilterSpec): Snapshot {
  return { localNode: 'a', nodes: new Map(), pools: [], peers: [], bgpConfigs: new Map(), filters: new Map([['f', filter]]), blocks: [] };
}

/** The filter's rules as one direction of a peer's policy (no match: accept), compiled as the speaker does. */
function policy(rules: readonly Rule[], direction: 'import' | 'export' = 'import', ibgp = false) {
  const spec = bgpFilterSpec.parse(direction === 'import' ? { importV4: rules } : { exportV4: rules });
  const fr = filterRules(snapshot(spec), ['f'], ibgp, 'peer');
  assert.deepEqual(fr.problems.filter((x) => !/\.interface: Tortie feeds no kernel or device routes/.test(x)), []);
  return compilePeerPolicy({ rules: linearize(direction === 'import' ? fr.importRules : fr.exportRules, 'accept'), default: 'accept' }, direction);
}

const ev = (rules: readonly Rule[], prefix: string, s: Partial<PolicySubject> = {}, direction: 'import' | 'export' = 'import', ibgp = false): string =>
  policy(rules, direction, ibgp)?.evaluate(parsePrefix(prefix), base, { ...subj, ...s }).type ?? 'accept';

describe('Calico BGPFilter', () => {
  it('Equal / NotEqual / In / NotIn with prefixLength, first match decides, no match accepts', () => {
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'Equal' }], '10.0.0.0/8'), 'reject');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'Equal' }], '10.1.0.0/16'), 'accept');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'NotEqual' }], '10.1.0.0/16'), 'reject');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'NotEqual' }], '10.0.0.0/8'), 'accept');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'In' }], '10.1.0.0/16'), 'reject');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }], '10.1.0.0/16'), 'accept');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }], '10.1.1.0/26'), 'reject');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'NotIn' }], '192.168.0.0/16'), 'reject');
    assert.equal(ev([{ action: 'Reject', cidr: '10.0.0.0/8', matchOperator: 'NotIn' }], '10.9.0.0/16'), 'accept');
    assert.equal(ev([{ action: 'Accept', cidr: '10.0.0.0/8', matchOperator: 'In' }, { action: 'Reject' }], '10.0.0.0/24'), 'accept');
    assert.equal(ev([{ action: 'Accept', cidr: '10.0.0.0/8', matchOperator: 'In' }, { action: 'Reject' }], '11.0.0.0/24'), 'reject');
  });

  it('source RemotePeers and peerType', () => {
    assert.equal(ev([{ action: 'Reject', source: 'RemotePeers' }], '10.0.0.0/24', { sourceKind: 'local' }, 'export'), 'accept');
    assert.equal(ev([{ action: 'Reject', source: 'RemotePeers' }], '10.0.0.0/24', {}, 'export'), 'reject');
    assert.equal(ev([{ action: 'Reject', peerType: 'iBGP' }], '10.0.0.0/24'), 'accept', 'an iBGP rule on an eBGP peer');
    assert.equal(ev([{ action: 'Reject', peerType: 'iBGP' }], '10.0.0.0/24', { sourceKind: 'ibgp' }, 'import', true), 'reject');
  });

  it('interface: a glob (BIRD patmatch: * and ?) on the interface toward the peer a route came from; routes without one never match', () => {
    const rules: Rule[] = [{ action: 'Reject', interface: 'eth?' }, { action: 'Accept', interface: '*.calico' }, { action: 'Reject' }];
    assert.equal(ev(rules, '10.0.0.0/24', { interface: 'eth1' }), 'reject');
    assert.equal(ev(rules, '10.0.0.0/24', { interface: 'eth10' }), 'reject', 'eth10 is not eth?: the catch-all rejects');
    assert.equal(ev(rules, '10.0.0.0/24', { interface: 'vxlan.calico' }), 'accept');
    assert.equal(ev([{ action: 'Accept', interface: '*.calico' }], '10.0.0.0/24', { interface: 'vxlanXcalico' }), 'accept', 'no match: default accept');
    assert.equal(ev([{ action: 'Reject', interface: '*' }], '10.0.0.0/24', { sourceKind: 'local' }, 'export'), 'accept', 'an originated blackhole has no interface');
    // With a cidr too, both must hold; NotIn keeps the interface on the rewritten rules.
    const both: Rule[] = [{ action: 'Reject', interface: 'eth1', cidr: '10.0.0.0/8', matchOperator: 'NotIn' }];
    assert.equal(ev(both, '192.0.2.0/24', { interface: 'eth1' }), 'reject');
    assert.equal(ev(both, '192.0.2.0/24', { interface: 'eth2' }), 'accept');
    assert.equal(ev(both, '10.1.0.0/16', { interface: 'eth1' }), 'accept');
    // Export Accept rules on an interface are reported: no kernel or device routes to accept here.
    const notes = filterRules(snapshot(bgpFilterSpec.parse({ exportV4: [{ action: 'Reject', interface: 'cali*' },
      { action: 'Accept', interface: 'eth1', source: 'RemotePeers' }, { action: 'Accept', interface: 'cali*' }] })), ['f'], false, 'peer').problems;
    assert.deepEqual(notes.map((n) => n.replace(/: Tortie.*/, '')), ['BGPFilter(f): spec.exportV4[2].interface']);
  });

  it('operations on Accept rules: addCommunity and prependASPath (export)', () => {
    const r = policy([{ action: 'Accept', operations: [{ addCommunity: { value: '65000:7' } }, { prependASPath: { prefix: [65000] } }] }], 'export')
      ?.evaluate(parsePrefix('10.0.0.0/24'), base, subj);
    assert.ok(r?.type === 'accept');
    assert.ok(r.attrs.communities?.includes(((65000 << 16) | 7) >>> 0));
    assert.deepEqual(r.attrs.asPath?.[0]?.asns.slice(0, 2), [65000, 65001]);
  });

  it('bad rules are refused by the resource schema with their position', () => {
    const issues = (rule: Record<string, unknown>): string[] => {
      const r = bgpFilterSpec.safeParse({ importV4: [rule] });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(issues({ action: 'Reject', cidr: '10.0.0.0/8' }), ['importV4.0.matchOperator: cidr and matchOperator must be set together']);
    assert.ok(issues({ action: 'Reject', cidr: '10.0.0.300/8', matchOperator: 'In' }).some((i) => i.startsWith('importV4.0.cidr')));
    assert.deepEqual(issues({ action: 'Reject', cidr: '2001:db8::/32', matchOperator: 'In' }), ['importV4.0.cidr: must be an IPv4 CIDR in a V4 rule list']);
    assert.deepEqual(issues({ action: 'Reject', operations: [{ addCommunity: { value: '1:2' } }] }), ['importV4.0.operations: only allowed on Accept rules']);
    // A community with a part over 16 bits passes the schema's shape check; the translation reports the rule and leaves it out.
    const fr = filterRules(snapshot(bgpFilterSpec.parse({ importV4: [{ action: 'Accept', communities: { values: ['70000:1'] } }] })), ['f'], false, 'peer');
    assert.deepEqual(fr.problems, ['BGPFilter f spec.importV4[0]: community "70000:1" is neither a:b nor a:b:c; rule ignored']);
    assert.deepEqual(fr.importRules, []);
  });
});
