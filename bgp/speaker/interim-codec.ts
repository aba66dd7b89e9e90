/**
 * Interim BGP-4 codec used by the speaker until bgp/wire/ lands (same message model:
 * bgp/wire/types.ts, same error class: BgpWireError). RFC 4271 §4, RFC 4760 (MP_REACH/
 * MP_UNREACH), RFC 5492 capabilities, RFC 6793 4-octet AS, RFC 7606 error handling:
 * attribute problems are collected, the strongest action wins; session-level problems throw.
 *
 *   0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     Marker (16 x 0xff)                        |
 *   |          Length               |      Type     |   body ...    |
 */
import { BgpWireError, ErrorCode, HeaderSubcode, OpenSubcode, UpdateSubcode, strongerAction, type ErrorAction } from '../wire/errors.js';
import {
  Afi, AttrFlag, AttrType, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType, AS_TRANS,
  type AsPathSegment, type BgpMessage, type Capability, type CodecContext, type Nlri,
  type PathAttributes, type UnknownAttribute, type UpdateMessage, type Origin, type LargeCommunity,
} from '../wire/types.js';
import type { Prefix } from '../../common/prefix.js';

// ---------------------------------------------------------------- framing

/** Split a TCP byte stream into whole messages (header validated: marker, length, type). */
export class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= HEADER_LENGTH) {
      for (let i = 0; i < 16; i++) {
        if (this.buf[i] !== 0xff) throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, 'marker is not all ones');
      }
      const len = this.buf.readUInt16BE(16);
      const type = this.buf[18] ?? 0;
      const min = [0, 29, 23, 21, 19, 23][type];
      if (min === undefined) throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, `bad message type ${type}`, { data: Uint8Array.of(type) });
      if (len < min || len > MAX_MESSAGE_LENGTH || (type === MessageType.KEEPALIVE && len !== 19)) {
        throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `bad length ${len} for type ${type}`, { data: Uint8Array.of(len >> 8, len & 0xff) });
      }
      if (this.buf.length < len) break;
      out.push(this.buf.subarray(0, len));
      this.buf = this.buf.subarray(len);
    }
    return out;
  }
}

function frame(type: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(HEADER_LENGTH + body.length, 0xff);
  b.writeUInt16BE(HEADER_LENGTH + body.length, 16);
  b[18] = type;
  b.set(body, HEADER_LENGTH);
  return b;
}

// ---------------------------------------------------------------- OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH

export function encodeOpen(myAs: number, holdTime: number, bgpId: number, caps: readonly Capability[]): Buffer {
  const capBytes: number[] = [];
  for (const c of caps) {
    switch (c.type) {
      case 'multiprotocol': capBytes.push(1, 4, c.afi >> 8, c.afi & 0xff, 0, c.safi); break;
      case 'route-refresh': capBytes.push(2, 0); break;
      case 'enhanced-route-refresh': capBytes.push(70, 0); break;
      case 'four-octet-as': capBytes.push(65, 4, (c.asn >>> 24) & 0xff, (c.asn >>> 16) & 0xff, (c.asn >>> 8) & 0xff, c.asn & 0xff); break;
      default: break;
    }
  }
  const body = Buffer.alloc(10 + 2 + capBytes.length);
  body[0] = 4;
  body.writeUInt16BE(myAs > 0xffff ? AS_TRANS : myAs, 1);
  body.writeUInt16BE(holdTime, 3);
  body.writeUInt32BE(bgpId >>> 0, 5);
  body[9] = 2 + capBytes.length;
  body[10] = 2;
  body[11] = capBytes.length;
  Buffer.from(capBytes).copy(body, 12);
  return frame(MessageType.OPEN, body);
}

export function encodeKeepalive(): Buffer { return frame(MessageType.KEEPALIVE, new Uint8Array(0)); }

export function encodeNotification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return frame(MessageType.NOTIFICATION, Uint8Array.from([code, subcode, ...data]));
}

export function encodeRouteRefresh(afi: number, safi: number, subtype = 0): Buffer {
  return frame(MessageType.ROUTE_REFRESH, Uint8Array.of(afi >> 8, afi & 0xff, subtype, safi));
}

