/**
 * A benchmark lab: uniquely named network namespaces, daemons started inside them with their
 * PIDs recorded, a temp directory, and one cleanup that removes exactly those (also callable
 * synchronously from an exit or signal handler).
 *
 *   const lab = new BenchLab('bgp');
 *   const t = lab.ns('t'); const d = lab.ns('d');
 *   lab.veth(t, 'eth0', ['10.99.1.10/24'], d, 'eth0', ['10.99.1.1/24']);
 *   const p = lab.spawn('bird', d, 'bird', ['-f', '-c', file]);   // PID recorded
 *   try { ... } finally { await lab.cleanup(); }
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let labCounter = 0;
const liveLabs = new Set<BenchLab>();

/** Run a command synchronously; throw with its stderr on failure. */
export function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${String(e.status)}): ${(e.stderr ?? '').trim()} ${(e.stdout ?? '').trim()}`.trim());
  }
}

export function tryRun(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  try { return { ok: true, out: run(cmd, args) }; } catch (err) { return { ok: false, out: (err as Error).message }; }
}

export function hasCommand(name: string): boolean {
  return tryRun('sh', ['-c', `command -v ${name}`]).ok;
}

/** A daemon started by the lab; its output is kept (last 64 KiB) for error reports. */
export class LabProcess {
  output = '';
  readonly child: ChildProcess;
  private readonly lineListeners: Array<(line: string) => void> = [];
  constructor(readonly name: string, cmd: string, args: readonly string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const keep = (d: Buffer): void => {
      this.output += d.toString();
      if (this.output.length > 65536) this.output = this.output.slice(-65536);
    };
    this.child.stderr?.on('data', keep);
    let partial = '';
    this.child.stdout?.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (this.lineListeners.length === 0) keep(Buffer.from(line + '\n'));
        for (const fn of this.lineListeners) fn(line);
      }
    });
    this.child.on('error', (err) => { this.output += `\nspawn error: ${err.message}`; });
  }
  /** Receive stdout line by line (otherwise stdout goes to `output`). */
  onLine(fn: (line: string) => void): void { this.lineListeners.push(fn); }
  /** Write one line to the process's stdin. */
  send(line: string): void { this.child.stdin?.write(line + '\n'); }
  get pid(): number {
    const p = this.child.pid;
    if (p === undefined) throw new Error(`${this.name}: process did not start: ${this.output}`);
    return p;
  }
  get exited(): boolean { return this.child.exitCode !== null || this.child.signalCode !== null; }
  /** Why it is gone, for error messages. */
  exitReason(): string {
    return `${this.name} exited (code ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)}): ${this.output.trim().slice(-800)}`;
  }
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    try { this.child.kill('SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    await done;
    clearTimeout(t);
  }
  killNow(): void {
    if (this.exited || this.child.pid === undefined) return;
    try { this.child.kill('SIGKILL'); } catch { /* gone */ }
  }
}

export class BenchLab {
  readonly tag: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs: LabProcess[] = [];
  private cleaned = false;

  constructor(name: string) {
    this.tag = `tb${name}${process.pid % 100000}x${labCounter++}`.slice(0, 12);
    this.dir = mkdtempSync(join(tmpdir(), `tortie-bench-${this.tag}-`));
    liveLabs.add(this);
  }

  ns(short: string): string {
    const name = `${this.tag}-${short}`;
    tryRun('ip', ['netns', 'del', name]);
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A veth pair between two namespaces with addresses (added in one `ip -batch` each). */
  veth(nsA: string, ifA: string, addrsA: readonly string[], nsB: string, ifB: string, addrsB: readonly string[]): void {
    run('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    for (const [ns, ifn, addrs] of [[nsA, ifA, addrsA], [nsB, ifB, addrsB]] as const) {
      const batch = addrs.map((a) => `addr add ${a} dev ${ifn}`).concat([`link set ${ifn} up`]).join('\n') + '\n';
      run('ip', ['-n', ns, '-batch', '-'], batch);
    }
  }

  file(name: string, text: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, text);
    return p;
  }

  /** Start `cmd` inside `ns` (ip netns exec execs in place, so the PID is the daemon's). */
  spawn(name: string, ns: string, cmd: string, args: readonly string[]): LabProcess {
    const p = new LabProcess(name, 'ip', ['netns', 'exec', ns, cmd, ...args]);
    this.procs.push(p);
    return p;
  }

  exec(ns: string, cmd: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', ns, cmd, ...args]);
  }

  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    await Promise.all(this.procs.map((p) => p.stop().catch(() => undefined)));
    this.cleanupSync();
  }

  /** Kill recorded PIDs, delete our namespaces and directory; safe from an exit handler. */
  cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const p of this.procs) p.killNow();
    for (const ns of this.namespaces) {
      // Anything still inside one of OUR namespaces was started by us (e.g. a forked helper).
      const pids = tryRun('ip', ['netns', 'pids', ns]).out.split(/\s+/).filter((s) => /^\d+$/.test(s));
      for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
      tryRun('ip', ['netns', 'del', ns]);
    }
    rmSync(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }
}

/** Clean every live lab synchronously (for SIGINT/SIGTERM/exit handlers in a CLI). */
export function cleanupAllLabsSync(): void {
  for (const lab of [...liveLabs]) lab.cleanupSync();
}
