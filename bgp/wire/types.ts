/**
 * BGP-4 message and path-attribute model shared by the codec, FSM, sessions and RIB.
 * Wire constants carry their IANA names; every message is a readonly tagged union member.
 * RFC 4271 (BGP-4), 4760 (MP-BGP), 5492 (capabilities), 6793 (4-octet AS), 2918/7313 (route
 * refresh), 4724 (GR), 7911 (ADD-PATH), 8654 (extended message), 7606 (error handling).
 */
import type { Prefix } from '../../common/prefix.js';

export const MessageType = {
  OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5,
} as const;
export type MessageType = typeof MessageType[keyof typeof MessageType];

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
export const AS_TRANS = 23456;

export const Afi = { IPV4: 1, IPV6: 2 } as const;
export type Afi = typeof Afi[keyof typeof Afi];
export const Safi = { UNICAST: 1 } as const;

/** An address family as carried on the wire; unknown values are kept as numbers. */
export interface AfiSafi { readonly afi: number; readonly safi: number }

export const CapabilityCode = {
  MULTIPROTOCOL: 1, ROUTE_REFRESH: 2, EXTENDED_MESSAGE: 6, GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65, ADD_PATH: 69, ENHANCED_ROUTE_REFRESH: 70, LONG_LIVED_GRACEFUL_RESTART: 71,
} as const;

export const AddPathMode = { RECEIVE: 1, SEND: 2, BOTH: 3 } as const;
export type AddPathMode = typeof AddPathMode[keyof typeof AddPathMode];

export type Capability =
  | { readonly type: 'multiprotocol'; readonly afi: number; readonly safi: number }
  | { readonly type: 'route-refresh' }
  | { readonly type: 'enhanced-route-refresh' }
  | { readonly type: 'extended-message' }
  | { readonly type: 'four-octet-as'; readonly asn: number }
  | {
    readonly type: 'graceful-restart';
    /** R bit (restart state) and N bit (RFC 8538 notification support). */
    readonly restarting: boolean;
    readonly notification: boolean;
    /** Seconds, 12 bits. */
    readonly restartTime: number;
    readonly families: ReadonlyArray<AfiSafi & { readonly forwardingPreserved: boolean }>;
  }
  | { readonly type: 'add-path'; readonly families: ReadonlyArray<AfiSafi & { readonly mode: AddPathMode }> }
  | {
    /** RFC 9494 §3: per family the F bit and the Long-lived Stale Time (seconds, 24 bits). */
    readonly type: 'long-lived-graceful-restart';
    readonly families: ReadonlyArray<AfiSafi & { readonly forwardingPreserved: boolean; readonly staleTime: number }>;
  }
  | { readonly type: 'unknown'; readonly code: number; readonly value: Uint8Array };

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** The 2-octet "My Autonomous System" field (AS_TRANS when the real AS needs 4 octets). */
  readonly myAs: number;
  readonly holdTime: number;
  /** BGP Identifier as an unsigned 32-bit integer. */
  readonly bgpId: number;
  readonly capabilities: readonly Capability[];
}

export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;
export type Origin = typeof Origin[keyof typeof Origin];

export const AsPathSegmentType = {
  AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4,
} as const;
export type AsPathSegmentType = typeof AsPathSegmentType[keyof typeof AsPathSegmentType];

export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  readonly asns: readonly number[];
}

export const AttrType = {
  ORIGIN: 1, AS_PATH: 2, NEXT_HOP: 3, MULTI_EXIT_DISC: 4, LOCAL_PREF: 5, ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7, COMMUNITIES: 8, ORIGINATOR_ID: 9, CLUSTER_LIST: 10, MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15, EXTENDED_COMMUNITIES: 16, AS4_PATH: 17, AS4_AGGREGATOR: 18,
  LARGE_COMMUNITY: 32, ONLY_TO_CUSTOMER: 35,
} as const;
export type AttrType = typeof AttrType[keyof typeof AttrType];

export const AttrFlag = { OPTIONAL: 0x80, TRANSITIVE: 0x40, PARTIAL: 0x20, EXTENDED_LENGTH: 0x10 } as const;

export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000, BLACKHOLE: 0xffff029a, LLGR_STALE: 0xffff0006, NO_LLGR: 0xffff0007, NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02, NO_EXPORT_SUBCONFED: 0xffffff03, NO_PEER: 0xffffff04,
} as const;

export interface LargeCommunity {
  readonly globalAdmin: number;
  readonly localData1: number;
  readonly localData2: number;
}

/** An attribute this speaker does not implement, kept as received (flags include Partial). */
export interface UnknownAttribute {
  readonly typeCode: number;
  readonly flags: number;
  readonly value: Uint8Array;
}

