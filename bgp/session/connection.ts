/**
 * One TCP connection of a session: framing of what arrives (in slices, with the socket paused
 * while too much is buffered) and batched writes (all messages queued in one tick go out as one
 * Buffer), with the queued byte count visible to the caller for backpressure.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { INITIAL_CONTEXT, type CodecContext } from '../wire/types.js';
import type { Framer, WireCodec } from './wire-codec.js';

/** Pause reading when this much is buffered and unprocessed; resume below a quarter of it. */
const READ_HIGH_WATER = 4 << 20;

let nextConnId = 1;

export interface ConnectionHandlers {
  /** A whole message; return false to stop processing (the connection is going away). */
  message(conn: Connection, bytes: Uint8Array): boolean;
  /** The framer rejected a header (BgpWireError or other). */
  framingError(conn: Connection, err: unknown): void;
  /** The TCP connection failed or was closed by the peer. */
  closed(conn: Connection, error: string | undefined): void;
  /** Queued output fell back under the high-water mark. */
  drained(conn: Connection): void;
  /** The kernel stopped taking our output (true) or took all of it again (false). */
  writeBlocked(conn: Connection, blocked: boolean): void;
}

export class Connection {
  readonly id = nextConnId++;
  ctx: CodecContext = INITIAL_CONTEXT;
  /** True once the TCP handshake completed (incoming connections start connected). */
  connected: boolean;
  closing = false;
  closedFlag = false;
  private readonly framer: Framer;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushQueued = false;
  private draining = false;
  private drainScheduled = false;
  private paused = false;
  private wasAboveHighWater = false;
  private blocked = false;
  private totalWritten = 0;
  private readonly closedPromise: Promise<void>;

  constructor(readonly socket: Socket, readonly outgoing: boolean, codec: WireCodec,
    private readonly handlers: ConnectionHandlers, private readonly logger: Logger,
    private readonly sliceMessages: number, private readonly writeHighWater: number) {
    this.connected = !outgoing;
    this.framer = codec.createFramer(() => this.ctx);
    socket.setNoDelay(true);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.checkDrained());
    socket.on('error', (err) => { this.logger.debug({ conn: this.id, err: describeError(err) }, 'socket error'); this.fail(describeError(err)); });
    socket.on('close', () => this.fail(undefined));
  }

  /** Bytes received and not yet processed as messages (InQ). */
  get receivedBytes(): number { return this.framer.buffered; }

  /** Bytes queued for the peer and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /**
   * Everything written so far is in the kernel: nothing queued here or in the socket, so no
   * buffer passed to write() is still referenced (a write the kernel took at once keeps none).
   */
  get writeIdle(): boolean {
    return this.pending.length === 0 && this.socket.writableLength === 0;
  }

  /** Bytes the kernel has taken from us so far: grows while the peer reads (RFC 9687 progress). */
  get acceptedBytes(): number {
    return this.totalWritten - this.socket.writableLength;
  }

  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  whenClosed(): Promise<void> {
    return this.closedFlag || this.socket.destroyed ? Promise.resolve() : this.closedPromise;
  }

  /** Queue bytes; all writes of this tick leave as one Buffer. Returns false above the high-water mark. */
  write(bytes: Uint8Array): boolean {
    if (this.closedFlag) return false;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    const above = this.queuedBytes > this.writeHighWater;
    if (above) this.wasAboveHighWater = true;
    return !above;
  }

  flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0 || this.socket.destroyed || !this.connected) return;
    const buf = this.pending.length === 1 ? this.pending[0] as Uint8Array : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.totalWritten += buf.length;
    // When the kernel took everything at once there will be no 'drain' event: check now.
    if (this.socket.write(buf)) {
      queueMicrotask(() => this.checkDrained());
    } else if (!this.blocked) {
      this.blocked = true;
      this.handlers.writeBlocked(this, true);
    }
  }

  /** Flush what is queued, then close (destroy after `graceMs` if the peer does not read). */
  close(graceMs = 2000): void {
    if (this.closing) return;
    this.closing = true;
    this.flush();
    if (this.socket.destroyed) return;
    if (!this.connected) { this.socket.destroy(); return; }
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), graceMs);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    try {
      this.framer.push(chunk);
    } catch (err) {
      this.handlers.framingError(this, err);
      return;
    }
    if (!this.paused && this.framer.buffered > READ_HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.drainScheduled) this.drain();
  }

  /** Process up to `sliceMessages` messages, then yield to the event loop if more are waiting. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    let n = 0;
    try {
      for (;;) {
        if (this.closing) return;
        let bytes: Uint8Array | undefined;
        try {
          bytes = this.framer.next();
        } catch (err) {
          this.handlers.framingError(this, err);
          return;
        }
        if (bytes === undefined) break;
        if (!this.handlers.message(this, bytes)) return;
        if (++n >= this.sliceMessages) {
          this.drainScheduled = true;
          setImmediate(() => { this.drainScheduled = false; this.drain(); });
          return;
        }
      }
      if (this.paused && this.framer.buffered < READ_HIGH_WATER / 4) {
        this.paused = false;
        this.socket.resume();
      }
    } finally {
      this.draining = false;
    }
  }

  private checkDrained(): void {
    if (this.blocked && this.socket.writableLength === 0) {
      this.blocked = false;
      this.handlers.writeBlocked(this, false);
    }
    if (this.wasAboveHighWater && this.queuedBytes <= this.writeHighWater) {
      this.wasAboveHighWater = false;
      this.handlers.drained(this);
    }
  }

  private fail(error: string | undefined): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (!this.socket.destroyed) this.socket.destroy();
    this.handlers.closed(this, error);
  }
}
