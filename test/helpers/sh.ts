/** Run commands for tests: synchronous and asynchronous, with output captured. */
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Run a command, return stdout; throw with stderr in the message on failure. */
export function sh(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${e.status}): ${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

export async function shAsync(cmd: string, args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return stdout;
}

/** Like `sh` but returns the status instead of throwing. */
export function trySh(cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  try {
    return { status: 0, stdout: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; status?: number };
    return { status: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function hasCommand(name: string): boolean {
  return trySh('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** A child process whose PID the test recorded; `stop()` kills exactly that process. */
export { WatchedProcess as Proc } from '../../agent/lab/lab-watch.js';

/** Kill a daemonised process by the PID in its pid file (BIRD, FRR) and wait for it to go. */
export async function killPidFile(pidFile: string, timeoutMs = 3000): Promise<void> {
  let pid: number;
  try {
    pid = Number((await import('node:fs')).readFileSync(pidFile, 'utf8').trim());
  } catch { return; }
  if (!Number.isInteger(pid) || pid <= 1) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { process.kill(pid, 0); } catch { return; }
    await new Promise((r) => setTimeout(r, 20));
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/**
 * GET http://127.0.0.1:<port><path> from inside network namespace `netns` (a node's health or
 * metrics endpoint): "<status> <body>", or "000 <error>" when nothing answers.
 */
export function httpGetIn(netns: string, port: number, path: string): string {
  return trySh('ip', ['netns', 'exec', netns, process.execPath, '-e',
    `fetch('http://127.0.0.1:${port}${path}').then(async (r) => { process.stdout.write(r.status + ' ' + await r.text()); }, (e) => { process.stdout.write('000 ' + e.message); })`]).stdout;
}
