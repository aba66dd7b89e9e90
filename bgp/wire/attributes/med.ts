/** MULTI_EXIT_DISC (type 4, optional non-transitive; RFC 4271 §5.1.4): u32. RFC 7606 §7.4: TaW. */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const medCodec: AttributeCodec = {
  typeCode: AttrType.MULTI_EXIT_DISC, name: 'MULTI_EXIT_DISC', flags: AttrFlag.OPTIONAL,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    st.attrs.med = r.u32();
  },
  present: (i) => i.attributes.med !== undefined,
  encode(i, _ctx, w) { w.u32(i.attributes.med ?? 0); },
};
