/**
 * Bulk UPDATE encoding for the speaker's Adj-RIB-Out: one attribute set, many NLRI, packed into
 * as few UPDATEs as the peer's maximum message size allows (4096, or 65535 with RFC 8654).
 * The attribute block is encoded once and copied into each message; NLRI are written straight
 * into an exactly sized buffer. IPv4 unicast uses the classic NEXT_HOP/NLRI fields unless
 * `viaMpReach` is set; every other family uses MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760),
 * placed first among the attributes (RFC 7606 §5.1). End-of-RIB per RFC 4724 §2.
 *
 *   attrs ──encode once──► block ─┐
 *   nlri ──size/pack──────────────┴─► [UPDATE ≤ max] × n
 */
import { BgpWireError, ErrorCode } from './errors.js';
import { encodeAttributeList } from './attributes/attribute-list.js';
import { maxMessageLength, writeHeader } from './header.js';
import { nlriSize, putNlri } from './nlri.js';
import {
  AttrFlag, AttrType, HEADER_LENGTH, MessageType, afiSafiKey,
  type AfiSafi, type CodecContext, type Nlri, type PathAttributes, type UpdateMessage,
} from './types.js';
import { Writer } from './writer.js';

export interface EncodeUpdatesOptions {
  /** Send IPv4 unicast in MP_REACH_NLRI instead of the classic fields (e.g. RFC 8950 next hop). */
  readonly viaMpReach?: boolean;
}

function isClassic(family: AfiSafi, options: EncodeUpdatesOptions): boolean {
  return family.afi === 1 && family.safi === 1 && options.viaMpReach !== true;
}

function tooBig(what: string, max: number): BgpWireError {
  return new BgpWireError(ErrorCode.MESSAGE_HEADER, 2, `${what} does not fit a ${max}-byte UPDATE`);
}

/**
 * An attribute set encoded once for a family, next hop(s) and session: the RIB-Out can keep one
 * per interned attribute set and call `encodePreparedUpdates` for each batch of prefixes.
 */
export interface PreparedAttributes {
  readonly family: AfiSafi;
  readonly classic: boolean;
  readonly addPath: boolean;
  readonly max: number;
  /** Encoded attributes (classic NEXT_HOP included; MP_REACH not). */
  readonly block: Uint8Array;
  readonly nextHops: readonly Uint8Array[];
  readonly nextHopLength: number;
}

export function prepareAttributes(family: AfiSafi, attrs: PathAttributes, nextHops: Uint8Array | readonly Uint8Array[],
  ctx: CodecContext, options: EncodeUpdatesOptions = {}): PreparedAttributes {
  const hops: readonly Uint8Array[] = nextHops instanceof Uint8Array ? [nextHops] : nextHops;
  const classic = isClassic(family, options);
  const w = new Writer(128);
  if (classic) {
    const nh = hops[0];
    if (nh === undefined || nh.length !== 4) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, 8, 'IPv4 unicast needs a 4-byte next hop');
    encodeAttributeList(w, { attributes: attrs, nextHop: nh }, ctx);
  } else {
    encodeAttributeList(w, { attributes: attrs, nextHop: null }, ctx);
  }
  let nhLen = 0;
  for (const h of hops) nhLen += h.length;
  return {
    family, classic, addPath: ctx.addPathSend.has(afiSafiKey(family.afi, family.safi)),
    max: maxMessageLength(MessageType.UPDATE, ctx), block: w.finish(), nextHops: hops, nextHopLength: nhLen,
  };
}

/**
 * Announce `nlri` of `family` with `attrs` and next hop(s): 4 bytes for classic IPv4, or the
 * global (+ link-local) address for MP_REACH. Returns whole UPDATE messages.
 */
export function encodeUpdates(family: AfiSafi, attrs: PathAttributes, nlri: readonly Nlri[],
  nextHops: Uint8Array | readonly Uint8Array[], ctx: CodecContext, options: EncodeUpdatesOptions = {}): Uint8Array[] {
  return encodePreparedUpdates(prepareAttributes(family, attrs, nextHops, ctx, options), nlri);
}

