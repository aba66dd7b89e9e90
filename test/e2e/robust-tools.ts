/**
 * Instruments for the lab robustness tests (test/e2e/robustness.test.ts): a continuous pinger that
 * measures loss and the longest outage, an `ip -ts monitor route` recorder that can prove it has
 * seen everything up to now (marker route), kernel route snapshots, node logs read from an offset,
 * health endpoints fetched inside a node namespace.
 */
import { readFileSync, statSync } from 'node:fs';
import { pollUntil } from '../helpers/poll.js';
import { httpGetIn, Proc, trySh } from '../helpers/sh.js';

export const PING_INTERVAL_MS = 50;

export interface PingStats {
  readonly what: string;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  /** Longest run of consecutive unanswered probes, in ms (run length × interval). */
  readonly longestGapMs: number;
}

/** `ping -i 0.05` from a pod namespace for as long as the test runs. */
export class Pinger {
  private readonly proc: Proc;
  constructor(readonly what: string, netns: string, address: string) {
    this.proc = new Proc('ip', ['netns', 'exec', netns, 'ping', '-n', '-i', String(PING_INTERVAL_MS / 1000), '-W', '1', address]);
  }

  private seqs(): number[] {
    // Echo replies only: "From <router> icmp_seq=N Destination Net Unreachable" is loss too.
    return [...this.proc.output.matchAll(/bytes from [^\n]*?icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
  }

  /** Resolves once `n` replies came back (the path works before the fault is injected). */
  async started(n = 5): Promise<void> {
    await pollUntil(() => {
      if (this.proc.exited) throw new Error(`ping ${this.what} exited: ${this.proc.output}`);
      return new Set(this.seqs()).size >= n;
    }, { timeoutMs: 10_000, what: `ping ${this.what} to get ${n} replies` });
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
      longestGapMs: gap * PING_INTERVAL_MS };
  }
}

export function formatPing(s: PingStats): string {
  return `${s.what}: ${s.lost}/${s.sent} lost, longest outage ${s.longestGapMs} ms`;
}

let markerSeq = 0;

/** `ip -ts monitor route` inside a namespace, with a marker to flush what it saw so far. */
export class RouteMonitor {
  private readonly proc: Proc;
  constructor(readonly netns: string) {
    this.proc = new Proc('ip', ['-ts', '-n', netns, 'monitor', 'route']);
  }

  /**
   * Add and remove a marker route and wait until the monitor printed it: everything before it was
   * seen too. A fresh monitor may not have subscribed yet, so a marker it missed is retried.
   */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const marker = `192.0.2.${(markerSeq++ % 250) + 1}`;
      const add = trySh('ip', ['-n', this.netns, 'route', 'add', `${marker}/32`, 'dev', 'lo', 'proto', 'static']);
      if (add.status !== 0) throw new Error(`marker route ${marker} in ${this.netns}: ${add.stderr}`);
      try {
        await pollUntil(() => {
          if (this.proc.exited) throw new Error(`ip monitor in ${this.netns} exited: ${this.proc.output}`);
          return this.proc.output.includes(`${marker} dev lo`);
        }, { timeoutMs: 500, intervalMs: 10, what: `the route monitor in ${this.netns} to print ${marker}` });
        return;
      } catch (err) {
        if (this.proc.exited || Date.now() > deadline) throw err;
      } finally {
        trySh('ip', ['-n', this.netns, 'route', 'del', `${marker}/32`, 'dev', 'lo', 'proto', 'static']);
      }
    }
  }

  /** Lines for deletions of the agent's routes (proto 80), marker routes excluded. */
  deletedAgentRoutes(): string[] {
    return this.proc.output.split('\n').filter((l) => l.includes('Deleted') && /\bproto 80\b/.test(l));
  }

  /** Everything printed for the agent's routes (adds and deletes). */
  agentLines(): string[] {
    return this.proc.output.split('\n').filter((l) => /\bproto 80\b/.test(l));
  }

  async stop(): Promise<void> { await this.proc.stop(); }
}

export interface KernelRoute { dst: string; type?: string; gateway?: string; dev?: string; protocol?: string }

export function agentRoutes(netns: string): KernelRoute[] {
  const r = trySh('ip', ['-n', netns, '-j', 'route', 'show', 'proto', '80']);
  if (r.status !== 0) throw new Error(`ip route show in ${netns}: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]') as KernelRoute[];
}

/** The agent's routes as comparable strings: kind, destination, next hop, device. */
export function routeSet(netns: string): string[] {
  return agentRoutes(netns).map((r) => `${r.type ?? 'unicast'} ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`).sort();
}

/** Byte offset of a log file now; read what was written after it with `logSince`. */
export function logOffset(file: string): number {
  try { return statSync(file).size; } catch { return 0; }
}

export interface LogLine { level: number; msg: string; key?: string; err?: string; [k: string]: unknown }

export function logSince(file: string, offset: number): LogLine[] {
  const text = readFileSync(file).subarray(offset).toString('utf8');
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try { out.push(JSON.parse(l) as LogLine); } catch { /* partial last line */ }
  }
  return out;
}

/** GET a health endpoint of the tortie-node in `netns`: "<status> <body>". */
export function health(netns: string, path: '/readiness' | '/liveness', port = 9099): string {
  return httpGetIn(netns, port, path);
}