export interface Decoded {
  readonly message: BgpMessage;
  /** UPDATE only: RFC 7606 outcome of attribute problems, and what they were. */
  readonly action?: ErrorAction;
  readonly problems?: readonly string[];
}

export function decodeMessage(msg: Buffer, ctx: CodecContext): Decoded {
  const type = msg[18];
  const body = msg.subarray(HEADER_LENGTH);
  switch (type) {
    case MessageType.OPEN: return { message: decodeOpen(body) };
    case MessageType.KEEPALIVE: return { message: { type: 'keepalive' } };
    case MessageType.NOTIFICATION:
      return { message: { type: 'notification', code: body[0] ?? 0, subcode: body[1] ?? 0, data: Uint8Array.from(body.subarray(2)) } };
    case MessageType.ROUTE_REFRESH:
      if (body.length !== 4) throw new BgpWireError(ErrorCode.ROUTE_REFRESH, 1, 'ROUTE-REFRESH length', { data: Uint8Array.from(msg) });
      return { message: { type: 'route-refresh', afi: body.readUInt16BE(0), subtype: body[2] ?? 0, safi: body[3] ?? 0 } };
    case MessageType.UPDATE: return decodeUpdate(body, ctx);
    default: throw new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, `bad type ${type}`);
  }
}

function openErr(sub: number, m: string): BgpWireError { return new BgpWireError(ErrorCode.OPEN_MESSAGE, sub, m); }

function decodeOpen(b: Buffer): BgpMessage {
  if (b.length < 10) throw openErr(0, 'OPEN too short');
  const version = b[0] ?? 0;
  if (version !== 4) throw new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION, `version ${version}`, { data: Uint8Array.of(0, 4) });
  const myAs = b.readUInt16BE(1), holdTime = b.readUInt16BE(3), bgpId = b.readUInt32BE(5);
  const optLen = b[9] ?? 0;
  if (10 + optLen > b.length) throw openErr(0, 'optional parameters overrun OPEN');
  const caps: Capability[] = [];
  let p = 10;
  while (p < 10 + optLen) {
    const ptype = b[p] ?? 0, plen = b[p + 1] ?? 0;
    if (p + 2 + plen > 10 + optLen) throw openErr(0, 'optional parameter overrun');
    if (ptype !== 2) throw openErr(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, `optional parameter ${ptype}`);
    let q = p + 2;
    while (q < p + 2 + plen) {
      const code = b[q] ?? 0, clen = b[q + 1] ?? 0;
      const v = b.subarray(q + 2, q + 2 + clen);
      if (q + 2 + clen > p + 2 + plen) throw openErr(0, 'capability overrun');
      if (code === 1 && clen === 4) caps.push({ type: 'multiprotocol', afi: v.readUInt16BE(0), safi: v[3] ?? 0 });
      else if (code === 2) caps.push({ type: 'route-refresh' });
      else if (code === 70) caps.push({ type: 'enhanced-route-refresh' });
      else if (code === 65 && clen === 4) caps.push({ type: 'four-octet-as', asn: v.readUInt32BE(0) });
      else if (code === 6) caps.push({ type: 'extended-message' });
      else caps.push({ type: 'unknown', code, value: Uint8Array.from(v) });
      q += 2 + clen;
    }
    p += 2 + plen;
  }
  return { type: 'open', version, myAs, holdTime, bgpId, capabilities: caps };
}

// ---------------------------------------------------------------- prefixes

function decodePrefixes(b: Buffer, family: 4 | 6): Nlri[] {
  const out: Nlri[] = [];
  const max = family === 4 ? 32 : 128;
  let p = 0;
  while (p < b.length) {
    const len = b[p] ?? 0;
    const n = Math.ceil(len / 8);
    if (len > max || p + 1 + n > b.length) {
      throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD, `bad prefix length ${len}`);
    }
    const bytes = new Uint8Array(family === 4 ? 4 : 16);
    bytes.set(b.subarray(p + 1, p + 1 + n));
    if (len % 8 !== 0 && n > 0) bytes[n - 1] = (bytes[n - 1] ?? 0) & ((0xff << (8 - (len % 8))) & 0xff);
    out.push({ prefix: { family, bytes, length: len } });
    p += 1 + n;
  }
  return out;
}

function encodePrefix(p: Prefix): number[] {
  const n = Math.ceil(p.length / 8);
  return [p.length, ...p.bytes.subarray(0, n)];
}

