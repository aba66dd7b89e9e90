/**
 * Conversions between our netlink model (types.ts) and the `netlink` package's message structs,
 * including the nested payloads it leaves raw: IFLA_LINKINFO (veth/vxlan/ipip/bridge) and
 * RTA_MULTIPATH. Pure functions; unit-tested without a kernel.
 */
import { rt, type ifla } from 'netlink';
import { formatAddress, parseAddress, parsePrefix, formatPrefix, type Family } from '../../common/prefix.js';
import { assertNever } from '../../common/assert-never.js';
import { attr, be16, cstr, decodeAttrs, encodeAttrs, find, nested, readCstr, readU32, u32, u8, type Attr } from './nlattr.js';
import { RouteScopeCode, RouteTypeCode, type AddressEntry, type FdbEntry, type KernelRoute, type LinkInfo, type LinkSpec,
  type NeighbourEntry, type NextHop, type RouteScope, type RouteType, defaultMetric } from './types.js';

export const AF_INET = 2, AF_INET6 = 10, AF_BRIDGE = 7;
export const afOf = (f: Family): number => (f === 4 ? AF_INET : AF_INET6);
const familyOf = (af: number | undefined): Family | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

const RTNH_F_ONLINK = 4;
const RTA_GATEWAY = 5;
const NUD_PERMANENT = 0x80;

// IFLA_LINKINFO and per-kind data (linux/if_link.h)
const IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1, IFLA_IFNAME = 3, IFLA_MTU = 4;
const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PORT: 15, LOCAL6: 17 } as const;
const IFLA_IPTUN = { LINK: 1, LOCAL: 2, REMOTE: 3 } as const;

/** Address text to bytes; a fast path for canonical IPv4 (hot in 100k-route applies). */
export function addrBytes(text: string): Buffer {
  const v4 = fastV4(text);
  return v4 ?? Buffer.from(parseAddress(text).bytes);
}

function fastV4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.allocUnsafe(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    const v = Number(p);
    if (p.length === 0 || p.length > 3 || !Number.isInteger(v) || v > 255 || String(v) !== p) return undefined;
    out[i] = v;
  }
  return out;
}

/** Prefix text to (bytes, length), strict: host bits must be zero. */
function prefixParts(text: string): { family: Family; bytes: Buffer; length: number } {
  const slash = text.indexOf('/');
  if (slash > 0) {
    const v4 = fastV4(text.slice(0, slash));
    const lenText = text.slice(slash + 1);
    const len = Number(lenText);
    if (v4 !== undefined && /^\d{1,2}$/.test(lenText) && len <= 32) {
      const n = v4.readUInt32BE(0);
      if (len === 32 || n % 2 ** (32 - len) === 0) return { family: 4, bytes: v4, length: len };
    }
  }
  const p = parsePrefix(text);
  return { family: p.family, bytes: Buffer.from(p.bytes), length: p.length };
}

const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, METRICS: 8, MULTIPATH: 9, TABLE: 15 } as const;
const RTAX_MTU = 2;

/**
 * The payload (struct rtmsg + attributes) of an RTM_NEWROUTE/RTM_DELROUTE, written directly
 * into one buffer (after `headroom` bytes left for the caller's nlmsghdr): the bulk path's
 * encoder. A delete carries only the key (table, dst, metric,
 * protocol, type) with scope "nowhere", so it matches any next hop.
 */
/**
 * Decode an RTM_NEWROUTE payload (struct rtmsg + attributes) straight from bytes, skipping
 * routes whose protocol is not `onlyProtocol` before touching their attributes: the resync
 * path over 100k routes. Undefined for families and types we do not model.
 */
