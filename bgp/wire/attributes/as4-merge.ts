/**
 * RFC 6793 §4.2.3: rebuild the 4-octet AS path and aggregator from what a 2-octet peer sent.
 * - AGGREGATOR with an AS other than AS_TRANS: AS4_AGGREGATOR and AS4_PATH are ignored.
 * - AGGREGATOR = AS_TRANS with AS4_AGGREGATOR: the aggregator comes from AS4_AGGREGATOR.
 * - AS_PATH shorter (in §9.1.2.2 counting) than AS4_PATH: AS4_PATH is ignored; otherwise the
 *   leading (len(AS_PATH) - len(AS4_PATH)) ASes of AS_PATH are kept, then AS4_PATH follows.
 */
import { AS_TRANS, AsPathSegmentType, type AsPathSegment } from '../types.js';
import { asPathLength } from './as-path.js';
import type { AttrDecodeState } from './attribute-codec.js';

export function mergeAs4(st: AttrDecodeState): void {
  const as4Path = st.as4Path;
  const as4Agg = st.as4Aggregator;
  delete st.as4Path;
  delete st.as4Aggregator;
  const agg = st.attrs.aggregator;
  if (agg !== undefined && agg.asn !== AS_TRANS) return;
  if (agg !== undefined && as4Agg !== undefined) st.attrs.aggregator = as4Agg;
  const path = st.attrs.asPath;
  if (as4Path === undefined || path === undefined) return;
  st.attrs.asPath = mergeAsPaths(path, as4Path);
}

export function mergeAsPaths(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] {
  const n = asPathLength(asPath), n4 = asPathLength(as4Path);
  if (n < n4) return [...asPath];
  let keep = n - n4;
  const keepCut = keep > 0;
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET) {
      out.push(s);
      continue;
    }
    if (keep === 0) break;
    if (s.type === AsPathSegmentType.AS_SET) { out.push(s); keep -= 1; continue; }
    const take = Math.min(keep, s.asns.length);
    out.push(take === s.asns.length ? s : { type: s.type, asns: s.asns.slice(0, take) });
    keep -= take;
  }
  // Where a kept AS_SEQUENCE meets a leading AS4_PATH AS_SEQUENCE they are one segment.
  as4Path.forEach((s, i) => {
    const last = out[out.length - 1];
    if (i === 0 && keepCut && last !== undefined && last.type === AsPathSegmentType.AS_SEQUENCE && s.type === AsPathSegmentType.AS_SEQUENCE) {
      out[out.length - 1] = { type: last.type, asns: [...last.asns, ...s.asns] };
    } else {
      out.push(s);
    }
  });
  return out;
}
