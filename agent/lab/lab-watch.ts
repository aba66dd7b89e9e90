/**
 * Instruments for watching the lab through a fault (`tortie-lab restart`, bench/restart, the e2e
 * robustness tests): a continuous pinger that counts loss and the longest outage, and an
 * `ip -ts monitor route` recorder that can prove it has seen everything up to now (a marker
 * route) and counts the route deletions a fault caused.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child process with its output captured; `stop()` ends exactly that process (the tests' Proc too). */
export class WatchedProcess {
  readonly child: ChildProcess;
  output = '';
  private readonly closed: Promise<void>;
  constructor(cmd: string, args: readonly string[], options: SpawnOptions = {}) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.child.stdout?.on('data', (d: Buffer) => { this.output += d.toString(); });
    this.child.stderr?.on('data', (d: Buffer) => { this.output += d.toString(); });
    this.closed = new Promise<void>((r) => this.child.once('close', () => r()));
  }
  get pid(): number | undefined { return this.child.pid; }
  get exited(): boolean { return this.child.exitCode !== null || this.child.signalCode !== null; }
  /**
   * Signal the process (SIGKILL after `graceMs`) and wait until its output is all read: 'close',
   * not 'exit', which can come before the last bytes of a pipe (ping's summary line).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (!this.exited) {
      this.child.kill(signal);
      const t = setTimeout(() => { if (!this.exited) this.child.kill('SIGKILL'); }, graceMs);
      await new Promise<void>((r) => { if (this.exited) r(); else this.child.once('exit', () => r()); });
      clearTimeout(t);
    }
    // Bounded: a grandchild that inherited the pipe would keep it open after the process is gone.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
  }
}

/** Poll `probe` every `intervalMs` until it holds (returns performance.now() then) or the deadline (Date.now() ms) passes. */
export async function waitUntil(what: string, deadline: number, intervalMs: number, probe: () => boolean | Promise<boolean>): Promise<number> {
  for (;;) {
    if (await probe()) return performance.now();
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface PingStats {
  readonly what: string;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  /** Longest run of consecutive unanswered probes, in ms (run length × interval). */
  readonly longestGapMs: number;
}

/** `ping -i <interval>` from a namespace for as long as the watch runs. */
export class Pinger {
  private readonly proc: WatchedProcess;
  constructor(readonly what: string, netns: string, address: string, readonly intervalMs = 50) {
    this.proc = new WatchedProcess('ip', ['netns', 'exec', netns, 'ping', '-n', '-i', String(intervalMs / 1000), '-W', '1', address]);
  }

  private seqs(): number[] {
    // Echo replies only: "From <router> icmp_seq=N Destination Net Unreachable" is loss too.
    return [...this.proc.output.matchAll(/bytes from [^\n]*?icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
  }

  /** Resolves once `n` replies came back (the path works before the fault is injected). */
  async started(n = 5): Promise<void> {
    await waitUntil(`ping ${this.what} to get ${n} replies`, Date.now() + 10_000, 20, () => {
      if (this.proc.exited) throw new Error(`ping ${this.what} exited: ${this.proc.output}`);
      return new Set(this.seqs()).size >= n;
    });
  }

  /** Number of replies so far (to wait for "pings again" after a fault). */
  get replies(): number { return new Set(this.seqs()).size; }

  async stop(): Promise<PingStats> {
    await this.proc.stop('SIGINT');
    const seqs = new Set(this.seqs());
    const sent = Number(/(\d+) packets transmitted/.exec(this.proc.output)?.[1] ?? NaN);
    // The last probe or two may still be in flight when SIGINT lands: they are not loss.
    const last = Math.max(0, ...seqs);
    const counted = Math.min(sent, last);
    let gap = 0;
    let run = 0;
    for (let s = 1; s <= counted; s++) {
      run = seqs.has(s) ? 0 : run + 1;
      gap = Math.max(gap, run);
    }
    return { what: this.what, sent: counted, received: seqs.size, lost: counted - [...seqs].filter((s) => s <= counted).length,
      longestGapMs: gap * this.intervalMs };
  }
}

export function formatPing(s: PingStats): string {
  return `${s.what}: ${s.lost}/${s.sent} lost, longest outage ${s.longestGapMs} ms`;
}

let markerSeq = 0;

/** `ip -ts monitor route` inside a namespace, with a marker to flush what it saw so far. */
export class RouteMonitor {
  private readonly proc: WatchedProcess;
  constructor(readonly netns: string) {
    this.proc = new WatchedProcess('ip', ['-ts', '-n', netns, 'monitor', 'route']);
  }

  /**
   * Add and remove a marker route and wait until the monitor printed it: everything before it was
   * seen too. A fresh monitor may not have subscribed yet, so a marker it missed is retried.
   */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const marker = `192.0.2.${(markerSeq++ % 250) + 1}`;
      const add = spawnSyncIp(['-n', this.netns, 'route', 'add', `${marker}/32`, 'dev', 'lo', 'proto', 'static']);
      if (add !== 0) throw new Error(`marker route ${marker} in ${this.netns} could not be added`);
      try {
        await waitUntil(`the route monitor in ${this.netns} to print ${marker}`, Date.now() + 500, 10, () => {
          if (this.proc.exited) throw new Error(`ip monitor in ${this.netns} exited: ${this.proc.output}`);
          return this.proc.output.includes(`${marker} dev lo`);
        });
        return;
      } catch (err) {
        if (this.proc.exited || Date.now() > deadline) throw err;
      } finally {
        spawnSyncIp(['-n', this.netns, 'route', 'del', `${marker}/32`, 'dev', 'lo', 'proto', 'static']);
      }
    }
  }

  /** Lines for deletions of routes of one protocol (80: the agent's; bgp: the ToR's zebra), markers excluded. */
  deletedRoutes(proto: string | number = 80): string[] {
    const re = new RegExp(`\\bproto ${proto}\\b`);
    return this.proc.output.split('\n').filter((l) => l.includes('Deleted') && re.test(l));
  }

  /** Lines for deletions of the agent's routes (proto 80). */
  deletedAgentRoutes(): string[] { return this.deletedRoutes(80); }

  /** Every line printed so far (with `-ts` timestamps). */
  lines(): string[] { return this.proc.output.split('\n'); }

  /** Everything printed for the agent's routes (adds and deletes). */
  agentLines(): string[] {
    return this.proc.output.split('\n').filter((l) => /\bproto 80\b/.test(l));
  }

  async stop(): Promise<void> { await this.proc.stop(); }
}

function spawnSyncIp(args: readonly string[]): number {
  return spawnSync('ip', args, { stdio: 'ignore' }).status ?? 1;
}

export interface KernelRoute { dst: string; type?: string; gateway?: string; dev?: string; protocol?: string }

/** The agent's routes (proto 80) in a namespace's kernel. */
export function agentRoutes(netns: string): KernelRoute[] {
  const r = spawnSync('ip', ['-n', netns, '-j', 'route', 'show', 'proto', '80'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip route show in ${netns}: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]') as KernelRoute[];
}

/** The agent's routes as comparable strings: kind, destination, next hop, device. */
export function routeSet(netns: string): string[] {
  return agentRoutes(netns).map((r) => `${r.type ?? 'unicast'} ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`).sort();
}
