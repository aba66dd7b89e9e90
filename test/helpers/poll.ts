/** Poll a condition until it holds or a deadline passes; never sleep to synchronise. */
export interface PollOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message; a function is called at the deadline, so it can show the last state. */
  readonly what?: string | (() => string);
}

/**
 * Call `probe` until it returns a value other than undefined/false, or throw after the deadline
 * with the last value seen (or the last error) in the message.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${(typeof options.what === 'function' ? options.what() : options.what) ?? 'condition'} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True when every key of `subset` appears in `value` with an equal (recursively subset) value. */
export function matchesSubset(value: unknown, subset: unknown): boolean {
  if (subset === null || typeof subset !== 'object') return Object.is(value, subset);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(subset)) {
    if (!Array.isArray(value)) return false;
    return subset.every((s) => value.some((v) => matchesSubset(v, s)));
  }
  for (const [k, v] of Object.entries(subset)) {
    if (!matchesSubset((value as Record<string, unknown>)[k], v)) return false;
  }
  return true;
}