export function decodeRoutePayload(b: Buffer, onlyProtocol?: number, start = 0, end = b.length): KernelRoute | undefined {
  if (end - start < 12) return undefined;
  const family = familyOf(b[start]);
  const protocol = b[start + 5] ?? 0;
  if (family === undefined || (onlyProtocol !== undefined && protocol !== onlyProtocol)) return undefined;
  const type = typeName(b[start + 7] ?? 0);
  if (type === undefined) return undefined;
  const dstLen = b[start + 1] ?? 0;
  let table = b[start + 4] ?? 0;
  let metric = defaultMetric(family);
  // Attributes are read in place (offsets, no Buffer views) for the common ones: at 100k routes
  // a view per attribute is a measurable share of a resync.
  let dstOff = -1;
  let dstBytes = 0;
  let ifindex: number | undefined;
  let gateway: string | undefined;
  let src: string | undefined;
  let nexthops: NextHop[] | undefined;
  let mtu: number | undefined;
  let off = start + 12;
  while (off + 4 <= end) {
    const len = b.readUInt16LE(off);
    const t = b.readUInt16LE(off + 2) & ~NLA_F_NESTED_BIT;
    if (len < 4 || off + len > end) break;
    const v = off + 4;
    switch (t) {
      case RTA.DST: dstOff = v; dstBytes = len - 4; break;
      case RTA.OIF: ifindex = b.readUInt32LE(v); break;
      case RTA.GATEWAY: gateway = formatAddress(Uint8Array.from(b.subarray(v, off + len))); break;
      case RTA.PREFSRC: src = formatAddress(Uint8Array.from(b.subarray(v, off + len))); break;
      case RTA.PRIORITY: metric = b.readUInt32LE(v); break;
      case RTA.TABLE: table = b.readUInt32LE(v); break;
      case RTA.MULTIPATH: nexthops = decodeMultipath(b.subarray(v, off + len)); break;
      case RTA.METRICS: mtu = readU32(find(decodeAttrs(b.subarray(v, off + len)), RTAX_MTU)); break;
      default:
    }
    off += (len + 3) & ~3;
  }
  let dstText: string;
  if (family === 4) {
    dstText = dstOff < 0 || dstBytes < 4 ? `0.0.0.0/${dstLen}` : `${b[dstOff]}.${b[dstOff + 1]}.${b[dstOff + 2]}.${b[dstOff + 3]}/${dstLen}`;
  } else {
    const bytes = new Uint8Array(16);
    if (dstOff >= 0) bytes.set(b.subarray(dstOff, dstOff + Math.min(16, dstBytes)));
    dstText = formatPrefix({ family, bytes, length: dstLen });
  }
  const out: { -readonly [K in keyof KernelRoute]: KernelRoute[K] } = {
    family, dst: dstText, table, protocol, type,
    scope: scopeName(b[start + 6] ?? 0), metric, onlink: ((b.readUInt32LE(start + 8)) & RTNH_F_ONLINK) !== 0,
  };
  if (ifindex !== undefined) out.ifindex = ifindex;
  if (gateway !== undefined) out.gateway = gateway;
  if (src !== undefined) out.src = src;
  if (nexthops !== undefined) out.nexthops = nexthops;
  if (mtu !== undefined) out.mtu = mtu;
  return out;
}
const NLA_F_NESTED_BIT = 0x8000;
const RTA_CACHEINFO = 12;

/**
 * Two independent 32-bit hashes over an RTM_NEWROUTE payload (struct rtmsg and every attribute
 * but RTA_CACHEINFO, whose use counters change by themselves), written into `out`: equal
 * fingerprints mean the same route for every purpose here (a chance of 2^-64 otherwise), so a
 * resync can recognise an unchanged route without decoding it. Words of 4 bytes: attributes are
 * 4-byte aligned, their padding bytes are hashed as they come.
 */
export function routeFingerprint(b: Buffer, start: number, end: number, out: { h1: number; h2: number }): void {
  let h1 = 0x811c9dc5 ^ (end - start), h2 = 0x27d4eb2f;
  const words = (from: number, to: number): void => {
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      h1 = Math.imul(h1 ^ w, 0x01000193);
      h2 = Math.imul((h2 << 13) | (h2 >>> 19), 5) + 0xe6546b64 ^ Math.imul(w, 0xcc9e2d51);
    }
    for (; i < to; i++) { h1 = Math.imul(h1 ^ b[i]!, 0x01000193); h2 = Math.imul(h2 ^ b[i]!, 0x1b873593); }
  };
  words(start, Math.min(end, start + 12));
  let off = start + 12;
  while (off + 4 <= end) {
    const len = b[off]! | (b[off + 1]! << 8);
    if (len < 4 || off + len > end) { words(off, end); break; }
    const t = (b[off + 2]! | (b[off + 3]! << 8)) & ~NLA_F_NESTED_BIT;
    const next = Math.min(end, off + ((len + 3) & ~3));
    if (t !== RTA_CACHEINFO) words(off, next);
    off = next;
  }
  if (off < end) words(off, end);
  out.h1 = h1 | 0;
  out.h2 = h2 | 0;
}

