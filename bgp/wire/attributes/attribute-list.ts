/**
 * The generic path-attribute driver (RFC 4271 §4.3/§6.3, RFC 7606 §3-§4): walks the attribute
 * list once, bounds every attribute by the Total Path Attribute Length, rejects or discards
 * duplicates, checks Optional/Transitive flags against the row, keeps unknown optional
 * transitive attributes (dropping non-transitive ones) and treats the UPDATE as withdraw on an
 * unknown well-known one (3/2 logged, as BIRD). Session-reset problems are thrown; weaker ones are collected in `problems`.
 */
import { BgpWireError, ErrorCode, UpdateSubcode } from '../errors.js';
import { Reader } from '../reader.js';
import { AttrFlag, AttrType, type CodecContext, type UnknownAttribute } from '../types.js';
import type { Writer } from '../writer.js';
import type { AttrDecodeState, AttrEncodeInput, AttributeCodec } from './attribute-codec.js';
import { mergeAs4 } from './as4-merge.js';
import { attributeCodec, attributeName, ATTRIBUTE_CODECS } from './table.js';

/** How a sender laid out its attributes: order and the flags octet as received. */
export interface AttributeLayoutEntry {
  readonly typeCode: number;
  readonly flags: number;
}

const OT_MASK = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;
const MP_CODECS = ATTRIBUTE_CODECS.filter((r) => isMp(r.typeCode));
const NON_MP_CODECS = ATTRIBUTE_CODECS.filter((r) => !isMp(r.typeCode));

const underflow = (need: number, have: number) => new BgpWireError(ErrorCode.UPDATE_MESSAGE,
  UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `attribute value truncated: needed ${need} byte(s), ${have} left`,
  { action: 'treat-as-withdraw' });

function withData(e: BgpWireError, raw: Uint8Array): BgpWireError {
  if (e.data.length > 0) return e;
  return new BgpWireError(e.code, e.subcode, e.message, {
    data: raw.slice(), action: e.action, ...(e.afiSafi === undefined ? {} : { afiSafi: e.afiSafi }),
  });
}

function isMp(type: number): boolean {
  return type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI;
}

/**
 * Decode the attributes in `buf[start, end)`. Throws BgpWireError for session-reset cases;
 * `layout`, when given, receives the order and flags of the attributes kept.
 */
