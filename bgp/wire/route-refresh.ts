/**
 * ROUTE-REFRESH message (RFC 2918 §3, RFC 7313 §3 subtypes):
 *
 *   +-------------------+-------------------+-----------+
 *   | AFI (2 octets)    | Subtype (1 octet) | SAFI (1)  |
 *   +-------------------+-------------------+-----------+
 *
 * Subtype 1/2 (BoRR/EoRR) with a body other than 4 octets → 7/1 (data = the message).
 * Subtype 0 may carry RFC 5291 ORF entries after the 4 octets: they are ignored.
 */
import { BgpWireError, ErrorCode } from './errors.js';
import { checkWholeMessage } from './header.js';
import { HEADER_LENGTH, INITIAL_CONTEXT, MessageType, type CodecContext, type RouteRefreshMessage } from './types.js';

export function decodeRouteRefresh(bytes: Uint8Array, ctx: CodecContext = INITIAL_CONTEXT): RouteRefreshMessage {
  checkWholeMessage(bytes, MessageType.ROUTE_REFRESH, ctx);
  return decodeRouteRefreshBody(bytes, HEADER_LENGTH, bytes.length);
}

export function decodeRouteRefreshBody(buf: Uint8Array, start: number, end: number): RouteRefreshMessage {
  const len = end - start;
  if (len < 4) {
    throw new BgpWireError(ErrorCode.MESSAGE_HEADER, 2, `ROUTE-REFRESH body of ${len} bytes is too short`,
      { data: Uint8Array.of(((len + HEADER_LENGTH) >>> 8) & 0xff, (len + HEADER_LENGTH) & 0xff) });
  }
  const afi = ((buf[start] as number) << 8) | (buf[start + 1] as number);
  const subtype = buf[start + 2] as number;
  const safi = buf[start + 3] as number;
  if ((subtype === 1 || subtype === 2) && len !== 4) {
    throw new BgpWireError(ErrorCode.ROUTE_REFRESH, 1, `ROUTE-REFRESH subtype ${subtype} with a ${len}-byte body (must be 4)`,
      { data: buf.slice(start - HEADER_LENGTH, end) });
  }
  return { type: 'route-refresh', afi, safi, subtype };
}

export function encodeRouteRefresh(msg: RouteRefreshMessage, _ctx?: CodecContext): Uint8Array {
  const out = new Uint8Array(23);
  out.fill(0xff, 0, 16);
  out[17] = 23; out[18] = MessageType.ROUTE_REFRESH;
  out[19] = msg.afi >>> 8; out[20] = msg.afi & 0xff; out[21] = msg.subtype; out[22] = msg.safi;
  return out;
}
