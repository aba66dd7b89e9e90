/**
 * BGP message header (RFC 4271 §4.1), checked per §6.1 and RFC 8654 (extended message).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                           Marker (16 octets of 0xff)          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Length               |      Type     |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { BgpWireError, ErrorCode, HeaderSubcode } from './errors.js';
import {
  HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType, type CodecContext,
} from './types.js';

/** Minimum whole-message length per type (RFC 4271 §4, RFC 2918). */
export const MIN_MESSAGE_LENGTH: Readonly<Record<number, number>> = {
  [MessageType.OPEN]: 29, [MessageType.UPDATE]: 23, [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19, [MessageType.ROUTE_REFRESH]: 23,
};

/** The largest message a peer may send us under `ctx` for a given type (RFC 8654 §3). */
export function maxMessageLength(type: number, ctx: CodecContext): number {
  if (!ctx.extendedMessage || type === MessageType.OPEN || type === MessageType.KEEPALIVE) {
    return MAX_MESSAGE_LENGTH;
  }
  return MAX_EXTENDED_MESSAGE_LENGTH;
}

/**
 * Read and check the header at `offset`. Returns undefined when fewer than 19 bytes are
 * available; throws 1/1 (bad marker), 1/2 (bad length, data = the length field), 1/3 (bad
 * type, data = the type octet).
 */
export function parseHeader(buf: Uint8Array, offset: number, ctx: CodecContext):
  { length: number; type: number } | undefined {
  if (buf.length - offset < HEADER_LENGTH) return undefined;
  for (let i = offset; i < offset + 16; i++) {
    if (buf[i] !== 0xff) {
      throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
        `message header marker is not all ones (octet ${i - offset} is ${buf[i]})`);
    }
  }
  const length = ((buf[offset + 16] as number) << 8) | (buf[offset + 17] as number);
  const type = buf[offset + 18] as number;
  const min = MIN_MESSAGE_LENGTH[type];
  if (min === undefined) {
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE,
      `unknown message type ${type}`, { data: Uint8Array.of(type) });
  }
  const max = maxMessageLength(type, ctx);
  if (length < min || length > max || (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH)) {
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH,
      `bad message length ${length} for type ${type} (allowed ${min}..${type === MessageType.KEEPALIVE ? min : max})`,
      { data: Uint8Array.of(length >>> 8, length & 0xff) });
  }
  return { length, type };
}

/** Write a header for a message of `length` bytes into `out` at `offset`. */
export function writeHeader(out: Uint8Array, offset: number, length: number, type: number): void {
  out.fill(0xff, offset, offset + 16);
  out[offset + 16] = (length >>> 8) & 0xff;
  out[offset + 17] = length & 0xff;
  out[offset + 18] = type;
}

/**
 * Check that `bytes` is exactly one whole message of `type` (marker, length field = size,
 * type): the per-type decoders (decodeOpen, decodeUpdate, ...) call this first.
 */
export function checkWholeMessage(bytes: Uint8Array, type: number, ctx: CodecContext): void {
  const h = parseHeader(bytes, 0, ctx);
  if (h === undefined || h.length !== bytes.length) {
    const n = h?.length ?? bytes.length;
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH,
      `expected one whole message, got ${bytes.length} bytes${h === undefined ? '' : ` with length field ${h.length}`}`,
      { data: Uint8Array.of((n >>> 8) & 0xff, n & 0xff) });
  }
  if (h.type !== type) {
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE,
      `expected message type ${type}, got ${h.type}`, { data: Uint8Array.of(h.type) });
  }
}
