/**
 * tortie-bgpd config for the session and policy features of bgp/policy/communities.ts,
 * max-prefix.ts, role-check.ts: extended and large communities (match with "*", set, add,
 * remove) evaluated through the compiled policy; clusterId, localRole/roleStrict,
 * maxPrefixAction/Restart, enforceFirstAs; and the errors for what does not go together.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../../bgp/bgpd/config.js';
import { compilePeerPolicy } from '../../../bgp/speaker/policy-config.js';
import { formatExtendedCommunity } from '../../../bgp/wire/attributes/extended-communities.js';
import { parseExtCommunity, parseExtCommunityPattern } from '../../../bgp/policy/communities.js';
import { parsePrefix } from '../../../common/prefix.js';
import type { PathAttributes } from '../../../bgp/wire/types.js';

const file = (peerExtra: string, rules = '[]', top = '') => `routerId: 10.99.0.2
asn: 65002
${top}
peers:
  - { name: p, address: 10.99.0.1, asn: 65001${peerExtra}, import: { rules: ${rules}, default: accept } }
`;

const subject = { sourceKind: 'ebgp' as const, sourcePeer: 'p', localAs: 65002 };
const ext = (s: string) => parseExtCommunity(s);
const exts = (a: PathAttributes) => (a.extendedCommunities ?? []).map(formatExtendedCommunity);
const larges = (a: PathAttributes) => (a.largeCommunities ?? []).map((c) => `${c.globalAdmin}:${c.localData1}:${c.localData2}`);

function run(rules: string, attrs: PathAttributes): PathAttributes | 'rejected' {
  const c = parseConfigText(file('', rules), 'bgpd.yaml');
  const pol = compilePeerPolicy(c.speaker.peers[0]?.import, 'import');
  assert.ok(pol);
  const r = pol.evaluate(parsePrefix('10.1.0.0/24'), attrs, subject);
  return r.type === 'accept' ? r.attrs : 'rejected';
}

describe('bgpd config: extended and large communities in policy', () => {
  it('parses the text forms (2-octet AS, IPv4, 4-octet AS administrators; raw hex) and formats them back', () => {
    for (const s of ['rt:65000:100', 'rt:192.0.2.1:7', 'rt:4200000000:5', 'soo:65000:1']) assert.equal(formatExtendedCommunity(ext(s)), s);
    assert.deepEqual(Array.from(ext('0x0002fde800000064')), [0, 2, 0xfd, 0xe8, 0, 0, 0, 0x64]);
    assert.deepEqual(Array.from(parseExtCommunityPattern('rt:65000:*').mask), [255, 255, 255, 255, 0, 0, 0, 0]);
    assert.throws(() => ext('rt:65000:*'), /wildcard/);
    assert.throws(() => ext('rt:65000:70000:1'), /extended community|administrator/);
  });

  it('matches extended communities (any of the patterns, "*" last field) and large communities with "*"', () => {
    const rules = `[{ match: { extendedCommunities: ["rt:65000:*"] }, action: reject },
      { match: { largeCommunities: ["65000:*:7"] }, action: reject }]`;
    assert.equal(run(rules, { extendedCommunities: [ext('rt:65000:42')] }), 'rejected');
    assert.notEqual(run(rules, { extendedCommunities: [ext('rt:65001:42'), ext('soo:65000:42')] }), 'rejected');
    assert.equal(run(rules, { largeCommunities: [{ globalAdmin: 65000, localData1: 3, localData2: 7 }] }), 'rejected');
    assert.notEqual(run(rules, { largeCommunities: [{ globalAdmin: 65000, localData1: 3, localData2: 8 }] }), 'rejected');
  });

  it('set replaces, remove takes matching ones ("*" allowed), add appends without duplicates', () => {
    const rules = `[{ action: accept, set: {
      communities: { set: ["65002:1"] },
      extendedCommunities: { remove: ["rt:65000:*"], add: ["soo:65002:9", "rt:65001:1"] },
      largeCommunities: { remove: ["65000:*:*"], add: ["65002:0:1"] } } }]`;
    const out = run(rules, {
      communities: [1, 2], extendedCommunities: [ext('rt:65000:1'), ext('rt:65000:2'), ext('rt:65001:1')],
      largeCommunities: [{ globalAdmin: 65000, localData1: 1, localData2: 1 }, { globalAdmin: 65001, localData1: 1, localData2: 1 }],
    });
    assert.notEqual(out, 'rejected');
    if (out === 'rejected') return;
    assert.deepEqual(out.communities, [(65002 << 16 | 1) >>> 0]);
    assert.deepEqual(exts(out), ['rt:65001:1', 'soo:65002:9']);
    assert.deepEqual(larges(out), ['65001:1:1', '65002:0:1']);
    const cleared = run(`[{ action: accept, set: { extendedCommunities: { set: [] }, largeCommunities: { set: ["1:2:3"] }, communities: { set: [] } } }]`,
      { communities: [5], extendedCommunities: [ext('rt:1:1')] });
    assert.notEqual(cleared, 'rejected');
    if (cleared === 'rejected') return;
    assert.equal('extendedCommunities' in cleared, false, 'an empty set removes the attribute');
    assert.equal('communities' in cleared, false);
    assert.deepEqual(larges(cleared), ['1:2:3']);
  });

  it('names the field of a bad community', () => {
    assert.throws(() => parseConfigText(file('', '[{ match: { extendedCommunities: ["target:1:2"] }, action: reject }]'), 'b.yaml'),
      (e: unknown) => e instanceof ConfigError && /peers\[0\]\.import\.rules\[0\]\.match\.extendedCommunities\[0\]: extended community must be/.test(e.message));
    assert.throws(() => parseConfigText(file('', '[{ action: accept, set: { largeCommunities: { add: ["1:*:2"] } } }]'), 'b.yaml'),
      (e: unknown) => e instanceof ConfigError && /largeCommunities\.add\[0\]: a wildcard is only allowed/.test(e.message));
  });
});

describe('bgpd config: cluster id, roles, max-prefix actions, enforce-first-AS', () => {
  it('passes them to the speaker', () => {
    const c = parseConfigText(file(', localRole: customer, roleStrict: true, maxPrefixes: 10, maxPrefixRestart: 60, enforceFirstAs: false', '[]', 'clusterId: 10.255.0.1'), 'b.yaml');
    assert.equal(c.speaker.clusterId, '10.255.0.1');
    const p = c.speaker.peers[0];
    assert.equal(p?.localRole, 'customer');
    assert.equal(p?.roleStrict, true);
    assert.equal(p?.maxPrefixRestart, 60);
    assert.equal(p?.enforceFirstAs, false);
    assert.equal(parseConfigText(file(', maxPrefixes: 10, maxPrefixAction: warn'), 'b.yaml').speaker.peers[0]?.maxPrefixAction, 'warn');
  });

  it('refuses what does not go together, naming the field', () => {
    const bad = (extra: string, re: RegExp) => assert.throws(() => parseConfigText(file(extra), 'b.yaml'), (e: unknown) => e instanceof ConfigError && re.test(`${e.message} ${JSON.stringify(e)}`));
    bad(', localRole: boss', /localRole/);
    bad(', roleStrict: true', /roleStrict needs localRole/);
    bad(', maxPrefixAction: warn', /maxPrefixAction without maxPrefixes/);
    bad(', maxPrefixes: 5, maxPrefixAction: warn, maxPrefixRestart: 5', /maxPrefixRestart goes with maxPrefixAction restart/);
    bad(', localAs: 65001, localRole: peer', /localRole is for eBGP/);
  });
});
