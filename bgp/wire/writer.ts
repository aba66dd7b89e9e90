/**
 * Growable big-endian writer. Length fields are written as placeholders and back-patched
 * (`patchU8`/`patchU16` at a remembered offset) once the enclosed data is known.
 */
export class Writer {
  private buf: Uint8Array;
  /** Bytes written so far (also the offset of the next byte). */
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  private ensure(n: number): void {
    const want = this.length + n;
    if (want <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < want) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    const b = this.buf, p = this.length;
    b[p] = (v >>> 8) & 0xff; b[p + 1] = v & 0xff;
    this.length = p + 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    const b = this.buf, p = this.length;
    b[p] = (v >>> 24) & 0xff; b[p + 1] = (v >>> 16) & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = v & 0xff;
    this.length = p + 4;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
    return this;
  }

  /** `n` copies of `value`. */
  fill(value: number, n: number): this {
    this.ensure(n);
    this.buf.fill(value & 0xff, this.length, this.length + n);
    this.length += n;
    return this;
  }

  /** Open a gap of `n` bytes at `offset`, moving what follows (used to widen a length field). */
  insertGap(offset: number, n: number): void {
    this.ensure(n);
    this.buf.copyWithin(offset + n, offset, this.length);
    this.length += n;
  }

  patchU8(offset: number, v: number): void {
    this.buf[offset] = v & 0xff;
  }

  patchU16(offset: number, v: number): void {
    this.buf[offset] = (v >>> 8) & 0xff;
    this.buf[offset + 1] = v & 0xff;
  }

  /** Remove the last `n` bytes written (used when a length turns out to fit a shorter form). */
  truncate(length: number): void {
    this.length = Math.min(this.length, length);
  }

  /** A view of the bytes written so far (valid until the next write). */
  view(from = 0, to = this.length): Uint8Array {
    return this.buf.subarray(from, to);
  }

  /** The bytes written, as an exactly sized copy. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
