/**
 * The speaker's configuration model (already validated: bgpd's YAML/CLI parser and the agent
 * both produce it). Addresses and prefixes stay as canonical text here; the speaker parses them.
 */
import type { Prefix } from '../../common/prefix.js';
import type { LargeCommunity, Origin } from '../wire/types.js';
import type { SocketOptions } from '../session/socket-options.js';
import type { BgpRole } from '../wire/role.js';
import type { ExtCommunityPattern, LargeCommunityPattern } from '../policy/communities.js';

export type Family = 'ipv4-unicast' | 'ipv6-unicast';
export type MaxPrefixAction = 'restart' | 'warn' | 'disable';
export type { BgpRole } from '../wire/role.js';

export interface PrefixMatch {
  readonly prefix: Prefix;
  /** Match prefixes inside `prefix` whose length is in [ge, le]; both default to prefix.length. */
  readonly ge?: number;
  readonly le?: number;
}

export interface PolicyRule {
  readonly match?: {
    readonly prefixes?: readonly PrefixMatch[];
    /** All of these communities must be present. */
    readonly communities?: readonly number[];
    /** `peers`: only routes learned from BGP peers (not originated here; Calico's source RemotePeers). */
    readonly source?: 'peers' | 'local';
    /** AS_PATH starts with exactly these ASes (Calico's asPathPrefix). */
    readonly asPathPrefix?: readonly number[];
    /** Any of these RFC 8092 large communities is present. */
    readonly largeCommunities?: readonly LargeCommunity[];
    /** Any large community matching one of these patterns ("*" fields) is present. */
    readonly largeCommunityPatterns?: readonly LargeCommunityPattern[];
    /** Any extended community matching one of these patterns is present. */
    readonly extendedCommunities?: readonly ExtCommunityPattern[];
    /** LOCAL_PREF equals this (Calico's BGPFilter priority match: 2147483647 - priority). */
    readonly localPref?: number;
    /**
     * Glob (`*`, `?`) on the route's interface (Calico's BGPFilter `interface`, BIRD's `ifname`):
     * the interface toward the peer a route was learned from, or the one given when originating.
     */
    readonly interface?: string;
  };
  readonly action: 'accept' | 'reject';
  readonly set?: {
    readonly addCommunities?: readonly number[];
    readonly removeCommunities?: readonly number[];
    readonly addLargeCommunities?: readonly LargeCommunity[];
    /** Replace the list (applied before remove and add); empty: remove the attribute. */
    readonly setCommunities?: readonly number[];
    readonly setLargeCommunities?: readonly LargeCommunity[];
    readonly removeLargeCommunities?: readonly LargeCommunityPattern[];
    readonly setExtendedCommunities?: readonly Uint8Array[];
    readonly addExtendedCommunities?: readonly Uint8Array[];
    readonly removeExtendedCommunities?: readonly ExtCommunityPattern[];
    readonly localPref?: number;
    readonly med?: number;
    /** Prepend our AS this many extra times (export only). */
    readonly prepend?: number;
  };
}

/** First matching rule wins; `default` when none matches. */
export interface PolicyConfig {
  readonly rules: readonly PolicyRule[];
  readonly default: 'accept' | 'reject';
}

