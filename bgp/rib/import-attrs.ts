/**
 * Attribute checks and rewrites the Adj-RIB-In makes on import that depend on the session:
 * enforce-first-AS (RFC 4271 §6.3) and long-lived graceful restart's LLGR_STALE (RFC 9494).
 */
import { AsPathSegmentType, WellKnownCommunity, type PathAttributes } from '../wire/types.js';

/**
 * RFC 4271 §6.3 first-AS check: the leftmost AS of an AS_SEQUENCE first segment is `asn`. An
 * empty AS_PATH, or one opening with an AS_SET, fails (as FRR's enforce-first-as).
 */
export function startsWith(attrs: PathAttributes, asn: number): boolean {
  const s = attrs.asPath?.[0];
  return s !== undefined && s.type === AsPathSegmentType.AS_SEQUENCE && s.asns[0] === asn;
}

/** The attributes with the LLGR_STALE community added (RFC 9494 §4.2). */
export function withLlgrStale(a: PathAttributes): PathAttributes {
  return { ...a, communities: [...(a.communities ?? []), WellKnownCommunity.LLGR_STALE] };
}
