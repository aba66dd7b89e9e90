/**
 * ORIGINATOR_ID (type 9, optional non-transitive; RFC 4456): 4-octet router id.
 * RFC 7606 §7.9: malformed → discard from eBGP, TaW from iBGP.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const originatorIdCodec: AttributeCodec = {
  typeCode: AttrType.ORIGINATOR_ID, name: 'ORIGINATOR_ID', flags: AttrFlag.OPTIONAL,
  malformedAction: (ctx) => (ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard'),
  decode(r, st) {
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    st.attrs.originatorId = r.u32();
  },
  present: (i) => i.attributes.originatorId !== undefined,
  encode(i, _ctx, w) { w.u32(i.attributes.originatorId ?? 0); },
};