export function encodeRoutePayload(r: KernelRoute, forDelete: boolean, headroom = 0): Buffer {
  const p = prefixParts(r.dst);
  const gw = !forDelete && r.gateway !== undefined ? addrBytes(r.gateway) : undefined;
  const src = !forDelete && r.src !== undefined ? addrBytes(r.src) : undefined;
  const mp = !forDelete && r.nexthops !== undefined && r.nexthops.length > 0 ? encodeMultipath(r.family, r.nexthops) : undefined;
  const oif = !forDelete ? r.ifindex : undefined;
  const mtu = !forDelete ? r.mtu : undefined;
  const al = (n: number): number => (4 + n + 3) & ~3;
  const size = 12 + 8 + 8 + (p.length > 0 ? al(p.bytes.length) : 0) + (oif !== undefined ? 8 : 0) + (gw !== undefined ? al(gw.length) : 0)
    + (src !== undefined ? al(src.length) : 0) + (mp !== undefined ? al(mp.length) : 0) + (mtu !== undefined ? 12 : 0);
  const b = Buffer.alloc(headroom + size);
  const h = headroom;
  b[h] = afOf(r.family);
  b[h + 1] = p.length;
  b[h + 4] = r.table < 256 ? r.table : 252;
  b[h + 5] = r.protocol;
  b[h + 6] = forDelete ? RouteScopeCode.nowhere : RouteScopeCode[r.scope];
  b[h + 7] = RouteTypeCode[r.type];
  b.writeUInt32LE(!forDelete && r.onlink ? RTNH_F_ONLINK : 0, h + 8);
  let off = h + 12;
  const put32 = (t: number, v: number): void => { b.writeUInt16LE(8, off); b.writeUInt16LE(t, off + 2); b.writeUInt32LE(v >>> 0, off + 4); off += 8; };
  const put = (t: number, v: Uint8Array): void => { b.writeUInt16LE(4 + v.length, off); b.writeUInt16LE(t, off + 2); b.set(v, off + 4); off += al(v.length); };
  put32(RTA.TABLE, r.table);
  put32(RTA.PRIORITY, r.metric);
  if (p.length > 0) put(RTA.DST, p.bytes);
  if (oif !== undefined) put32(RTA.OIF, oif);
  if (gw !== undefined) put(RTA.GATEWAY, gw);
  if (src !== undefined) put(RTA.PREFSRC, src);
  if (mp !== undefined) put(RTA.MULTIPATH, mp);
  if (mtu !== undefined) { b.writeUInt16LE(12, off); b.writeUInt16LE(RTA.METRICS, off + 2); off += 4; put32(RTAX_MTU, mtu); }
  return b;
}
const addrText = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : formatAddress(Uint8Array.from(b)));

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new RangeError(`invalid MAC address ${JSON.stringify(mac)}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}
export const macText = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

const SCOPE_BY_CODE = new Map<number, RouteScope>(Object.entries(RouteScopeCode).map(([k, v]) => [v, k as RouteScope]));
const TYPE_BY_CODE = new Map<number, RouteType>(Object.entries(RouteTypeCode).map(([k, v]) => [v, k as RouteType]));
const scopeName = (n: number): RouteScope => SCOPE_BY_CODE.get(n) ?? 'universe';
const typeName = (n: number): RouteType | undefined => TYPE_BY_CODE.get(n);

/** "10.0.0.0/24 via 10.1.1.1 dev #3 proto 80 table 254 metric 0" for errors and logs. */
export function describeRoute(r: KernelRoute): string {
  const hops = r.nexthops?.map((h) => `nexthop via ${h.gateway ?? '-'} dev #${h.ifindex}${h.onlink ? ' onlink' : ''}`).join(' ');
  return [r.type === 'unicast' ? '' : `${r.type} `, r.dst,
    r.gateway === undefined ? '' : ` via ${r.gateway}`, r.ifindex === undefined ? '' : ` dev #${r.ifindex}`,
    r.onlink ? ' onlink' : '', hops === undefined ? '' : ` ${hops}`,
    ` proto ${r.protocol} table ${r.table} metric ${r.metric}`].join('');
}

