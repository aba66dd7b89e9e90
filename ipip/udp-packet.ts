/**
 * The UDP backend's per-packet work (Flannel's backend/udp, proxy.c): find an inner packet's
 * destination, decrement its TTL (hop limit) as a router does, answer an unroutable one with an
 * ICMP net-unreachable, and map a destination to the node that owns its block by longest match.
 * Pure functions over bytes, so the worker's loop (udp-datapath.ts) stays small and these are
 * tested without a device.
 */
import { formatAddress, ipv4ToInt, parseAddress, parsePrefix } from '../common/prefix.js';

/** IPv4 header with no options, UDP header: what each datagram adds on an IPv4 underlay. */
export const UDP_OVERHEAD_V4 = 28;
/** The same on an IPv6 underlay (40 + 8). */
export const UDP_OVERHEAD_V6 = 48;

export type InnerCheck =
  | { readonly ok: true; readonly family: 4 | 6 }
  | { readonly ok: false; readonly reason: 'short' | 'version' | 'length' };

/** Is this a whole IPv4 or IPv6 packet (version, header, total length consistent with the bytes)? */
export function checkInner(p: Uint8Array): InnerCheck {
  if (p.length < 20) return { ok: false, reason: 'short' };
  const version = (p[0] ?? 0) >> 4;
  if (version === 4) {
    const ihl = ((p[0] ?? 0) & 0x0f) * 4;
    const total = ((p[2] ?? 0) << 8) | (p[3] ?? 0);
    if (ihl < 20 || total < ihl || total !== p.length) return { ok: false, reason: 'length' };
    return { ok: true, family: 4 };
  }
  if (version === 6) {
    if (p.length < 40) return { ok: false, reason: 'short' };
    const payload = ((p[4] ?? 0) << 8) | (p[5] ?? 0);
    if (payload + 40 !== p.length) return { ok: false, reason: 'length' };
    return { ok: true, family: 6 };
  }
  return { ok: false, reason: 'version' };
}

/**
 * Decrement the TTL (IPv4, with the RFC 1624 incremental checksum update) or hop limit (IPv6).
 * False when it would reach zero: the packet is dropped, as a router drops it.
 */
export function decrementTtl(p: Uint8Array, family: 4 | 6): boolean {
  if (family === 6) {
    const hl = p[7] ?? 0;
    if (hl <= 1) return false;
    p[7] = hl - 1;
    return true;
  }
  const ttl = p[8] ?? 0;
  if (ttl <= 1) return false;
  p[8] = ttl - 1;
  // HC' = ~(~HC + ~m + m'): the word holding the TTL (TTL << 8 | protocol) went down by 0x100.
  const hc = ((p[10] ?? 0) << 8) | (p[11] ?? 0);
  let sum = (~hc & 0xffff) + (~(ttl << 8 | (p[9] ?? 0)) & 0xffff) + (((ttl - 1) << 8) | (p[9] ?? 0));
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const out = ~sum & 0xffff;
  p[10] = out >> 8;
  p[11] = out & 0xff;
  return true;
}