export function decodeAttributeList(buf: Uint8Array, start: number, end: number, ctx: CodecContext,
  layout?: AttributeLayoutEntry[]): AttrDecodeState {
  const st: AttrDecodeState = { ctx, attrs: {}, unknown: [], problems: [] };
  // Type codes already met: bitmasks for 0-63, a Set beyond (rare).
  let seenLo = 0, seenHi = 0;
  let seenMore: Set<number> | undefined;
  const r = new Reader(buf, start, end, underflow);
  let partial: number[] | undefined;
  let p = start;
  while (p < end) {
    if (end - p < 3) {
      st.problems.push(new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        `attribute header truncated at octet ${p - start} of the attribute list`, { action: 'treat-as-withdraw', data: buf.slice(p, end) }));
      break;
    }
    const flags = buf[p] as number;
    const type = buf[p + 1] as number;
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    const hlen = ext ? 4 : 3;
    if (end - p < hlen) {
      st.problems.push(new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        `${attributeName(type)}: attribute header truncated`, { action: isMp(type) ? 'session-reset' : 'treat-as-withdraw', data: buf.slice(p, end) }));
      if (isMp(type)) throw st.problems.pop() as BgpWireError;
      break;
    }
    const len = ext ? (((buf[p + 2] as number) << 8) | (buf[p + 3] as number)) : (buf[p + 2] as number);
    const vstart = p + hlen, vend = vstart + len;
    if (vend > end) {
      // RFC 7606 §4: the NLRI can still be located through the total length → TaW. An MP
      // attribute carries NLRI itself, so an overrun there is a session reset.
      const e = new BgpWireError(ErrorCode.UPDATE_MESSAGE, isMp(type) ? UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR : UpdateSubcode.ATTRIBUTE_LENGTH_ERROR,
        `${attributeName(type)}: length ${len} overruns the attribute list by ${vend - end} byte(s)`,
        { action: isMp(type) ? 'session-reset' : 'treat-as-withdraw', data: buf.slice(p, end) });
      if (isMp(type)) throw e;
      st.problems.push(e);
      break;
    }
    const raw = buf.subarray(p, vend);
    p = vend;
    const bit = 1 << (type & 31);
    const dup = type < 32 ? (seenLo & bit) !== 0 : type < 64 ? (seenHi & bit) !== 0 : (seenMore?.has(type) ?? false);
    if (dup) {
      const e = new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        `${attributeName(type)}: duplicate attribute${isMp(type) ? '' : ', the first one is kept'}`,
        { action: isMp(type) ? 'session-reset' : 'attribute-discard', data: raw.slice() });
      if (isMp(type)) throw e;
      st.problems.push(e);
      continue;
    }
    if (type < 32) seenLo |= bit; else if (type < 64) seenHi |= bit; else (seenMore ??= new Set()).add(type);
    const row = attributeCodec(type);
    if (row === undefined) {
      decodeUnknown(st, flags, type, raw, hlen, layout);
      continue;
    }
    if ((flags & OT_MASK) !== row.flags) {
      const e = new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
        `${row.name}: flags 0x${flags.toString(16)} conflict with the attribute's Optional/Transitive bits 0x${row.flags.toString(16)}`,
        { action: row.malformedAction(ctx), data: raw.slice() });
      if (e.action === 'session-reset') throw e;
      st.problems.push(e);
      continue;
    }
    try {
      row.decode(r.reset(vstart, vend), st);
    } catch (err) {
      const e = err instanceof BgpWireError ? withData(err, raw)
        : new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
          `${row.name}: ${err instanceof Error ? err.message : String(err)}`, { action: row.malformedAction(ctx), data: raw.slice(), cause: err });
      if (e.action === 'session-reset') throw e;
      st.problems.push(e);
      continue;
    }
    if ((flags & AttrFlag.PARTIAL) !== 0 && row.flags === OT_MASK && type !== AttrType.AS4_PATH && type !== AttrType.AS4_AGGREGATOR) {
      (partial ??= []).push(type);
    }
    layout?.push({ typeCode: type, flags });
  }
  if (partial !== undefined) st.attrs.partial = partial;
  if (!ctx.fourOctetAs) mergeAs4(st);
  return st;
}

function decodeUnknown(st: AttrDecodeState, flags: number, type: number, raw: Uint8Array, hlen: number,
  layout: AttributeLayoutEntry[] | undefined): void {
  if ((flags & AttrFlag.OPTIONAL) === 0) {
    // RFC 4271 names this 3/2, but a reset for one attribute is what RFC 7606 §2 argues
    // against; like BIRD (attrs.c, "unknown attribute with Optional bit 0") the UPDATE is
    // treated as withdraw, and the problem keeps the 3/2 code for the log.
    st.problems.push(new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
      `unrecognized well-known attribute type ${type} (Optional bit clear): treated as withdraw`,
      { action: 'treat-as-withdraw', data: raw.slice() }));
    return;
  }
  if ((flags & AttrFlag.TRANSITIVE) === 0) return; // optional non-transitive: quietly not kept
  const u: UnknownAttribute = { typeCode: type, flags: flags & (OT_MASK | AttrFlag.PARTIAL), value: raw.slice(hlen) };
  st.unknown.push(u);
  layout?.push({ typeCode: type, flags });
}

/**
 * Encode the attributes of `input` for a peer under `ctx`. With `layout`, attributes listed
 * there come first in that order with that Extended Length choice and Partial bit (so a
 * received UPDATE re-encodes byte for byte); then MP_REACH/MP_UNREACH (RFC 7606 §5.1), then
 * the rest in type-code order.
 */
