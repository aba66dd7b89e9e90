/**
 * A bench run on a tortie-lab (agent/lab): up, every pod reaching every pod, the bench's body,
 * and the lab always taken down. SIGINT or SIGTERM take the lab down at once; the run in flight
 * then fails, and the bench exits 130 / 143 saying no results were written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type LabState } from '../../agent/lab/lab.js';
import { check } from '../../agent/lab/lab-report.js';
import type { LabOptions } from '../../agent/lab/lab-plan.js';
import { waitFor } from './deadline.js';

export const say = (l: string): void => { process.stderr.write(`${l}\n`); };

/**
 * `name` names the bench and its lab (namespace prefix: `tag` and this pid); `body` gets the
 * converged lab and whether an interruption is under way. Returns the process exit code.
 */
export async function onLab(name: string, tag: string, options: Omit<LabOptions, 'prefix' | 'stateDir'>, convergeMs: number,
  body: (lab: LabState, interrupted: () => boolean) => Promise<void>): Promise<number> {
  const prefix = `${tag}${process.pid % 100000}`;
  const stateDir = mkdtempSync(join(tmpdir(), `tortie-bench-${name}-`));
  say(`lab state in ${stateDir}; if this run is interrupted, remove the lab with: `
    + `node dist/agent/lab/main.js --state-dir ${stateDir} --prefix ${prefix} down`);
  // The `finally` below waits for the take-down a signal started instead of starting a second one.
  let interrupted: NodeJS.Signals | undefined;
  let takingDown: Promise<void> | undefined;
  const takeDown = (): Promise<void> => (takingDown ??= down(stateDir, prefix, () => {}));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) return;
    interrupted = sig;
    say(`${sig}: taking the lab down`);
    void takeDown();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const lab = await up({ ...options, prefix, stateDir }, say);
    await waitFor('every pod to reach every pod', convergeMs, async () => {
      const r = await check(lab, () => {});
      return r.failed.length + r.unconverged.length === 0 ? true : undefined;
    }, { intervalMs: 250 });
    await body(lab, () => interrupted !== undefined);
    return 0;
  } catch (err) {
    if (interrupted !== undefined) { say(`interrupted by ${interrupted}; no results written`); return interrupted === 'SIGINT' ? 130 : 143; }
    say(`${name} bench failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await takeDown();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
