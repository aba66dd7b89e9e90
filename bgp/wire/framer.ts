/**
 * Splits a TCP byte stream into whole BGP messages (RFC 4271 §4.1). Headers are validated as
 * soon as 19 bytes are present (a bad marker/length/type throws before the body arrives).
 * A message lying inside one pushed chunk is returned as a zero-copy subarray; bytes that
 * straddle chunks are gathered into a buffer this framer owns and never rewrites, so every
 * returned message stays valid after later pushes.
 */
import { parseHeader } from './header.js';
import { HEADER_LENGTH, type CodecContext } from './types.js';

export class MessageFramer {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  /** True when `buf` is our own allocation (so bytes past `end` may be appended to). */
  private owned = false;
  private ctx: CodecContext | (() => CodecContext);

  constructor(ctx: CodecContext | (() => CodecContext)) {
    this.ctx = ctx;
  }

  /** Replace the context (e.g. after OPENs negotiated extended messages). */
  setContext(ctx: CodecContext | (() => CodecContext)): void {
    this.ctx = ctx;
  }

  /** Bytes received but not yet returned as a message. */
  get buffered(): number { return this.end - this.start; }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.start === this.end) {
      this.buf = chunk; this.start = 0; this.end = chunk.length; this.owned = false;
      return;
    }
    const have = this.end - this.start;
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      this.buf.set(chunk, this.end);
      this.end += chunk.length;
      return;
    }
    // A fresh buffer: earlier returned subarrays keep pointing at the old one.
    const next = new Uint8Array(Math.max(4096, (have + chunk.length) * 2));
    next.set(this.buf.subarray(this.start, this.end), 0);
    next.set(chunk, have);
    this.buf = next; this.start = 0; this.end = have + chunk.length; this.owned = true;
  }

  /** The next whole message (header included), or undefined until more bytes arrive. */
  next(): Uint8Array | undefined {
    const have = this.end - this.start;
    if (have < HEADER_LENGTH) return undefined;
    const ctx = typeof this.ctx === 'function' ? this.ctx() : this.ctx;
    // the header read in place (no view of the rest per message: a Buffer's subarray is not free)
    const h = parseHeader(this.buf, this.start, ctx)!;
    if (have < h.length) return undefined;
    const msg = this.start === 0 && h.length === this.buf.length ? this.buf : this.buf.subarray(this.start, this.start + h.length);
    this.start += h.length;
    if (this.start === this.end) { this.buf = new Uint8Array(0); this.start = this.end = 0; this.owned = false; }
    return msg;
  }
}