export function encodeMultipath(family: Family, hops: readonly NextHop[]): Buffer {
  const parts: Buffer[] = [];
  for (const h of hops) {
    const attrs = h.gateway === undefined ? Buffer.alloc(0) : encodeAttrs([attr(RTA_GATEWAY, addrBytes(h.gateway))]);
    const head = Buffer.alloc(8);
    head.writeUInt16LE(8 + attrs.length, 0);
    head.writeUInt8(h.onlink ? RTNH_F_ONLINK : 0, 2);
    head.writeUInt8(Math.max(0, Math.min(255, (h.weight ?? 1) - 1)), 3);
    head.writeInt32LE(h.ifindex, 4);
    parts.push(head, attrs);
    void family;
  }
  return Buffer.concat(parts);
}

export function decodeMultipath(buf: Uint8Array): NextHop[] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NextHop[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 8 || off + len > b.length) break;
    const gw = addrText(find(decodeAttrs(b.subarray(off + 8, off + len)), RTA_GATEWAY));
    const hop: NextHop = { ifindex: b.readInt32LE(off + 4), onlink: (b.readUInt8(off + 2) & RTNH_F_ONLINK) !== 0, weight: b.readUInt8(off + 3) + 1 };
    out.push(gw === undefined ? hop : { ...hop, gateway: gw });
    off += (len + 3) & ~3;
  }
  return out;
}

export function encodeRoute(r: KernelRoute): { data: rt.Route; attrs: rt.RouteAttrs } {
  const p = prefixParts(r.dst);
  const data: rt.Route = {
    family: afOf(r.family), dstLen: p.length, table: r.table < 256 ? r.table : 252,
    protocol: r.protocol as rt.RouteProtocol, scope: RouteScopeCode[r.scope] as rt.RouteScope,
    type: RouteTypeCode[r.type] as rt.RouteType, flags: r.onlink ? { __unknown: RTNH_F_ONLINK } : {},
  };
  const attrs: rt.RouteAttrs = { table: r.table, priority: r.metric };
  if (p.length > 0) attrs.dst = Buffer.from(p.bytes);
  if (r.ifindex !== undefined) attrs.oif = r.ifindex;
  if (r.gateway !== undefined) attrs.gateway = addrBytes(r.gateway);
  if (r.src !== undefined) attrs.prefsrc = addrBytes(r.src);
  if (r.nexthops !== undefined && r.nexthops.length > 0) attrs.multipath = encodeMultipath(r.family, r.nexthops);
  if (r.mtu !== undefined) attrs.metrics = { mtu: u32(r.mtu) };
  return { data, attrs };
}

/** The package decodes known enum values to their names ("BLACKHOLE") and unknown ones to numbers. */
function enumNum(v: unknown, names: Record<string, string | number>): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') { const n = names[v]; return typeof n === 'number' ? n : -1; }
  return 0;
}

function flagBits(flags: rt.RouteFlags | undefined): number {
  return flags?.__unknown ?? 0;
}

