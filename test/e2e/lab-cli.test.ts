/**
 * The `tortie-lab` binary as a user runs it, with the optional BIRD ToR:
 *
 *   <p>-tor (BIRD, AS 65000) ── node1 (subnet 1), node2 (subnet 2), one pod each
 *
 * up → check → check with a pod's link down (exit 1) → status → restart (SIGTERM) → down → down again (idempotent)
 * → check refuses with a clear message.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trySh } from '../helpers/sh.js';
import { down } from '../../agent/lab/lab.js';
import { labSkipReason } from './lab-fixture.js';

const main = new URL('../../agent/lab/main.js', import.meta.url).pathname;

const skip = labSkipReason(['etcd', 'etcdctl', 'bird', 'birdc', 'ping']);
const prefix = `c${process.pid % 100000}`;
const stateDir = skip ? '' : mkdtempSync(join(tmpdir(), 'tortie-lab-cli-'));

function lab(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  const child = spawn(process.execPath, [main, '--state-dir', stateDir, '--prefix', prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ status: code ?? -1, out, err })));
}

after(async () => {
  if (skip) return;
  await down(stateDir, prefix, () => {});
  rmSync(stateDir, { recursive: true, force: true });
});

test('tortie-lab up/check/status/down with a BIRD ToR', { skip, timeout: 180_000 }, async () => {
  // BFD on (the default): each agent starts its tortie-bfd, which outlives the restart below;
  // `down` must remove those too (no process of the lab left).
  const up = await lab('up', '--nodes', '2', '--pods', '1', '--tor', 'bird');
  assert.equal(up.status, 0, up.out + up.err);
  assert.match(up.out, /ToR: BIRD/);
  assert.match(up.out, /ping: 2\/2 pairs reached \(vxlan 2\)/);

  const check = await lab('check');
  assert.equal(check.status, 0, check.out + check.err);
  assert.match(check.out, /pod1-1 .* V\n/);

  // A pod whose interface is down: check names the failing pairs and exits 1; back up, it passes.
  const pod11 = `${prefix}-pod1-1`;
  trySh('ip', ['-n', pod11, 'link', 'set', 'eth0', 'down']);
  const broken = await lab('check');
  assert.equal(broken.status, 1, broken.out);
  assert.match(broken.out, /ping FAILED: pod1-1 -> pod2-1/);
  assert.match(broken.out, /ping FAILED: pod2-1 -> pod1-1/);
  assert.match(broken.out, /ping: 0\/2 pairs reached/);
  trySh('ip', ['-n', pod11, 'link', 'set', 'eth0', 'up']);
  trySh('ip', ['-n', pod11, 'route', 'replace', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
  trySh('ip', ['-n', pod11, 'route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
  const fixed = await lab('check');
  assert.equal(fixed.status, 0, fixed.out);

  const status = await lab('status');
  assert.equal(status.status, 0, status.out + status.err);
  assert.match(status.out, new RegExp(`${prefix}-node1 10\\.100\\.1\\.11/24 subnet 1: tortie-node running`));
  assert.match(status.out, /10\.100\.1\.1 +node specific +up .*Established/);
  assert.match(status.out, /10\.100\.2\.12 +node-to-node mesh +up .*Established/);
  assert.match(status.out, /_node2 +BGP .* up .*Established/);

  // A rolling restart of node2's agent (SIGTERM, start), watched: pods ping on both pairs, the
  // ToR's and node1's kernels are monitored. node2 advertised graceful restart and closed its
  // sessions without a NOTIFICATION, so the ToR (BIRD, graceful restart on) and node1 (our GR
  // helper) keep its block stale: nothing withdrawn, nothing lost.
  const restart = await lab('restart', `${prefix}-node2`);
  assert.equal(restart.status, 0, restart.out + restart.err);
  assert.match(restart.out, /restart \S+-node2 \(term\): exited \d+ ms, cni\.sock \d+ ms, sessions Established \d+ ms, routes as before \d+ ms after the signal/);
  assert.match(restart.out, /lost packets: 0 over 2 pod pairs/, restart.out);
  assert.match(restart.out, new RegExp(`routes withdrawn: ToR 0, ${prefix}-node1 0\n`), restart.out);
  const unknown = await lab('restart', 'node9');
  assert.equal(unknown.status, 1);
  assert.match(unknown.err, /no node "node9" \(nodes: \S+-node1, \S+-node2\)/);
  assert.equal((await lab('check')).status, 0, 'the lab works after the restart');

  const down1 = await lab('down');
  assert.equal(down1.status, 0, down1.err);
  assert.match(down1.out, /removed 6 namespaces/);
  const left = trySh('ip', ['netns', 'list']).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
  assert.deepEqual(left, []);
  assert.ok(!existsSync(stateDir), 'state dir removed');
  const running = trySh('pgrep', ['-f', stateDir]).stdout.trim();
  assert.equal(running, '', 'no process of the lab is left');

  const down2 = await lab('down');
  assert.equal(down2.status, 0);
  assert.match(down2.out, /nothing to remove/);

  const gone = await lab('check');
  assert.equal(gone.status, 1);
  assert.match(gone.err, /no lab is up .* run `tortie-lab up`/);
});
