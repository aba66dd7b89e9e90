/** NEXT_HOP (type 3, well-known; RFC 4271 §5.1.3): 4-octet IPv4 address. RFC 7606 §7.3: TaW. */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const nextHopCodec: AttributeCodec = {
  typeCode: AttrType.NEXT_HOP, name: 'NEXT_HOP', flags: AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    st.attrs.nextHop = r.copy(4);
  },
  present: (i) => (i.nextHop === undefined ? i.attributes.nextHop !== undefined : i.nextHop !== null),
  encode(i, _ctx, w) { w.bytes((i.nextHop === undefined ? i.attributes.nextHop : i.nextHop) ?? new Uint8Array(4)); },
};

/** RFC 4271 §6.3 semantically invalid IPv4 next hops: 0/8, 127/8, 224/4 and above. */
export function isMartianNextHop(nh: Uint8Array): boolean {
  const a = nh[0] ?? 0;
  return a === 0 || a === 127 || a >= 224;
}
