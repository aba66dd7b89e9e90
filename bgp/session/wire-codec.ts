/**
 * The codec a session uses, as an injected dependency: framing, decoding and encoding from
 * bgp/wire/ (see `wireCodec` in wire-codec-default.ts). Kept as an interface so the session
 * compiles and is testable independently of the codec's internals.
 */
import type { BgpWireError, ErrorAction } from '../wire/errors.js';
import type { BgpMessage, CodecContext } from '../wire/types.js';

export interface Framer {
  push(chunk: Uint8Array): void;
  /** The next whole message, or undefined; throws BgpWireError on a bad header. */
  next(): Uint8Array | undefined;
  /** Bytes received but not yet returned. */
  readonly buffered: number;
}

export interface DecodeResult {
  readonly message: BgpMessage;
  readonly action?: ErrorAction;
  readonly problems: readonly BgpWireError[];
}

export interface WireCodec {
  createFramer(ctx: () => CodecContext): Framer;
  /** Throws BgpWireError when the session must be reset. */
  decode(bytes: Uint8Array, ctx: CodecContext): DecodeResult;
  encode(message: BgpMessage, ctx: CodecContext): Uint8Array;
}