// ---------------------------------------------------------------- UPDATE decoding (RFC 7606)

const WELL_KNOWN = new Set<number>([AttrType.ORIGIN, AttrType.AS_PATH, AttrType.NEXT_HOP, AttrType.LOCAL_PREF, AttrType.ATOMIC_AGGREGATE]);
/** Expected (optional, transitive) bits per known attribute. */
const FLAGS: Record<number, number> = {
  1: 0x40, 2: 0x40, 3: 0x40, 4: 0x80, 5: 0x40, 6: 0x40, 7: 0xc0, 8: 0xc0, 9: 0x80, 10: 0x80,
  14: 0x80, 15: 0x80, 16: 0xc0, 17: 0xc0, 18: 0xc0, 32: 0xc0,
};

type MutableAttrs = { -readonly [K in keyof PathAttributes]: PathAttributes[K] };

function decodeUpdate(b: Buffer, ctx: CodecContext): Decoded {
  const malformed = (m: string) => new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, m);
  if (b.length < 4) throw malformed('UPDATE too short');
  const wlen = b.readUInt16BE(0);
  if (2 + wlen + 2 > b.length) throw malformed('withdrawn routes length overruns the message');
  const withdrawn = decodePrefixes(b.subarray(2, 2 + wlen), 4);
  const alen = b.readUInt16BE(2 + wlen);
  const aStart = 4 + wlen;
  if (aStart + alen > b.length) throw malformed('total path attribute length overruns the message');
  const nlri = decodePrefixes(b.subarray(aStart + alen), 4);
  const attrs: MutableAttrs = {};
  const unknown: UnknownAttribute[] = [];
  let action: ErrorAction | undefined;
  const problems: string[] = [];
  const problem = (a: ErrorAction, what: string) => { action = action === undefined ? a : strongerAction(action, a); problems.push(`${what} (${a})`); };
  let mpReach: UpdateMessage['mpReach'];
  let mpUnreach: UpdateMessage['mpUnreach'];
  const seen = new Set<number>();
  const asLen = ctx.fourOctetAs ? 4 : 2;
  let p = aStart;
  const end = aStart + alen;
  while (p < end) {
    if (p + 3 > end) { problem('treat-as-withdraw', 'attribute header overruns the attribute list'); break; }
    const flags = b[p] ?? 0, type = b[p + 1] ?? 0;
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    if (ext && p + 4 > end) { problem('treat-as-withdraw', 'attribute header overruns the attribute list'); break; }
    const len = ext ? b.readUInt16BE(p + 2) : (b[p + 2] ?? 0);
    const vStart = p + (ext ? 4 : 3);
    if (vStart + len > end) { problem('treat-as-withdraw', `attribute ${type} overruns the attribute list`); break; }
    const v = b.subarray(vStart, vStart + len);
    p = vStart + len;
    if (seen.has(type)) {
      if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) throw malformed(`duplicate attribute ${type}`);
      problems.push(`duplicate attribute ${type} (attribute-discard)`);
      continue;
    }
    seen.add(type);
    const expected = FLAGS[type];
    if (expected === undefined) {
      if ((flags & AttrFlag.OPTIONAL) === 0) { problem('treat-as-withdraw', `unrecognized well-known attribute ${type}`); continue; }
      if (flags & AttrFlag.TRANSITIVE) unknown.push({ typeCode: type, flags: flags | AttrFlag.PARTIAL, value: Uint8Array.from(v) });
      continue;
    }
    if ((flags & 0xc0) !== expected) {
      if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, `flags of ${type}`);
      problem('treat-as-withdraw', `attribute ${type} flags 0x${flags.toString(16)}`);
      continue;
    }
    switch (type) {
      case AttrType.ORIGIN:
        if (len !== 1) problem('treat-as-withdraw', `ORIGIN length ${len}`);
        else if ((v[0] ?? 0) > 2) problem('treat-as-withdraw', `invalid ORIGIN ${v[0]}`);
        else attrs.origin = (v[0] ?? 0) as Origin;
        break;
      case AttrType.AS_PATH: {
        const segs = decodeAsPath(v, asLen);
        if (segs === undefined) problem('treat-as-withdraw', 'malformed AS_PATH'); else attrs.asPath = segs;
        break;
      }
      case AttrType.NEXT_HOP:
        if (len !== 4) problem('treat-as-withdraw', `NEXT_HOP length ${len}`); else attrs.nextHop = Uint8Array.from(v);
        break;
      case AttrType.MULTI_EXIT_DISC:
        if (len !== 4) problem('treat-as-withdraw', `MULTI_EXIT_DISC length ${len}`); else attrs.med = v.readUInt32BE(0);
        break;
      case AttrType.LOCAL_PREF:
        if (!ctx.ibgp) problems.push('LOCAL_PREF from an eBGP peer (attribute-discard)');
        else if (len !== 4) problem('treat-as-withdraw', `LOCAL_PREF length ${len}`);
        else attrs.localPref = v.readUInt32BE(0);
        break;
      case AttrType.ATOMIC_AGGREGATE:
        if (len !== 0) problems.push(`ATOMIC_AGGREGATE length ${len} (attribute-discard)`); else attrs.atomicAggregate = true;
        break;
      case AttrType.AGGREGATOR:
        if (len !== asLen + 4) problems.push(`AGGREGATOR length ${len} (attribute-discard)`);
        else {
          const asn = asLen === 4 ? v.readUInt32BE(0) : v.readUInt16BE(0);
          if (asn === 0) problems.push('AGGREGATOR AS 0 (attribute-discard)');
          else attrs.aggregator = { asn, address: Uint8Array.from(v.subarray(asLen)) };
        }
        break;
      case AttrType.COMMUNITIES:
        if (len === 0 || len % 4 !== 0) problem('treat-as-withdraw', `COMMUNITIES length ${len}`);
        else attrs.communities = Array.from({ length: len / 4 }, (_, i) => v.readUInt32BE(i * 4));
        break;
      case AttrType.ORIGINATOR_ID:
        if (len !== 4) problem(ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard', `ORIGINATOR_ID length ${len}`);
        else attrs.originatorId = v.readUInt32BE(0);
        break;
      case AttrType.CLUSTER_LIST:
        if (len === 0 || len % 4 !== 0) problem(ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard', `CLUSTER_LIST length ${len}`);
        else attrs.clusterList = Array.from({ length: len / 4 }, (_, i) => v.readUInt32BE(i * 4));
        break;
      case AttrType.EXTENDED_COMMUNITIES:
        if (len % 8 !== 0) problem('treat-as-withdraw', `EXTENDED_COMMUNITIES length ${len}`);
        else attrs.extendedCommunities = Array.from({ length: len / 8 }, (_, i) => Uint8Array.from(v.subarray(i * 8, i * 8 + 8)));
        break;
      case AttrType.LARGE_COMMUNITY:
        if (len === 0 || len % 12 !== 0) problem('treat-as-withdraw', `LARGE_COMMUNITY length ${len}`);
        else attrs.largeCommunities = Array.from({ length: len / 12 }, (_, i): LargeCommunity => ({
          globalAdmin: v.readUInt32BE(i * 12), localData1: v.readUInt32BE(i * 12 + 4), localData2: v.readUInt32BE(i * 12 + 8),
        }));
        break;
      case AttrType.AS4_PATH:
      case AttrType.AS4_AGGREGATOR:
        // With 4-octet AS negotiated these must be discarded (RFC 6793 §6); otherwise carried.
        if (!ctx.fourOctetAs) unknown.push({ typeCode: type, flags: flags | AttrFlag.PARTIAL, value: Uint8Array.from(v) });
        break;
      case AttrType.MP_REACH_NLRI: {
        if (len < 5) throw malformed('MP_REACH_NLRI truncated');
        const afi = v.readUInt16BE(0), safi = v[2] ?? 0, nhLen = v[3] ?? 0;
        if (5 + nhLen > len) throw malformed('MP_REACH_NLRI next hop overruns');
        const nh = v.subarray(4, 4 + nhLen);
        if (afi === Afi.IPV6 && nhLen !== 16 && nhLen !== 32) throw malformed(`MP_REACH_NLRI IPv6 next hop length ${nhLen}`);
        if (afi === Afi.IPV4 && nhLen !== 4) throw malformed(`MP_REACH_NLRI IPv4 next hop length ${nhLen}`);
        const nextHops = nhLen === 32 ? [Uint8Array.from(nh.subarray(0, 16)), Uint8Array.from(nh.subarray(16))] : [Uint8Array.from(nh)];
        const fam = afi === Afi.IPV6 ? 6 : 4;
        mpReach = { afi, safi, nextHops, nlri: safi === 1 && (afi === 1 || afi === 2) ? decodePrefixes(v.subarray(5 + nhLen), fam) : [] };
        break;
      }
      case AttrType.MP_UNREACH_NLRI: {
        if (len < 3) throw new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'MP_UNREACH_NLRI truncated');
        const afi = v.readUInt16BE(0), safi = v[2] ?? 0;
        mpUnreach = { afi, safi, withdrawn: safi === 1 && (afi === 1 || afi === 2) ? decodePrefixes(v.subarray(3), afi === 2 ? 6 : 4) : [] };
        break;
      }
      default: break;
    }
  }
  if (unknown.length) attrs.unknown = unknown;
  const hasReach = nlri.length > 0 || (mpReach?.nlri.length ?? 0) > 0;
  if (hasReach) {
    if (attrs.origin === undefined && !seen.has(AttrType.ORIGIN)) problem('treat-as-withdraw', 'missing ORIGIN');
    if (attrs.asPath === undefined && !seen.has(AttrType.AS_PATH)) problem('treat-as-withdraw', 'missing AS_PATH');
    if (nlri.length > 0 && attrs.nextHop === undefined && !seen.has(AttrType.NEXT_HOP)) problem('treat-as-withdraw', 'missing NEXT_HOP');
  }
  const message: UpdateMessage = {
    type: 'update', withdrawn, attributes: attrs, nlri,
    ...(mpReach ? { mpReach } : {}), ...(mpUnreach ? { mpUnreach } : {}),
  };
  return { message, ...(action ? { action } : {}), problems };
}