export interface PeerConfig {
  /** Unique; shown by `show protocols`. */
  readonly name: string;
  readonly address: string;
  readonly asn: number;
  readonly port: number;
  readonly passive: boolean;
  /**
   * TTL of what we send (BIRD `multihop N`, FRR `ebgp-multihop N`). Absent: eBGP sends TTL 1
   * (a directly connected peer, as BIRD and FRR), iBGP the kernel default (64).
   */
  readonly multihop?: number;
  /**
   * GTSM (RFC 5082; BIRD `ttl security`, FRR `ttl-security hops N`, Calico ttlSecurity): the peer
   * is at most this many hops away; we send TTL 255 and drop what arrives below 256 - hops.
   */
  readonly ttlSecurity?: number;
  /** TCP-MD5 key (RFC 2385; BIRD and FRR `password`), on our connections and the listener. */
  readonly password?: string;
  readonly localAddress?: string;
  readonly holdTime: number;
  readonly keepalive: number;
  /** Seconds between connection attempts. */
  readonly connectRetry: number;
  readonly families: readonly Family[];
  readonly nextHopSelf: boolean;
  /** eBGP: keep the next hop of learned routes instead of setting ourselves (BIRD `next hop keep`). */
  readonly nextHopKeep?: boolean;
  /** Accept routes whose AS_PATH holds our own AS up to this many times (allowas-in; BIRD `allow local as`). */
  readonly allowAsIn?: number;
  /**
   * Our AS on this session instead of the speaker's (BIRD `local as`, Calico localASNumber): in
   * OPEN, in the iBGP/eBGP decision, prepended on export and checked for loops on import.
   */
  readonly localAs?: number;
  /**
   * Our IPv4 / IPv6 next hop for routes of the family the session address is not (IPv6 routes
   * over an IPv4 session...). Absent: a global address of that family on the interface holding
   * the session's local address, if any.
   */
  readonly nextHopSelf4?: string;
  readonly nextHopSelf6?: string;
  /**
   * Our IPv6 next hop carries our link-local address too when the peer is on the session
   * interface's subnet (RFC 2545 §3, as BIRD and FRR); default true. false: the global one only
   * (for a peer that cannot use it, such as FRR's bgpd run without zebra).
   */
  readonly linkLocalNextHop?: boolean;
  readonly routeReflectorClient: boolean;
  /** Absent: accept everything. */
  readonly import?: PolicyConfig;
  readonly export?: PolicyConfig;
  readonly maxPrefixes?: number;
  /**
   * What exceeding maxPrefixes does (BIRD `import limit N action ...`, FRR `maximum-prefix N
   * [warning-only] [restart M]`): 'restart' (default) Cease/1, back after maxPrefixRestart seconds
   * when set, else after the idle-hold back-off; 'warn' logs and keeps the session; 'disable'
   * Cease/1 and stays down until enabled again. See max-prefix.ts.
   */
  readonly maxPrefixAction?: MaxPrefixAction;
  readonly maxPrefixRestart?: number;
  /**
   * eBGP: an UPDATE whose AS_PATH does not start with the peer's AS is treated as withdrawn
   * (FRR `enforce-first-as`, BIRD `enforce first as`); default true, false for a route server.
   */
  readonly enforceFirstAs?: boolean;
  /** RFC 9234 BGP role of this side on the session (BIRD `local role`, FRR `local-role`); eBGP only. */
  readonly localRole?: BgpRole;
  /** Refuse a peer that sends no role capability (BIRD `require roles`, FRR `strict-mode`). */
  readonly roleStrict?: boolean;
  readonly description?: string;
  /** Our graceful-restart Restart Time on this session, seconds (Calico maxRestartTime); default the speaker's. */
  readonly gracefulRestartTime?: number;
  /** ADD-PATH (RFC 7911) on this session; absent: off (one path per prefix each way). */
  readonly addPaths?: AddPathsConfig;
}

/**
 * ADD-PATH per session, as BIRD's `add paths rx|tx|on` and FRR's `addpath-rx-paths-limit` /
 * `addpath-tx-all-paths` / `addpath-tx-best-selected N`. Each direction is used where the peer
 * agrees (capability 69) for the family.
 */
export interface AddPathsConfig {
  /** Advertise that we send several paths per prefix (BIRD `tx`). */
  readonly send: boolean;
  /** Advertise that we accept several paths per prefix (BIRD `rx`): each is kept, best path runs over all. */
  readonly receive: boolean;
  /** Send at most this many paths per prefix, best first (FRR `addpath-tx-best-selected N`); absent: all (BIRD, FRR all-paths). */
  readonly limit?: number;
  /** Families to negotiate ADD-PATH for; absent: all of the peer's `families`. */
  readonly families?: readonly Family[];
}

/** The ADD-PATH capability entries (RFC 7911 §4) of a peer's OPEN: per family, send/receive as configured. */
export function addPathFamilies(c: PeerConfig): Array<{ afi: number; safi: number; mode: 1 | 2 | 3 }> {
  const a = c.addPaths;
  if (!a || (!a.send && !a.receive)) return [];
  const mode = ((a.receive ? 1 : 0) | (a.send ? 2 : 0)) as 1 | 2 | 3;
  return (a.families ?? c.families).filter((f) => c.families.includes(f))
    .map((f) => ({ afi: f === 'ipv6-unicast' ? 2 : 1, safi: 1, mode }));
}

/**
 * Graceful restart (RFC 4724, RFC 8538) for every peer; read when a peer's session is created
 * (a change reaches sessions created after it).
 */
