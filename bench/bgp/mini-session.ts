/**
 * A minimal BGP session over an already connected socket, enough for a benchmark peer: send our
 * OPEN, accept any OPEN, KEEPALIVE on the negotiated schedule, Established on the first
 * KEEPALIVE after both OPENs (RFC 4271 §8.2.2 OpenConfirm → Established), hand UPDATEs on.
 * No policy, no RIB, no loop detection: counting is the caller's business.
 */
import type { Socket } from 'node:net';
import { benchAddPaths, BgpType, MessageFramer, decodeOpen, encodeOpen, keepalive, type DecodedOpen } from './bgp-bytes.js';

export type MiniState = 'OpenSent' | 'OpenConfirm' | 'Established' | 'Closed';

export interface MiniSessionOptions {
  readonly asn: number;
  readonly routerId: string;
  readonly holdTime: number;
  /** Called with each whole UPDATE (a view valid only during the call). */
  readonly onUpdate?: (msg: Buffer) => void;
  readonly onEstablished?: (s: MiniSession) => void;
  readonly onClose?: (s: MiniSession, reason: string) => void;
}

export class MiniSession {
  state: MiniState = 'OpenSent';
  peerOpen: DecodedOpen | undefined;
  closeReason = '';
  private readonly framer = new MessageFramer();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly socket: Socket, private readonly opts: MiniSessionOptions) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try { this.framer.push(chunk, (type, msg) => this.onMessage(type, msg)); }
      catch (err) { this.close(`framing: ${(err as Error).message}`); }
    });
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('connection closed by peer'));
    socket.write(encodeOpen(opts.asn, opts.holdTime, opts.routerId, benchAddPaths()));
  }

  get remote(): string { return `${this.socket.remoteAddress ?? '?'}:${String(this.socket.remotePort ?? '?')}`; }
  get fourOctetAs(): boolean { return this.peerOpen?.fourOctetAs ?? false; }
  /** ADD-PATH negotiated (we offer send and receive in --add-paths runs): we send path ids (the peer receives). */
  get addPathSend(): boolean { return benchAddPaths() && ((this.peerOpen?.addPathMode ?? 0) & 1) !== 0; }
  /** The peer sends path ids. */
  get addPathReceive(): boolean { return benchAddPaths() && ((this.peerOpen?.addPathMode ?? 0) & 2) !== 0; }

  private onMessage(type: number, msg: Buffer): void {
    switch (type) {
      case BgpType.OPEN: {
        this.peerOpen = decodeOpen(msg);
        if (benchAddPaths() && this.peerOpen.addPathMode !== 3) {
          // an ADD-PATH run measures sessions that carry path ids both ways, or nothing
          this.close(`ADD-PATH not negotiated: the peer's OPEN offers send/receive ${this.peerOpen.addPathMode} for IPv4 unicast, not 3`);
          return;
        }
        const hold = Math.min(this.opts.holdTime, this.peerOpen.holdTime);
        this.socket.write(keepalive());
        if (hold > 0) {
          const every = Math.max(1, Math.floor(hold / 3)) * 1000;
          this.timer = setInterval(() => { if (this.state !== 'Closed') this.socket.write(keepalive()); }, every);
          this.timer.unref();
        }
        this.state = 'OpenConfirm';
        return;
      }
      case BgpType.KEEPALIVE:
        if (this.state === 'OpenConfirm') {
          this.state = 'Established';
          this.opts.onEstablished?.(this);
        }
        return;
      case BgpType.UPDATE:
        if (this.state === 'Established') this.opts.onUpdate?.(msg);
        return;
      case BgpType.NOTIFICATION:
        this.close(`NOTIFICATION received: code ${String(msg[19])} subcode ${String(msg[20])}`);
        return;
      default:
        return; // ROUTE-REFRESH and others: nothing to do for a benchmark peer
    }
  }

  /** Write bytes; resolves when the kernel accepted them (drain), for timing the injector. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.write(bytes)) resolve(); else this.socket.once('drain', () => resolve());
    });
  }

  close(reason: string): void {
    if (this.state === 'Closed') return;
    this.state = 'Closed';
    this.closeReason = reason;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.socket.destroy();
    this.opts.onClose?.(this, reason);
  }
}
