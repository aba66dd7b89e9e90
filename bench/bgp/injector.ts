/**
 * The fast tester: one process, P BGP sessions (one per local address), each with its R /24s
 * pre-encoded into ~1000-prefix UPDATEs before the clock starts; at T0 the bytes go straight to
 * the sockets, then the same for withdrawals. This takes the tester out of the measurement
 * where BIRD-as-tester would be the bottleneck.
 */
import { connect } from 'node:net';
import { encodeAnnouncements, encodeWithdrawals } from './bgp-bytes.js';
import { MiniSession } from './mini-session.js';

export interface InjectorSessionSpec {
  readonly local: string;
  readonly asn: number;
  /** First /24 number (top 24 bits of the address) and how many consecutive /24s. */
  readonly first24: number;
  readonly count: number;
  /** Where this session connects (the target's address for this tester). */
  readonly target: { readonly host: string; readonly port: number };
}

export type InjectorEvent =
  | { readonly ev: 'established'; readonly local: string; readonly sessions: number }
  | { readonly ev: 'closed'; readonly local: string; readonly reason: string; readonly sessions: number }
  | { readonly ev: 'sent'; readonly what: 'announce' | 'withdraw'; readonly t0Ns: string; readonly t1Ns: string; readonly bytes: number }
  | { readonly ev: 'status'; readonly sessions: number; readonly total: number }
  | { readonly ev: 'error'; readonly message: string };

interface Slot {
  readonly spec: InjectorSessionSpec;
  session: MiniSession | undefined;
  announce: Buffer | undefined;
  withdraw: Buffer | undefined;
}

export class Injector {
  private readonly slots: Slot[];
  private closed = false;

  constructor(specs: readonly InjectorSessionSpec[],
    private readonly holdTime: number, private readonly emit: (e: InjectorEvent) => void) {
    this.slots = specs.map((spec) => ({ spec, session: undefined, announce: undefined, withdraw: undefined }));
  }

  get established(): number {
    return this.slots.filter((s) => s.session?.state === 'Established').length;
  }

  start(): void { for (const s of this.slots) this.dial(s); }

  private dial(slot: Slot): void {
    if (this.closed) return;
    const sock = connect({ host: slot.spec.target.host, port: slot.spec.target.port, localAddress: slot.spec.local });
    const retry = (): void => { sock.destroy(); if (!this.closed) setTimeout(() => this.dial(slot), 500).unref(); };
    sock.once('error', retry);
    sock.once('connect', () => {
      sock.removeListener('error', retry);
      slot.session = new MiniSession(sock, {
        asn: slot.spec.asn, routerId: slot.spec.local, holdTime: this.holdTime,
        onEstablished: (s) => {
          // Pre-encode now (4-octet AS is known), well before T0.
          slot.announce = encodeAnnouncements(slot.spec.first24, slot.spec.count, slot.spec.asn, slot.spec.local, s.fourOctetAs, s.addPathSend);
          slot.withdraw = encodeWithdrawals(slot.spec.first24, slot.spec.count, s.addPathSend);
          this.emit({ ev: 'established', local: slot.spec.local, sessions: this.established });
        },
        onClose: (_s, reason) => {
          this.emit({ ev: 'closed', local: slot.spec.local, reason, sessions: this.established });
          if (!this.closed) setTimeout(() => this.dial(slot), 1000).unref();
        },
      });
    });
  }

  /** Write every session's pre-encoded UPDATEs; report T0 (before the first write) and the drain. */
  async send(what: 'announce' | 'withdraw'): Promise<void> {
    const ready = this.slots.filter((s) => s.session?.state === 'Established');
    if (ready.length !== this.slots.length) {
      this.emit({ ev: 'error', message: `${what}: only ${ready.length} of ${this.slots.length} sessions Established` });
    }
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    const writes: Array<Promise<void>> = [];
    for (const s of ready) {
      const buf = what === 'announce' ? s.announce : s.withdraw;
      if (buf === undefined || s.session === undefined) continue;
      bytes += buf.length;
      writes.push(s.session.write(buf));
    }
    await Promise.all(writes);
    const t1 = process.hrtime.bigint();
    this.emit({ ev: 'sent', what, t0Ns: String(t0), t1Ns: String(t1), bytes });
  }

  status(): InjectorEvent {
    return { ev: 'status', sessions: this.established, total: this.slots.length };
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots) s.session?.close('injector closing');
  }
}
