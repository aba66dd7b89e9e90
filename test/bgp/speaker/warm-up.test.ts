/**
 * JIT warm-up (bgp/speaker/warm-up.ts): the synthetic table really goes through a private
 * speaker and back out (the sink counted every prefix, both ways), nothing is left behind, a
 * failure is reported and never thrown; tortie-bgpd runs it at start unless --no-warmup.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUp } from '../../../bgp/speaker/warm-up.js';
import { createLogger } from '../../../common/logger.js';
import { pollUntil } from '../../helpers/poll.js';

const MAIN = new URL('../../../bgp/bgpd/tortie-bgpd.cjs', import.meta.url).pathname;

/** TCP handles of this process (servers and sockets). */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
}

describe('JIT warm-up', () => {
  it('passes the table through a private speaker and back out, and leaves no socket', async () => {
    const before = tcpHandles();
    const r = await warmUp({ logger: createLogger('warm-up-test'), routes: 3000, rounds: 2 });
    assert.equal(r.ok, true, r.error);
    assert.equal(r.routes, 6000);
    assert.ok(r.cpuMs > 0 && r.wallMs > 0);
    await pollUntil(() => tcpHandles() <= before, { timeoutMs: 5000, what: () => `TCP handles back to ${before} (now ${tcpHandles()})` });
  });

  it('gives up at its deadline with a reason, without throwing or leaving sockets', async () => {
    const before = tcpHandles();
    const r = await warmUp({ logger: createLogger('warm-up-test'), routes: 3000, timeoutMs: 1 });
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /not finished within 1 ms/);
    await pollUntil(() => tcpHandles() <= before, { timeoutMs: 5000, what: () => `TCP handles back to ${before} (now ${tcpHandles()})` });
  });
});

describe('tortie-bgpd start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-bgpd-warm-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Start the daemon, collect its log until the control socket listens, stop it. */
  async function startLog(extra: string[]): Promise<string> {
    const ctl = join(dir, `${extra.length}.ctl`);
    const p = spawn(process.execPath, [MAIN, '--as', '65002', '--router-id', '10.0.0.2', '--listen', `127.0.0.1:${20000 + (process.pid % 20000)}`, ...extra, '--ctl', ctl], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      await pollUntil(() => out.includes('control socket listening'), { timeoutMs: 15_000, what: () => `tortie-bgpd to start (log: ${out})` });
    } finally {
      p.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    return out;
  }

  it('warms up before the control socket listens, and not with --no-warmup', async () => {
    const warm = await startLog([]);
    const done = warm.indexOf('JIT warm-up done');
    assert.ok(done >= 0, warm);
    assert.ok(done < warm.indexOf('control socket listening'), 'warm-up first');
    assert.match(warm, /"routes":40000/);
    const cold = await startLog(['--no-warmup']);
    assert.doesNotMatch(cold, /warm-up/);
  });
});