/** Pack `nlri` behind a prepared attribute set into as few UPDATEs as fit. */
export function encodePreparedUpdates(prep: PreparedAttributes, nlri: readonly Nlri[]): Uint8Array[] {
  const { classic, addPath, max, block, nextHopLength: nhLen } = prep;
  // MP_REACH header: flags, type, 2-byte length, AFI, SAFI, NH len, NH, reserved.
  const mpFixed = classic ? 0 : 4 + 3 + 1 + nhLen + 1;
  const fixed = HEADER_LENGTH + 2 + 2 + block.length + mpFixed;
  const room = max - fixed;
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < nlri.length) {
    let size = 0, j = i;
    while (j < nlri.length) {
      const s = nlriSize(nlri[j] as Nlri, addPath);
      if (size + s > room) break;
      size += s; j++;
    }
    if (j === i) throw tooBig('the path attributes plus one prefix', max);
    const m = new Uint8Array(fixed + size);
    let p = writePreparedFrame(m, 0, prep, size);
    for (let k = i; k < j; k++) p = putNlri(m, p, nlri[k] as Nlri, addPath);
    out.push(m);
    i = j;
  }
  return out;
}

/**
 * Everything of one announcing UPDATE but its NLRI: header, lengths, then either the attribute
 * block (classic IPv4) or the MP_REACH_NLRI header with the next hops, and the block after the
 * `nlriSize` bytes of NLRI. Returns the offset where the caller writes the NLRI. The message is
 * `preparedOverhead(prep) + nlriSize` bytes from `start` (the speaker's update-group packer
 * shares this with encodePreparedUpdates).
 */
export function writePreparedFrame(m: Uint8Array, start: number, prep: PreparedAttributes, nlriSize: number): number {
  const { family, classic, block, nextHopLength: nhLen } = prep;
  const mpFixed = classic ? 0 : 4 + 3 + 1 + nhLen + 1;
  const len = HEADER_LENGTH + 2 + 2 + block.length + mpFixed + nlriSize;
  writeHeader(m, start, len, MessageType.UPDATE);
  let p = start + HEADER_LENGTH;
  m[p++] = 0; m[p++] = 0; // withdrawn routes length 0 (written: `m` may be a reused buffer)
  const attrLen = block.length + mpFixed + (classic ? 0 : nlriSize);
  m[p++] = attrLen >>> 8; m[p++] = attrLen & 0xff;
  if (classic) { m.set(block, p); return p + block.length; }
  const mpLen = 3 + 1 + nhLen + 1 + nlriSize;
  m[p++] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH; m[p++] = AttrType.MP_REACH_NLRI;
  m[p++] = mpLen >>> 8; m[p++] = mpLen & 0xff;
  m[p++] = family.afi >>> 8; m[p++] = family.afi & 0xff; m[p++] = family.safi; m[p++] = nhLen;
  for (const h of prep.nextHops) { m.set(h, p); p += h.length; }
  m[p++] = 0;
  m.set(block, p + nlriSize);
  return p;
}

/** Bytes of an announcing UPDATE besides its NLRI (see writePreparedFrame). */
export function preparedOverhead(prep: PreparedAttributes): number {
  return HEADER_LENGTH + 2 + 2 + prep.block.length + (prep.classic ? 0 : 4 + 3 + 1 + prep.nextHopLength + 1);
}

