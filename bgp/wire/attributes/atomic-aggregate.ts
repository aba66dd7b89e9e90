/** ATOMIC_AGGREGATE (type 6, well-known discretionary; RFC 4271 §5.1.6): empty. RFC 7606 §7.6: discard. */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const atomicAggregateCodec: AttributeCodec = {
  typeCode: AttrType.ATOMIC_AGGREGATE, name: 'ATOMIC_AGGREGATE', flags: AttrFlag.TRANSITIVE,
  malformedAction: () => 'attribute-discard',
  decode(r, st) {
    if (r.remaining !== 0) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 0`);
    st.attrs.atomicAggregate = true;
  },
  present: (i) => i.attributes.atomicAggregate === true,
  encode() { /* empty value */ },
};
