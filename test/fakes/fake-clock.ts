/**
 * A manual clock for timer-driven logic: `advance(ms)` fires due timers in deadline order (ties
 * in arming order), each seeing `now()` at its own deadline.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';

interface Pending { at: number; seq: number; fn: () => void; live: boolean }

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start = 1000) { this.t = start; }

  now(): number { return this.t; }
  wallNow(): number { return this.t; }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(p);
    return { cancel: () => { p.live = false; } };
  }

  /** Run every timer due within `ms`, including ones armed by the timers themselves. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.fireNext(end));
    this.t = end;
  }

  /**
   * advance() for logic whose timer callbacks start async work: the event loop turns once before
   * each due timer and once at the end, so promises a callback started settle before the next.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.t + ms;
    do await new Promise((r) => setImmediate(r)); while (this.fireNext(end));
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }

  /** Fire the earliest live timer due by `end` (ties in arming order); false when none is. */
  private fireNext(end: number): boolean {
    this.timers = this.timers.filter((p) => p.live);
    let next: Pending | undefined;
    for (const p of this.timers) if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
    if (!next) return false;
    next.live = false;
    this.t = next.at;
    next.fn();
    return true;
  }

  /** Live timers (for tests asserting that nothing is left armed). */
  get pending(): number { return this.timers.filter((p) => p.live).length; }
}
