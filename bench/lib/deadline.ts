/** Bounded waiting for benchmarks: every wait has a deadline and names what it waited for. */

export class DeadlineError extends Error {
  readonly code = 'BENCH_DEADLINE';
  constructor(what: string, ms: number, readonly last: unknown) {
    super(`timed out after ${(ms / 1000).toFixed(1)} s waiting for ${what}` +
      (last === undefined ? '' : `; last seen: ${typeof last === 'string' ? last : JSON.stringify(last)}`));
    this.name = 'DeadlineError';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Call `probe` every `intervalMs` until it returns a value other than undefined; throw a
 * DeadlineError naming `what` (and the last observation from `describe`) after `timeoutMs`.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>,
  opts: { intervalMs?: number; describe?: () => unknown } = {}): Promise<T> {
  const interval = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) { lastErr = err instanceof Error ? err.message : String(err); }
    if (Date.now() >= deadline) {
      let last: unknown = lastErr;
      try { if (opts.describe !== undefined) last = opts.describe(); } catch { /* keep lastErr */ }
      throw new DeadlineError(what, timeoutMs, last);
    }
    await sleep(interval);
  }
}

/** Monotonic nanoseconds (CLOCK_MONOTONIC: comparable across processes on one machine). */
export const monoNs = (): bigint => process.hrtime.bigint();
export const nsToS = (ns: bigint): number => Number(ns) / 1e9;
