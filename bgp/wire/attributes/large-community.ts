/**
 * LARGE_COMMUNITY (type 32, optional transitive; RFC 8092): n × (global admin, local data 1,
 * local data 2), u32 each. RFC 8092 §6: length 0 or not a multiple of 12 → TaW.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType, type LargeCommunity } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const largeCommunityCodec: AttributeCodec = {
  typeCode: AttrType.LARGE_COMMUNITY, name: 'LARGE_COMMUNITY', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    const n = r.remaining;
    if (n === 0 || n % 12 !== 0) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `length ${n} is not a non-zero multiple of 12`);
    const out = new Array<LargeCommunity>(n / 12);
    for (let i = 0; i < out.length; i++) out[i] = { globalAdmin: r.u32(), localData1: r.u32(), localData2: r.u32() };
    st.attrs.largeCommunities = out;
  },
  present: (i) => i.attributes.largeCommunities !== undefined && i.attributes.largeCommunities.length > 0,
  encode(i, _ctx, w) {
    for (const c of i.attributes.largeCommunities ?? []) w.u32(c.globalAdmin).u32(c.localData1).u32(c.localData2);
  },
};

/** "65000:1:2" */
export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.globalAdmin}:${c.localData1}:${c.localData2}`;
}
