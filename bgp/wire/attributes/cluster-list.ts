/**
 * CLUSTER_LIST (type 10, optional non-transitive; RFC 4456): n × 4-octet cluster id.
 * RFC 7606 §7.10: length 0 or not a multiple of 4 → discard from eBGP, TaW from iBGP. Meaningless
 * outside the AS: from an eBGP peer it is always discarded, and it is never sent to one.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const clusterListCodec: AttributeCodec = {
  typeCode: AttrType.CLUSTER_LIST, name: 'CLUSTER_LIST', flags: AttrFlag.OPTIONAL,
  malformedAction: (ctx) => (ctx.ibgp ? 'treat-as-withdraw' : 'attribute-discard'),
  decode(r, st) {
    const n = r.remaining;
    if (n === 0 || n % 4 !== 0) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${n} is not a non-zero multiple of 4`);
    if (!st.ctx.ibgp) throw malformed(this, st.ctx, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'received from an eBGP peer, discarded', 'attribute-discard');
    const out = new Array<number>(n / 4);
    for (let i = 0; i < out.length; i++) out[i] = r.u32();
    st.attrs.clusterList = out;
  },
  present: (i, ctx) => i.attributes.clusterList !== undefined && i.attributes.clusterList.length > 0 && ctx.ibgp,
  encode(i, _ctx, w) { for (const c of i.attributes.clusterList ?? []) w.u32(c); },
};
