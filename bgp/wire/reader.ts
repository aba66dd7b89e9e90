/**
 * Big-endian read cursor over a bounded window of a Uint8Array. Every read is bounded by the
 * window's end (the enclosing message, attribute or segment length), never by the buffer's
 * length; an underflow throws the BgpWireError given (or made by the function given; default
 * 3/1 Malformed Attribute List), so a RangeError can never escape a parser.
 */
import { BgpWireError, ErrorCode, UpdateSubcode } from './errors.js';

export type UnderflowError = (need: number, have: number) => BgpWireError;

const defaultUnderflow: UnderflowError = (need, have) => new BgpWireError(ErrorCode.UPDATE_MESSAGE,
  UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `truncated: needed ${need} more byte(s), ${have} left`);

export class Reader {
  /** Absolute offset of the next byte in `buf`. */
  pos: number;
  end: number;
  private readonly onUnderflow: UnderflowError;

  constructor(readonly buf: Uint8Array, start = 0, end = buf.length,
    onUnderflow: UnderflowError | BgpWireError = defaultUnderflow) {
    this.onUnderflow = onUnderflow instanceof BgpWireError ? () => onUnderflow : onUnderflow;
    this.pos = start;
    this.end = Math.min(end, buf.length);
  }

  /** Re-point this reader at `buf[start, end)` (lets a hot loop reuse one reader). */
  reset(start: number, end: number): this {
    this.pos = start;
    this.end = Math.min(end, this.buf.length);
    return this;
  }

  get remaining(): number { return this.end - this.pos; }

  /** Throw the underflow error unless `n` bytes remain. */
  need(n: number): void {
    if (this.end - this.pos < n) throw this.onUnderflow(n, this.end - this.pos);
  }

  u8(): number {
    if (this.pos >= this.end) throw this.onUnderflow(1, 0);
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2);
    const b = this.buf, p = this.pos;
    this.pos = p + 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  u32(): number {
    this.need(4);
    const b = this.buf, p = this.pos;
    this.pos = p + 4;
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8)
      | (b[p + 3] as number)) >>> 0;
  }

  /** A zero-copy view of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A copy of the next `n` bytes (for values kept after the message buffer is released). */
  copy(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A reader over the next `n` bytes (advancing this one past them). */
  sub(n: number, onUnderflow: UnderflowError = this.onUnderflow): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n, onUnderflow);
    this.pos += n;
    return r;
  }
}
