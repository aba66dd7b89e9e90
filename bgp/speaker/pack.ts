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
import type { PrefixList } from '../rib/update-group.js';
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

/**
 * Which entries of a batch go into this peer's messages: `idx` into `all`, only `family`, and
 * not those marked `stamp` in `skip` (the peer's own routes in a shared group batch).
 */
export interface Selection {
  readonly all: PrefixList;
  readonly idx: readonly number[];
  readonly family: 4 | 6;
  readonly skip: Uint32Array | undefined;
  readonly stamp: number;
}

function selected(sel: Selection, i: number): boolean {
  return sel.all.family(i) === sel.family && (sel.skip === undefined || sel.skip[i] !== sel.stamp);
}

function entryBytes(all: PrefixList, i: number, addPath: boolean): number {
  return all.family(i) === 4 ? (addPath ? 5 : 1) + ((all.len(i) + 7) >>> 3) : nlriBytes(all.v6At(i), addPath);
}

function putEntry(m: Uint8Array, at: number, all: PrefixList, i: number, addPath: boolean): number {
  if (all.family(i) !== 4) return putPrefix(m, at, all.v6At(i), addPath);
  let o = at;
  if (addPath) { m[o++] = 0; m[o++] = 0; m[o++] = 0; m[o++] = 0; }
  const l = all.len(i), a = all.addr(i);
  m[o++] = l;
  if (l > 0) m[o++] = a >>> 24;
  if (l > 8) m[o++] = (a >>> 16) & 255;
  if (l > 16) m[o++] = (a >>> 8) & 255;
  if (l > 24) m[o++] = a & 255;
  return o;
}

/** UPDATEs announcing the selected prefixes with the prepared attributes (of that family). */
export function packAnnounce(prep: PreparedAttributes, sel: Selection, out: Uint8Array[]): void {
  const { family, classic, addPath, max, block, nextHopLength: nhLen } = prep;
  const mpFixed = classic ? 0 : 4 + 3 + 1 + nhLen + 1;
  const fixed = HEADER_LENGTH + 2 + 2 + block.length + mpFixed;
  const room = max - fixed;
  const { all, idx } = sel;
  let k = 0;
  while (k < idx.length) {
    let size = 0, j = k, any = false;
    for (; j < idx.length; j++) {
      const i = idx[j]!;
      if (!selected(sel, i)) continue;
      const sz = entryBytes(all, i, addPath);
      if (size + sz > room) break;
      size += sz; any = true;
    }
    if (!any) {
      if (j >= idx.length) return;
      throw new Error(`path attributes of ${block.length} bytes leave no room for a prefix in a ${max}-byte UPDATE`);
    }
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
      for (let q = k; q < j; q++) { const i = idx[q]!; if (selected(sel, i)) p = putEntry(m, p, all, i, addPath); }
      m.set(block, p);
    } else {
      m.set(block, p); p += block.length;
      for (let q = k; q < j; q++) { const i = idx[q]!; if (selected(sel, i)) p = putEntry(m, p, all, i, addPath); }
    }
    out.push(m);
    k = j;
  }
}

/** UPDATEs withdrawing the selected prefixes (IPv4: classic field, IPv6: MP_UNREACH_NLRI). */
export function packWithdraw(sel: Selection, ctx: CodecContext, out: Uint8Array[]): void {
  const classic = sel.family === 4;
  const afi = classic ? 1 : 2;
  const max = maxMessageLength(MessageType.UPDATE, ctx);
  const addPath = ctx.addPathSend.has(afiSafiKey(afi, 1));
  const fixed = HEADER_LENGTH + 2 + 2 + (classic ? 0 : 4 + 3);
  const room = max - fixed;
  const { all, idx } = sel;
  let k = 0;
  while (k < idx.length) {
    let size = 0, j = k;
    for (; j < idx.length; j++) {
      const i = idx[j]!;
      if (!selected(sel, i)) continue;
      const sz = entryBytes(all, i, addPath);
      if (size + sz > room) break;
      size += sz;
    }
    if (size === 0) return;
    const len = fixed + size;
    const m = new Uint8Array(len);
    writeHeader(m, 0, len, MessageType.UPDATE);
    let p = HEADER_LENGTH;
    if (classic) {
      m[p++] = size >>> 8; m[p++] = size & 0xff;
      for (let q = k; q < j; q++) { const i = idx[q]!; if (selected(sel, i)) p = putEntry(m, p, all, i, addPath); }
    } else {
      p += 2;
      const attrLen = 4 + 3 + size;
      m[p++] = attrLen >>> 8; m[p++] = attrLen & 0xff;
      const mpLen = 3 + size;
      m[p++] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH; m[p++] = AttrType.MP_UNREACH_NLRI;
      m[p++] = mpLen >>> 8; m[p++] = mpLen & 0xff;
      m[p++] = 0; m[p++] = afi; m[p++] = 1;
      for (let q = k; q < j; q++) { const i = idx[q]!; if (selected(sel, i)) p = putEntry(m, p, all, i, addPath); }
    }
    out.push(m);
    k = j;
  }
}
