/**
 * The lab's hands on the machine: run commands (in a namespace or not), start daemons detached
 * with a pid file, stop exactly the PIDs it recorded.
 */
import { execFileSync, execFile, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { TortieError } from '../../common/errors.js';

export interface RunResult { readonly status: number; readonly stdout: string; readonly stderr: string }

/** Run a command; never throws (the caller decides what a failure means). */
export function tryRun(cmd: string, args: readonly string[], input?: string): RunResult {
  try {
    const stdout = execFileSync(cmd, args, { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message?: string };
    return { status: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message ?? '' };
  }
}

/** Run a command; throws a TortieError naming the command and its stderr on failure. */
export function run(cmd: string, args: readonly string[], input?: string): string {
  const r = tryRun(cmd, args, input);
  if (r.status !== 0) {
    throw new TortieError('lab-command', `\`${cmd} ${args.join(' ')}\` failed (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

export function runIn(netns: string, cmd: string, args: readonly string[], input?: string): string {
  return run('ip', ['netns', 'exec', netns, cmd, ...args], input);
}

export function tryRunIn(netns: string, cmd: string, args: readonly string[]): RunResult {
  return tryRun('ip', ['netns', 'exec', netns, cmd, ...args]);
}

export function runInAsync(netns: string, cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ status: code, stdout, stderr });
    });
  });
}

/**
 * Start `cmd` inside `netns`, detached from this process (it outlives `tortie-lab up`), output
 * appended to `logFile`, its PID written to `pidFile`. `ip netns exec` execs the command, so the
 * PID is the daemon's own.
 */
export function startDetached(netns: string, cmd: string, args: readonly string[], opts: {
  logFile: string; pidFile: string; env?: NodeJS.ProcessEnv;
}): number {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], {
      detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env,
    });
    if (child.pid === undefined) throw new TortieError('lab-spawn', `could not start ${cmd} in ${netns}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Returns once the PID is gone. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

export function namespaceExists(netns: string): boolean {
  return tryRun('ip', ['netns', 'exec', netns, 'true']).status === 0;
}

export function listNamespaces(): string[] {
  return tryRun('ip', ['netns', 'list']).stdout.split('\n').map((l) => l.split(/\s+/)[0] ?? '').filter((n) => n !== '');
}

export function namespacePids(netns: string): number[] {
  return tryRun('ip', ['netns', 'pids', netns]).stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1);
}

export function hasCommand(name: string): boolean {
  return tryRun('sh', ['-c', `command -v ${name}`]).status === 0;
}
