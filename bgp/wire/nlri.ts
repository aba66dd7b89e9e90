/**
 * NLRI prefix encoding (RFC 4271 §4.3, RFC 4760 §5) with optional RFC 7911 path identifiers.
 *
 *   +---------------------------+
 *   |   Path Identifier (4)     |   only when ADD-PATH is negotiated for the family
 *   +---------------------------+
 *   |   Length (1 octet, bits)  |
 *   +---------------------------+
 *   |   Prefix (ceil(len/8))    |
 *   +---------------------------+
 *
 * Decoding is a tight index loop (no Reader per prefix); errors are 3/10 Invalid Network Field
 * (or the subcode the caller passes for MP_REACH/MP_UNREACH) with action session-reset.
 */
import { intToIpv4, type Prefix } from '../../common/prefix.js';
import { BgpWireError, ErrorCode, UpdateSubcode } from './errors.js';
import type { Ipv4Prefixes, Nlri } from './types.js';
import type { Writer } from './writer.js';

/**
 * Decode the prefixes in `buf[start, end)`. `family` 4 or 6 picks the address size.
 * Throws BgpWireError (session-reset) on a bad prefix length or an overrun.
 */
export function decodeNlri(buf: Uint8Array, start: number, end: number, family: 4 | 6, addPath: boolean,
  subcode: number = UpdateSubcode.INVALID_NETWORK_FIELD, what = 'NLRI'): Nlri[] {
  const out: Nlri[] = [];
  const size = family === 4 ? 4 : 16;
  const maxLen = size * 8;
  let p = start;
  // One backing buffer for every prefix of the field (a view each): no ArrayBuffer object per
  // prefix. Sized by a first walk over the length octets (the loop below stops at the same
  // prefixes or earlier, when it throws).
  let count = 0;
  for (let q = start; q < end; count++) {
    if (addPath) q += 4;
    if (q >= end) break;
    q += 1 + (((buf[q] as number) + 7) >>> 3);
  }
  const backing = new ArrayBuffer(size * count);
  let used = 0;
  while (p < end) {
    let pathId = 0;
    if (addPath) {
      if (end - p < 5) throw nlriError(subcode, `${what}: truncated path identifier at octet ${p - start}`);
      pathId = (((buf[p] as number) << 24) | ((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8)
        | (buf[p + 3] as number)) >>> 0;
      p += 4;
    }
    const len = buf[p] as number;
    if (len > maxLen) throw nlriError(subcode, `${what}: prefix length ${len} exceeds ${maxLen} at octet ${p - start}`);
    const nbytes = (len + 7) >>> 3;
    if (p + 1 + nbytes > end) throw nlriError(subcode, `${what}: prefix /${len} overruns the field at octet ${p - start}`);
    const bytes = used + size <= backing.byteLength ? new Uint8Array(backing, used, size) : new Uint8Array(size);
    used += size;
    for (let i = 0; i < nbytes; i++) bytes[i] = buf[p + 1 + i] as number;
    // Clear host bits past the length (senders should not set them; we never keep them).
    if ((len & 7) !== 0) bytes[nbytes - 1] = (bytes[nbytes - 1] as number) & ((0xff << (8 - (len & 7))) & 0xff);
    p += 1 + nbytes;
    const prefix: Prefix = { family, bytes, length: len };
    out.push(addPath ? { prefix, pathId } : { prefix });
  }
  return out;
}

/** No prefixes (shared; never written to). */
export const NO_IPV4_PREFIXES: Ipv4Prefixes = Object.freeze({ length: 0, addrs: new Uint32Array(0), lens: new Uint8Array(0) });

/**
 * decodeNlri for IPv4, into typed arrays instead of an object per prefix (see Ipv4Prefixes);
 * with `addPath` also the path identifiers. Same checks, errors and host-bit clearing as decodeNlri.
 */
export function decodeNlriV4(buf: Uint8Array, start: number, end: number,
  subcode: number = UpdateSubcode.INVALID_NETWORK_FIELD, what = 'NLRI', addPath = false): Ipv4Prefixes {
  if (start >= end) return NO_IPV4_PREFIXES;
  // at most one prefix per 1 octet (/0): size by a first walk over the length octets
  const skip = addPath ? 4 : 0;
  let count = 0;
  for (let q = start; q < end; count++) q += 1 + skip + (((buf[q + skip] ?? 0) + 7) >>> 3);
  const addrs = new Uint32Array(count);
  const lens = new Uint8Array(count);
  const ids = addPath ? new Uint32Array(count) : undefined;
  let p = start;
  let n = 0;
  while (p < end) {
    if (ids !== undefined) {
      if (end - p < 5) throw nlriError(subcode, `${what}: truncated path identifier at octet ${p - start}`);
      ids[n] = (((buf[p] as number) << 24) | ((buf[p + 1] as number) << 16) | ((buf[p + 2] as number) << 8) | (buf[p + 3] as number)) >>> 0;
      p += 4;
    }
    const len = buf[p] as number;
    if (len > 32) throw nlriError(subcode, `${what}: prefix length ${len} exceeds 32 at octet ${p - start}`);
    const nbytes = (len + 7) >>> 3;
    if (p + 1 + nbytes > end) throw nlriError(subcode, `${what}: prefix /${len} overruns the field at octet ${p - start}`);
    let a = 0;
    if (nbytes > 0) a = (buf[p + 1] as number) << 24;
    if (nbytes > 1) a |= (buf[p + 2] as number) << 16;
    if (nbytes > 2) a |= (buf[p + 3] as number) << 8;
    if (nbytes > 3) a |= buf[p + 4] as number;
    // clear host bits past the length (senders should not set them; we never keep them)
    addrs[n] = len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0;
    lens[n] = len;
    n++;
    p += 1 + nbytes;
  }
  return ids !== undefined ? { length: n, addrs, lens, pathIds: ids } : { length: n, addrs, lens };
}

/** encodeNlri for Ipv4Prefixes (decodeNlriV4's output); with ADD-PATH its path ids (0 when it has none). */
export function encodeNlriV4(w: Writer, list: Ipv4Prefixes, addPath: boolean): void {
  for (let i = 0; i < list.length; i++) {
    if (addPath) w.u32(list.pathIds?.[i] ?? 0);
    const l = list.lens[i] as number, a = list.addrs[i] as number;
    w.u8(l);
    for (let b = 0; b * 8 < l; b++) w.u8((a >>> (24 - 8 * b)) & 255);
  }
}

/** Entry i of `list` as a Prefix object (allocates). */
export function ipv4PrefixAt(list: Ipv4Prefixes, i: number): Prefix {
  return { family: 4, bytes: intToIpv4(list.addrs[i] as number), length: list.lens[i] as number };
}

/** Write an IPv4 prefix given as address (uint32) and length into `out` at `p` (no path id); returns the next offset. */
export function putV4(out: Uint8Array, p: number, a: number, l: number): number {
  out[p++] = l;
  if (l > 0) out[p++] = a >>> 24;
  if (l > 8) out[p++] = (a >>> 16) & 255;
  if (l > 16) out[p++] = (a >>> 8) & 255;
  if (l > 24) out[p++] = a & 255;
  return p;
}

function nlriError(subcode: number, message: string): BgpWireError {
  return new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, message);
}

