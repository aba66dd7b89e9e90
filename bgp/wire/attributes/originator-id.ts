/**
 * ORIGINATOR_ID (type 9, optional non-transitive; RFC 4456): 4-octet router id.
 * RFC 7606 §7.9: malformed → discard from eBGP, TaW from iBGP. Meaningless outside the AS: from
 * an eBGP peer it is always discarded, and it is never sent to one.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const originatorIdCodec: AttributeCodec = {
  typeCode: AttrType.ORIGINATOR_ID, name: 'ORIGINATOR_ID', flags: AttrFlag.OPTIONAL,
  malformedAction: (ctx) => (ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard'),
  decode(r, st) {
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    if (!st.ctx.ibgp) throw malformed(this, st.ctx, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'received from an eBGP peer, discarded', 'attribute-discard');
    st.attrs.originatorId = r.u32();
  },
  present: (i, ctx) => i.attributes.originatorId !== undefined && ctx.ibgp,
  encode(i, _ctx, w) { w.u32(i.attributes.originatorId ?? 0); },
};
