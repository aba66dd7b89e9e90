/**
 * Rate limit for log lines that an outsider can make us repeat (one per connection from an
 * unconfigured address, one per malformed message: a fuzzer's 25,000 messages wrote 21 MB of
 * logs). Per key, at most `burst` lines per `windowMs`; the first line of the next window says
 * how many were left out (`suppressed`). Keys are a few fixed categories (or per peer), and the
 * table is bounded, so a flood of distinct keys cannot grow it either.
 */
export interface LogLimiterOptions {
  /** Lines per key and window (default 10). */
  readonly burst?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  /** Monotonic ms (default performance.now). */
  readonly now?: () => number;
  /** Keys remembered; the oldest is forgotten beyond this (default 1024). */
  readonly maxKeys?: number;
}

export class LogLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(o: LogLimiterOptions = {}) {
    this.burst = o.burst ?? 10;
    this.windowMs = o.windowMs ?? 60_000;
    this.now = o.now ?? (() => performance.now());
    this.maxKeys = o.maxKeys ?? 1024;
  }

  /**
   * Whether to write this line: undefined to drop it, else the fields to add to it
   * (`{ suppressed: n }` when lines of this key were dropped in the previous window, else `{}`).
   */
  take(key: string): { readonly suppressed?: number } | undefined {
    const t = this.now();
    const w = this.windows.get(key);
    if (w === undefined || t - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      if (w === undefined && this.windows.size >= this.maxKeys) {
        const oldest = this.windows.keys().next();
        if (oldest.done !== true) this.windows.delete(oldest.value);
      }
      this.windows.set(key, { start: t, count: 1, suppressed: 0 });
      return suppressed > 0 ? { suppressed } : {};
    }
    if (w.count < this.burst) { w.count++; return {}; }
    w.suppressed++;
    return undefined;
  }
}