/** Encoded size of one NLRI entry. */
export function nlriSize(n: Nlri, addPath: boolean): number {
  return (addPath ? 5 : 1) + ((n.prefix.length + 7) >>> 3);
}

export function encodeNlri(w: Writer, nlri: readonly Nlri[], addPath: boolean): void {
  for (const n of nlri) writeOneNlri(w, n, addPath);
}

export function writeOneNlri(w: Writer, n: Nlri, addPath: boolean): void {
  if (addPath) w.u32(n.pathId ?? 0);
  const len = n.prefix.length;
  w.u8(len);
  const nbytes = (len + 7) >>> 3;
  w.bytes(nbytes === n.prefix.bytes.length ? n.prefix.bytes : n.prefix.bytes.subarray(0, nbytes));
}

/** Write one NLRI entry straight into `out` at `p`; returns the next offset. */
export function putNlri(out: Uint8Array, p: number, n: Nlri, addPath: boolean): number {
  return putPrefix(out, p, n.prefix, addPath, n.pathId ?? 0);
}

/** putNlri for a bare Prefix (no Nlri object to allocate); `pathId` only with ADD-PATH. */
export function putPrefix(out: Uint8Array, p: number, prefix: Prefix, addPath: boolean, pathId = 0): number {
  if (addPath) {
    out[p] = pathId >>> 24; out[p + 1] = (pathId >>> 16) & 0xff; out[p + 2] = (pathId >>> 8) & 0xff; out[p + 3] = pathId & 0xff;
    p += 4;
  }
  const len = prefix.length;
  out[p++] = len;
  const nbytes = (len + 7) >>> 3;
  const src = prefix.bytes;
  for (let i = 0; i < nbytes; i++) out[p + i] = src[i] as number;
  return p + nbytes;
}
