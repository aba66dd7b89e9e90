/**
 * IP addresses and prefixes as bytes, shared by every layer.
 * Parsing validates strictly (no leading zeros in IPv4 octets, host bits must be zero for
 * prefixes unless `allowHostBits`), and formatting gives the canonical text (RFC 5952 for IPv6).
 */
import { Address6 } from 'ip-address';

export type Family = 4 | 6;

export interface IpAddress {
  readonly family: Family;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface Prefix {
  readonly family: Family;
  /** 4 or 16 bytes, network order; bits past `length` are zero. */
  readonly bytes: Uint8Array;
  readonly length: number;
}

export class AddressParseError extends Error {
  readonly code = 'invalid-address';
  constructor(readonly input: string, readonly reason: string) {
    super(`invalid IP address or prefix ${JSON.stringify(input)}: ${reason}`);
    this.name = 'AddressParseError';
  }
}

const V4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseAddress(text: string): IpAddress {
  if (V4_RE.test(text)) {
    return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  }
  if (text.includes(':') && !text.includes('/') && !text.includes('%') && Address6.isValid(text)) {
    const raw = new Address6(text).toByteArray();
    const bytes = new Uint8Array(16);
    bytes.set(raw.slice(-16), 16 - Math.min(16, raw.length));
    return { family: 6, bytes };
  }
  throw new AddressParseError(text, 'not a valid IPv4 or IPv6 address');
}

export function isValidAddress(text: string): boolean {
  try { parseAddress(text); return true; } catch { return false; }
}

export function formatAddress(addr: IpAddress | Uint8Array): string {
  const bytes = addr instanceof Uint8Array ? addr : addr.bytes;
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on a tie.
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0
    && words[5] === 0xffff && bestStart === 0 && bestLen === 5) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

export interface ParsePrefixOptions {
  /** Accept "10.0.0.1/24" and clear the host bits instead of refusing it. */
  readonly allowHostBits?: boolean;
}

export function parsePrefix(text: string, options: ParsePrefixOptions = {}): Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AddressParseError(text, 'missing "/length"');
  const addr = parseAddress(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  const max = addr.family === 4 ? 32 : 128;
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > max) {
    throw new AddressParseError(text, `prefix length must be 0..${max}`);
  }
  const length = Number(lenText);
  const masked = maskBytes(addr.bytes, length);
  if (!options.allowHostBits && !bytesEqual(masked, addr.bytes)) {
    throw new AddressParseError(text, `host bits set (did you mean ${formatAddress(masked)}/${length}?)`);
  }
  return { family: addr.family, bytes: masked, length };
}

export function isValidPrefix(text: string, options: ParsePrefixOptions = {}): boolean {
  try { parsePrefix(text, options); return true; } catch { return false; }
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.bytes)}/${p.length}`;
}

/** Copy of `bytes` with every bit past `length` cleared. */
export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, length - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function prefixEquals(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.length === b.length && bytesEqual(a.bytes, b.bytes);
}

/** True when `inner` (a prefix or an address) lies inside `outer`. */
export function prefixContains(outer: Prefix, inner: Prefix | IpAddress): boolean {
  if (outer.family !== inner.family) return false;
  const innerLen = 'length' in inner ? inner.length : (inner.family === 4 ? 32 : 128);
  if (innerLen < outer.length) return false;
  return bytesEqual(maskBytes(inner.bytes, outer.length), outer.bytes);
}

export function prefixOverlaps(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, b) || prefixContains(b, a);
}

/** The host prefix (/32 or /128) of an address. */
export function hostPrefix(addr: IpAddress): Prefix {
  return { family: addr.family, bytes: addr.bytes, length: addr.family === 4 ? 32 : 128 };
}

/** IPv4 address bytes as an unsigned 32-bit integer. */
export function ipv4ToInt(bytes: Uint8Array): number {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}

export function intToIpv4(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