/** Decode a route message; undefined for families and types we do not model. */
export function decodeRoute(m: { data: rt.Route; attrs: rt.RouteAttrs }): KernelRoute | undefined {
  const family = familyOf(m.data.family);
  const type = typeName(enumNum(m.data.type, rt.RouteType));
  if (family === undefined || type === undefined) return undefined;
  const len = m.data.dstLen ?? 0;
  const dstBytes = m.attrs.dst ?? Buffer.alloc(family === 4 ? 4 : 16);
  const dst = formatPrefix({ family, bytes: Uint8Array.from(dstBytes), length: len });
  const mtuBuf = m.attrs.metrics?.mtu;
  const base: KernelRoute = {
    family, dst, table: m.attrs.table ?? m.data.table ?? 0, protocol: enumNum(m.data.protocol, rt.RouteProtocol), type,
    scope: scopeName(enumNum(m.data.scope, rt.RouteScope)), metric: m.attrs.priority ?? defaultMetric(family),
    onlink: (flagBits(m.data.flags) & RTNH_F_ONLINK) !== 0,
  };
  const extra: { -readonly [K in keyof KernelRoute]?: KernelRoute[K] } = {};
  if (m.attrs.oif !== undefined) extra.ifindex = m.attrs.oif;
  const gw = addrText(m.attrs.gateway);
  if (gw !== undefined) extra.gateway = gw;
  const src = addrText(m.attrs.prefsrc);
  if (src !== undefined) extra.src = src;
  if (m.attrs.multipath !== undefined) extra.nexthops = decodeMultipath(m.attrs.multipath);
  const mtu = readU32(mtuBuf);
  if (mtu !== undefined) extra.mtu = mtu;
  return { ...base, ...extra };
}

function linkInfoAttrs(spec: LinkSpec): Attr[] {
  switch (spec.type) {
    case 'veth': {
      const ifi = Buffer.alloc(16);
      const peer = Buffer.concat([ifi, encodeAttrs([attr(IFLA_IFNAME, cstr(spec.peerName)),
        ...(spec.mtu === undefined ? [] : [attr(IFLA_MTU, u32(spec.mtu))])])]);
      return [attr(IFLA_INFO_KIND, cstr('veth')), nested(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, peer)])];
    }
    case 'vxlan': {
      const v = spec.vxlan;
      const data: Attr[] = [attr(IFLA_VXLAN.ID, u32(v.vni)), attr(IFLA_VXLAN.PORT, be16(v.port)),
        attr(IFLA_VXLAN.LEARNING, u8(v.learning ? 1 : 0))];
      if (v.parentIndex !== undefined) data.push(attr(IFLA_VXLAN.LINK, u32(v.parentIndex)));
      if (v.local !== undefined) {
        const b = addrBytes(v.local);
        data.push(attr(b.length === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, b));
      }
      return [attr(IFLA_INFO_KIND, cstr('vxlan')), nested(IFLA_INFO_DATA, data)];
    }
    case 'ipip': {
      const data: Attr[] = [];
      if (spec.local !== undefined) data.push(attr(IFLA_IPTUN.LOCAL, addrBytes(spec.local)));
      if (spec.remote !== undefined) data.push(attr(IFLA_IPTUN.REMOTE, addrBytes(spec.remote)));
      return [attr(IFLA_INFO_KIND, cstr('ipip')), nested(IFLA_INFO_DATA, data)];
    }
    case 'bridge': return [attr(IFLA_INFO_KIND, cstr('bridge'))];
    case 'dummy': return [attr(IFLA_INFO_KIND, cstr('dummy'))];
    default: return assertNever(spec, 'link spec');
  }
}

export function encodeLinkSpec(spec: LinkSpec): { data: rt.Link; attrs: ifla.LinkAttrs } {
  const attrs: ifla.LinkAttrs = { ifname: spec.name, linkinfo: encodeAttrs(linkInfoAttrs(spec)) };
  if (spec.mtu !== undefined) attrs.mtu = spec.mtu;
  if (spec.type === 'vxlan' && spec.mac !== undefined) attrs.address = macBytes(spec.mac);
  return { data: {}, attrs };
}