/** The internet checksum (RFC 1071) over `bytes`, starting from a partial `sum`. */
export function internetChecksum(bytes: Uint8Array, sum = 0): number {
  let s = sum;
  for (let i = 0; i + 1 < bytes.length; i += 2) s += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (bytes.length % 2 === 1) s += (bytes[bytes.length - 1] ?? 0) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * ICMP destination unreachable / no route (ICMPv4 3/0, ICMPv6 1/0) for `orig`, from `source`
 * (an address of this node) back to the original sender, quoting as much as RFC 792 / RFC 4443
 * ask. Undefined for what must never get an ICMP error: an ICMP error itself, a packet from an
 * unspecified or multicast source.
 */
export function netUnreachable(orig: Uint8Array, family: 4 | 6, source: Uint8Array): Uint8Array | undefined {
  if (family === 4) {
    if (source.length !== 4) return undefined;
    const ihl = ((orig[0] ?? 0) & 0x0f) * 4;
    const src0 = orig[12] ?? 0;
    if (src0 === 0 || src0 >= 224) return undefined;
    if ((orig[9] ?? 0) === 1) {
      const type = orig[ihl] ?? 0;
      if (type !== 0 && type !== 8 && type !== 13 && type !== 14) return undefined; // errors are never answered
    }
    const quote = orig.subarray(0, Math.min(orig.length, ihl + 8));
    const out = new Uint8Array(20 + 8 + quote.length);
    out[0] = 0x45;
    out[2] = out.length >> 8; out[3] = out.length & 0xff;
    out[8] = 64; out[9] = 1;
    out.set(source, 12);
    out.set(orig.subarray(12, 16), 16);
    const hc = internetChecksum(out.subarray(0, 20));
    out[10] = hc >> 8; out[11] = hc & 0xff;
    out[20] = 3; out[21] = 0;
    out.set(quote, 28);
    const ic = internetChecksum(out.subarray(20));
    out[22] = ic >> 8; out[23] = ic & 0xff;
    return out;
  }
  if (source.length !== 16) return undefined;
  const srcAll0 = orig.subarray(8, 24).every((b) => b === 0);
  if (srcAll0 || (orig[8] ?? 0) === 0xff) return undefined;
  if ((orig[6] ?? 0) === 58 && ((orig[40] ?? 0) < 128)) return undefined; // an ICMPv6 error
  const quote = orig.subarray(0, Math.min(orig.length, 1280 - 48));
  const icmpLen = 8 + quote.length;
  const out = new Uint8Array(40 + icmpLen);
  out[0] = 0x60;
  out[4] = icmpLen >> 8; out[5] = icmpLen & 0xff;
  out[6] = 58; out[7] = 64;
  out.set(source, 8);
  out.set(orig.subarray(8, 24), 24);
  out[40] = 1; out[41] = 0;
  out.set(quote, 48);
  // Pseudo-header: source, destination, upper-layer length, next header.
  let sum = 0;
  for (let i = 8; i < 40; i += 2) sum += ((out[i] ?? 0) << 8) | (out[i + 1] ?? 0);
  sum += icmpLen + 58;
  const ic = internetChecksum(out.subarray(40), sum);
  out[42] = ic >> 8; out[43] = ic & 0xff;
  return out;
}

/** The inner packet's destination as table keys look it up. */
export function destination4(p: Uint8Array): number {
  return (((p[16] ?? 0) << 24) | ((p[17] ?? 0) << 16) | ((p[18] ?? 0) << 8) | (p[19] ?? 0)) >>> 0;
}

export interface UdpRemote {
  /** A remote block (or a borrowed /32, /128) routed over the UDP backend. */
  readonly cidr: string;
  /** The underlay address of the node that owns it: where its datagrams go. */
  readonly nodeIp: string;
}

/**
 * Longest-prefix match from inner destination to owner node address. Blocks come in a handful
 * of lengths (the pools' block sizes, borrowed /32s), so a map per length, longest first, finds
 * a match in a few lookups with no per-packet allocation for IPv4.
 */
export class RemoteTable {
  private v4: Array<{ readonly len: number; readonly mask: number; readonly map: Map<number, string> }> = [];
  private v6: Array<{ readonly len: number; readonly map: Map<string, string> }> = [];

  constructor(remotes: readonly UdpRemote[] = []) { this.set(remotes); }

  set(remotes: readonly UdpRemote[]): void {
    const v4 = new Map<number, Map<number, string>>();
    const v6 = new Map<number, Map<string, string>>();
    for (const r of remotes) {
      const p = parsePrefix(r.cidr, { allowHostBits: true });
      const node = formatAddress(parseAddress(r.nodeIp));
      if (p.family === 4) {
        let m = v4.get(p.length);
        if (m === undefined) v4.set(p.length, (m = new Map()));
        m.set(ipv4ToInt(p.bytes), node); // parsePrefix zeroes the host bits
      } else {
        let m = v6.get(p.length);
        if (m === undefined) v6.set(p.length, (m = new Map()));
        m.set(v6Key(p.bytes, 0, p.length), node);
      }
    }
    this.v4 = [...v4].sort((a, b) => b[0] - a[0]).map(([len, map]) => ({ len, mask: len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0, map }));
    this.v6 = [...v6].sort((a, b) => b[0] - a[0]).map(([len, map]) => ({ len, map }));
  }

  /** The owner node of the inner packet's destination, or undefined (no route: drop and answer). */
  lookup(p: Uint8Array, family: 4 | 6): string | undefined {
    if (family === 4) {
      const dst = destination4(p);
      for (const t of this.v4) {
        const hit = t.map.get((dst & t.mask) >>> 0);
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    for (const t of this.v6) {
      const hit = t.map.get(v6Key(p, 24, t.len));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}

/** The first `len` bits of the 16 bytes at `off`, as a string key (the rest zeroed). */
function v6Key(bytes: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    const b = (bytes[off + i] ?? 0) & (bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff);
    s += b < 16 ? `0${b.toString(16)}` : b.toString(16);
  }
  return s;
}
