/**
 * AS4_PATH (17) and AS4_AGGREGATOR (18), optional transitive (RFC 6793 §3-4). Only meaningful
 * from a 2-octet ("OLD") peer: they are held aside and merged into AS_PATH / AGGREGATOR after
 * the walk (§4.2.3, as4-merge.ts). From a 4-octet peer they are discarded. Malformed → discard (§6).
 * On encode to a 2-octet peer they are generated when an AS number needs 4 octets.
 */
import { UpdateSubcode } from '../errors.js';
import { AsPathSegmentType, AttrFlag, AttrType, type AsPathSegment } from '../types.js';
import { decodeSegments, encodeSegments } from './as-path.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

const isConfed = (s: AsPathSegment) =>
  s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET;

/** The AS4_PATH we send a 2-octet peer for `path`, or undefined when every AS fits 2 octets. */
export function as4PathFor(path: readonly AsPathSegment[] | undefined): AsPathSegment[] | undefined {
  if (path === undefined) return undefined;
  const segs = path.filter((s) => !isConfed(s));
  return segs.some((s) => s.asns.some((a) => a > 0xffff)) ? segs : undefined;
}

export const as4PathCodec: AttributeCodec = {
  typeCode: AttrType.AS4_PATH, name: 'AS4_PATH', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'attribute-discard',
  decode(r, st) {
    if (st.ctx.fourOctetAs) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'received from a 4-octet AS peer, discarded');
    // Confederation segments are not allowed in AS4_PATH: they are dropped (RFC 6793 §3).
    st.as4Path = decodeSegments(r, 4, this.name, 'attribute-discard').filter((s) => !isConfed(s));
  },
  present: (i, ctx) => !ctx.fourOctetAs && as4PathFor(i.attributes.asPath) !== undefined,
  encode(i, _ctx, w) { encodeSegments(w, as4PathFor(i.attributes.asPath) ?? [], 4); },
};

export const as4AggregatorCodec: AttributeCodec = {
  typeCode: AttrType.AS4_AGGREGATOR, name: 'AS4_AGGREGATOR', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'attribute-discard',
  decode(r, st) {
    if (st.ctx.fourOctetAs) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'received from a 4-octet AS peer, discarded');
    if (r.remaining !== 8) throw malformed(this, st.ctx, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, `length ${r.remaining}, expected 8`);
    const asn = r.u32();
    if (asn === 0) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'AS 0 (RFC 7607)');
    st.as4Aggregator = { asn, address: r.copy(4) };
  },
  present: (i, ctx) => !ctx.fourOctetAs && (i.attributes.aggregator?.asn ?? 0) > 0xffff,
  encode(i, _ctx, w) {
    const a = i.attributes.aggregator;
    if (a !== undefined) w.u32(a.asn).bytes(a.address);
  },
};
