/**
 * ONLY_TO_CUSTOMER (OTC, type 35, optional transitive; RFC 9234 §5): the 4-octet AS that marked
 * the route as going only downstream (to customers). RFC 9234 §5: a length other than 4 → TaW.
 * What is done with it on import and export: bgp/rib/otc.ts.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const onlyToCustomerCodec: AttributeCodec = {
  typeCode: AttrType.ONLY_TO_CUSTOMER, name: 'ONLY_TO_CUSTOMER', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    st.attrs.onlyToCustomer = r.u32();
  },
  present: (i) => i.attributes.onlyToCustomer !== undefined,
  encode(i, _ctx, w) { w.u32(i.attributes.onlyToCustomer ?? 0); },
};
