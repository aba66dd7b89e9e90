/**
 * UPDATE message (RFC 4271 §4.3) with RFC 7606 error handling.
 *
 *   +-----------------------------------------------------+
 *   |   Withdrawn Routes Length (2 octets)                |
 *   |   Withdrawn Routes (variable)                       |
 *   |   Total Path Attribute Length (2 octets)            |
 *   |   Path Attributes (variable)                        |
 *   |   Network Layer Reachability Information (variable) |
 *   +-----------------------------------------------------+
 *
 * Withdrawn or attribute length past the message, or unparseable IPv4 NLRI → 3/1 or 3/10 reset.
 * Missing ORIGIN/AS_PATH (and NEXT_HOP with IPv4 NLRI) when NLRI are present → TaW (3/3).
 * Our reading of RFC 7606 §5.2 (BIRD's): a treat-as-withdraw error in an UPDATE that carries
 * no reachable NLRI at all becomes a session reset.
 */
import { BgpWireError, ErrorCode, UpdateSubcode, strongerAction, type ErrorAction } from './errors.js';
import { encodeAttributeList, decodeAttributeList, type AttributeLayoutEntry } from './attributes/attribute-list.js';
import { isMartianNextHop } from './attributes/next-hop.js';
import type { Mutable } from './attributes/attribute-codec.js';
import { HEADER_LENGTH, MessageType, afiSafiKey, type CodecContext, type PathAttributes, type UpdateMessage } from './types.js';
import { decodeNlri, decodeNlriV4, encodeNlri, encodeNlriV4, NO_IPV4_PREFIXES } from './nlri.js';
import { checkWholeMessage, maxMessageLength } from './header.js';
import { Writer } from './writer.js';

const IPV4_UNICAST = afiSafiKey(1, 1);

export interface DecodeOptions {
  /** Record the attribute order and flags (`attributeLayout`) so re-encoding is byte-exact. */
  readonly preserveLayout?: boolean;
  /**
   * Decode the classic IPv4 fields (without ADD-PATH) into `compact4` (two typed arrays each)
   * instead of an Nlri object per prefix; `withdrawn` and `nlri` are then empty. For a receiver
   * that handles compact4 (the speaker); same checks and errors either way.
   */
  readonly compactIpv4?: boolean;
}

/** An UPDATE as decoded, with the sender's attribute layout when asked for. */
export type DecodedUpdateMessage = UpdateMessage & { readonly attributeLayout?: readonly AttributeLayoutEntry[] };

export interface DecodedUpdate {
  readonly message: DecodedUpdateMessage;
  /** The strongest RFC 7606 action among `problems` (never 'session-reset': that throws). */
  readonly action?: ErrorAction;
  readonly problems: readonly BgpWireError[];
}

