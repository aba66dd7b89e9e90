/**
 * OPEN message (RFC 4271 §4.2, §6.2), optional parameters per RFC 5492 (type 2 = capabilities)
 * and RFC 9072 (extended optional parameters length).
 *
 *   +---------+---------------+-----------+------------------+---------------+----------
 *   | Version | My AS (2)     | Hold (2)  | BGP Identifier(4)| Opt Parm Len  | Params...
 *   +---------+---------------+-----------+------------------+---------------+----------
 *   RFC 9072: Opt Parm Len 255 + first param type 255 → a 2-octet length follows, and each
 *   parameter then has a 2-octet length.
 *
 * Checks here: version 4 (2/1, data = 0x0004), hold time 0 or ≥ 3 (2/6), BGP Identifier ≠ 0
 * (2/3), My AS ≠ 0 (2/2, RFC 7607), parameter type 2 only (2/4), lengths (2/0 unspecific).
 * The peer-AS check against configuration belongs to the session.
 */
import { BgpWireError, ErrorCode, OpenSubcode } from './errors.js';
import { decodeCapabilities, encodeCapability } from './capabilities.js';
import { checkWholeMessage } from './header.js';
import { Reader } from './reader.js';
import { HEADER_LENGTH, INITIAL_CONTEXT, MessageType, type Capability, type CodecContext, type OpenMessage } from './types.js';
import { Writer } from './writer.js';

/** An OPEN as decoded; `capabilityParams` (only with preserveLayout) counts capabilities per optional parameter. */
export type DecodedOpenMessage = OpenMessage & {
  readonly capabilityParams?: readonly number[];
  readonly extendedParams?: boolean;
};

const openUnderflow = (need: number, have: number) => new BgpWireError(ErrorCode.OPEN_MESSAGE, 0,
  `OPEN truncated: needed ${need} byte(s), ${have} left`);

/** Decode a whole OPEN message (header included). The context is accepted for symmetry; OPENs do not depend on it. */
export function decodeOpen(bytes: Uint8Array, _ctx: CodecContext = INITIAL_CONTEXT,
  options: { preserveLayout?: boolean } = {}): DecodedOpenMessage {
  checkWholeMessage(bytes, MessageType.OPEN, _ctx);
  return decodeOpenBody(bytes, HEADER_LENGTH, bytes.length, options);
}

export function decodeOpenBody(buf: Uint8Array, start: number, end: number,
  options: { preserveLayout?: boolean } = {}): DecodedOpenMessage {
  const r = new Reader(buf, start, end, openUnderflow);
  const version = r.u8();
  if (version !== 4) {
    throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION,
      `unsupported BGP version ${version} (we speak 4)`, { data: Uint8Array.of(0, 4) });
  }
  const myAs = r.u16();
  const holdTime = r.u16();
  const bgpId = r.u32();
  if (holdTime === 1 || holdTime === 2) {
    throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME, `unacceptable hold time ${holdTime} (must be 0 or at least 3)`);
  }
  if (bgpId === 0) throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER, 'BGP Identifier 0.0.0.0 is invalid');
  if (myAs === 0) throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS, 'My Autonomous System 0 is invalid (RFC 7607)');
  let optLen = r.u8();
  let extended = false;
  if (optLen === 255 && r.remaining >= 1 && buf[r.pos] === 255) {
    r.u8();
    optLen = r.u16();
    extended = true;
  }
  if (optLen !== r.remaining) {
    throw new BgpWireError(ErrorCode.OPEN_MESSAGE, 0, `optional parameters length ${optLen} does not match the ${r.remaining} byte(s) left in the OPEN`);
  }
  const capabilities: Capability[] = [];
  const perParam: number[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    const len = extended ? r.u16() : r.u8();
    if (len > r.remaining) throw new BgpWireError(ErrorCode.OPEN_MESSAGE, 0, `optional parameter ${type} length ${len} overruns the OPEN`);
    if (type !== 2) {
      throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER,
        `unsupported optional parameter type ${type}`, { data: Uint8Array.of(type) });
    }
    const before = capabilities.length;
    decodeCapabilities(r.sub(len), capabilities);
    perParam.push(capabilities.length - before);
  }
  const msg: DecodedOpenMessage = { type: 'open', version, myAs, holdTime, bgpId, capabilities };
  if (!options.preserveLayout) return msg;
  return { ...msg, capabilityParams: perParam, ...(extended ? { extendedParams: true } : {}) };
}

/**
 * Encode an OPEN (header included). Capabilities go in one optional parameter (several if they
 * exceed 255 bytes; RFC 9072 extended form if all of them exceed 255), or grouped as
 * `capabilityParams` says.
 */
export function encodeOpen(msg: OpenMessage & { readonly capabilityParams?: readonly number[]; readonly extendedParams?: boolean },
  _ctx: CodecContext = INITIAL_CONTEXT): Uint8Array {
  const caps = msg.capabilities.map((c) => { const w = new Writer(16); encodeCapability(w, c); return w.finish(); });
  let groups: Uint8Array[][];
  if (msg.capabilityParams !== undefined) {
    groups = [];
    let i = 0;
    for (const n of msg.capabilityParams) { groups.push(caps.slice(i, i + n)); i += n; }
    if (i < caps.length) groups.push(caps.slice(i));
  } else {
    groups = [];
    let cur: Uint8Array[] = [], size = 0;
    for (const c of caps) {
      if (size + c.length > 255 && cur.length > 0) { groups.push(cur); cur = []; size = 0; }
      cur.push(c); size += c.length;
    }
    if (cur.length > 0) groups.push(cur);
  }
  const params = groups.map((g) => g.reduce((n, c) => n + c.length, 0));
  const extended = msg.extendedParams === true || params.some((n) => n > 255)
    || params.reduce((n, p) => n + p + 2, 0) > 255;
  const w = new Writer(64);
  w.fill(0xff, 16).u16(0).u8(MessageType.OPEN);
  w.u8(msg.version).u16(msg.myAs).u16(msg.holdTime).u32(msg.bgpId);
  if (extended) w.u8(255).u8(255).u16(0); else w.u8(0);
  const optStart = w.length;
  groups.forEach((g, i) => {
    w.u8(2);
    if (extended) w.u16(params[i] ?? 0); else w.u8(params[i] ?? 0);
    for (const c of g) w.bytes(c);
  });
  const optLen = w.length - optStart;
  if (extended) w.patchU16(optStart - 2, optLen); else w.patchU8(optStart - 1, optLen);
  w.patchU16(16, w.length);
  return w.finish();
}

/** The peer's real AS: the 4-octet AS capability when present, else My Autonomous System. */
export function openPeerAs(open: OpenMessage): number {
  for (const c of open.capabilities) if (c.type === 'four-octet-as') return c.asn;
  return open.myAs;
}
