/**
 * A route in the RIB: who it came from, its RFC 7911 path id, its interned attributes and its
 * next hop. Deliberately tiny (four fields, no prefix, no closures): the prefix is the key of
 * the table that holds it, the attributes are shared by every route of the same UPDATE.
 */
import type { PathAttributes } from '../wire/types.js';

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
}

export class Route {
  constructor(
    readonly source: PeerInfo,
    readonly pathId: number,
    /** Interned: compare by identity. */
    readonly attrs: PathAttributes,
    /** attrs.nextHop for IPv4, the MP_REACH global next hop for IPv6. */
    readonly nextHop: Uint8Array | undefined,
  ) {}
}

export const LOCAL_PEER_ID = 'local';

/** The local origin (originate()/withdrawOriginated()). */
export function localPeer(asn: number, routerId: number): PeerInfo {
  return { id: LOCAL_PEER_ID, kind: 'local', asn, routerId, address: new Uint8Array(0) };
}