function decodeAsPath(v: Buffer, asLen: number): AsPathSegment[] | undefined {
  const segs: AsPathSegment[] = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) return undefined;
    const t = v[p] ?? 0, n = v[p + 1] ?? 0;
    if (t < 1 || t > 4 || n === 0 || p + 2 + n * asLen > v.length) return undefined;
    const asns: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = asLen === 4 ? v.readUInt32BE(p + 2 + i * 4) : v.readUInt16BE(p + 2 + i * 2);
      if (a === 0) return undefined;
      asns.push(a);
    }
    segs.push({ type: t as AsPathSegment['type'], asns });
    p += 2 + n * asLen;
  }
  return segs;
}

// ---------------------------------------------------------------- UPDATE encoding (batched)

function attr(out: number[], flags: number, type: number, value: readonly number[] | Uint8Array): void {
  if (value.length > 255) {
    out.push(flags | AttrFlag.EXTENDED_LENGTH, type, value.length >> 8, value.length & 0xff, ...value);
  } else out.push(flags, type, value.length, ...value);
}

const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Encode the path attributes (without MP_REACH) in type order. */
export function encodeAttributes(a: PathAttributes, ctx: CodecContext): number[] {
  const out: number[] = [];
  if (a.origin !== undefined) attr(out, 0x40, AttrType.ORIGIN, [a.origin]);
  const path: number[] = [];
  for (const s of a.asPath ?? []) {
    path.push(s.type, s.asns.length);
    for (const n of s.asns) path.push(...(ctx.fourOctetAs ? u32(n) : [(n > 0xffff ? AS_TRANS : n) >> 8, (n > 0xffff ? AS_TRANS : n) & 0xff]));
  }
  attr(out, 0x40, AttrType.AS_PATH, path);
  if (a.nextHop) attr(out, 0x40, AttrType.NEXT_HOP, a.nextHop);
  if (a.med !== undefined) attr(out, 0x80, AttrType.MULTI_EXIT_DISC, u32(a.med));
  if (a.localPref !== undefined && ctx.ibgp) attr(out, 0x40, AttrType.LOCAL_PREF, u32(a.localPref));
  if (a.atomicAggregate) attr(out, 0x40, AttrType.ATOMIC_AGGREGATE, []);
  if (a.aggregator) attr(out, 0xc0, AttrType.AGGREGATOR, [...(ctx.fourOctetAs ? u32(a.aggregator.asn) : [a.aggregator.asn >> 8 & 0xff, a.aggregator.asn & 0xff]), ...a.aggregator.address]);
  if (a.communities?.length) attr(out, 0xc0, AttrType.COMMUNITIES, a.communities.flatMap(u32));
  if (a.originatorId !== undefined) attr(out, 0x80, AttrType.ORIGINATOR_ID, u32(a.originatorId));
  if (a.clusterList?.length) attr(out, 0x80, AttrType.CLUSTER_LIST, a.clusterList.flatMap(u32));
  if (a.extendedCommunities?.length) attr(out, 0xc0, AttrType.EXTENDED_COMMUNITIES, a.extendedCommunities.flatMap((c) => [...c]));
  if (a.largeCommunities?.length) attr(out, 0xc0, AttrType.LARGE_COMMUNITY, a.largeCommunities.flatMap((c) => [...u32(c.globalAdmin), ...u32(c.localData1), ...u32(c.localData2)]));
  for (const u of a.unknown ?? []) attr(out, u.flags & ~AttrFlag.EXTENDED_LENGTH, u.typeCode, u.value);
  return out;
}

