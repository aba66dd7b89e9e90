/**
 * Both backends against the real kernel in a namespace (one namespace per backend):
 *
 *   [ns n]  foreign: nft `table inet foreign`, iptables rule/chain `FOREIGN-*`, ipset `foreign-set`
 *           ours:    table ip|ip6 tortie  /  tortie-* chains + jumps + tortie40*|tortie60* ipsets
 *
 * Load, read back with the stock tools and compare hashes; drift (rule deleted, chain flushed,
 * jump deleted, foreign rule put on top, set element removed) is repaired by apply after a
 * resync; set changes are incremental; foreign objects are byte-identical at the end; removeAll
 * leaves only the foreign objects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { sh } from '../../helpers/sh.js';
import { kernelHashes, programmerIn, type BackendKind } from '../../helpers/rules.js';
import { buildRuleset, type RulesConfig } from '../../../felix/rules/desired-rules.js';
import { chainHashes } from '../../../felix/rules/rule-model.js';

const config: RulesConfig = {
  pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: '10.66.0.0/16', natOutgoing: false },
    { cidr: 'fd00:65::/48', natOutgoing: true }],
  nodeAddresses: ['192.168.1.2', '192.168.1.3', 'fd00::2'], ipipEnabled: true, vxlanEnabled: true,
};

function expectedHashes(family: 4 | 6): Record<string, string[]> {
  return Object.fromEntries(buildRuleset(config, family).chains.map((c) => [c.name, chainHashes(c)]));
}

function foreignSnapshot(topo: Topology, ns: string): string {
  const nft = topo.exec(ns, 'nft', ['list', 'table', 'inet', 'foreign']);
  const ipt = topo.exec(ns, 'iptables-save', ['-t', 'filter']).split('\n')
    .filter((l) => /FOREIGN|1\.2\.3\.4/.test(l)).join('\n');
  const set = topo.exec(ns, 'ipset', ['save', 'foreign-set']);
  return `${nft}\n${ipt}\n${set}`;
}

const skip = topologySkipReason('nft', 'iptables-restore', 'ip6tables-restore', 'ipset');

for (const kind of ['nft', 'iptables'] as const satisfies readonly BackendKind[]) {
  test(`${kind} backend: load, read back, repair drift, incremental sets, foreign untouched`, { skip }, async () => {
    const topo = new Topology(`r${kind.slice(0, 2)}`);
    try {
      const ns = topo.ns('n');
      topo.exec(ns, 'nft', ['-f', '-'], 'table inet foreign {\n set s { type ipv4_addr; elements = { 9.9.9.9 } }\n'
        + ' chain c { type filter hook input priority 10; policy accept; ip saddr @s counter accept\n }\n}\n');
      topo.exec(ns, 'iptables', ['-N', 'FOREIGN-CHAIN']);
      topo.exec(ns, 'iptables', ['-A', 'FOREIGN-CHAIN', '-s', '1.2.3.4', '-j', 'ACCEPT']);
      topo.exec(ns, 'iptables', ['-A', 'INPUT', '-s', '1.2.3.4', '-j', 'FOREIGN-CHAIN']);
      topo.exec(ns, 'ipset', ['create', 'foreign-set', 'hash:ip']);
      topo.exec(ns, 'ipset', ['add', 'foreign-set', '5.5.5.5']);
      const foreignBefore = foreignSnapshot(topo, ns);

      const p = programmerIn(ns, kind);
      p.setDesired(config);
      await p.apply();
      for (const f of [4, 6] as const) assert.deepEqual(kernelHashes(ns, kind, f), expectedHashes(f), `family ${f} read-back`);

      // Nothing changed: a resync reads, finds no drift, writes nothing.
      p.queueResync('test');
      const quiet = await p.apply();
      assert.deepEqual(quiet.families.map((f) => [f.repaired, f.chainsWritten.length]), [[false, 0], [false, 0]]);

      // Drift: delete one of our rules and flush one of our chains.
      if (kind === 'nft') {
        const listed = JSON.parse(topo.exec(ns, 'nft', ['-j', '-a', 'list', 'chain', 'ip', 'tortie', 'INPUT'])) as
          { nftables: Array<{ rule?: { handle: number } }> };
        const handle = listed.nftables.find((x) => x.rule !== undefined)?.rule?.handle;
        assert.ok(handle !== undefined);
        topo.exec(ns, 'nft', ['delete', 'rule', 'ip', 'tortie', 'INPUT', 'handle', String(handle)]);
        topo.exec(ns, 'nft', ['flush', 'chain', 'ip6', 'tortie', 'FORWARD']);
        topo.exec(ns, 'nft', ['delete', 'element', 'ip', 'tortie', 'all-hosts-net', '{ 192.168.1.3 }']);
      } else {
        topo.exec(ns, 'iptables', ['-D', 'tortie-INPUT', '1']);
        topo.exec(ns, 'ip6tables', ['-F', 'tortie-FORWARD']);
        // Robustness D8/D9: our jump deleted from FORWARD; a foreign rule put on top of INPUT.
        topo.exec(ns, 'iptables', ['-D', 'FORWARD', '1']);
        topo.exec(ns, 'iptables', ['-I', 'INPUT', '1', '-s', '1.2.3.4', '-j', 'FOREIGN-CHAIN']);
        topo.exec(ns, 'ipset', ['del', 'tortie40all-hosts-net', '192.168.1.3']);
      }
      assert.notDeepEqual(kernelHashes(ns, kind, 4), expectedHashes(4));
      p.queueResync('test-drift');
      const repaired = await p.apply();
      assert.deepEqual(repaired.families.map((f) => f.repaired), [true, true]);
      for (const f of [4, 6] as const) assert.deepEqual(kernelHashes(ns, kind, f), expectedHashes(f), `family ${f} repaired`);
      if (kind === 'iptables') {
        const input = topo.exec(ns, 'iptables-save', ['-t', 'filter']).split('\n').filter((l) => l.startsWith('-A INPUT '));
        assert.match(input[0] ?? '', /-j tortie-INPUT$/, 'our jump is back on top');
        assert.equal(input.filter((l) => l.includes('FOREIGN-CHAIN')).length, 2, 'foreign jumps kept');
        assert.equal(topo.exec(ns, 'iptables-save', ['-t', 'filter']).split('\n').filter((l) => l.startsWith('-A FORWARD ')
          && l.includes('tortie-FORWARD')).length, 1);
        topo.exec(ns, 'iptables', ['-D', 'INPUT', '-s', '1.2.3.4', '-j', 'FOREIGN-CHAIN']);
      }
      const hostsSet = () => kind === 'nft'
        ? topo.exec(ns, 'nft', ['list', 'set', 'ip', 'tortie', 'all-hosts-net'])
        : topo.exec(ns, 'ipset', ['save', 'tortie40all-hosts-net']);
      assert.match(hostsSet(), /192\.168\.1\.3/);

      // Incremental: one node leaves, one joins; no chain rewritten; rule counters survive.
      const r = await (p.setDesired({ ...config, nodeAddresses: ['192.168.1.2', '192.168.1.7', 'fd00::2'] }), p.apply());
      assert.deepEqual(r.families[0], { family: 4, resynced: false, repaired: false, chainsWritten: [], elementsAdded: 1, elementsDeleted: 1 });
      assert.match(hostsSet(), /192\.168\.1\.7/);
      assert.doesNotMatch(hostsSet(), /192\.168\.1\.3/);

      // Config change that alters rules (VXLAN off): only INPUT and OUTPUT are rewritten.
      const r2 = await (p.setDesired({ ...config, vxlanEnabled: false }), p.apply());
      assert.deepEqual(r2.families[0]?.chainsWritten, ['INPUT', 'OUTPUT']);

      assert.equal(foreignSnapshot(topo, ns), foreignBefore, 'foreign tables, chains, rules and sets untouched');

      await p.removeAll();
      for (const f of [4, 6] as const) {
        if (kind === 'nft') assert.notEqual(sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables']).includes(`ip${f === 6 ? '6' : ''} tortie`), true);
        else assert.deepEqual(kernelHashes(ns, kind, f), {});
      }
      assert.doesNotMatch(topo.exec(ns, 'ipset', ['list', '-n']), /tortie/);
      assert.doesNotMatch(topo.exec(ns, 'iptables-save', []), /tortie/);
      assert.equal(foreignSnapshot(topo, ns), foreignBefore, 'foreign objects survive removeAll');
    } finally {
      await topo.cleanup();
    }
  });
}
