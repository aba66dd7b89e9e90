/**
 * EXTENDED_COMMUNITIES (type 16, optional transitive; RFC 4360): n × 8 octets
 * (type, sub-type, 6 octets value). RFC 7606 §7.14: length 0 or not a multiple of 8 → TaW.
 */
import { formatAddress } from '../../../common/prefix.js';
import { UpdateSubcode } from '../errors.js';
import { AttrFlag, AttrType } from '../types.js';
import { malformed, type AttributeCodec } from './attribute-codec.js';

export const extendedCommunitiesCodec: AttributeCodec = {
  typeCode: AttrType.EXTENDED_COMMUNITIES, name: 'EXTENDED_COMMUNITIES', flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    const n = r.remaining;
    if (n === 0 || n % 8 !== 0) throw malformed(this, st.ctx, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `length ${n} is not a non-zero multiple of 8`);
    const out = new Array<Uint8Array>(n / 8);
    for (let i = 0; i < out.length; i++) out[i] = r.copy(8);
    st.attrs.extendedCommunities = out;
  },
  present: (i) => i.attributes.extendedCommunities !== undefined && i.attributes.extendedCommunities.length > 0,
  encode(i, _ctx, w) { for (const c of i.attributes.extendedCommunities ?? []) w.bytes(c.length === 8 ? c : Uint8Array.from({ length: 8 }, (_, k) => c[k] ?? 0)); },
};

const SUBTYPE_NAMES: Readonly<Record<number, string>> = { 0x02: 'rt', 0x03: 'soo' };

/**
 * "rt:65000:100", "soo:192.0.2.1:7", "rt:4200000000:5" for the AS/IPv4-specific route target and
 * route origin types (RFC 4360 §4-5, RFC 5668); anything else as "0x" + 16 hex digits.
 */
export function formatExtendedCommunity(c: Uint8Array): string {
  const type = (c[0] ?? 0) & 0x3f; // ignore the IANA authority and transitive bits
  const sub = c[1] ?? 0;
  const name = SUBTYPE_NAMES[sub];
  const u16 = (i: number) => ((c[i] ?? 0) << 8) | (c[i + 1] ?? 0);
  const u32 = (i: number) => ((u16(i) << 16) | u16(i + 2)) >>> 0;
  if (name !== undefined && c.length === 8) {
    if (type === 0x00) return `${name}:${u16(2)}:${u32(4)}`;
    if (type === 0x01) return `${name}:${formatAddress(c.subarray(2, 6))}:${u16(6)}`;
    if (type === 0x02) return `${name}:${u32(2)}:${u16(6)}`;
  }
  return `0x${Array.from(c, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
