/**
 * A route in the RIB: who it came from, its RFC 7911 path id, its interned attributes and its
 * next hop. It carries no prefix (the prefix is the key of the table that holds it), so one
 * immutable Route is shared by every NLRI of an UPDATE; that also makes caching the best-path
 * inputs (AS_PATH length, neighbour AS) on it free.
 */
import { AsPathSegmentType, WellKnownCommunity, type PathAttributes } from '../wire/types.js';

export type SourceKind = 'ebgp' | 'ibgp' | 'local';

/** One BGP neighbour (or the local origin), shared by all routes it sent. */
export interface PeerInfo {
  /** Stable name, e.g. the configured neighbour name or "10.0.0.2". */
  readonly id: string;
  readonly kind: SourceKind;
  /** The neighbour's AS (our own AS for iBGP and local). */
  readonly asn: number;
  /** BGP Identifier from the OPEN, as uint32 (ours for local). */
  readonly routerId: number;
  /** Transport address of the session (4 or 16 bytes); empty for local. */
  readonly address: Uint8Array;
  /** Route-reflector client (only meaningful on iBGP when we reflect). */
  readonly rrClient?: boolean;
  /** The interface toward the neighbour, where its routes' next hops are (policy `interface` matches). */
  readonly interface?: string;
}

export class Route {
  /** AS_PATH length for best-path (AS_SET 1, confederation segments 0), computed once. */
  readonly asPathLen: number;
  /** First AS of the path, for MED comparison (0 when none). */
  readonly neighbourAs: number;
  /** [this]: the ECMP set of a lone best route, without allocating per prefix. */
  readonly alone: readonly Route[];
  /** 1 when it carries LLGR_STALE (RFC 9494 §4.3): least preferred in best-path selection; else 0. */
  readonly llgrStale: number;

  constructor(
    readonly source: PeerInfo,
    readonly pathId: number,
    /** Interned: compare by identity. */
    readonly attrs: PathAttributes,
    /** attrs.nextHop for IPv4, the MP_REACH global next hop for IPv6. */
    readonly nextHop: Uint8Array | undefined,
    /** Wall ms it arrived (the route's age in the show views); 0: not recorded. */
    readonly since: number = 0,
    /** An originated route's interface (policy `interface` matches); received routes use source.interface. */
    readonly iface: string | undefined = undefined,
  ) {
    let n = 0;
    for (const s of attrs.asPath ?? []) {
      if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
      else if (s.type === AsPathSegmentType.AS_SET) n += 1;
    }
    this.asPathLen = n;
    const first = attrs.asPath?.[0];
    this.neighbourAs = first && first.type === AsPathSegmentType.AS_SEQUENCE ? (first.asns[0] ?? 0) : 0;
    this.llgrStale = attrs.communities?.includes(WellKnownCommunity.LLGR_STALE) ? 1 : 0;
    this.alone = Object.freeze([this]);
  }
}

export const LOCAL_PEER_ID = 'local';

/** The local origin (originate()/withdrawOriginated()). */
export function localPeer(asn: number, routerId: number): PeerInfo {
  return { id: LOCAL_PEER_ID, kind: 'local', asn, routerId, address: new Uint8Array(0) };
}
