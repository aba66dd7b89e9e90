/**
 * NOTIFICATION message (RFC 4271 §4.5): error code (1), subcode (1), data (variable).
 * `notificationFor` is the one total mapping from a BgpWireError to what we send;
 * `describeNotification` gives "Cease/Administrative shutdown"-style text (RFC 4271 §6,
 * RFC 4486, RFC 6608, RFC 7313, RFC 8538, RFC 9234, RFC 9384, RFC 9687). RFC 9003 shutdown
 * communication (Cease/2 and Cease/4): length octet + UTF-8 text, at most 255 octets, bounded.
 */
import { BgpWireError, CeaseSubcode, ErrorCode } from './errors.js';
import { checkWholeMessage } from './header.js';
import { HEADER_LENGTH, INITIAL_CONTEXT, MAX_MESSAGE_LENGTH, MessageType, type CodecContext, type NotificationMessage } from './types.js';

/** The most data a NOTIFICATION can carry without an extended-message session. */
export const MAX_NOTIFICATION_DATA = MAX_MESSAGE_LENGTH - HEADER_LENGTH - 2;

export function notificationFor(err: BgpWireError): NotificationMessage {
  const data = err.data.length > MAX_NOTIFICATION_DATA ? err.data.slice(0, MAX_NOTIFICATION_DATA) : err.data;
  return { type: 'notification', code: err.code & 0xff, subcode: err.subcode & 0xff, data };
}

export function decodeNotification(bytes: Uint8Array, ctx: CodecContext = INITIAL_CONTEXT): NotificationMessage {
  checkWholeMessage(bytes, MessageType.NOTIFICATION, ctx);
  return decodeNotificationBody(bytes, HEADER_LENGTH, bytes.length);
}

export function decodeNotificationBody(buf: Uint8Array, start: number, end: number): NotificationMessage {
  return { type: 'notification', code: buf[start] ?? 0, subcode: buf[start + 1] ?? 0, data: buf.slice(start + 2, end) };
}

export function encodeNotification(msg: NotificationMessage, _ctx?: CodecContext): Uint8Array {
  const data = msg.data.length > MAX_NOTIFICATION_DATA ? msg.data.subarray(0, MAX_NOTIFICATION_DATA) : msg.data;
  const out = new Uint8Array(HEADER_LENGTH + 2 + data.length);
  out.fill(0xff, 0, 16);
  out[16] = out.length >>> 8; out[17] = out.length & 0xff; out[18] = MessageType.NOTIFICATION;
  out[19] = msg.code; out[20] = msg.subcode;
  out.set(data, 21);
  return out;
}

const CODE_NAMES: Readonly<Record<number, string>> = {
  1: 'Message header error', 2: 'OPEN message error', 3: 'UPDATE message error', 4: 'Hold timer expired',
  5: 'Finite state machine error', 6: 'Cease', 7: 'ROUTE-REFRESH message error', 8: 'Send hold timer expired',
};

const SUBCODE_NAMES: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: { 1: 'Connection not synchronized', 2: 'Bad message length', 3: 'Bad message type' },
  2: {
    1: 'Unsupported version number', 2: 'Bad peer AS', 3: 'Bad BGP identifier', 4: 'Unsupported optional parameter',
    5: 'Authentication failure', 6: 'Unacceptable hold time', 7: 'Unsupported capability', 11: 'Role mismatch',
  },
  3: {
    1: 'Malformed attribute list', 2: 'Unrecognized well-known attribute', 3: 'Missing well-known attribute',
    4: 'Attribute flags error', 5: 'Attribute length error', 6: 'Invalid ORIGIN attribute', 7: 'AS routing loop',
    8: 'Invalid NEXT_HOP attribute', 9: 'Optional attribute error', 10: 'Invalid network field', 11: 'Malformed AS_PATH',
  },
  5: {
    1: 'Receive unexpected message in OpenSent state', 2: 'Receive unexpected message in OpenConfirm state',
    3: 'Receive unexpected message in Established state',
  },
  6: {
    1: 'Maximum number of prefixes reached', 2: 'Administrative shutdown', 3: 'Peer de-configured',
    4: 'Administrative reset', 5: 'Connection rejected', 6: 'Other configuration change',
    7: 'Connection collision resolution', 8: 'Out of resources', 9: 'Hard reset', 10: 'BFD down',
  },
  7: { 1: 'Invalid message length' },
};

/** "Cease/Administrative shutdown", "UPDATE message error/Malformed AS_PATH", "Hold timer expired". */
export function describeNotification(code: number, subcode: number): string {
  const name = CODE_NAMES[code] ?? `Unknown error code ${code}`;
  if (subcode === 0) return code === ErrorCode.HOLD_TIMER_EXPIRED || code === ErrorCode.SEND_HOLD_TIMER_EXPIRED ? name : `${name}/Unspecific`;
  return `${name}/${SUBCODE_NAMES[code]?.[subcode] ?? `Unknown subcode ${subcode}`}`;
}

export const MAX_SHUTDOWN_COMMUNICATION = 255;

/** RFC 9003 data for Cease/2 or Cease/4: length octet + UTF-8, cut at a character boundary to fit 255. */
export function encodeShutdownCommunication(text: string): Uint8Array {
  let bytes = new TextEncoder().encode(text);
  if (bytes.length > MAX_SHUTDOWN_COMMUNICATION) {
    let cut = MAX_SHUTDOWN_COMMUNICATION;
    while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--; // do not split a code point
    bytes = bytes.subarray(0, cut);
  }
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

/**
 * The shutdown communication in a Cease/2 or Cease/4 NOTIFICATION's data, or undefined when
 * there is none or it is malformed (length past the data, or not valid UTF-8): never throws.
 */
export function decodeShutdownCommunication(msg: NotificationMessage): string | undefined {
  if (msg.code !== ErrorCode.CEASE) return undefined;
  if (msg.subcode !== CeaseSubcode.ADMINISTRATIVE_SHUTDOWN && msg.subcode !== CeaseSubcode.ADMINISTRATIVE_RESET) return undefined;
  const len = msg.data[0];
  if (len === undefined || len === 0 || 1 + len > msg.data.length) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(msg.data.subarray(1, 1 + len));
  } catch {
    return undefined;
  }
}