/** Decode the UPDATE body in `buf[start, end)` (after the 19-byte header). */
export function decodeUpdateBody(buf: Uint8Array, start: number, end: number, ctx: CodecContext,
  options: DecodeOptions = {}): DecodedUpdate {
  const bodyLen = end - start;
  if (bodyLen < 4) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `UPDATE body of ${bodyLen} bytes is too short`);
  const wl = ((buf[start] as number) << 8) | (buf[start + 1] as number);
  if (2 + wl + 2 > bodyLen) {
    throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      `withdrawn routes length ${wl} runs past the message (${bodyLen - 4} bytes available)`);
  }
  const addPath4 = ctx.addPathReceive.has(IPV4_UNICAST);
  const compact = options.compactIpv4 === true;
  const withdrawn = wl === 0 || compact ? [] : decodeNlri(buf, start + 2, start + 2 + wl, 4, addPath4, UpdateSubcode.INVALID_NETWORK_FIELD, 'withdrawn routes');
  const withdrawn4 = compact ? decodeNlriV4(buf, start + 2, start + 2 + wl, UpdateSubcode.INVALID_NETWORK_FIELD, 'withdrawn routes', addPath4) : NO_IPV4_PREFIXES;
  const aStart = start + 2 + wl + 2;
  const al = ((buf[aStart - 2] as number) << 8) | (buf[aStart - 1] as number);
  if (aStart + al > end) {
    throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
      `total path attribute length ${al} runs past the message (${end - aStart} bytes available)`);
  }
  const layout: AttributeLayoutEntry[] | undefined = options.preserveLayout ? [] : undefined;
  const st = decodeAttributeList(buf, aStart, aStart + al, ctx, layout);
  const nlri = aStart + al === end || compact ? [] : decodeNlri(buf, aStart + al, end, 4, addPath4, UpdateSubcode.INVALID_NETWORK_FIELD, 'NLRI');
  const nlri4 = compact ? decodeNlriV4(buf, aStart + al, end, UpdateSubcode.INVALID_NETWORK_FIELD, 'NLRI', addPath4) : NO_IPV4_PREFIXES;
  const nNlri = nlri.length + nlri4.length;
  const attrs = st.attrs;
  if (st.unknown.length > 0) attrs.unknown = st.unknown;
  const problems = st.problems;
  const reach = nNlri > 0 || (st.mpReach !== undefined && st.mpReach.nlri.length > 0);
  if (reach) {
    const missing: number[] = [];
    if (attrs.origin === undefined && !hasProblemFor(problems, 1)) missing.push(1);
    if (attrs.asPath === undefined && !hasProblemFor(problems, 2)) missing.push(2);
    if (nNlri > 0 && attrs.nextHop === undefined && !hasProblemFor(problems, 3)) missing.push(3);
    for (const t of missing) {
      problems.push(new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
        `missing well-known mandatory attribute ${t === 1 ? 'ORIGIN' : t === 2 ? 'AS_PATH' : 'NEXT_HOP'}`,
        { action: 'treat-as-withdraw', data: Uint8Array.of(t) }));
    }
    if (nNlri > 0 && attrs.nextHop !== undefined && isMartianNextHop(attrs.nextHop)) {
      problems.push(new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NEXT_HOP,
        `NEXT_HOP ${attrs.nextHop.join('.')} is not a valid unicast address`,
        { action: 'treat-as-withdraw', data: Uint8Array.of(0x40, 3, 4, ...attrs.nextHop) }));
    }
  }
  let action: ErrorAction | undefined;
  for (const p of problems) action = action === undefined ? p.action : strongerAction(action, p.action);
  if (action === 'treat-as-withdraw' && !reach) {
    const first = problems.find((p) => p.action === 'treat-as-withdraw') as BgpWireError;
    throw new BgpWireError(first.code, first.subcode,
      `${first.message} (in an UPDATE without reachable NLRI: session reset, RFC 7606 §5.2)`, { data: first.data });
  }
  let mpReach = st.mpReach, mpUnreach = st.mpUnreach;
  if (action === 'afi-safi-disable') for (const p of problems) {
    if (p.action !== 'afi-safi-disable' || p.afiSafi === undefined) continue;
    if (mpReach !== undefined && mpReach.afi === p.afiSafi.afi && mpReach.safi === p.afiSafi.safi) mpReach = undefined;
    if (mpUnreach !== undefined && mpUnreach.afi === p.afiSafi.afi && mpUnreach.safi === p.afiSafi.safi) mpUnreach = undefined;
  }
  const message: Mutable<DecodedUpdateMessage> = { type: 'update', withdrawn, attributes: attrs as PathAttributes, nlri };
  if (compact) message.compact4 = { withdrawn: withdrawn4, nlri: nlri4 };
  if (mpReach !== undefined) message.mpReach = mpReach;
  if (mpUnreach !== undefined) message.mpUnreach = mpUnreach;
  if (layout !== undefined) message.attributeLayout = layout;
  return action === undefined ? { message, problems } : { message, action, problems };
}

function hasProblemFor(problems: readonly BgpWireError[], typeCode: number): boolean {
  // A present-but-malformed attribute already produced its own problem: do not also call it missing.
  return problems.some((p) => p.data.length >= 2 && p.data[1] === typeCode && p.subcode !== UpdateSubcode.MALFORMED_ATTRIBUTE_LIST);
}

/** Decode a whole UPDATE message (header included). */
export function decodeUpdate(bytes: Uint8Array, ctx: CodecContext, options: DecodeOptions = {}): DecodedUpdate {
  checkWholeMessage(bytes, MessageType.UPDATE, ctx);
  return decodeUpdateBody(bytes, HEADER_LENGTH, bytes.length, ctx, options);
}

/** Encode an UPDATE (header included). Throws BgpWireError 1/2 if it exceeds the peer's maximum. */
export function encodeUpdate(msg: UpdateMessage & { readonly attributeLayout?: readonly AttributeLayoutEntry[] },
  ctx: CodecContext): Uint8Array {
  const w = new Writer(512);
  w.fill(0xff, 16).u16(0).u8(MessageType.UPDATE);
  const addPath4 = ctx.addPathSend.has(IPV4_UNICAST);
  const wlAt = w.length;
  w.u16(0);
  encodeNlri(w, msg.withdrawn, addPath4);
  if (msg.compact4) encodeNlriV4(w, msg.compact4.withdrawn, addPath4);
  w.patchU16(wlAt, w.length - wlAt - 2);
  const alAt = w.length;
  w.u16(0);
  encodeAttributeList(w, { attributes: msg.attributes, mpReach: msg.mpReach, mpUnreach: msg.mpUnreach }, ctx, msg.attributeLayout);
  w.patchU16(alAt, w.length - alAt - 2);
  encodeNlri(w, msg.nlri, addPath4);
  if (msg.compact4) encodeNlriV4(w, msg.compact4.nlri, addPath4);
  const max = maxMessageLength(MessageType.UPDATE, ctx);
  if (w.length > max) {
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, 2, `UPDATE of ${w.length} bytes exceeds the maximum ${max}`);
  }
  w.patchU16(16, w.length);
  return w.finish();
}
