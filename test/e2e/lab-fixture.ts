/**
 * Shared setup of the lab tests (test/e2e/*.test.ts): the skip reason, bring-up until the ping
 * matrix converges over agent routes, a checked take-down, plan lookups that fail by name, vtysh
 * on the FRR ToR.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { pollUntil } from '../helpers/poll.js';
import { hasCommand, trySh } from '../helpers/sh.js';
import { type LabState, type Progress, NODE_MAIN, down, torDir, up } from '../../agent/lab/lab.js';
import { check } from '../../agent/lab/lab-report.js';
import type { LabOptions, NodePlan } from '../../agent/lab/lab-plan.js';
import type { LabPod } from '../../agent/lab/ping-matrix.js';

/** Why a lab test cannot run here (not root, node not built, a tool missing), or undefined. */
export function labSkipReason(commands: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (!existsSync(NODE_MAIN)) return `${NODE_MAIN} is not built`;
  if (process.env['CI'] === 'true') return undefined;
  const missing = commands.filter((c) => !hasCommand(c));
  return missing.length > 0 ? `${missing.join(', ')} not installed (run scripts/setup.sh)` : undefined;
}

/** `up`, then wait until every pod reaches every pod over the agent's routes (not the ToR's default route). */
export async function upConverged(options: LabOptions, say: Progress): Promise<LabState> {
  const lab = await up(options, say);
  await pollUntil(async () => {
    const r = await check(lab, () => {});
    return r.failed.length + r.unconverged.length === 0;
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'the ping matrix over agent routes' });
  return lab;
}

/** `down`, remove the state directory, and assert no namespace of the lab is left. */
export async function downChecked(stateDir: string, prefix: string, say: Progress): Promise<void> {
  await down(stateDir, prefix, say);
  rmSync(stateDir, { recursive: true, force: true });
  const left = trySh('ip', ['netns', 'list']).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
  assert.deepEqual(left, [], 'down removed every namespace');
}

export function labNode(lab: LabState, i: number): NodePlan {
  const n = lab.plan.nodes[i - 1];
  assert.ok(n !== undefined, `node${i} in the plan`);
  return n;
}

export function labPod(lab: LabState, name: string): LabPod {
  const p = lab.pods.find((x) => x.name === name);
  assert.ok(p !== undefined, `pod ${name} in the lab`);
  return p;
}

/** vtysh on the lab's FRR ToR (one `-c` per command); asserts it succeeded, returns its stdout. */
export function torVtysh(lab: LabState, ...commands: string[]): string {
  const r = trySh('ip', ['netns', 'exec', lab.plan.torNetns, 'vtysh', '--vty_socket', torDir(lab.plan), ...commands.flatMap((c) => ['-c', c])]);
  assert.equal(r.status, 0, `vtysh ${commands.join(' / ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
