/**
 * MP_REACH_NLRI (type 14, optional non-transitive; RFC 4760 §3, RFC 2545 IPv6 next hops,
 * RFC 8950 IPv6 next hop for IPv4 NLRI, RFC 7911 path ids):
 *
 *   +---------------------------------------------------------+
 *   | AFI (2) | SAFI (1) | Next Hop Len (1) | Next Hop (var)  |
 *   | Reserved (1) | NLRI (var)                               |
 *   +---------------------------------------------------------+
 *
 * RFC 7606 §7.11: a next-hop length inconsistent with the family → AFI/SAFI disable (the
 * attribute length still bounds the NLRI, so the rest of the UPDATE is usable); a truncated
 * attribute or unparseable NLRI → session reset. Families other than IPv4/IPv6 unicast or
 * multicast are not decoded: the attribute is discarded with a problem report.
 */
import { UpdateSubcode } from '../errors.js';
import { decodeNlri, encodeNlri } from '../nlri.js';
import { AttrFlag, AttrType, afiSafiKey } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

/** Address family (4 or 6) of a decodable AFI/SAFI, else undefined. */
export function familyOf(afi: number, safi: number): 4 | 6 | undefined {
  if (safi !== 1 && safi !== 2) return undefined;
  return afi === 1 ? 4 : afi === 2 ? 6 : undefined;
}

/** Next-hop lengths allowed per AFI (IPv4: 4, or 16/32 per RFC 8950; IPv6: 16 or 32). */
export function nextHopLengthOk(afi: number, len: number): boolean {
  return afi === 1 ? (len === 4 || len === 16 || len === 32) : (len === 16 || len === 32);
}

export const mpReachCodec: AttributeCodec = {
  typeCode: AttrType.MP_REACH_NLRI, name: 'MP_REACH_NLRI', flags: AttrFlag.OPTIONAL,
  malformedAction: () => 'session-reset',
  decode(r, st) {
    if (r.remaining < 5) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `length ${r.remaining} is too short`);
    const afi = r.u16();
    const safi = r.u8();
    const nhLen = r.u8();
    if (r.remaining < nhLen + 1) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `next hop length ${nhLen} overruns the attribute`);
    const family = familyOf(afi, safi);
    if (family === undefined) {
      throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `AFI ${afi} SAFI ${safi} is not supported, attribute ignored`, 'attribute-discard');
    }
    if (!nextHopLengthOk(afi, nhLen)) {
      const e = malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `next hop length ${nhLen} is inconsistent with AFI ${afi}`, 'afi-safi-disable');
      throw Object.assign(e, { afiSafi: { afi, safi } });
    }
    const nh = r.copy(nhLen);
    r.skip(1); // reserved (SNPA count in RFC 2858), ignored
    const size = nhLen === 4 ? 4 : 16;
    const nextHops = nhLen === 32 ? [nh.subarray(0, 16), nh.subarray(16, 32)] : [size === nhLen ? nh : nh.subarray(0, size)];
    const nlri = decodeNlri(r.buf, r.pos, r.end, family, st.ctx.addPathReceive.has(afiSafiKey(afi, safi)),
      UpdateSubcode.INVALID_NETWORK_FIELD, `MP_REACH_NLRI AFI ${afi} SAFI ${safi}`);
    r.pos = r.end;
    st.mpReach = { afi, safi, nextHops, nlri };
  },
  present: (i) => i.mpReach !== undefined,
  encode(i, ctx, w) {
    const m = i.mpReach;
    if (m === undefined) return;
    w.u16(m.afi).u8(m.safi);
    let nhLen = 0;
    for (const nh of m.nextHops) nhLen += nh.length;
    w.u8(nhLen);
    for (const nh of m.nextHops) w.bytes(nh);
    w.u8(0);
    encodeNlri(w, m.nlri, ctx.addPathSend.has(afiSafiKey(m.afi, m.safi)));
  },
};