/** Withdraw `nlri` of `family`: classic withdrawn field for IPv4 unicast, else MP_UNREACH_NLRI. */
export function encodeWithdraws(family: AfiSafi, nlri: readonly Nlri[], ctx: CodecContext,
  options: EncodeUpdatesOptions = {}): Uint8Array[] {
  const max = maxMessageLength(MessageType.UPDATE, ctx);
  const addPath = ctx.addPathSend.has(afiSafiKey(family.afi, family.safi));
  const classic = isClassic(family, options);
  const fixed = withdrawOverhead(classic);
  const room = max - fixed;
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < nlri.length) {
    let size = 0, j = i;
    while (j < nlri.length) {
      const s = nlriSize(nlri[j] as Nlri, addPath);
      if (size + s > room) break;
      size += s; j++;
    }
    const m = new Uint8Array(fixed + size);
    let p = writeWithdrawFrame(m, 0, family, classic, size);
    for (let k = i; k < j; k++) p = putNlri(m, p, nlri[k] as Nlri, addPath);
    out.push(m);
    i = j;
  }
  return out;
}

/**
 * Everything of one withdrawing UPDATE but its NLRI: header, then either the classic withdrawn
 * routes length (and the zero total path attribute length after the `nlriSize` bytes) or an
 * empty withdrawn field and the MP_UNREACH_NLRI header. Returns the offset where the caller
 * writes the NLRI. The message is `withdrawOverhead(classic) + nlriSize` bytes from `start`
 * (shared with the speaker's update-group packer, like writePreparedFrame).
 */
export function writeWithdrawFrame(m: Uint8Array, start: number, family: AfiSafi, classic: boolean, nlriSize: number): number {
  writeHeader(m, start, withdrawOverhead(classic) + nlriSize, MessageType.UPDATE);
  let p = start + HEADER_LENGTH;
  if (classic) {
    m[p++] = nlriSize >>> 8; m[p++] = nlriSize & 0xff;
    m[p + nlriSize] = 0; m[p + nlriSize + 1] = 0; // total path attribute length
    return p;
  }
  m[p++] = 0; m[p++] = 0; // withdrawn length 0
  const attrLen = 4 + 3 + nlriSize;
  m[p++] = attrLen >>> 8; m[p++] = attrLen & 0xff;
  const mpLen = 3 + nlriSize;
  m[p++] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH; m[p++] = AttrType.MP_UNREACH_NLRI;
  m[p++] = mpLen >>> 8; m[p++] = mpLen & 0xff;
  m[p++] = family.afi >>> 8; m[p++] = family.afi & 0xff; m[p++] = family.safi;
  return p;
}

/** Bytes of a withdrawing UPDATE besides its NLRI (see writeWithdrawFrame). */
export function withdrawOverhead(classic: boolean): number {
  return HEADER_LENGTH + 2 + 2 + (classic ? 0 : 4 + 3);
}

/** The End-of-RIB marker for `family` (RFC 4724 §2). */
export function encodeEndOfRib(family: AfiSafi): Uint8Array {
  if (family.afi === 1 && family.safi === 1) {
    const m = new Uint8Array(23);
    writeHeader(m, 0, 23, MessageType.UPDATE);
    return m;
  }
  const m = new Uint8Array(29);
  writeHeader(m, 0, 29, MessageType.UPDATE);
  m.set([0, 0, 0, 6, AttrFlag.OPTIONAL, AttrType.MP_UNREACH_NLRI, 3, family.afi >>> 8, family.afi & 0xff, family.safi], HEADER_LENGTH);
  return m;
}

/** The family whose End-of-RIB this UPDATE is, or undefined when it is not an End-of-RIB. */
export function endOfRibFamily(update: UpdateMessage): AfiSafi | undefined {
  if (update.withdrawn.length > 0 || update.nlri.length > 0 || update.mpReach !== undefined) return undefined;
  if (update.compact4 !== undefined && (update.compact4.withdrawn.length > 0 || update.compact4.nlri.length > 0)) return undefined;
  const a = update.attributes;
  for (const k in a) if ((a as Record<string, unknown>)[k] !== undefined) return undefined;
  if (update.mpUnreach === undefined) return { afi: 1, safi: 1 };
  if (update.mpUnreach.withdrawn.length > 0) return undefined;
  return { afi: update.mpUnreach.afi, safi: update.mpUnreach.safi };
}
