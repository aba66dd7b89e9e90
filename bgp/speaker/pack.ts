/**
 * UPDATE packing straight from the Adj-RIB-Out's Prefix lists: the attribute block is encoded
 * once per (interned attribute set, session codec context) by bgp/wire's prepareAttributes and
 * reused; NLRI bytes are copied from the Prefix objects into exactly sized messages (no Nlri
 * wrapper objects, no per-prefix closures). Withdrawals likewise (classic field for IPv4,
 * MP_UNREACH_NLRI for IPv6, RFC 4760). ADD-PATH send (RFC 7911) writes path id 0.
 */
import type { Prefix } from '../../common/prefix.js';
import { maxMessageLength, writeHeader } from '../wire/header.js';
import type { PreparedAttributes } from '../wire/update-encoder.js';
import { afiSafiKey, AttrFlag, AttrType, HEADER_LENGTH, MessageType, type CodecContext } from '../wire/types.js';

function nlriBytes(p: Prefix, addPath: boolean): number {
  return (addPath ? 5 : 1) + ((p.length + 7) >>> 3);
}

function putPrefix(m: Uint8Array, at: number, p: Prefix, addPath: boolean): number {
  let o = at;
  if (addPath) { m[o++] = 0; m[o++] = 0; m[o++] = 0; m[o++] = 0; }
  m[o++] = p.length;
  const n = (p.length + 7) >>> 3;
  const b = p.bytes;
  for (let i = 0; i < n; i++) m[o++] = b[i]!;
  return o;
}

/** UPDATEs announcing `prefixes` (all of `prep.family`) with the prepared attributes. */
export function packAnnounce(prep: PreparedAttributes, prefixes: readonly Prefix[], out: Uint8Array[]): void {
  const { family, classic, addPath, max, block, nextHopLength: nhLen } = prep;
  const mpFixed = classic ? 0 : 4 + 3 + 1 + nhLen + 1;
  const fixed = HEADER_LENGTH + 2 + 2 + block.length + mpFixed;
  const room = max - fixed;
  let i = 0;
  while (i < prefixes.length) {
    let size = 0, j = i;
    while (j < prefixes.length) {
      const s = nlriBytes(prefixes[j]!, addPath);
      if (size + s > room) break;
      size += s; j++;
    }
    if (j === i) throw new Error(`path attributes of ${block.length} bytes leave no room for a prefix in a ${max}-byte UPDATE`);
    const len = fixed + size;
    const m = new Uint8Array(len);
    writeHeader(m, 0, len, MessageType.UPDATE);
    let p = HEADER_LENGTH + 2; // withdrawn routes length 0
    const attrLen = block.length + mpFixed + (classic ? 0 : size);
    m[p++] = attrLen >>> 8; m[p++] = attrLen & 0xff;
    if (!classic) {
      const mpLen = 3 + 1 + nhLen + 1 + size;
      m[p++] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH; m[p++] = AttrType.MP_REACH_NLRI;
      m[p++] = mpLen >>> 8; m[p++] = mpLen & 0xff;
      m[p++] = family.afi >>> 8; m[p++] = family.afi & 0xff; m[p++] = family.safi; m[p++] = nhLen;
      for (const h of prep.nextHops) { m.set(h, p); p += h.length; }
      m[p++] = 0;
      for (let k = i; k < j; k++) p = putPrefix(m, p, prefixes[k]!, addPath);
      m.set(block, p);
    } else {
      m.set(block, p); p += block.length;
      for (let k = i; k < j; k++) p = putPrefix(m, p, prefixes[k]!, addPath);
    }
    out.push(m);
    i = j;
  }
}

/** UPDATEs withdrawing `prefixes` of one family (4: classic field, 6: MP_UNREACH_NLRI). */
export function packWithdraw(family: 4 | 6, prefixes: readonly Prefix[], ctx: CodecContext, out: Uint8Array[]): void {
  const classic = family === 4;
  const afi = classic ? 1 : 2;
  const max = maxMessageLength(MessageType.UPDATE, ctx);
  const addPath = ctx.addPathSend.has(afiSafiKey(afi, 1));
  const fixed = HEADER_LENGTH + 2 + 2 + (classic ? 0 : 4 + 3);
  const room = max - fixed;
  let i = 0;
  while (i < prefixes.length) {
    let size = 0, j = i;
    while (j < prefixes.length) {
      const s = nlriBytes(prefixes[j]!, addPath);
      if (size + s > room) break;
      size += s; j++;
    }
    const len = fixed + size;
    const m = new Uint8Array(len);
    writeHeader(m, 0, len, MessageType.UPDATE);
    let p = HEADER_LENGTH;
    if (classic) {
      m[p++] = size >>> 8; m[p++] = size & 0xff;
      for (let k = i; k < j; k++) p = putPrefix(m, p, prefixes[k]!, addPath);
    } else {
      p += 2;
      const attrLen = 4 + 3 + size;
      m[p++] = attrLen >>> 8; m[p++] = attrLen & 0xff;
      const mpLen = 3 + size;
      m[p++] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH; m[p++] = AttrType.MP_UNREACH_NLRI;
      m[p++] = mpLen >>> 8; m[p++] = mpLen & 0xff;
      m[p++] = 0; m[p++] = afi; m[p++] = 1;
      for (let k = i; k < j; k++) p = putPrefix(m, p, prefixes[k]!, addPath);
    }
    out.push(m);
    i = j;
  }
}