export interface GracefulRestartSettings {
  /**
   * Restarting speaker: advertise our families and a restart time, so peers keep our routes
   * while we restart (BIRD `graceful restart on`); default true. false: "aware" only (no families).
   */
  readonly enabled?: boolean;
  /** Seconds peers keep our routes after our session drops (BIRD `graceful restart time`, FRR restart-time); default 120. */
  readonly restartTime?: number;
  /**
   * F bit: our forwarding state survived the restart (kernel routes kept), so peers may keep
   * using our stale routes; default false (tortie-bgpd has no kernel routes; the agent says).
   */
  readonly forwardingPreserved?: boolean;
  /**
   * This process restarted (BIRD `-R`): R bit set and advertisement deferred until peers sent
   * End-of-RIB (selection-deferral.ts); BgpSpeaker.whenConverged() says when.
   */
  readonly restarting?: boolean;
  /** Keep a restarting GR peer's routes as stale (helper); default true, as in BIRD and FRR. */
  readonly helper?: boolean;
  /** Seconds stale routes wait for the peer's End-of-RIB once it is back (FRR stalepath-time); default 360. */
  readonly staleTime?: number;
  /**
   * Seconds, after our restart (`restarting`), that advertisement waits for End-of-RIB from every
   * peer (RFC 4724 Selection_Deferral_Timer; BIRD `graceful restart wait`, FRR
   * `select-defer-time`); default 240.
   */
  readonly selectionDeferralTime?: number;
  /**
   * Long-lived graceful restart (RFC 9494), restarting side: seconds peers keep our routes as
   * LLGR_STALE (least preferred) after our restart time ran out (BIRD `long lived stale time`,
   * FRR `bgp long-lived-graceful-restart stale-time`); default 0: our families are not offered.
   */
  readonly longLivedStaleTime?: number;
  /** LLGR helper: keep an LLGR peer's routes past its restart time as LLGR_STALE; default true (BIRD `aware`). */
  readonly longLivedHelper?: boolean;
}

export interface SpeakerConfig {
  readonly routerId: string;
  readonly asn: number;
  readonly listen: { readonly address: string; readonly port: number };
  readonly peers: readonly PeerConfig[];
  readonly gracefulRestart?: GracefulRestartSettings;
  /** Route-reflector cluster id (RFC 4456; BIRD `rr cluster id`, Calico routeReflectorClusterID), dotted quad; default the router id. */
  readonly clusterId?: string;
  /** ECMP: the paths equal to the best down to the tie-breakers, handed to onBestPathChange (absent: best only). */
  readonly multipath?: MultipathSettings;
}

/**
 * Multipath selection (BIRD `merge paths on limit N`, FRR `maximum-paths N`): paths equal to
 * the best in LOCAL_PREF, AS_PATH length, ORIGIN, MED (same neighbour AS), eBGP/iBGP and IGP
 * cost form the set. Only consumers (the kernel) see it; UPDATEs still carry the best path.
 */
export interface MultipathSettings {
  /** Paths in the set, best included (1: no multipath). */
  readonly maxPaths: number;
  /** Paths with a different AS_PATH of the same length join too (FRR `as-path multipath-relax`; BIRD always). Default false. */
  readonly relaxAsPath?: boolean;
}

export interface OriginateConfig {
  readonly prefix: string;
  readonly nextHop?: string;
  readonly communities?: readonly number[];
}

/** The Loc-RIB's selection options for a config's multipath settings. */
export function multipathOptions(c: SpeakerConfig): { maxPaths: number; multipathSameAsPath: boolean } {
  return { maxPaths: Math.max(1, c.multipath?.maxPaths ?? 1), multipathSameAsPath: c.multipath?.relaxAsPath !== true };
}

/** Socket options of a peer's session: GTSM, else multihop TTL, else 1 for eBGP; plus the MD5 key. */
export function peerSocketOptions(c: PeerConfig, speakerAsn: number): SocketOptions {
  const ebgp = (c.localAs ?? speakerAsn) !== c.asn;
  const ttl = c.ttlSecurity !== undefined ? 255 : c.multihop ?? (ebgp ? 1 : undefined);
  return {
    ...(ttl !== undefined ? { ttl } : {}),
    ...(c.ttlSecurity !== undefined ? { minTtl: 256 - c.ttlSecurity } : {}),
    ...(c.password !== undefined ? { md5Password: c.password } : {}),
  };
}

/**
 * Import checks of a peer's Adj-RIB-In beyond loop detection: eBGP enforce-first-AS (on unless
 * enforceFirstAs is false) and the RFC 9234 OTC ingress procedure for a configured role.
 */
export function importChecks(c: PeerConfig, ibgp: boolean): { firstAs?: number; role?: { local: BgpRole; peerAs: number } } {
  if (ibgp) return {};
  return {
    ...(c.enforceFirstAs !== false ? { firstAs: c.asn } : {}),
    ...(c.localRole !== undefined ? { role: { local: c.localRole, peerAs: c.asn } } : {}),
  };
}

/** Structural equality of two peer configs: a reload resets only peers for which this is false. */
export function peerConfigEquals(a: PeerConfig, b: PeerConfig): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? Array.from(v) : v;
}

/** What a caller may set on an originated route (BgpSpeaker.originate). */
export interface OriginateAttrs {
  readonly nextHop?: string;
  /** The route's interface, for policy `interface` matches (e.g. a workload's host interface). */
  readonly interface?: string;
  readonly communities?: readonly number[];
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly med?: number;
  readonly localPref?: number;
  readonly origin?: Origin;
}
