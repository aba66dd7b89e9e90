/**
 * Robustness D10: the legacy backend while another process holds /run/xtables.lock. The write
 * fails after the bounded `--wait` (rc 4) with a typed error naming the lock, readiness drops,
 * and once the lock is released the retry loop programs the rules and readiness returns.
 * The lock is host-wide (shared across namespaces), so it is held for as short a time as possible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import { HealthAggregator } from '../../../felix/health/health-aggregator.js';
import { RulesApplyError } from '../../../felix/rules/errors.js';
import { spawnExec } from '../../../felix/rules/exec.js';
import { IptablesBackend } from '../../../felix/rules/iptables-backend.js';
import { RulesProgrammer } from '../../../felix/rules/rules-programmer.js';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { Proc } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';

const HOLD = `import fcntl, sys, time
f = open('/run/xtables.lock', 'a')
fcntl.flock(f, fcntl.LOCK_EX)
print('held', flush=True)
time.sleep(60)`;

const skip = topologySkipReason('iptables-legacy-restore', 'ipset', 'python3');

test('legacy iptables: a held xtables lock fails within --wait, degrades readiness, recovers after release', { skip }, async () => {
  const topo = new Topology('xlk');
  let holder: Proc | undefined;
  let p: RulesProgrammer | undefined;
  try {
    const ns = topo.ns('n');
    const health = new HealthAggregator({ clock: systemClock });
    const reporter = health.register('rules', { live: true, ready: true, timeoutMs: 0 });
    p = new RulesProgrammer({
      backend: new IptablesBackend({ exec: spawnExec(['ip', 'netns', 'exec', ns]), logger: silentLogger(), mode: 'legacy', lockWaitSeconds: 1 }),
      clock: systemClock, logger: silentLogger(), health: reporter,
    }, { families: [4], refreshIntervalMs: 0, retryBaseMs: 200, retryMaxMs: 500 });
    p.setDesired({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }], nodeAddresses: ['192.168.1.2'], ipipEnabled: true, vxlanEnabled: true });

    holder = new Proc('python3', ['-c', HOLD]);
    const h = holder;
    await pollUntil(() => h.output.includes('held'), { what: 'lock holder', timeoutMs: 10_000 });
    const t0 = Date.now();
    await assert.rejects(p.apply(), (e: unknown) => e instanceof RulesApplyError && e.exitCode === 4
      && /xtables\.lock/.test(e.stderr) && /iptables-legacy-restore --noflush --wait 1/.test(e.message));
    const took = Date.now() - t0;
    assert.ok(took < 5000, `bounded by --wait 1 (took ${took} ms)`);
    assert.equal(health.summary().ready, false);
    p.start();
    await h.stop('SIGKILL');
    await pollUntil(() => health.summary().ready, { what: 'ready after the lock is released', timeoutMs: 15_000 });
    const save = topo.exec(ns, 'iptables-legacy-save', ['-t', 'nat']);
    assert.match(save, /^-A tortie-nat-outgoing .*-j MASQUERADE$/m);
    assert.match(save, /^-A POSTROUTING -m comment --comment "tortie:[\w-]+" -j tortie-POSTROUTING$/m);
  } finally {
    p?.stop();
    await holder?.stop('SIGKILL');
    await topo.cleanup();
  }
});