export function decodeLink(m: { data: rt.Link; attrs: ifla.LinkAttrs }): LinkInfo {
  const info = m.attrs.linkinfo === undefined ? [] : decodeAttrs(m.attrs.linkinfo);
  const kind = readCstr(find(info, IFLA_INFO_KIND));
  const flags = m.data.flags ?? {};
  const base: LinkInfo = {
    index: m.data.index ?? 0, name: m.attrs.ifname ?? '', kind, mtu: m.attrs.mtu ?? 0,
    up: flags.up === true, operUp: flags.running === true || m.attrs.operstate === 6,
  };
  let out: LinkInfo = base;
  if (m.attrs.address !== undefined && m.attrs.address.length === 6) out = { ...out, mac: macText(m.attrs.address) };
  if (kind === 'vxlan') {
    const data = decodeAttrs(find(info, IFLA_INFO_DATA) ?? new Uint8Array());
    const port = find(data, IFLA_VXLAN.PORT);
    const local = find(data, IFLA_VXLAN.LOCAL) ?? find(data, IFLA_VXLAN.LOCAL6);
    const parent = readU32(find(data, IFLA_VXLAN.LINK));
    const vx: { -readonly [K in keyof NonNullable<LinkInfo['vxlan']>]: NonNullable<LinkInfo['vxlan']>[K] } = {
      vni: readU32(find(data, IFLA_VXLAN.ID)) ?? 0,
      port: port === undefined || port.length < 2 ? 0 : ((port[0] ?? 0) << 8) | (port[1] ?? 0),
      learning: (find(data, IFLA_VXLAN.LEARNING)?.[0] ?? 0) !== 0,
    };
    const l = addrText(local);
    if (l !== undefined) vx.local = l;
    if (parent !== undefined && parent !== 0) vx.parentIndex = parent;
    out = { ...out, vxlan: vx };
  }
  return out;
}

export function encodeAddress(a: AddressEntry): { data: rt.Address; attrs: rt.AddressAttrs } {
  const p = parsePrefix(a.cidr, { allowHostBits: true });
  const ip = addrBytes(a.cidr.slice(0, a.cidr.indexOf('/')));
  return { data: { family: afOf(p.family), prefixlen: p.length, index: a.ifindex }, attrs: { local: ip, address: ip } };
}

export function decodeAddress(m: { data: rt.Address; attrs: rt.AddressAttrs }): AddressEntry | undefined {
  const family = familyOf(m.data.family);
  const b = m.attrs.local ?? m.attrs.address;
  if (family === undefined || b === undefined) return undefined;
  return { ifindex: m.data.index ?? 0, family, cidr: `${formatAddress(Uint8Array.from(b))}/${m.data.prefixlen ?? 0}` };
}

export function encodeNeighbour(n: NeighbourEntry): { data: rt.Neighbor; attrs: rt.NeighborAttrs } {
  return {
    data: { family: afOf(n.family), ifindex: n.ifindex, state: n.permanent ? { permanent: true } : { reachable: true } },
    attrs: { dst: addrBytes(n.dst), lladdr: macBytes(n.mac) },
  };
}

/**
 * A neighbour entry; undefined without a 6-byte link-layer address unless `allowNoMac` (then
 * mac is ""): the kernel sends an entry being deleted in state FAILED, without its lladdr.
 */
export function decodeNeighbour(m: { data: rt.Neighbor; attrs: rt.NeighborAttrs }, allowNoMac = false): NeighbourEntry | undefined {
  const family = familyOf(m.data.family);
  if (family === undefined || m.attrs.dst === undefined) return undefined;
  const hasMac = m.attrs.lladdr !== undefined && m.attrs.lladdr.length === 6;
  if (!hasMac && !allowNoMac) return undefined;
  return { ifindex: m.data.ifindex ?? 0, family, dst: formatAddress(Uint8Array.from(m.attrs.dst)),
    mac: hasMac && m.attrs.lladdr !== undefined ? macText(m.attrs.lladdr) : '', permanent: m.data.state?.permanent === true };
}

export function encodeFdb(f: FdbEntry): { data: rt.Neighbor; attrs: rt.NeighborAttrs } {
  return {
    data: { family: AF_BRIDGE, ifindex: f.ifindex, state: f.permanent ? { permanent: true } : { reachable: true }, flags: { self: true } },
    attrs: { lladdr: macBytes(f.mac), dst: addrBytes(f.dst) },
  };
}

export function decodeFdb(m: { data: rt.Neighbor; attrs: rt.NeighborAttrs }): FdbEntry | undefined {
  if (m.data.family !== AF_BRIDGE || m.attrs.lladdr === undefined || m.attrs.dst === undefined) return undefined;
  return { ifindex: m.data.ifindex ?? 0, mac: macText(m.attrs.lladdr), dst: formatAddress(Uint8Array.from(m.attrs.dst)),
    permanent: ((m.data.state === undefined ? 0 : (m.data.state.permanent ? NUD_PERMANENT : 0)) & NUD_PERMANENT) !== 0 };
}
