/**
 * NftMonitor on a stand-in for `nft monitor` (a node child printing recorded monitor output):
 * only changes in watched tables count, once per transaction (generation line); the child's exit
 * counts as a change (events may be lost) and the child is restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { NftMonitor, watchedTables } from '../../../felix/rules/nft-monitor.js';
import { systemClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import { pollUntil } from '../../helpers/poll.js';

// As printed by nftables 1.0.6 for: someone's own table, then a rule of ours deleted, then a
// delete in iptables-nft's filter table (a deleted rule shows only its handle).
const RECORDED = [
  'add table ip churn', 'add chain ip churn c1', '# new generation 2 by process 100 (nft)',
  'delete rule ip tortie FORWARD handle 4', '# new generation 3 by process 101 (nft)',
  'delete rule ip filter FORWARD handle 2', '# new generation 4 by process 102 (iptables)',
];

test('NftMonitor: changes in watched tables only, once per generation; exit = change + restart', async () => {
  let spawned = 0;
  const reasons: string[] = [];
  const script = `process.stdout.write(${JSON.stringify(`${RECORDED.join('\n')}\n`)}); setTimeout(() => process.exit(1), 50);`;
  const m = new NftMonitor({ spawnMonitor: () => { spawned++; return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }); },
    clock: systemClock, logger: silentLogger() }, { tables: watchedTables('nft'), restartBaseMs: 20 });
  try {
    m.start((r) => reasons.push(r));
    await pollUntil(() => spawned >= 2 && reasons.length >= 3, { timeoutMs: 5000, what: () => `restart (${spawned} spawns, ${reasons.join(',')})` });
    assert.deepEqual(reasons.slice(0, 2), ['nft-monitor', 'nft-monitor-restart'], 'our table once, then the exit');
  } finally { m.stop(); }
});

test('NftMonitor for the iptables backend: any change in filter/nat counts, our nft table does not', () => {
  const reasons: string[] = [];
  // No child here (a spawn failure is retried later): the lines are fed by hand.
  const m = new NftMonitor({ spawnMonitor: () => { throw new Error('no nft here'); }, clock: systemClock, logger: silentLogger() },
    { tables: watchedTables('iptables') });
  try {
    m.start((r) => reasons.push(r));
    for (const l of RECORDED) m.onLine(l);
    assert.deepEqual(reasons, ['nft-monitor']);
    m.onLine('add rule ip6 nat POSTROUTING counter masquerade');
    m.onLine('# new generation 5 by process 103 (ip6tables)');
    assert.deepEqual(reasons, ['nft-monitor', 'nft-monitor']);
  } finally { m.stop(); }
});
