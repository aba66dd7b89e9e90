/**
 * Idle-hold back-off between automatic restarts after an error (RFC 4271 §8.1.1
 * DampPeerOscillations; BIRD "error wait time min,max", Calico 5 s doubling to 30 s): the delay
 * doubles on every error drop up to the cap, and resets once a session stayed Established for
 * `stableMs`. Pure: time comes in as arguments.
 */
export class IdleHoldBackoff {
  private next: number;
  private establishedAt: number | undefined;

  constructor(private readonly minMs: number, private readonly maxMs: number, private readonly stableMs: number) {
    this.next = minMs;
  }

  /** The session reached Established at `now`. */
  established(now: number): void {
    this.establishedAt = now;
  }

  /** The session dropped at `now`: returns the idle-hold delay before the next start. */
  dropped(now: number): number {
    if (this.establishedAt !== undefined && now - this.establishedAt >= this.stableMs) this.next = this.minMs;
    this.establishedAt = undefined;
    const delay = this.next;
    this.next = Math.min(this.maxMs, Math.max(this.minMs, this.next * 2));
    return delay;
  }

  /** The delay the next drop would use (for display). */
  peek(): number {
    return this.next;
  }

  reset(): void {
    this.next = this.minMs;
    this.establishedAt = undefined;
  }
}
