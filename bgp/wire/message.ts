/**
 * Whole-message codec: header check (RFC 4271 §6.1), then the per-type decoder. decodeMessage
 * THROWS a BgpWireError only when the session must reset; RFC 7606 treat-as-withdraw,
 * attribute-discard and afi-safi-disable come back in `action` + `problems` (for
 * treat-as-withdraw the message still lists the NLRI so the receiver can withdraw them).
 *
 *   bytes ──parseHeader──► type ──► decodeOpen | decodeUpdate | decodeNotification |
 *                                   KEEPALIVE | decodeRouteRefresh ──► DecodedMessage
 */
import { assertNever } from '../../common/assert-never.js';
import { BgpWireError, ErrorCode, HeaderSubcode, type ErrorAction } from './errors.js';
import { parseHeader } from './header.js';
import { decodeNotificationBody, encodeNotification } from './notification.js';
import { decodeOpenBody, encodeOpen } from './open.js';
import { decodeRouteRefreshBody, encodeRouteRefresh } from './route-refresh.js';
import { HEADER_LENGTH, MessageType, type BgpMessage, type CodecContext } from './types.js';
import { decodeUpdateBody, encodeUpdate, type DecodeOptions } from './update.js';

export { decodeOpen, encodeOpen, openPeerAs } from './open.js';
export { decodeUpdate, encodeUpdate } from './update.js';
export { decodeNotification, encodeNotification } from './notification.js';
export { decodeRouteRefresh, encodeRouteRefresh } from './route-refresh.js';

/** The 19-byte KEEPALIVE message. Do not mutate. */
export const KEEPALIVE: Uint8Array = Uint8Array.of(
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 19, MessageType.KEEPALIVE);

export interface DecodedMessage {
  readonly message: BgpMessage;
  readonly action?: ErrorAction;
  readonly problems: readonly BgpWireError[];
}

const NO_PROBLEMS: readonly BgpWireError[] = Object.freeze([]);

/** Decode one whole message (as returned by MessageFramer). Never throws anything but BgpWireError. */
export function decodeMessage(bytes: Uint8Array, ctx: CodecContext, options: DecodeOptions = {}): DecodedMessage {
  try {
    const h = parseHeader(bytes, 0, ctx);
    if (h === undefined) {
      throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH,
        `message of ${bytes.length} bytes is shorter than a header`, { data: Uint8Array.of(0, bytes.length & 0xff) });
    }
    if (h.length !== bytes.length) {
      throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH,
        `length field ${h.length} does not match the ${bytes.length} bytes given`, { data: Uint8Array.of(h.length >>> 8, h.length & 0xff) });
    }
    switch (h.type) {
      case MessageType.UPDATE: return decodeUpdateBody(bytes, HEADER_LENGTH, bytes.length, ctx, options);
      case MessageType.KEEPALIVE: return { message: { type: 'keepalive' }, problems: NO_PROBLEMS };
      case MessageType.OPEN: return { message: decodeOpenBody(bytes, HEADER_LENGTH, bytes.length, options), problems: NO_PROBLEMS };
      case MessageType.NOTIFICATION: return { message: decodeNotificationBody(bytes, HEADER_LENGTH, bytes.length), problems: NO_PROBLEMS };
      case MessageType.ROUTE_REFRESH: return { message: decodeRouteRefreshBody(bytes, HEADER_LENGTH, bytes.length), problems: NO_PROBLEMS };
      default:
        throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, `unknown message type ${h.type}`, { data: Uint8Array.of(h.type) });
    }
  } catch (err) {
    if (err instanceof BgpWireError) throw err;
    // Defence in depth: a bug must not become a process crash (robustness.md §1.5).
    throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, 1, `internal decoder failure: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function encodeMessage(msg: BgpMessage, ctx: CodecContext): Uint8Array {
  switch (msg.type) {
    case 'open': return encodeOpen(msg, ctx);
    case 'update': return encodeUpdate(msg, ctx);
    case 'notification': return encodeNotification(msg);
    case 'keepalive': return KEEPALIVE.slice();
    case 'route-refresh': return encodeRouteRefresh(msg);
    default: return assertNever(msg, 'message');
  }
}