/**
 * UPDATEs announcing `prefixes` (one family) with one attribute set, as many NLRI per message as
 * fit in 4096 bytes. IPv6 goes in MP_REACH_NLRI with `v6NextHop`.
 */
export function encodeAnnounce(prefixes: readonly Prefix[], attrs: PathAttributes, ctx: CodecContext, v6NextHop?: Uint8Array): Buffer[] {
  const base = encodeAttributes(attrs, ctx);
  const out: Buffer[] = [];
  const room = MAX_MESSAGE_LENGTH - HEADER_LENGTH - 4 - base.length - 16 - 8;
  let batch: number[] = [];
  const flush = () => {
    if (batch.length === 0) return;
    let body: number[];
    if (prefixes[0]?.family === 6) {
      const mp = [0, 2, 1, 16, ...(v6NextHop ?? new Uint8Array(16)), 0, ...batch];
      const a: number[] = []; attr(a, 0x80, AttrType.MP_REACH_NLRI, mp);
      const all = [...a, ...base];
      body = [0, 0, all.length >> 8, all.length & 0xff, ...all];
    } else {
      body = [0, 0, base.length >> 8, base.length & 0xff, ...base, ...batch];
    }
    out.push(frame(MessageType.UPDATE, Uint8Array.from(body)));
    batch = [];
  };
  for (const p of prefixes) {
    const e = encodePrefix(p);
    if (batch.length + e.length > room) flush();
    batch.push(...e);
  }
  flush();
  return out;
}

