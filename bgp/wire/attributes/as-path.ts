/**
 * AS_PATH (type 2, well-known mandatory; RFC 4271 §4.3, RFC 5065 confederation segments,
 * RFC 6793 2/4-octet AS per session). RFC 7606 §7.2 / RFC 7607: malformed or AS 0 → TaW (3/11).
 *
 *   segment: +--------+--------+------------------------------+
 *            | type   | count  | count × AS (2 or 4 octets)   |
 *            +--------+--------+------------------------------+
 *   type 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET
 */
import { BgpWireError, ErrorCode, UpdateSubcode, type ErrorAction } from '../errors.js';
import type { Reader } from '../reader.js';
import { AS_TRANS, AsPathSegmentType, AttrFlag, AttrType, type AsPathSegment, type AsPathSegmentType as SegType } from '../types.js';
import type { Writer } from '../writer.js';
import type { AttributeCodec } from './attribute-codec.js';

/** Parse segments; throws BgpWireError(3/11, `action`) when malformed. */
export function decodeSegments(r: Reader, asSize: 2 | 4, what: string, action: ErrorAction,
  rejectAsZero = true): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  const bad = (m: string) => new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_AS_PATH, `${what}: ${m}`, { action });
  while (r.remaining > 0) {
    if (r.remaining < 2) throw bad('truncated segment header');
    const type = r.u8();
    const count = r.u8();
    if (type < 1 || type > 4) throw bad(`invalid segment type ${type}`);
    if (count === 0) throw bad('segment of length 0');
    if (r.remaining < count * asSize) throw bad(`segment of ${count} AS overruns the attribute`);
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      const asn = asSize === 4 ? r.u32() : r.u16();
      if (asn === 0 && rejectAsZero) throw bad('AS 0 in path (RFC 7607)');
      asns[i] = asn;
    }
    out.push({ type: type as SegType, asns });
  }
  return out;
}

/** Write segments, splitting any longer than 255 AS; 2-octet form maps AS > 65535 to AS_TRANS. */
export function encodeSegments(w: Writer, segments: readonly AsPathSegment[], asSize: 2 | 4): void {
  for (const seg of segments) {
    for (let off = 0; off < seg.asns.length || (off === 0 && seg.asns.length === 0); off += 255) {
      const part = seg.asns.slice(off, off + 255);
      if (part.length === 0) break;
      w.u8(seg.type).u8(part.length);
      for (const asn of part) {
        if (asSize === 4) w.u32(asn); else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

export const asPathCodec: AttributeCodec = {
  typeCode: AttrType.AS_PATH, name: 'AS_PATH', flags: AttrFlag.TRANSITIVE,
  malformedAction: () => 'treat-as-withdraw',
  decode(r, st) {
    st.attrs.asPath = decodeSegments(r, st.ctx.fourOctetAs ? 4 : 2, this.name, this.malformedAction(st.ctx));
  },
  present: (i) => i.attributes.asPath !== undefined,
  encode(i, ctx, w) { encodeSegments(w, i.attributes.asPath ?? [], ctx.fourOctetAs ? 4 : 2); },
};

/** "65001 65002 {65003,65004} (65005 65006) [65007]" (confed sequence in (), confed set in []). */
export function formatAsPath(path: readonly AsPathSegment[] | undefined): string {
  if (path === undefined) return '';
  return path.map((s) => {
    switch (s.type) {
      case AsPathSegmentType.AS_SEQUENCE: return s.asns.join(' ');
      case AsPathSegmentType.AS_SET: return `{${s.asns.join(',')}}`;
      case AsPathSegmentType.AS_CONFED_SEQUENCE: return `(${s.asns.join(' ')})`;
      case AsPathSegmentType.AS_CONFED_SET: return `[${s.asns.join(',')}]`;
      default: return `?${String(s.type)}(${(s as AsPathSegment).asns.join(' ')})`;
    }
  }).join(' ');
}

/** RFC 4271 §9.1.2.2 path length: AS_SET counts 1, confederation segments count 0. */
export function asPathLength(path: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of path) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}
