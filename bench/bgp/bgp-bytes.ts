/**
 * The few BGP-4 messages the benchmark's injector and sink need, as raw bytes (RFC 4271 §4,
 * RFC 6793 4-octet AS, RFC 4760 MP_REACH/MP_UNREACH for IPv4 unicast, RFC 7911 ADD-PATH for
 * IPv4 unicast when the run asks for it: TORTIE_BENCH_ADD_PATHS=1, run.js --add-paths). Self-contained on
 * purpose: the benchmark must not depend on the speaker it measures.
 *
 *   0                   1                   2                   3
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Marker (16 octets of 0xff)                    |
 *  |          Length (2)           |   Type (1)    |  body ...     |
 */

export const BgpType = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const;
export type BgpType = (typeof BgpType)[keyof typeof BgpType];

export const HEADER_LEN = 19;
export const MAX_MESSAGE = 4096;
const AS_TRANS = 23456;

function header(body: number, type: BgpType): Buffer {
  const b = Buffer.alloc(HEADER_LEN + body);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(HEADER_LEN + body, 16);
  b.writeUInt8(type, 18);
  return b;
}

export function ipv4ToInt(addr: string): number {
  const parts = addr.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${addr}`);
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${addr}`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

export function intToIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** /24 number (the top 24 bits) → "a.b.c.0/24". */
export function slash24ToString(n: number): string {
  return `${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}.0/24`;
}

export const keepalive = (): Buffer => header(0, BgpType.KEEPALIVE);

/** Whether this run negotiates ADD-PATH (send and receive, IPv4 unicast) on the injector's and the sink's sessions. */
export function benchAddPaths(): boolean { return process.env['TORTIE_BENCH_ADD_PATHS'] === '1'; }

/** OPEN with capabilities MP IPv4 unicast (1) and 4-octet AS (65); with `addPaths`, ADD-PATH (69) IPv4 unicast send/receive. */
export function encodeOpen(asn: number, holdTime: number, routerId: string, addPaths = false): Buffer {
  const caps = Buffer.from([
    1, 4, 0, 1, 0, 1, // MP_BGP: AFI 1, reserved, SAFI 1
    65, 4, (asn >>> 24) & 255, (asn >>> 16) & 255, (asn >>> 8) & 255, asn & 255,
    ...(addPaths ? [69, 4, 0, 1, 1, 3] : []), // ADD-PATH: AFI 1, SAFI 1, send/receive 3
  ]);
  const optParams = Buffer.concat([Buffer.from([2, caps.length]), caps]);
  const b = header(10 + optParams.length, BgpType.OPEN);
  let o = HEADER_LEN;
  b.writeUInt8(4, o++);
  b.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, o); o += 2;
  b.writeUInt16BE(holdTime, o); o += 2;
  b.writeUInt32BE(ipv4ToInt(routerId), o); o += 4;
  b.writeUInt8(optParams.length, o++);
  optParams.copy(b, o);
  return b;
}

export interface DecodedOpen {
  readonly version: number;
  readonly asn: number;
  readonly holdTime: number;
  readonly routerId: string;
  readonly fourOctetAs: boolean;
  /** The peer's ADD-PATH send/receive value for IPv4 unicast (RFC 7911 §4; 0 when none). */
  readonly addPathMode: number;
}

/** Decode an OPEN body (after the header); throws Error naming the field on malformed input. */
export function decodeOpen(msg: Buffer): DecodedOpen {
  if (msg.length < HEADER_LEN + 10) throw new Error(`OPEN too short (${msg.length} bytes)`);
  let o = HEADER_LEN;
  const version = msg.readUInt8(o++);
  let asn = msg.readUInt16BE(o); o += 2;
  const holdTime = msg.readUInt16BE(o); o += 2;
  const routerId = intToIpv4(msg.readUInt32BE(o)); o += 4;
  const optLen = msg.readUInt8(o++);
  if (o + optLen > msg.length) throw new Error('OPEN optional parameters overrun the message');
  const end = o + optLen;
  let fourOctetAs = false;
  let addPathMode = 0;
  while (o + 2 <= end) {
    const ptype = msg.readUInt8(o); const plen = msg.readUInt8(o + 1); o += 2;
    if (o + plen > end) throw new Error('OPEN parameter overruns the parameters');
    if (ptype === 2) {
      let c = o;
      while (c + 2 <= o + plen) {
        const code = msg.readUInt8(c); const clen = msg.readUInt8(c + 1); c += 2;
        if (code === 65 && clen === 4 && c + 4 <= msg.length) { fourOctetAs = true; asn = msg.readUInt32BE(c); }
        if (code === 69) for (let e = c; e + 4 <= c + clen && e + 4 <= msg.length; e += 4) if (msg.readUInt16BE(e) === 1 && msg[e + 2] === 1) addPathMode = msg[e + 3] ?? 0;
        c += clen;
      }
    }
    o += plen;
  }
  return { version, asn, holdTime, routerId, fourOctetAs, addPathMode };
}

