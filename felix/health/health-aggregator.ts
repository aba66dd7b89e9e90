/**
 * Felix-style health aggregation (libcalico-go lib/health): named reporters declare whether they
 * contribute to liveness and/or readiness and a timeout; each report says live/ready. A reporter
 * that has not reported within its timeout counts as failing both of its contributions. Overall
 * live = every liveness reporter live; ready = every readiness reporter ready. Pure apart from
 * the injected clock.
 */
import type { Clock } from '../../common/clock.js';

export interface ReporterOptions {
  readonly live: boolean;
  readonly ready: boolean;
  /** A report older than this is stale (0 = never stale). Felix: e.g. 20 s for the calc graph. */
  readonly timeoutMs: number;
}

export interface HealthReport {
  readonly live: boolean;
  readonly ready: boolean;
  /** Human detail shown in the JSON body, e.g. "nft apply failed: …". */
  readonly detail?: string;
}

export interface ReporterStatus {
  readonly name: string;
  readonly live: boolean | null;
  readonly ready: boolean | null;
  readonly timedOut: boolean;
  readonly lastReportAgoMs: number | null;
  readonly detail: string;
}

export interface HealthSummary {
  readonly live: boolean;
  readonly ready: boolean;
  readonly reporters: readonly ReporterStatus[];
}

export interface HealthReporter {
  report(r: HealthReport): void;
}

interface Entry {
  readonly name: string;
  readonly options: ReporterOptions;
  last: HealthReport | undefined;
  at: number;
}

export class HealthAggregator {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly deps: { readonly clock: Clock }) {}

  /** Register (or re-register) a reporter; until its first report it is neither live nor ready. */
  register(name: string, options: ReporterOptions): HealthReporter {
    if (!(options.timeoutMs >= 0)) throw new RangeError(`health reporter ${name}: timeoutMs must be >= 0`);
    const entry: Entry = { name, options, last: undefined, at: 0 };
    this.entries.set(name, entry);
    return { report: (r) => { entry.last = r; entry.at = this.deps.clock.now(); } };
  }

  unregister(name: string): void {
    this.entries.delete(name);
  }

  summary(): HealthSummary {
    const now = this.deps.clock.now();
    let live = true;
    let ready = true;
    const reporters: ReporterStatus[] = [];
    for (const e of this.entries.values()) {
      const timedOut = e.last !== undefined && e.options.timeoutMs > 0 && now - e.at > e.options.timeoutMs;
      const isLive = e.last !== undefined && !timedOut && e.last.live;
      const isReady = e.last !== undefined && !timedOut && e.last.ready;
      if (e.options.live && !isLive) live = false;
      if (e.options.ready && !isReady) ready = false;
      reporters.push({
        name: e.name,
        live: e.options.live ? isLive : null,
        ready: e.options.ready ? isReady : null,
        timedOut,
        lastReportAgoMs: e.last === undefined ? null : Math.round(now - e.at),
        detail: e.last === undefined ? 'no report yet' : timedOut ? `no report for ${Math.round(now - e.at)} ms (timeout ${e.options.timeoutMs} ms)` : (e.last.detail ?? ''),
      });
    }
    return { live, ready, reporters };
  }
}
