/** Golden rendering per backend, read-back parsers, and config validation (pure, no kernel). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRuleset, type RulesConfig } from '../../../felix/rules/desired-rules.js';
import { emptyKernelState, planWrite, stateAfter } from '../../../felix/rules/rules-backend.js';
import { parseNftSetElements, parseNftTable, renderNftTransaction } from '../../../felix/rules/nft-render.js';
import {
  parseIpsetSave, parseIptablesSave, renderIpsetUpdate, renderIptablesRestore,
} from '../../../felix/rules/iptables-render.js';
import { RulesConfigError } from '../../../felix/rules/errors.js';
import { chainHashes } from '../../../felix/rules/rule-model.js';

const config: RulesConfig = {
  pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }], nodeAddresses: ['192.168.1.2'],
  ipipEnabled: false, vxlanEnabled: true, natOutgoingAddress: '192.168.1.1',
};

const NFT_GOLDEN = `table ip tortie {
  set all-ipam-pools { type ipv4_addr; flags interval; }
  set masq-ipam-pools { type ipv4_addr; flags interval; }
  set all-hosts-net { type ipv4_addr; }
  chain INPUT { type filter hook input priority filter; policy accept; }
  chain FORWARD { type filter hook forward priority filter; policy accept; }
  chain OUTPUT { type filter hook output priority filter; policy accept; }
  chain POSTROUTING { type nat hook postrouting priority srcnat; policy accept; }
  chain nat-outgoing { }
}
flush chain ip tortie INPUT
flush chain ip tortie FORWARD
flush chain ip tortie OUTPUT
flush chain ip tortie POSTROUTING
flush chain ip tortie nat-outgoing
add rule ip tortie INPUT udp dport 4789 ip saddr @all-hosts-net fib daddr type local counter accept comment "tortie:4yz2pxCyKyHmcxhx"
add rule ip tortie INPUT udp dport 4789 counter drop comment "tortie:S3OQtQn5pFqcWdy8"
add rule ip tortie FORWARD ip saddr @all-ipam-pools counter accept comment "tortie:rRRuFlKSDlN_ZGWn"
add rule ip tortie FORWARD ip daddr @all-ipam-pools counter accept comment "tortie:1geHLSyHT1-jy5ys"
add rule ip tortie OUTPUT udp dport 4789 ip daddr @all-hosts-net counter accept comment "tortie:U4mtiHyjZSxXy5yU"
add rule ip tortie POSTROUTING counter jump nat-outgoing comment "tortie:awRzVa5bz-WeUP_n"
add rule ip tortie nat-outgoing ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools counter snat to 192.168.1.1 comment "tortie:MCTe3ttknYmQe7Tq"
add element ip tortie all-ipam-pools { 10.65.0.0/16 }
add element ip tortie masq-ipam-pools { 10.65.0.0/16 }
add element ip tortie all-hosts-net { 192.168.1.2 }
`;

const IPSET_GOLDEN = `create tortie40all-ipam-pools hash:net family inet maxelem 1048576
add tortie40all-ipam-pools 10.65.0.0/16
create tortie40masq-ipam-pools hash:net family inet maxelem 1048576
add tortie40masq-ipam-pools 10.65.0.0/16
create tortie40all-hosts-net hash:ip family inet maxelem 1048576
add tortie40all-hosts-net 192.168.1.2
`;

const FILTER_GOLDEN = `*filter
:tortie-INPUT - [0:0]
:tortie-FORWARD - [0:0]
:tortie-OUTPUT - [0:0]
-A tortie-INPUT -p udp -m udp --dport 4789 -m set --match-set tortie40all-hosts-net src -m addrtype --dst-type LOCAL -m comment --comment "tortie:4yz2pxCyKyHmcxhx" -j ACCEPT
-A tortie-INPUT -p udp -m udp --dport 4789 -m comment --comment "tortie:S3OQtQn5pFqcWdy8" -j DROP
-A tortie-FORWARD -m set --match-set tortie40all-ipam-pools src -m comment --comment "tortie:rRRuFlKSDlN_ZGWn" -j ACCEPT
-A tortie-FORWARD -m set --match-set tortie40all-ipam-pools dst -m comment --comment "tortie:1geHLSyHT1-jy5ys" -j ACCEPT
-A tortie-OUTPUT -p udp -m udp --dport 4789 -m set --match-set tortie40all-hosts-net dst -m comment --comment "tortie:U4mtiHyjZSxXy5yU" -j ACCEPT
-I INPUT 1 -m comment --comment "tortie:PNOw1yt-7ePHg1a4" -j tortie-INPUT
-I FORWARD 1 -m comment --comment "tortie:5Fw7LpPHV9y6YPKB" -j tortie-FORWARD
-I OUTPUT 1 -m comment --comment "tortie:Oeb0OCz39Jk97pbg" -j tortie-OUTPUT
COMMIT
`;

const NAT_GOLDEN = `*nat
:tortie-POSTROUTING - [0:0]
:tortie-nat-outgoing - [0:0]
-A tortie-POSTROUTING -m comment --comment "tortie:awRzVa5bz-WeUP_n" -j tortie-nat-outgoing
-A tortie-nat-outgoing -m set --match-set tortie40masq-ipam-pools src -m set ! --match-set tortie40all-ipam-pools dst -m comment --comment "tortie:MCTe3ttknYmQe7Tq" -j SNAT --to-source 192.168.1.1
-I POSTROUTING 1 -m comment --comment "tortie:LNHgn8OE4z3j9YR7" -j tortie-POSTROUTING
COMMIT
`;

test('nft: first write is one transaction declaring our table, rewriting chains, filling sets', () => {
  const rs = buildRuleset(config, 4);
  assert.equal(renderNftTransaction(planWrite(rs, emptyKernelState, false)), NFT_GOLDEN);
});

test('iptables: ipset restore then restore input per table with jumps inserted at 1', () => {
  const plan = planWrite(buildRuleset(config, 4), emptyKernelState, true);
  assert.equal(renderIpsetUpdate(plan), IPSET_GOLDEN);
  assert.equal(renderIptablesRestore(plan, 'filter'), FILTER_GOLDEN);
  assert.equal(renderIptablesRestore(plan, 'nat'), NAT_GOLDEN);
});

test('a node address change is an incremental set update, no chain is rewritten', () => {
  const before = buildRuleset(config, 4);
  const after = buildRuleset({ ...config, nodeAddresses: ['192.168.1.3'] }, 4);
  for (const hooks of [false, true]) {
    const plan = planWrite(after, stateAfter(before, hooks), hooks);
    assert.deepEqual(plan.chainsToWrite, []);
    assert.deepEqual(plan.hooksToFix, []);
    if (!hooks) {
      assert.equal(renderNftTransaction(plan), 'delete element ip tortie all-hosts-net { 192.168.1.2 }\n'
        + 'add element ip tortie all-hosts-net { 192.168.1.3 }\n');
    } else {
      assert.equal(renderIpsetUpdate(plan), 'del tortie40all-hosts-net 192.168.1.2\nadd tortie40all-hosts-net 192.168.1.3\n');
      assert.equal(renderIptablesRestore(plan, 'filter'), '');
    }
  }
});

test('iptables-save parse: our chains, our jumps by position, foreign rules ignored; a bad hook is fixed by exact delete', () => {
  const save = `# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:KUBE-FORWARD - [0:0]
:tortie-FORWARD - [0:0]
-A FORWARD -s 1.2.3.4/32 -j ACCEPT
-A FORWARD -m comment --comment "tortie:5Fw7LpPHV9y6YPKB" -j tortie-FORWARD
-A FORWARD -j KUBE-FORWARD
-A KUBE-FORWARD -m comment --comment "kube fwd" -j ACCEPT
-A tortie-FORWARD -m set --match-set tortie40all-ipam-pools src -m comment --comment "tortie:rRRuFlKSDlN_ZGWn" -j ACCEPT
COMMIT
`;
  const seen = parseIptablesSave(save, 'filter');
  assert.deepEqual([...seen.chains], [['FORWARD', { table: 'filter', hashes: ['rRRuFlKSDlN_ZGWn'] }]]);
  assert.deepEqual(seen.hooks.get('filter/FORWARD'), [{ position: 2, hash: '5Fw7LpPHV9y6YPKB',
    spec: '-m comment --comment "tortie:5Fw7LpPHV9y6YPKB" -j tortie-FORWARD' }]);
  const plan = planWrite(buildRuleset(config, 4), { chains: seen.chains, hooks: seen.hooks, sets: new Map() }, true);
  const text = renderIptablesRestore(plan, 'filter');
  assert.match(text, /^-D FORWARD -m comment --comment "tortie:5Fw7LpPHV9y6YPKB" -j tortie-FORWARD$/m);
  assert.match(text, /^-I FORWARD 1 -m comment --comment "tortie:5Fw7LpPHV9y6YPKB" -j tortie-FORWARD$/m);
  assert.doesNotMatch(text, /KUBE|1\.2\.3\.4/);
});

test('nft -j parse: comment hashes per chain, set kinds, elements canonical', () => {
  const rs = buildRuleset(config, 4);
  const input = rs.chains.find((c) => c.name === 'INPUT');
  assert.ok(input);
  const listing = parseNftTable(JSON.stringify({ nftables: [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'ip', name: 'tortie', handle: 3 } },
    { set: { family: 'ip', name: 'all-ipam-pools', table: 'tortie', type: 'ipv4_addr', flags: ['interval'] } },
    { set: { family: 'ip', name: 'all-hosts-net', table: 'tortie', type: 'ipv4_addr' } },
    { chain: { family: 'ip', table: 'tortie', name: 'INPUT', type: 'filter', hook: 'input', prio: 0 } },
    ...chainHashes(input).map((h) => ({ rule: { family: 'ip', table: 'tortie', chain: 'INPUT', comment: `tortie:${h}`, expr: [] } })),
    { rule: { family: 'ip', table: 'tortie', chain: 'INPUT', expr: [] } },
  ] }));
  assert.deepEqual(listing.chains.get('INPUT')?.hashes, [...chainHashes(input), '']);
  assert.deepEqual([...listing.sets], [['all-ipam-pools', 'net'], ['all-hosts-net', 'addr']]);
  const els = parseNftSetElements(JSON.stringify({ nftables: [{ set: { name: 'all-ipam-pools',
    elem: [{ prefix: { addr: '10.65.0.0', len: 16 } }, '10.66.0.1', { elem: { val: { prefix: { addr: 'fd00:0::', len: 48 } } } }] } }] }), 'net');
  assert.deepEqual([...els].sort(), ['10.65.0.0/16', '10.66.0.1/32', 'fd00::/48']);
  assert.deepEqual([...parseIpsetSave('create x hash:net family inet\nadd x 10.2.0.1\nadd x 10.1.0.0/16\n', 'net')], ['10.2.0.1/32', '10.1.0.0/16']);
  assert.throws(() => parseNftTable('not json'), SyntaxError);
});

test('bad configuration is refused with the field named; overlapping pools collapse in the sets', () => {
  assert.throws(() => buildRuleset({ ...config, pools: [{ cidr: '10.65.0.1/16', natOutgoing: true }] }, 4),
    (e: unknown) => e instanceof RulesConfigError && e.code === 'rules-invalid-config' && /pools\[0\]\.cidr/.test(e.message));
  assert.throws(() => buildRuleset({ ...config, nodeAddresses: ['300.1.1.1'] }, 4), /nodeAddresses\[0\]/);
  assert.throws(() => buildRuleset({ ...config, vxlanPort: 70000 }, 4), /vxlanPort/);
  const rs = buildRuleset({ ...config, pools: [{ cidr: '10.65.1.0/24', natOutgoing: false },
    { cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: 'fd00::/64', natOutgoing: true }] }, 4);
  assert.deepEqual([...(rs.sets.find((s) => s.name === 'all-ipam-pools')?.elements ?? [])], ['10.65.0.0/16']);
  // IPIP is IPv4 only; the v6 ruleset has the VXLAN rules and the v6 pool.
  const v6 = buildRuleset({ ...config, ipipEnabled: true, pools: [{ cidr: 'fd00::/64', natOutgoing: true }] }, 6);
  assert.equal(v6.chains.find((c) => c.name === 'INPUT')?.rules.length, 2);
  assert.deepEqual([...(v6.sets.find((s) => s.name === 'masq-ipam-pools')?.elements ?? [])], ['fd00::/64']);
});

test('iptables: a changed rule in a chain we know is one in-place delete + insert, not a flush', () => {
  const before = buildRuleset(config, 4);
  const after = buildRuleset({ ...config, natOutgoingAddress: '192.168.1.9' }, 4);
  const plan = planWrite(after, stateAfter(before, true), true);
  assert.deepEqual(plan.chainsToWrite, ['nat-outgoing']);
  assert.equal(renderIptablesRestore(plan, 'filter'), '');
  assert.equal(renderIptablesRestore(plan, 'nat'), `*nat
-D tortie-nat-outgoing 1
-I tortie-nat-outgoing 1 -m set --match-set tortie40masq-ipam-pools src -m set ! --match-set tortie40all-ipam-pools dst -m comment --comment "tortie:${after.chains[4]?.rules[0]?.hash}" -j SNAT --to-source 192.168.1.9
COMMIT
`);
  // A rule appended by someone else in our chain is removed by position; ours are kept.
  const seen = stateAfter(before, true);
  const chains = new Map(seen.chains);
  const fwd = chains.get('FORWARD');
  assert.ok(fwd);
  chains.set('FORWARD', { table: 'filter', hashes: [fwd.hashes[0] ?? '', '', fwd.hashes[1] ?? ''] });
  const p2 = planWrite(before, { ...seen, chains }, true);
  assert.equal(renderIptablesRestore(p2, 'filter'), '*filter\n-D tortie-FORWARD 2\nCOMMIT\n');
});

test('natOutgoingExclusions=IPPoolsAndHostIPs and an interface filter add matches in both backends', () => {
  const { natOutgoingAddress: _snat, ...masq } = config;
  const rs = buildRuleset({ ...masq, natOutgoingExclusions: 'IPPoolsAndHostIPs', natOutgoingInterfaceFilter: 'eth+' }, 4);
  const nft = renderNftTransaction(planWrite(rs, emptyKernelState, false));
  assert.match(nft, /^add rule ip tortie nat-outgoing ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools ip daddr != @all-hosts-net oifname "eth\*" counter masquerade comment "tortie:[\w-]{16}"$/m);
  const ipt = renderIptablesRestore(planWrite(rs, emptyKernelState, true), 'nat');
  assert.match(ipt, /^-A tortie-nat-outgoing -m set --match-set tortie40masq-ipam-pools src -m set ! --match-set tortie40all-ipam-pools dst -m set ! --match-set tortie40all-hosts-net dst -o eth\+ -m comment --comment "tortie:[\w-]{16}" -j MASQUERADE$/m);
  assert.throws(() => buildRuleset({ ...config, natOutgoingInterfaceFilter: 'eth0; drop' }, 4), /natOutgoingInterfaceFilter/);
});
