/**
 * Robustness D11: another program rewrites its own nft tables in a tight loop while we apply
 * changes (rules and set elements) over and over. Every apply either succeeds or fails typed and
 * is retried after a resync; at the end our table holds exactly the desired rules (no duplicate
 * or missing rule, by hash) and exactly the desired set elements, and the churner's table is intact.
 *
 *   [ns n]  churner: add/delete `table ip churn` forever  |  us: table ip tortie
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { Proc } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';
import { kernelHashes, programmerIn } from '../../helpers/rules.js';
import { buildRuleset, type RulesConfig } from '../../../felix/rules/desired-rules.js';
import { chainHashes } from '../../../felix/rules/rule-model.js';

const skip = topologySkipReason('nft');

test('nft: applies converge while another writer churns its own tables', { skip }, async () => {
  const topo = new Topology('ncc');
  let churn: Proc | undefined;
  try {
    const ns = topo.ns('n');
    topo.exec(ns, 'nft', ['add', 'table', 'ip', 'keep']);
    churn = new Proc('ip', ['netns', 'exec', ns, 'sh', '-c',
      'i=0; while :; do nft "add table ip churn; add chain ip churn c$i; add rule ip churn c$i counter"; nft delete table ip churn; i=$((i+1)); done']);
    const p = programmerIn(ns, 'nft', { families: [4] });
    let config: RulesConfig = { pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }], nodeAddresses: ['192.168.1.2'],
      ipipEnabled: true, vxlanEnabled: true };
    let errors = 0;
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) {
        config = { ...config, vxlanEnabled: !config.vxlanEnabled, nodeAddresses: [...config.nodeAddresses, `192.168.2.${i}`] };
        p.setDesired(config);
      } else {
        p.updateSetElements(4, 'all-hosts-net', [`192.168.3.${i}`], i % 2 === 0 ? [`192.168.3.${i - 2}`] : []);
      }
      try { await p.apply(); } catch { errors++; }
    }
    // Converged: one more apply (with a resync) succeeds and nothing is left to repair.
    await pollUntil(async () => { try { p.queueResync('final'); await p.apply(); return true; } catch { return false; } },
      { what: 'a clean apply', timeoutMs: 20_000 });
    const quiet = await (p.queueResync('check'), p.apply());
    assert.deepEqual(quiet.families[0]?.chainsWritten, []);
    await churn.stop('SIGKILL');
    const expected = buildRuleset(config, 4);
    assert.deepEqual(kernelHashes(ns, 'nft', 4), Object.fromEntries(expected.chains.map((c) => [c.name, chainHashes(c)])));
    const hostsJson = JSON.parse(topo.exec(ns, 'nft', ['-j', 'list', 'set', 'ip', 'tortie', 'all-hosts-net'])) as
      { nftables: Array<{ set?: { elem?: string[] } }> };
    const inKernel = hostsJson.nftables.find((x) => x.set !== undefined)?.set?.elem ?? [];
    // The last setDesired (i = 27) fixed the base; updates at 28 (+.28, -.26) and 29 (+.29) follow.
    const want = [...config.nodeAddresses, '192.168.3.28', '192.168.3.29'].sort();
    assert.deepEqual([...inKernel].sort(), want);
    assert.match(topo.exec(ns, 'nft', ['list', 'tables']), /table ip keep/);
    process.stderr.write(`# nft concurrent: ${errors} of 30 applies failed and were retried\n`);
  } finally {
    await churn?.stop('SIGKILL');
    await topo.cleanup();
  }
});
