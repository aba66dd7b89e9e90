/**
 * AGGREGATOR (type 7, optional transitive; RFC 4271 §5.1.7, RFC 6793): AS (2 octets, or 4 when
 * both sides are 4-octet capable) + IPv4 address. RFC 7606 §7.7 / RFC 7607: bad length or AS 0
 * → attribute discard. To a 2-octet peer an AS > 65535 goes out as AS_TRANS (+ AS4_AGGREGATOR).
 */
import { UpdateSubcode } from '../errors.js';
import { AS_TRANS, AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const aggregatorCodec: AttributeCodec = {
  typeCode: AttrType.AGGREGATOR, name: 'AGGREGATOR', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'attribute-discard',
  decode(r, st) {
    const want = st.ctx.fourOctetAs ? 8 : 6;
    if (r.remaining !== want) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected ${want}`);
    const asn = want === 8 ? r.u32() : r.u16();
    if (asn === 0) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'AS 0 (RFC 7607)');
    st.attrs.aggregator = { asn, address: r.copy(4) };
  },
  present: (i) => i.attributes.aggregator !== undefined,
  encode(i, ctx, w) {
    const a = i.attributes.aggregator;
    if (a === undefined) return;
    if (ctx.fourOctetAs) w.u32(a.asn); else w.u16(a.asn > 0xffff ? AS_TRANS : a.asn);
    w.bytes(a.address);
  },
};
