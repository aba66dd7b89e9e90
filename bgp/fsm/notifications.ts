/**
 * NOTIFICATION constructors used by the FSM: plain code/subcode/data, Cease with an RFC 9003
 * shutdown communication (the codec is bgp/wire/notification.ts: one length octet, then at most
 * 255 octets of UTF-8; invalid UTF-8 is not shown), the RFC 8538 Hard Reset wrap, and BIRD-worded
 * text for logs and `show protocols`.
 */
import { CeaseSubcode, ErrorCode } from '../wire/errors.js';
import { decodeShutdownCommunication, encodeShutdownCommunication } from '../wire/notification.js';
import type { NotificationMessage } from '../wire/types.js';

export function notification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): NotificationMessage {
  return { type: 'notification', code, subcode, data };
}

/** Cease with `subcode`; a message is attached only where RFC 9003 allows it (subcodes 2 and 4). */
export function shutdownNotification(subcode: number, message?: string): NotificationMessage {
  const withText = message !== undefined && message !== ''
    && (subcode === CeaseSubcode.ADMINISTRATIVE_SHUTDOWN || subcode === CeaseSubcode.ADMINISTRATIVE_RESET);
  return notification(ErrorCode.CEASE, subcode, withText ? encodeShutdownCommunication(message) : new Uint8Array(0));
}

const TEXT: Readonly<Record<number, readonly [string, Readonly<Record<number, string>>]>> = {
  1: ['Message header error', { 1: 'Connection not synchronized', 2: 'Bad message length', 3: 'Bad message type' }],
  2: ['OPEN message error', { 1: 'Unsupported version number', 2: 'Bad peer AS', 3: 'Bad BGP identifier', 4: 'Unsupported optional parameter', 6: 'Unacceptable hold time', 7: 'Unsupported capability', 11: 'Role mismatch' }],
  3: ['UPDATE message error', { 1: 'Malformed attribute list', 2: 'Unrecognized well-known attribute', 3: 'Missing mandatory attribute', 4: 'Invalid attribute flags', 5: 'Invalid attribute length', 6: 'Invalid ORIGIN attribute', 8: 'Invalid NEXT_HOP attribute', 9: 'Optional attribute error', 10: 'Invalid network field', 11: 'Malformed AS_PATH' }],
  4: ['Hold timer expired', {}],
  5: ['Finite state machine error', { 1: 'Unexpected message in OpenSent state', 2: 'Unexpected message in OpenConfirm state', 3: 'Unexpected message in Established state' }],
  6: ['Cease', { 1: 'Maximum number of prefixes reached', 2: 'Administrative shutdown', 3: 'Peer de-configured', 4: 'Administrative reset', 5: 'Connection rejected', 6: 'Other configuration change', 7: 'Connection collision resolution', 8: 'Out of resources', 9: 'Hard reset', 10: 'BFD down' }],
  7: ['ROUTE-REFRESH message error', { 1: 'Invalid message length' }],
  8: ['Send hold timer expired', {}],
};

/** Human text in BIRD's words ("Bad peer AS", "Administrative shutdown"), plus any RFC 9003 message. */
export function notificationText(n: NotificationMessage): string {
  if (n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET && n.data.length >= 2) {
    // RFC 8538 §3: the data is the NOTIFICATION the hard reset stands for
    return `Hard reset: ${notificationText(notification(n.data[0]!, n.data[1]!, n.data.subarray(2)))}`;
  }
  const entry = TEXT[n.code];
  let base: string;
  if (entry === undefined) base = `Unknown error code ${n.code}/${n.subcode}`;
  else base = entry[1][n.subcode] ?? (Object.keys(entry[1]).length === 0 || n.subcode === 0 ? entry[0] : `${entry[0]} (subcode ${n.subcode})`);
  const msg = decodeShutdownCommunication(n);
  return msg === undefined ? base : `${base}: "${msg}"`;
}

/**
 * Cease subcodes sent as Cease/Hard Reset once the N bit is negotiated (RFC 8538 §5.1, as FRR
 * does with its default hard administrative reset): the peer must flush our routes rather than
 * keep them stale. The others (connection rejected, other configuration change, collision, out
 * of resources) keep graceful restart.
 */
const HARD_RESET_CEASE: ReadonlySet<number> = new Set([
  CeaseSubcode.MAX_PREFIXES, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.PEER_DECONFIGURED,
  CeaseSubcode.ADMINISTRATIVE_RESET, CeaseSubcode.BFD_DOWN,
]);

/** The NOTIFICATION to send on a session with the N bit negotiated: Cease/9 carrying the original code, subcode and data (RFC 8538 §3). */
export function hardResetWrap(n: NotificationMessage): NotificationMessage {
  if (n.code !== ErrorCode.CEASE || !HARD_RESET_CEASE.has(n.subcode)) return n;
  const data = new Uint8Array(2 + n.data.length);
  data[0] = n.code; data[1] = n.subcode; data.set(n.data, 2);
  return notification(ErrorCode.CEASE, CeaseSubcode.HARD_RESET, data);
}
