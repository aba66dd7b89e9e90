/**
 * LOCAL_PREF (type 5, well-known; RFC 4271 §5.1.5): u32, iBGP only. RFC 7606 §7.5: from an eBGP
 * peer it is discarded (whatever its shape); from iBGP a length other than 4 → TaW.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const localPrefCodec: AttributeCodec = {
  typeCode: AttrType.LOCAL_PREF, name: 'LOCAL_PREF', flags: AttrFlag.TRANSITIVE,
  malformedAction: (ctx) => (ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard'),
  decode(r, st) {
    if (!st.ctx.ibgp) throw malformed(this, st.ctx, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'received from an eBGP peer, discarded', 'attribute-discard');
    if (r.remaining !== 4) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 4`);
    st.attrs.localPref = r.u32();
  },
  present: (i, ctx) => i.attributes.localPref !== undefined && ctx.ibgp,
  encode(i, _ctx, w) { w.u32(i.attributes.localPref ?? 100); },
};
