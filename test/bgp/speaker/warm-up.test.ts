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
import { Topology, topologySkipReason } from '../../helpers/netns.js';

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

  it('gives up at its deadline with a reason, without throwing or leaving sockets, whatever stage it reached', async () => {
    const before = tcpHandles();
    let stopped = 0;
    // 1 ms: during the loopback probe; later deadlines stop it while binding, connecting or passing routes
    for (const timeoutMs of [1, 3, 10, 30, 60]) {
      const r = await warmUp({ logger: createLogger('warm-up-test'), routes: 20_000, timeoutMs });
      if (!r.ok) { assert.equal(r.error, `not finished within ${timeoutMs} ms`); stopped++; }
      await pollUntil(() => tcpHandles() <= before, { timeoutMs: 5000, what: () => `TCP handles back to ${before} after a ${timeoutMs} ms deadline (now ${tcpHandles()})` });
    }
    assert.ok(stopped >= 1, 'at least the 1 ms deadline stops it');
  });
});

describe('tortie-bgpd start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-bgpd-warm-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Start the daemon (in namespace `ns` if given), collect its log until the control socket listens, stop it. */
  async function startLog(extra: string[], ns?: string): Promise<string> {
    const ctl = join(dir, `${extra.length}${ns ?? ''}.ctl`);
    const cmd = ns ? ['ip', 'netns', 'exec', ns, process.execPath] : [process.execPath];
    const p = spawn(cmd[0]!, [...cmd.slice(1), MAIN, '--as', '65002', '--router-id', '10.0.0.2', '--listen', `127.0.0.1:${20000 + (process.pid % 20000)}`, ...extra, '--ctl', ctl], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  it('a SIGTERM while it is still starting stops it cleanly (exit 0), not by the default action', async () => {
    // The signal goes as soon as the warm-up ends: the BGP port and the control socket open after it.
    for (let i = 0; i < 3; i++) {
      const p = spawn(process.execPath, [MAIN, '--as', '65002', '--router-id', '10.0.0.2', '--listen', `127.0.0.1:${20000 + ((process.pid + 7) % 20000)}`, '--ctl', join(dir, `early${i}.ctl`)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const exited = new Promise<[number | null, string | null]>((r) => p.once('exit', (code, signal) => r([code, signal])));
      let sent = false;
      const take = (d: Buffer): void => {
        out += d.toString();
        if (!sent && out.includes('JIT warm-up')) { sent = true; p.kill('SIGTERM'); }
      };
      p.stdout.on('data', take);
      p.stderr.on('data', take);
      assert.deepEqual(await exited, [0, null], out);
      assert.match(out, /shutting down/);
    }
  });

  it('with loopback down (a fresh namespace) skips the warm-up at once, naming why', { skip: topologySkipReason() }, async () => {
    const topo = new Topology('warm');
    try {
      const ns = topo.ns('a');
      topo.exec(ns, 'ip', ['link', 'set', 'lo', 'down']);
      const log = await startLog([], ns);
      const line = log.split('\n').find((l) => l.includes('JIT warm-up skipped'));
      assert.ok(line, log);
      const r = JSON.parse(line) as { ok: boolean; wallMs: number; error: string };
      assert.equal(r.ok, false);
      assert.match(r.error, /loopback 127\.0\.0\.2 unusable: (connect ENETUNREACH|no answer to a connect within 500 ms)/);
      assert.ok(r.wallMs < 1000, `gave up after ${r.wallMs} ms, not after connect retries`);
    } finally {
      await topo.cleanup();
    }
  });
});