/**
 * Pre-encode announcements of `count` consecutive /24s starting at /24 number `first24`:
 * ORIGIN IGP, AS_PATH (one AS_SEQUENCE of `asn`), NEXT_HOP, then as many 4-byte NLRI as fit
 * in one 4096-byte message. Returns one Buffer holding all UPDATEs back to back.
 */
export function encodeAnnouncements(first24: number, count: number, asn: number, nextHop: string, fourOctetAs: boolean, addPath = false): Buffer {
  const ent = addPath ? 8 : 4; // ADD-PATH: path id 1 before each prefix
  const asLen = fourOctetAs ? 4 : 2;
  const attrs = Buffer.alloc(4 + (3 + 2 + asLen) + 7);
  let a = 0;
  attrs.set([0x40, 1, 1, 0], a); a += 4; // ORIGIN IGP
  attrs.set([0x40, 2, 2 + asLen, 2, 1], a); a += 5; // AS_PATH: AS_SEQUENCE, 1 AS
  if (fourOctetAs) attrs.writeUInt32BE(asn, a); else attrs.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, a);
  a += asLen;
  attrs.set([0x40, 3, 4], a); a += 3;
  attrs.writeUInt32BE(ipv4ToInt(nextHop), a);
  const fixed = HEADER_LEN + 2 + 2 + attrs.length;
  const perMsg = Math.floor((MAX_MESSAGE - fixed) / ent);
  const msgs = Math.ceil(count / perMsg);
  const out = Buffer.alloc(msgs * fixed + count * ent);
  let o = 0; let done = 0;
  while (done < count) {
    const n = Math.min(perMsg, count - done);
    const len = fixed + n * ent;
    out.fill(0xff, o, o + 16);
    out.writeUInt16BE(len, o + 16);
    out.writeUInt8(BgpType.UPDATE, o + 18);
    out.writeUInt16BE(0, o + 19); // no withdrawn routes
    out.writeUInt16BE(attrs.length, o + 21);
    attrs.copy(out, o + 23);
    let p = o + fixed;
    for (let i = 0; i < n; i++) {
      const v = first24 + done + i;
      if (addPath) { out.writeUInt32BE(1, p); p += 4; }
      out[p] = 24; out[p + 1] = (v >>> 16) & 255; out[p + 2] = (v >>> 8) & 255; out[p + 3] = v & 255;
      p += 4;
    }
    o += len; done += n;
  }
  return out;
}

/** Pre-encode withdrawals of the same /24s (Withdrawn Routes field only). */
export function encodeWithdrawals(first24: number, count: number, addPath = false): Buffer {
  const ent = addPath ? 8 : 4;
  const fixed = HEADER_LEN + 2 + 2;
  const perMsg = Math.floor((MAX_MESSAGE - fixed) / ent);
  const msgs = Math.ceil(count / perMsg);
  const out = Buffer.alloc(msgs * fixed + count * ent);
  let o = 0; let done = 0;
  while (done < count) {
    const n = Math.min(perMsg, count - done);
    const len = fixed + n * ent;
    out.fill(0xff, o, o + 16);
    out.writeUInt16BE(len, o + 16);
    out.writeUInt8(BgpType.UPDATE, o + 18);
    out.writeUInt16BE(n * ent, o + 19);
    let p = o + 21;
    for (let i = 0; i < n; i++) {
      const v = first24 + done + i;
      if (addPath) { out.writeUInt32BE(1, p); p += 4; }
      out[p] = 24; out[p + 1] = (v >>> 16) & 255; out[p + 2] = (v >>> 8) & 255; out[p + 3] = v & 255;
      p += 4;
    }
    out.writeUInt16BE(0, p); // total path attribute length
    o += len; done += n;
  }
  return out;
}

