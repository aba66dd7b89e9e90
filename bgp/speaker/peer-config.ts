/**
 * The speaker's configuration model (already validated: bgpd's YAML/CLI parser and the agent
 * both produce it). Addresses and prefixes stay as canonical text here; the speaker parses them.
 */
import type { Prefix } from '../../common/prefix.js';
import type { LargeCommunity, Origin } from '../wire/types.js';
import type { SocketOptions } from '../session/socket-options.js';

export type Family = 'ipv4-unicast' | 'ipv6-unicast';

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
    /** LOCAL_PREF equals this (Calico's BGPFilter priority match: 2147483647 - priority). */
    readonly localPref?: number;
  };
  readonly action: 'accept' | 'reject';
  readonly set?: {
    readonly addCommunities?: readonly number[];
    readonly removeCommunities?: readonly number[];
    readonly addLargeCommunities?: readonly LargeCommunity[];
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
  readonly routeReflectorClient: boolean;
  /** Absent: accept everything. */
  readonly import?: PolicyConfig;
  readonly export?: PolicyConfig;
  readonly maxPrefixes?: number;
  readonly description?: string;
  /** Our graceful-restart Restart Time on this session, seconds (Calico maxRestartTime); default the speaker's. */
  readonly gracefulRestartTime?: number;
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
  /** R bit: this process restarted (BIRD `-R`); peers must not wait for our End-of-RIB. */
  readonly restarting?: boolean;
  /** Keep a restarting GR peer's routes as stale (helper); default true, as in BIRD and FRR. */
  readonly helper?: boolean;
  /** Seconds stale routes wait for the peer's End-of-RIB once it is back (FRR stalepath-time); default 360. */
  readonly staleTime?: number;
}

export interface SpeakerConfig {
  readonly routerId: string;
  readonly asn: number;
  readonly listen: { readonly address: string; readonly port: number };
  readonly peers: readonly PeerConfig[];
  readonly gracefulRestart?: GracefulRestartSettings;
}

export interface OriginateConfig {
  readonly prefix: string;
  readonly nextHop?: string;
  readonly communities?: readonly number[];
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
  readonly communities?: readonly number[];
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly med?: number;
  readonly localPref?: number;
  readonly origin?: Origin;
}
