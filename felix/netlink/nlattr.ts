/**
 * Netlink attribute (struct nlattr) encoding for the nested payloads the `netlink` package leaves
 * as raw buffers: IFLA_LINKINFO (kind + per-kind data) and RTA_MULTIPATH (struct rtnexthop list).
 * Host-endian (little-endian on every platform we run on), 4-byte aligned, as the kernel wants.
 */
export const NLA_F_NESTED = 0x8000;

export interface Attr { readonly type: number; readonly value: Uint8Array }

const align4 = (n: number): number => (n + 3) & ~3;

/** Encode a list of attributes back to back. */
export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const total = attrs.reduce((n, a) => n + align4(4 + a.value.length), 0);
  const out = Buffer.alloc(total);
  let off = 0;
  for (const a of attrs) {
    out.writeUInt16LE(4 + a.value.length, off);
    out.writeUInt16LE(a.type, off + 2);
    out.set(a.value, off + 4);
    off += align4(4 + a.value.length);
  }
  return out;
}

/** Decode attributes; stops quietly at a truncated tail (the kernel never sends one). */
export function decodeAttrs(buf: Uint8Array): Attr[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    out.push({ type: b.readUInt16LE(off + 2) & ~NLA_F_NESTED, value: b.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

export const u8 = (n: number): Buffer => Buffer.of(n & 0xff);
export function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; }
export function be16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.of(0)]);
export const attr = (type: number, value: Uint8Array): Attr => ({ type, value });
export const nested = (type: number, attrs: readonly Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: encodeAttrs(attrs) });

export function readU32(v: Uint8Array | undefined): number | undefined {
  if (v === undefined || v.length < 4) return undefined;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).readUInt32LE(0);
}
export function readCstr(v: Uint8Array | undefined): string | undefined {
  if (v === undefined) return undefined;
  const end = v.indexOf(0);
  return Buffer.from(v.subarray(0, end < 0 ? v.length : end)).toString('utf8');
}
export function find(attrs: readonly Attr[], type: number): Uint8Array | undefined {
  return attrs.find((a) => a.type === type)?.value;
}
