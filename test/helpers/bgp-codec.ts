/**
 * Tests' thin adapter over bgp/wire (decodeMessage with RFC 7606 actions, MessageFramer, the
 * bulk UPDATE encoder, End-of-RIB, OPEN/NOTIFICATION/ROUTE-REFRESH encoders), returning Buffers
 * for raw sockets and problem strings. Production uses bgp/wire directly (session, speaker).
 */
import { MessageFramer } from '../../bgp/wire/framer.js';
import { decodeMessage as wireDecode, encodeOpen as wireEncodeOpen, encodeNotification as wireEncodeNotification, encodeRouteRefresh as wireEncodeRouteRefresh, KEEPALIVE } from '../../bgp/wire/message.js';
import { encodeEndOfRib as wireEoR, encodeUpdates, encodeWithdraws } from '../../bgp/wire/update-encoder.js';
import type { ErrorAction } from '../../bgp/wire/errors.js';
import { INITIAL_CONTEXT, type BgpMessage, type Capability, type CodecContext, type PathAttributes } from '../../bgp/wire/types.js';
import type { Prefix } from '../../common/prefix.js';

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Split a TCP byte stream into whole messages (header validated; throws BgpWireError). */
export class Framer {
  private readonly f: MessageFramer;
  constructor(ctx: CodecContext | (() => CodecContext) = { ...INITIAL_CONTEXT, fourOctetAs: true }) { this.f = new MessageFramer(ctx); }
  push(chunk: Buffer): Buffer[] {
    this.f.push(chunk);
    const out: Buffer[] = [];
    for (let m = this.f.next(); m !== undefined; m = this.f.next()) out.push(buf(m));
    return out;
  }
}

export function encodeOpen(myAs: number, holdTime: number, bgpId: number, caps: readonly Capability[]): Buffer {
  return buf(wireEncodeOpen({ type: 'open', version: 4, myAs: myAs > 0xffff ? 23456 : myAs, holdTime, bgpId: bgpId >>> 0, capabilities: caps }));
}

export function encodeKeepalive(): Buffer { return Buffer.from(KEEPALIVE); }

export function encodeNotification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  return buf(wireEncodeNotification({ type: 'notification', code, subcode, data }));
}

export function encodeRouteRefresh(afi: number, safi: number, subtype = 0): Buffer {
  return buf(wireEncodeRouteRefresh({ type: 'route-refresh', afi, safi, subtype }));
}

export interface Decoded {
  readonly message: BgpMessage;
  readonly action?: ErrorAction;
  readonly problems?: readonly string[];
}

/** Throws BgpWireError only when the session must reset. */
export function decodeMessage(msg: Buffer, ctx: CodecContext): Decoded {
  const d = wireDecode(msg, ctx);
  return {
    message: d.message, ...(d.action !== undefined ? { action: d.action } : {}),
    problems: d.problems.map((p) => `${p.message} (${p.action})`),
  };
}

/** UPDATEs announcing `prefixes` (one family) with one attribute set, packed. */
export function encodeAnnounce(prefixes: readonly Prefix[], attrs: PathAttributes, ctx: CodecContext, v6NextHop?: Uint8Array): Buffer[] {
  const v6 = prefixes[0]?.family === 6;
  const nh = v6 ? v6NextHop ?? new Uint8Array(16) : attrs.nextHop ?? new Uint8Array(4);
  const { nextHop: _nh, ...rest } = attrs;
  return encodeUpdates({ afi: v6 ? 2 : 1, safi: 1 }, rest, prefixes.map((prefix) => ({ prefix })), nh, ctx).map(buf);
}

export function encodeWithdraw(prefixes: readonly Prefix[], ctx: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true }): Buffer[] {
  const v6 = prefixes[0]?.family === 6;
  return encodeWithdraws({ afi: v6 ? 2 : 1, safi: 1 }, prefixes.map((prefix) => ({ prefix })), ctx).map(buf);
}

export function encodeEndOfRib(afi: number): Buffer { return buf(wireEoR({ afi, safi: 1 })); }

/** A stable key for an attribute set, to group prefixes into one UPDATE. */
export function attributesKey(a: PathAttributes): string {
  return JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v).join('.') : v));
}