/**
 * The path attributes of a route, decoded into a struct (never a list). MP_REACH/MP_UNREACH are
 * lifted onto the UPDATE; AS4_PATH and AS4_AGGREGATOR are merged into `asPath` and `aggregator`
 * during decoding (RFC 6793 §4.2.3), so consumers always see 4-octet AS numbers.
 */
export interface PathAttributes {
  readonly origin?: Origin;
  readonly asPath?: readonly AsPathSegment[];
  /** IPv4 NEXT_HOP (4 bytes). */
  readonly nextHop?: Uint8Array;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: { readonly asn: number; readonly address: Uint8Array };
  /** RFC 1997 communities as unsigned 32-bit integers. */
  readonly communities?: readonly number[];
  readonly originatorId?: number;
  readonly clusterList?: readonly number[];
  /** RFC 4360 extended communities, 8 bytes each. */
  readonly extendedCommunities?: readonly Uint8Array[];
  readonly largeCommunities?: readonly LargeCommunity[];
  /** RFC 9234 Only to Customer: the AS that set it (bgp/rib/otc.ts). */
  readonly onlyToCustomer?: number;
  readonly unknown?: readonly UnknownAttribute[];
  /**
   * Type codes of known optional transitive attributes (AGGREGATOR, COMMUNITIES, ...) that
   * arrived with the Partial bit set: it stays set when they are passed on (RFC 4271 §5).
   */
  readonly partial?: readonly number[];
}

/** A prefix with its RFC 7911 path identifier when ADD-PATH receive is negotiated. */
export interface Nlri {
  readonly prefix: Prefix;
  readonly pathId?: number;
}

/**
 * IPv4 prefixes without a per-prefix object: entry i is `addrs[i]` (network order as uint32,
 * host bits zero) / `lens[i]`, for i < length (the arrays may be longer). What the speaker
 * decodes the classic IPv4 fields into (DecodeOptions.compactIpv4): at a million prefixes, the
 * three objects per prefix of an Nlri (Nlri, Prefix, its Uint8Array) were most of the decode
 * time and much of the garbage collector's.
 */
export interface Ipv4Prefixes {
  readonly length: number;
  readonly addrs: Uint32Array;
  readonly lens: Uint8Array;
  /** Each prefix's RFC 7911 path identifier, when ADD-PATH receive is negotiated for IPv4 unicast. */
  readonly pathIds?: Uint32Array;
}

export interface MpReach {
  readonly afi: number;
  readonly safi: number;
  /** Global next hop, then the link-local one when present (IPv6, 32-byte form). */
  readonly nextHops: readonly Uint8Array[];
  readonly nlri: readonly Nlri[];
}

export interface MpUnreach {
  readonly afi: number;
  readonly safi: number;
  readonly withdrawn: readonly Nlri[];
}

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 unicast withdrawn routes (classic field). */
  readonly withdrawn: readonly Nlri[];
  readonly attributes: PathAttributes;
  readonly mpReach?: MpReach;
  readonly mpUnreach?: MpUnreach;
  /** IPv4 unicast NLRI (classic field). */
  readonly nlri: readonly Nlri[];
  /**
   * Only from a decoder asked for DecodeOptions.compactIpv4 (and without ADD-PATH for IPv4): the
   * classic fields' prefixes, here instead of in `withdrawn` and `nlri` (which are then empty).
   */
  readonly compact4?: { readonly withdrawn: Ipv4Prefixes; readonly nlri: Ipv4Prefixes };
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export interface KeepaliveMessage { readonly type: 'keepalive' }

export const RouteRefreshSubtype = { NORMAL: 0, BORR: 1, EORR: 2 } as const;

export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
  /** RFC 7313: 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh. */
  readonly subtype: number;
}

export type BgpMessage =
  | OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/**
 * What both sides negotiated, passed explicitly to every encoder and decoder (never global).
 */
export interface CodecContext {
  readonly fourOctetAs: boolean;
  readonly extendedMessage: boolean;
  /** Families for which we receive (decode) path identifiers, as "afi/safi" keys. */
  readonly addPathReceive: ReadonlySet<string>;
  /** Families for which we send (encode) path identifiers, as "afi/safi" keys. */
  readonly addPathSend: ReadonlySet<string>;
  /** iBGP session: decides some RFC 7606 actions (e.g. LOCAL_PREF from an eBGP peer is discarded). */
  readonly ibgp: boolean;
}

export function afiSafiKey(afi: number, safi: number): string {
  return `${afi}/${safi}`;
}

/** Context before OPENs are exchanged: 2-octet AS, no extensions. */
export const INITIAL_CONTEXT: CodecContext = {
  fourOctetAs: false, extendedMessage: false, addPathReceive: new Set(), addPathSend: new Set(), ibgp: false,
};
