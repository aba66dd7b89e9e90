/**
 * COMMUNITIES (type 8, optional transitive; RFC 1997): n × u32. RFC 7606 §7.8: length 0 or not a
 * multiple of 4 → TaW. Well-known values: RFC 1997, RFC 3765 (NO_PEER), RFC 8326, RFC 7999.
 */
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType, WellKnownCommunity } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const communitiesCodec: AttributeCodec = {
  typeCode: AttrType.COMMUNITIES, name: 'COMMUNITIES', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    const n = r.remaining;
    if (n === 0 || n % 4 !== 0) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `length ${n} is not a non-zero multiple of 4`);
    const out = new Array<number>(n / 4);
    for (let i = 0; i < out.length; i++) out[i] = r.u32();
    st.attrs.communities = out;
  },
  present: (i) => i.attributes.communities !== undefined && i.attributes.communities.length > 0,
  encode(i, _ctx, w) { for (const c of i.attributes.communities ?? []) w.u32(c); },
};

const WELL_KNOWN_NAMES: ReadonlyMap<number, string> = new Map([
  [WellKnownCommunity.GRACEFUL_SHUTDOWN, 'graceful-shutdown'],
  [WellKnownCommunity.BLACKHOLE, 'blackhole'],
  [WellKnownCommunity.NO_EXPORT, 'no-export'],
  [WellKnownCommunity.NO_ADVERTISE, 'no-advertise'],
  [WellKnownCommunity.NO_EXPORT_SUBCONFED, 'no-export-subconfed'],
  [WellKnownCommunity.NO_PEER, 'no-peer'],
]);

/** "65000:100", or the well-known name ("no-export"). */
export function formatCommunity(c: number): string {
  return WELL_KNOWN_NAMES.get(c >>> 0) ?? `${c >>> 16}:${c & 0xffff}`;
}
