/**
 * MP_UNREACH_NLRI (type 15, optional non-transitive; RFC 4760 §4):
 *
 *   +-----------------------------------------------+
 *   | AFI (2) | SAFI (1) | Withdrawn Routes (var)   |
 *   +-----------------------------------------------+
 *
 * Only AFI/SAFI with no routes is the End-of-RIB marker for that family (RFC 4724 §2).
 * RFC 7606 §7.11: truncated or unparseable → session reset.
 */
import { UpdateSubcode } from '../errors.js';
import { decodeNlri, encodeNlri } from '../nlri.js';
import { AttrFlag, AttrType, afiSafiKey } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';
import { familyOf } from './mp-reach.js';

export const mpUnreachCodec: AttributeCodec = {
  typeCode: AttrType.MP_UNREACH_NLRI, name: 'MP_UNREACH_NLRI', flags: AttrFlag.OPTIONAL,
  malformedAction: () => 'session-reset',
  decode(r, st) {
    if (r.remaining < 3) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `length ${r.remaining} is too short`);
    const afi = r.u16();
    const safi = r.u8();
    const family = familyOf(afi, safi);
    if (family === undefined) {
      throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `AFI ${afi} SAFI ${safi} is not supported, attribute ignored`, 'attribute-discard');
    }
    const withdrawn = decodeNlri(r.buf, r.pos, r.end, family, st.ctx.addPathReceive.has(afiSafiKey(afi, safi)),
      UpdateSubcode.INVALID_NETWORK_FIELD, `MP_UNREACH_NLRI AFI ${afi} SAFI ${safi}`);
    r.pos = r.end;
    st.mpUnreach = { afi, safi, withdrawn };
  },
  present: (i) => i.mpUnreach !== undefined,
  encode(i, ctx, w) {
    const m = i.mpUnreach;
    if (m === undefined) return;
    w.u16(m.afi).u8(m.safi);
    encodeNlri(w, m.withdrawn, ctx.addPathSend.has(afiSafiKey(m.afi, m.safi)));
  },
};
