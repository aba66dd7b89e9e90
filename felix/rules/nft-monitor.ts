/**
 * Drift detection for the rules: an `nft monitor` child process prints every change to the
 * nftables ruleset ("delete rule ip tortie FORWARD handle 4", "delete element ip tortie s { … }",
 * "# new generation 7 by process 123 (nft)"). A change in a watched table tells the programmer
 * to read its objects back at once, instead of at the next post-write check or the 90 s refresh.
 *
 * Watched tables: our own `ip|ip6 tortie` (nft backend), or `filter`/`nat` where iptables-nft
 * keeps the built-in chains our jumps live in (iptables backend on nf_tables: a deleted rule
 * prints only its handle, so every change in those tables counts). ipsets are not nftables
 * objects: the iptables backend's sets are checked by the programmer's periodic fingerprint.
 *
 * The child is restarted (1 s, doubling to 30 s) whenever it exits; its exit or any stderr output
 * (e.g. ENOBUFS: events were dropped) also counts as a change, since events may have been lost.
 */
import type { ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';

/** What RulesProgrammer needs of a drift watcher. */
export interface RulesWatcher {
  /** Start watching; `onChange(reason)` runs (possibly often) whenever our objects may have changed. */
  start(onChange: (reason: string) => void): void;
  stop(): void;
}

export interface NftMonitorDeps {
  /** Starts `nft monitor` (the agent: `spawn('nft', ['monitor'])`; tests prefix `ip netns exec NS`). */
  readonly spawnMonitor: () => ChildProcess;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface NftMonitorOptions {
  /** Tables whose changes count, as "family table" ("ip tortie", "ip6 filter"). */
  readonly tables: readonly string[];
  readonly restartBaseMs?: number;
  readonly restartMaxMs?: number;
}

/** The tables whose changes concern a backend: our own, or iptables-nft's built-in tables. */
export function watchedTables(backend: 'nft' | 'iptables'): string[] {
  return backend === 'nft' ? ['ip tortie', 'ip6 tortie'] : ['ip filter', 'ip nat', 'ip6 filter', 'ip6 nat'];
}

/** "add|delete|replace|destroy <object> <family> <table> …": the family and table of a monitor line. */
const EVENT_LINE = /^(?:add|delete|replace|update|destroy|flush)\s+\S+\s+(ip|ip6|inet|arp|bridge|netdev)\s+(\S+)/;

export class NftMonitor implements RulesWatcher {
  private child: ChildProcess | undefined;
  private onChange: ((reason: string) => void) | undefined;
  private restartTimer: TimerHandle | undefined;
  private restartDelay: number;
  private readonly tables: ReadonlySet<string>;
  private readonly log: Logger;
  /** Lines of the current transaction touched a watched table (reported at its generation line). */
  private touched = false;

  constructor(private readonly deps: NftMonitorDeps, private readonly options: NftMonitorOptions) {
    this.tables = new Set(options.tables);
    this.restartDelay = options.restartBaseMs ?? 1000;
    this.log = deps.logger.child({ component: 'nft-monitor' });
  }

  start(onChange: (reason: string) => void): void {
    this.onChange = onChange;
    if (this.child === undefined && this.restartTimer === undefined) this.spawn();
  }

  stop(): void {
    this.onChange = undefined;
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    const c = this.child;
    this.child = undefined;
    if (c !== undefined && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  /** Feed one line of `nft monitor` output (public for unit tests). */
  onLine(line: string): void {
    if (line.startsWith('# new generation')) {
      if (this.touched) { this.touched = false; this.onChange?.('nft-monitor'); }
      return;
    }
    const m = EVENT_LINE.exec(line);
    if (m !== null && this.tables.has(`${m[1]} ${m[2]}`)) this.touched = true;
  }

  private spawn(): void {
    let child: ChildProcess;
    try { child = this.deps.spawnMonitor(); } catch (err) {
      this.log.warn({ err: String(err) }, 'cannot start nft monitor');
      this.scheduleRestart();
      return;
    }
    this.child = child;
    let partial = '';
    let gotOutput = false;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      gotOutput = true;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) this.onLine(l);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.log.warn({ stderr: d.trim().slice(0, 300) }, 'nft monitor reported an error; events may be lost');
      this.onChange?.('nft-monitor-error');
    });
    child.on('error', (err) => this.log.warn({ err: String(err) }, 'nft monitor failed to start'));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.onChange === undefined) return;
      this.log.warn({ code, signal }, 'nft monitor exited; restarting (events may be lost)');
      if (gotOutput) this.restartDelay = this.options.restartBaseMs ?? 1000;
      this.onChange('nft-monitor-restart');
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.onChange === undefined || this.restartTimer !== undefined) return;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.options.restartMaxMs ?? 30_000, delay * 2);
    this.restartTimer = this.deps.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.onChange !== undefined && this.child === undefined) this.spawn();
    }, delay);
  }
}
