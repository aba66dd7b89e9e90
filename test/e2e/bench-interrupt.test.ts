/**
 * bench/e2e's promise (its README): SIGTERM or Ctrl-C mid-run takes the lab down. The real bench
 * is started, interrupted once its convergence phase is running, and must exit 143 (130 for
 * SIGINT), leaving no namespace of its prefix (bx<pid>): down() kills what runs in them first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Proc, trySh } from '../helpers/sh.js';
import { pollUntil } from '../helpers/poll.js';
import { labSkipReason } from './lab-fixture.js';

const skip = labSkipReason(['vtysh', 'etcd']);
const BENCH = fileURLToPath(new URL('../../bench/e2e/e2e-bench.js', import.meta.url));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`the e2e bench takes its lab down on ${signal}`, { skip, timeout: 120_000 }, async () => {
    const bench = new Proc(process.execPath, [BENCH, '--pods', '40', '--seconds', '1']);
    const pid = bench.child.pid ?? -1;
    const ours = (): string[] => trySh('ip', ['netns', 'list']).stdout.split('\n').filter((l) => l.startsWith(`bx${pid % 100000}-`));
    try {
      await pollUntil(() => bench.output.includes('convergence: 10/'), { timeoutMs: 60_000, what: () => `the convergence phase (${bench.output.slice(-300)})` });
      assert.ok(ours().length > 0, 'the lab is up while the bench runs');
      bench.child.kill(signal);
      await pollUntil(() => bench.exited, { timeoutMs: 30_000, what: 'the bench to exit' });
      assert.equal(bench.child.exitCode, signal === 'SIGTERM' ? 143 : 130);
      assert.match(bench.output, new RegExp(`interrupted by ${signal}; no results written`));
      assert.deepEqual(ours(), [], 'no namespace of the bench is left');
    } finally {
      if (!bench.exited) await bench.stop('SIGKILL');
    }
  });
}