/** Splits a TCP byte stream into whole BGP messages. */
export class MessageFramer {
  private pending: Buffer | undefined;

  /** Feed bytes; calls `onMessage` for each complete message (a view, valid during the call). */
  push(chunk: Buffer, onMessage: (type: number, msg: Buffer) => void): void {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    let o = 0;
    while (buf.length - o >= HEADER_LEN) {
      const len = buf.readUInt16BE(o + 16);
      if (len < HEADER_LEN || len > 65535) throw new Error(`bad BGP message length ${len} at stream offset ${o}`);
      if (buf.length - o < len) break;
      onMessage(buf[o + 18] ?? 0, buf.subarray(o, o + len));
      o += len;
    }
    if (o < buf.length) {
      buf = buf.subarray(o);
      this.pending = Buffer.from(buf);
    }
  }
}

/**
 * Walk an UPDATE and report every IPv4 unicast prefix: withdrawn routes, NLRI, and MP_REACH /
 * MP_UNREACH for AFI 1 SAFI 1. `onPrefix(announce, len, key)` where key is the top 24 bits for
 * a /24 (the only length the benchmark counts) and -1 otherwise. Throws Error on malformed input.
 */
export function walkUpdate(msg: Buffer, onPrefix: (announce: boolean, len: number, key: number) => void, addPath = false): void {
  const end = msg.length;
  let o = HEADER_LEN;
  if (o + 2 > end) throw new Error('UPDATE: no withdrawn routes length');
  const wlen = msg.readUInt16BE(o); o += 2;
  if (o + wlen + 2 > end) throw new Error('UPDATE: withdrawn routes overrun the message');
  walkNlri(msg, o, o + wlen, false, onPrefix, addPath);
  o += wlen;
  const alen = msg.readUInt16BE(o); o += 2;
  const aend = o + alen;
  if (aend > end) throw new Error('UPDATE: path attributes overrun the message');
  while (o < aend) {
    if (o + 3 > aend) throw new Error('UPDATE: truncated attribute header');
    const flags = msg[o] ?? 0; const type = msg[o + 1] ?? 0;
    let len: number;
    if ((flags & 0x10) !== 0) { if (o + 4 > aend) throw new Error('UPDATE: truncated attribute length'); len = msg.readUInt16BE(o + 2); o += 4; }
    else { len = msg[o + 2] ?? 0; o += 3; }
    if (o + len > aend) throw new Error(`UPDATE: attribute ${type} overruns the attributes`);
    if ((type === 14 || type === 15) && len >= 3) {
      const afi = msg.readUInt16BE(o); const safi = msg[o + 2] ?? 0;
      if (afi === 1 && safi === 1) {
        if (type === 14) {
          const nhLen = msg[o + 3] ?? 0;
          walkNlri(msg, o + 4 + nhLen + 1, o + len, true, onPrefix, addPath);
        } else {
          walkNlri(msg, o + 3, o + len, false, onPrefix, addPath);
        }
      }
    }
    o += len;
  }
  walkNlri(msg, aend, end, true, onPrefix, addPath);
}

function walkNlri(msg: Buffer, start: number, end: number, announce: boolean,
  onPrefix: (announce: boolean, len: number, key: number) => void, addPath: boolean): void {
  let o = start;
  while (o < end) {
    if (addPath) { if (o + 4 >= end) throw new Error(`UPDATE: path identifier at offset ${o} overruns its field`); o += 4; }
    const len = msg[o] ?? 0;
    if (len > 32) throw new Error(`UPDATE: IPv4 prefix length ${len} at offset ${o}`);
    const bytes = (len + 7) >>> 3;
    if (o + 1 + bytes > end) throw new Error(`UPDATE: prefix at offset ${o} overruns its field`);
    if (len === 24) onPrefix(announce, 24, ((msg[o + 1] ?? 0) << 16) | ((msg[o + 2] ?? 0) << 8) | (msg[o + 3] ?? 0));
    else onPrefix(announce, len, -1);
    o += 1 + bytes;
  }
}