export function encodeWithdraw(prefixes: readonly Prefix[]): Buffer[] {
  const out: Buffer[] = [];
  let batch: number[] = [];
  const v6 = prefixes[0]?.family === 6;
  const flush = () => {
    if (batch.length === 0) return;
    if (v6) {
      const a: number[] = []; attr(a, 0x80, AttrType.MP_UNREACH_NLRI, [0, 2, 1, ...batch]);
      out.push(frame(MessageType.UPDATE, Uint8Array.from([0, 0, a.length >> 8, a.length & 0xff, ...a])));
    } else {
      out.push(frame(MessageType.UPDATE, Uint8Array.from([batch.length >> 8, batch.length & 0xff, ...batch, 0, 0])));
    }
    batch = [];
  };
  for (const p of prefixes) {
    const e = encodePrefix(p);
    if (batch.length + e.length > 4000) flush();
    batch.push(...e);
  }
  flush();
  return out;
}

/** End-of-RIB marker (RFC 4724 §2): empty UPDATE for IPv4, empty MP_UNREACH otherwise. */
export function encodeEndOfRib(afi: number): Buffer {
  if (afi === Afi.IPV4) return frame(MessageType.UPDATE, Uint8Array.of(0, 0, 0, 0));
  return frame(MessageType.UPDATE, Uint8Array.of(0, 0, 0, 6, 0x80, AttrType.MP_UNREACH_NLRI, 3, 0, afi, 1));
}

/** A stable key for an attribute set, to group prefixes into one UPDATE. */
export function attributesKey(a: PathAttributes): string {
  return JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v).join('.') : v));
}
