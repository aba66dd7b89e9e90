/** ORIGIN (type 1, well-known mandatory; RFC 4271 §5.1.1). 1 octet: 0 IGP, 1 EGP, 2 INCOMPLETE. RFC 7606 §7.1: TaW. */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType, type Origin } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const originCodec: AttributeCodec = {
  typeCode: AttrType.ORIGIN, name: 'ORIGIN', flags: AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    if (r.remaining !== 1) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 1`);
    const v = r.u8();
    if (v > 2) throw malformed(this, st.ctx, UpdateSubcode.INVALID_ORIGIN, `invalid value ${v}`);
    st.attrs.origin = v as Origin;
  },
  present: (i) => i.attributes.origin !== undefined,
  encode(i, _ctx, w) { w.u8(i.attributes.origin ?? 0); },
};

export function formatOrigin(origin: number | undefined): string {
  switch (origin) {
    case 0: return 'IGP';
    case 1: return 'EGP';
    case 2: return 'incomplete';
    default: return origin === undefined ? '' : `unknown(${origin})`;
  }
}