export function encodeAttributeList(w: Writer, input: AttrEncodeInput, ctx: CodecContext,
  layout?: readonly AttributeLayoutEntry[]): void {
  const unknown = input.attributes.unknown ?? [];
  let done: Set<number> | undefined;
  if (layout !== undefined && layout.length > 0) {
    done = new Set();
    for (const entry of layout) {
      if (done.has(entry.typeCode)) continue;
      const row = attributeCodec(entry.typeCode);
      if (row !== undefined) {
        if (!row.present(input, ctx)) continue;
        writeKnown(w, row, input, ctx, entry.flags);
      } else {
        const u = unknown.find((x) => x.typeCode === entry.typeCode);
        if (u === undefined) continue;
        writeUnknown(w, u, entry.flags);
      }
      done.add(entry.typeCode);
    }
  }
  // RFC 7606 §5.1: MP_REACH_NLRI / MP_UNREACH_NLRI SHOULD come first; the rest ascend by type code.
  for (const row of MP_CODECS) {
    if (done?.has(row.typeCode) || !row.present(input, ctx)) continue;
    writeKnown(w, row, input, ctx, undefined);
  }
  let ui = 0;
  const sortedUnknown = unknown.length > 1 ? [...unknown].sort((a, b) => a.typeCode - b.typeCode) : unknown;
  for (const row of NON_MP_CODECS) {
    while (ui < sortedUnknown.length && (sortedUnknown[ui] as UnknownAttribute).typeCode < row.typeCode) {
      const u = sortedUnknown[ui++] as UnknownAttribute;
      if (!done?.has(u.typeCode)) writeUnknown(w, u, undefined);
    }
    if (done?.has(row.typeCode) || !row.present(input, ctx)) continue;
    writeKnown(w, row, input, ctx, undefined);
  }
  while (ui < sortedUnknown.length) {
    const u = sortedUnknown[ui++] as UnknownAttribute;
    if (!done?.has(u.typeCode)) writeUnknown(w, u, undefined);
  }
}

function writeKnown(w: Writer, row: AttributeCodec, input: AttrEncodeInput, ctx: CodecContext,
  layoutFlags: number | undefined): void {
  const forceExt = layoutFlags !== undefined && (layoutFlags & AttrFlag.EXTENDED_LENGTH) !== 0;
  const partial = (row.flags & AttrFlag.OPTIONAL) === 0 ? 0
    : layoutFlags !== undefined ? layoutFlags & AttrFlag.PARTIAL
      : input.attributes.partial?.includes(row.typeCode) === true && (row.flags & AttrFlag.TRANSITIVE) !== 0 ? AttrFlag.PARTIAL : 0;
  const at = w.length;
  w.u8(row.flags | partial).u8(row.typeCode);
  const lenAt = w.length;
  if (forceExt) w.u16(0); else w.u8(0);
  const vstart = w.length;
  row.encode(input, ctx, w);
  finishHeader(w, at, lenAt, vstart, forceExt);
}

function writeUnknown(w: Writer, u: UnknownAttribute, layoutFlags: number | undefined): void {
  const forceExt = layoutFlags !== undefined && (layoutFlags & AttrFlag.EXTENDED_LENGTH) !== 0;
  // RFC 4271 §5: an unrecognized optional transitive attribute is passed on with Partial set.
  const flags = ((u.flags & OT_MASK) | AttrFlag.PARTIAL) & ~AttrFlag.EXTENDED_LENGTH;
  const at = w.length;
  w.u8(flags).u8(u.typeCode);
  const lenAt = w.length;
  if (forceExt) w.u16(0); else w.u8(0);
  const vstart = w.length;
  w.bytes(u.value);
  finishHeader(w, at, lenAt, vstart, forceExt);
}

function finishHeader(w: Writer, flagsAt: number, lenAt: number, vstart: number, ext: boolean): void {
  const len = w.length - vstart;
  if (!ext && len > 255) {
    w.insertGap(lenAt, 1);
    ext = true;
  }
  if (ext) {
    w.patchU8(flagsAt, (w.view(flagsAt, flagsAt + 1)[0] as number) | AttrFlag.EXTENDED_LENGTH);
    w.patchU16(lenAt, len);
  } else {
    w.patchU8(lenAt, len);
  }
}
