/**
 * The speaker's show views (BIRD's `show protocols all` / `show route all`, FRR's neighbor
 * views): PeerStatus per peer and RouteView per candidate route, built from the peers, their
 * Established sessions and the Loc-RIB. Read-only: nothing here changes state.
 */
import { formatAddress, formatPrefix, intToIpv4, parsePrefix, type Prefix } from '../../common/prefix.js';
import { AsPathSegmentType, CapabilityCode, type AsPathSegment, type Capability, type PathAttributes } from '../wire/types.js';
import { formatAsPath } from '../wire/attributes/as-path.js';
import { formatOrigin } from '../wire/attributes/origin.js';
import { formatCommunity } from '../wire/attributes/communities.js';
import { formatExtendedCommunity } from '../wire/attributes/extended-communities.js';
import { formatLargeCommunity } from '../wire/attributes/large-community.js';
import type { AddPathNegotiated, DownReason, FsmState, NegotiatedSession } from '../fsm/fsm-types.js';
import type { MessageTypeCounts } from '../session/session-config.js';
import { capabilityCode } from '../wire/capabilities.js';
import { CAPABILITY_NAMES, formatAfiSafi, formatCapability } from '../wire/capability-names.js';
import { notificationText } from '../fsm/notifications.js';
import { canonicalAddress } from '../session/listener.js';
import type { LocRib } from '../rib/loc-rib.js';
import type { BestPathStep } from '../rib/best-path.js';
import type { Route } from '../rib/route.js';
import type { Peer, PeerMessageStats } from './peer.js';

export interface RouteView {
  readonly prefix: string;
  /** Peer name, or "local" for originated routes. */
  readonly from: string;
  readonly fromAddress?: string;
  readonly nextHop: string;
  /** The ASes of the path in order (sets and confederation segments flattened). */
  readonly asPath: readonly number[];
  /** The path as the wire codec formats it: AS_SET in {}, confederation segments in () and []. */
  readonly asPathText: string;
  readonly origin: 'IGP' | 'EGP' | 'incomplete';
  readonly med?: number;
  readonly localPref?: number;
  /** RFC 1997 communities as the wire codec formats them ("65000:100", "no-export"). */
  readonly communities: readonly string[];
  /** RFC 4360 extended communities ("rt:65000:100", else hex). */
  readonly extendedCommunities?: readonly string[];
  /** RFC 8092 large communities ("65000:1:2"). */
  readonly largeCommunities?: readonly string[];
  /** RFC 4456 ORIGINATOR_ID and CLUSTER_LIST, as dotted quads. */
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  readonly atomicAggregate?: true;
  /** "AS 10.0.0.1" */
  readonly aggregator?: string;
  /** Attributes the codec does not know, passed on as received: "type 99 flags 0xc0: 0a0b". */
  readonly unknownAttributes?: readonly string[];
  readonly ibgp: boolean;
  readonly accepted: boolean;
  readonly best: boolean;
  /** Why the best route won over this one, or why this one is best ("only route", ...). */
  readonly reason: string;
  /** Wall ms the route arrived (for routes of a peer without a recorded arrival: its session's start). */
  readonly since: number;
  /** Kept from a peer whose session went down with graceful restart (RFC 4724), not re-sent yet. */
  readonly stale?: true;
  /** The path identifier the peer gave it (ADD-PATH receive, RFC 7911); absent when 0. */
  readonly pathId?: number;
  /** In the prefix's multipath set of two or more equal paths (SpeakerConfig.multipath), the best one included: what ECMP installs. */
  readonly multipath?: true;
}

export interface BestPathChange {
  readonly prefix: string;
  /** undefined: the prefix is gone. */
  readonly best: RouteView | undefined;
  /** With multipath (SpeakerConfig.multipath) and two or more equal paths: the set, best first. */
  readonly multipath?: readonly RouteView[];
}

/** Graceful restart helper state of a peer whose routes are kept (RFC 4724 §4.2). */
export interface GracefulRestartStatus {
  /**
   * restart-wait: session down, waiting for it within the restart time; long-lived: down past
   * it, routes kept as LLGR_STALE (RFC 9494); stale: back up, waiting for End-of-RIB.
   */
  readonly state: 'restart-wait' | 'long-lived' | 'stale';
  /** Families whose routes are kept stale. */
  readonly families: readonly string[];
  /** Stale prefixes held. */
  readonly staleRoutes: number;
}

export interface PeerStatus {
  readonly name: string;
  readonly address: string;
  readonly asn: number;
  readonly localAsn: number;
  readonly description?: string;
  readonly state: FsmState;
  readonly enabled: boolean;
  /** Wall-clock ms of the last state change. */
  readonly since: number;
  readonly uptimeSeconds: number;
  readonly lastError?: string;
  readonly holdTime?: number;
  readonly keepalive?: number;
  readonly configuredHoldTime: number;
  readonly remoteId?: string;
  readonly localAddress?: string;
  /** The peer's capabilities, short names ("4-octet AS numbers", "long-lived graceful restart", "multiprotocol IPv4/unicast"). */
  readonly capabilities: readonly string[];
  /** The peer's capabilities with their parameters (wire/capability-names.ts formatCapability). */
  readonly peerCapabilities?: readonly string[];
  /** What we sent in our OPEN, with parameters. */
  readonly localCapabilities?: readonly string[];
  /** What both sides use on this session: "4-octet AS", "route refresh", "ADD-PATH ipv4-unicast receive", ... */
  readonly negotiated?: readonly string[];
  /** 4-octet AS numbers negotiated (RFC 6793): birdc's "AS4". */
  readonly fourOctetAs?: boolean;
  /** Seconds left until the hold timer / keepalive timer fires (counting down, birdc's "Hold timer: 57.3/90"). */
  readonly holdTimerLeft?: number;
  readonly keepaliveTimerLeft?: number;
  /** Bytes received and not yet processed (InQ), and queued for the peer and not yet taken by the kernel (OutQ). */
  readonly inQueueBytes: number;
  readonly outQueueBytes: number;
  readonly families: readonly string[];
  readonly prefixes: { readonly received: number; readonly accepted: number; readonly advertised: number };
  /** Received/accepted/exported per family (filtered = received - accepted; birdc's per-channel "Routes:" line). */
  readonly familyPrefixes: Readonly<Record<string, { readonly received: number; readonly accepted: number; readonly exported: number }>>;
  /** Messages by type (OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH), over the peer's current session. */
  readonly messageTypes?: { readonly in: MessageTypeCounts; readonly out: MessageTypeCounts };
  readonly establishedTransitions: number;
  readonly messages: PeerMessageStats;
  /** Families whose End-of-RIB (RFC 4724 §2) the peer sent since it became Established: its initial table is in. */
  readonly eorReceived: readonly string[];
  /** Present while the peer's routes are kept across its restart (graceful restart helper). */
  readonly gracefulRestart?: GracefulRestartStatus;
}


const STEP_REASON: Record<BestPathStep, string> = {
  'next-hop-unreachable': 'next hop unreachable', 'llgr-stale': 'not long-lived stale', 'local-pref': 'higher local preference', 'local-origin': 'locally originated',
  'as-path-length': 'shorter AS path', origin: 'lower origin', med: 'lower MED', 'ebgp-over-ibgp': 'eBGP preferred over iBGP',
  'igp-cost': 'lower IGP cost', 'router-id': 'lower router ID', 'cluster-list-length': 'shorter cluster list',
  'peer-address': 'lower neighbor address', 'path-id': 'lower path id',
};

export function peerStatus(p: Peer, speakerAsn: number, exported: { total: number; v6: number }): PeerStatus {
  const advertised = exported.total;
  const s = p.session;
  const st = s.stats;
  const e = p.established;
  const n = e?.negotiated;
  const t = p.totals();
  const local = canonicalAddress(s.connection?.localAddress);
  const gr = p.gr;
  return {
    name: p.config.name, address: p.config.address, asn: p.config.asn, localAsn: p.config.localAs ?? speakerAsn,
    ...(p.config.description !== undefined ? { description: p.config.description } : {}),
    state: s.state, enabled: p.enabled, since: st.since,
    uptimeSeconds: s.state === 'Established' && st.uptimeMs !== undefined ? Math.floor(st.uptimeMs / 1000) : 0,
    // A session that never came up has no down reason; what it saw instead (an MD5 SYN left unanswered...).
    ...(p.lastError !== undefined ? { lastError: p.lastError } : st.lastError !== undefined && s.state !== 'Established' ? { lastError: st.lastError } : {}),
    ...(n ? { holdTime: n.holdTime, keepalive: n.keepaliveTime, remoteId: formatAddress(intToIpv4(n.peerBgpId)) } : {}),
    ...(n && local !== undefined ? { localAddress: local } : {}),
    configuredHoldTime: p.config.holdTime,
    capabilities: n ? capabilityNames(n.peerCapabilities) : [],
    ...(n ? {
      peerCapabilities: n.peerCapabilities.map(formatCapability), localCapabilities: n.localOpen.capabilities.map(formatCapability),
      negotiated: negotiatedNames(n), fourOctetAs: n.fourOctetAs,
    } : {}),
    ...(st.timersLeftMs.hold !== undefined ? { holdTimerLeft: st.timersLeftMs.hold / 1000 } : {}),
    ...(st.timersLeftMs.keepalive !== undefined ? { keepaliveTimerLeft: st.timersLeftMs.keepalive / 1000 } : {}),
    inQueueBytes: st.receivedBytes, outQueueBytes: st.queuedBytes,
    families: (n?.families ?? []).map((f) => (f.afi === 2 ? 'ipv6-unicast' : 'ipv4-unicast')),
    prefixes: { received: p.adjIn?.received ?? 0, accepted: p.adjIn?.accepted ?? 0, advertised },
    familyPrefixes: familyPrefixes(p, exported),
    messageTypes: st.messageTypes,
    establishedTransitions: t.establishedTransitions,
    messages: {
      messagesIn: t.messagesIn, messagesOut: t.messagesOut, updatesIn: t.updatesIn, updatesOut: t.updatesOut,
      notificationsIn: t.notificationsIn, notificationsOut: t.notificationsOut, routeRefreshIn: p.routeRefreshIn,
    },
    eorReceived: e ? [...e.eorReceived] : [],
    ...(gr ? { gracefulRestart: { state: gr.state, families: [...gr.stale].map((f) => `ipv${f}-unicast`), staleRoutes: p.adjIn?.staleCount ?? 0 } } : {}),
  };
}

/** What the route views read: the Loc-RIB, the peers by name, and the "since" of originated routes. */
export interface RouteSource {
  readonly rib: LocRib;
  readonly peers: ReadonlyMap<string, Peer>;
  readonly originatedSince: (prefix: string) => number | undefined;
  /**
   * Formatted attribute columns by attribute set (attributes are interned, so the routes of one
   * UPDATE share one object): a long listing formats each set once. Per stream, cleared when large.
   */
  readonly columns?: Map<PathAttributes, AttributeColumnsView>;
}

/** Keep at most this many formatted attribute sets per stream. */
const COLUMNS_CACHE = 4096;

/** Every candidate route (originated and received), best flagged, sorted by prefix. */
export function routeViews(src: RouteSource, filter?: string): RouteView[] {
  if (filter !== undefined) return routesOf(src, parsePrefix(filter, { allowHostBits: true }));
  const prefixes: Prefix[] = [];
  src.rib.forEachBest((p) => { prefixes.push(p); });
  const keyed = prefixes.map((p) => [formatPrefix(p), p] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: RouteView[] = [];
  for (const [key, p] of keyed) for (const v of routesOf(src, p, key)) out.push(v);
  return out;
}

/** A path refused on import, as received (`show route filtered`). */
export function rejectedView(p: Peer, prefix: Prefix, a: PathAttributes, nh: Uint8Array | undefined, why: string): RouteView {
  return {
    prefix: formatPrefix(prefix), from: p.config.name, fromAddress: p.config.address,
    nextHop: nh ? formatAddress(nh) : a.nextHop ? formatAddress(a.nextHop) : '-',
    ...attributesView(a),
    ibgp: p.adjIn?.peer.kind === 'ibgp', accepted: false, best: false, reason: why, since: p.routesSince,
  };
}

/** Best routes only (what a FIB would install). */
export function bestRouteViews(src: RouteSource): RouteView[] {
  const out: RouteView[] = [];
  src.rib.forEachBest((p, best) => { out.push(routeView(src, p, formatPrefix(p), best, true, bestReason(src.rib, p))); });
  return out;
}

/** The candidates of one prefix, best first, each with why it lost (empty: no route). */
export function routesOf(src: RouteSource, prefix: Prefix, key = formatPrefix(prefix)): RouteView[] {
  const rib = src.rib;
  const cands = rib.candidates(prefix);
  if (cands.length === 0) return [];
  if (cands.length === 1) {
    const only = cands[0]!;
    const best = rib.best(prefix) === only;
    return [routeView(src, prefix, key, only, best, best ? 'only route' : 'not selected')];
  }
  const ex = rib.explain(prefix);
  const set = rib.ecmp(prefix);
  const inSet = (r: Route): boolean => set.length > 1 && set.includes(r);
  const out: RouteView[] = [];
  const first = ex.losers[0];
  if (ex.best) out.push(routeView(src, prefix, key, ex.best, true, first ? STEP_REASON[first.step] : 'only route', inSet(ex.best)));
  for (const l of ex.losers) out.push(routeView(src, prefix, key, l.route, false, STEP_REASON[l.step], inSet(l.route)));
  return out;
}

export function bestReason(rib: LocRib, prefix: Prefix): string {
  const cands = rib.candidates(prefix);
  if (cands.length <= 1) return 'only route';
  const first = rib.explain(prefix).losers[0];
  return first ? STEP_REASON[first.step] : 'only route';
}

export function routeView(src: RouteSource, prefix: Prefix, key: string, r: Route, best: boolean, reason: string, multipath = false): RouteView {
  const s = r.source;
  const local = s.kind === 'local';
  const peer = local ? undefined : src.peers.get(s.id);
  return {
    prefix: key, from: s.id, ...(!local ? { fromAddress: formatAddress(s.address) } : {}),
    nextHop: r.nextHop ? formatAddress(r.nextHop) : 'self',
    ...cachedColumns(src, r.attrs),
    ibgp: s.kind === 'ibgp', accepted: true, best, reason,
    since: local ? (src.originatedSince(key) ?? 0) : r.since > 0 ? r.since : (peer?.routesSince ?? 0),
    ...(peer?.adjIn !== undefined && peer.adjIn.staleCount > 0 && peer.adjIn.isStale(prefix) ? { stale: true as const } : {}),
    ...(r.pathId !== 0 ? { pathId: r.pathId } : {}),
    ...(multipath ? { multipath: true as const } : {}),
  };
}

/** `show route count` (birdc's "N of M routes for K networks"), per family too. */
export interface RouteCount {
  /** Accepted candidate routes (originated included). */
  readonly routes: number;
  /** Networks with a best route. */
  readonly best: number;
  /** Networks with at least one candidate. */
  readonly networks: number;
  /** Accepted routes per family. */
  readonly ipv4: number;
  readonly ipv6: number;
  readonly networks4: number;
  readonly networks6: number;
}

/**
 * From the counters the RIBs keep: O(peers), no walk of the table. The best count equals the
 * networks unless next hops are checked for reachability (LocRib.mayLackBest), which this speaker does not do.
 */
export function routeCount(rib: LocRib): RouteCount {
  let v4 = 0, v6 = 0;
  rib.forEachAdjRibIn((a) => { v4 += a.acceptedOf(4); v6 += a.acceptedOf(6); });
  if (rib.mayLackBest) throw new Error('route count: next-hop checking Loc-RIB has no best-route counter');
  return { routes: v4 + v6, best: rib.size, networks: rib.size, ipv4: v4, ipv6: v6, networks4: rib.sizeOf(4), networks6: rib.sizeOf(6) };
}

/** The change handed to onBestPathChange listeners: the best path, and the multipath set when it has several. */
export function bestPathChange(src: RouteSource, prefix: Prefix, best: Route | undefined, set: readonly Route[]): BestPathChange {
  const key = formatPrefix(prefix);
  return {
    prefix: key, best: best ? routeView(src, prefix, key, best, true, bestReason(src.rib, prefix)) : undefined,
    ...(set.length > 1 ? { multipath: set.map((r) => routeView(src, prefix, key, r, r === best, r === best ? 'best' : 'multipath', true)) } : {}),
  };
}

/** BIRD-style last error: "Received: Bad peer AS", "Error: Bad peer AS: 65001 (expected 65004)", "Socket: ...". */
export function downText(r: DownReason, configuredAs: number): string {
  const got = r.notificationReceived;
  if (got) return `Received: ${notificationText(got)}`;
  const sent = r.notificationSent;
  if (sent) {
    const d = notificationText(sent);
    if (sent.code === 6) return `Sent: ${d}`;
    if (sent.code === 2 && sent.subcode === 2) {
      const m = /peer AS (\d+)/.exec(r.text);
      if (m) return `Error: Bad peer AS: ${m[1]} (expected ${configuredAs})`;
    }
    return `Error: ${d} (${r.text})`;
  }
  return `Socket: ${r.text}`;
}


type AttributeColumns = 'asPath' | 'asPathText' | 'origin' | 'med' | 'localPref' | 'communities' | 'extendedCommunities'
  | 'largeCommunities' | 'originatorId' | 'clusterList' | 'atomicAggregate' | 'aggregator' | 'unknownAttributes';

export type AttributeColumnsView = Pick<RouteView, AttributeColumns>;

export function cachedColumns(src: RouteSource, a: PathAttributes): AttributeColumnsView {
  const m = src.columns;
  if (!m) return attributesView(a);
  let c = m.get(a);
  if (c === undefined) {
    if (m.size >= COLUMNS_CACHE) m.clear();
    c = attributesView(a);
    m.set(a, c);
  }
  return c;
}

const quad = (n: number): string => formatAddress(intToIpv4(n >>> 0));
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The BGP attribute columns of a RouteView (accepted, filtered and exported routes alike), formatted by the wire codec. */
export function attributesView(a: PathAttributes): Pick<RouteView, AttributeColumns> {
  const origin = formatOrigin(a.origin ?? 2);
  return {
    asPath: flattenAsPath(a.asPath), asPathText: formatAsPath(a.asPath),
    origin: origin === 'IGP' || origin === 'EGP' ? origin : 'incomplete',
    ...(a.med !== undefined ? { med: a.med } : {}),
    ...(a.localPref !== undefined ? { localPref: a.localPref } : {}),
    communities: (a.communities ?? []).map(formatCommunity),
    ...(a.extendedCommunities?.length ? { extendedCommunities: a.extendedCommunities.map(formatExtendedCommunity) } : {}),
    ...(a.largeCommunities?.length ? { largeCommunities: a.largeCommunities.map(formatLargeCommunity) } : {}),
    ...(a.originatorId !== undefined ? { originatorId: quad(a.originatorId) } : {}),
    ...(a.clusterList?.length ? { clusterList: a.clusterList.map(quad) } : {}),
    ...(a.atomicAggregate === true ? { atomicAggregate: true as const } : {}),
    ...(a.aggregator ? { aggregator: `${a.aggregator.asn} ${formatAddress(a.aggregator.address)}` } : {}),
    ...(a.unknown?.length ? { unknownAttributes: a.unknown.map((u) => `type ${u.typeCode} flags 0x${u.flags.toString(16).padStart(2, '0')}: ${hex(u.value)}`) } : {}),
  };
}

function flattenAsPath(path: readonly AsPathSegment[] | undefined): number[] {
  const out: number[] = [];
  for (const s of path ?? []) if (s.type === AsPathSegmentType.AS_SEQUENCE || s.type === AsPathSegmentType.AS_SET) out.push(...s.asns);
  return out;
}

/** Short names (the peer's capability list); multiprotocol with its family, as birdc and earlier versions print it. */
function capabilityNames(caps: readonly Capability[]): string[] {
  return caps.map((c) => {
    if (c.type === 'multiprotocol') return `multiprotocol ${c.afi === 2 ? 'IPv6' : c.afi === 1 ? 'IPv4' : c.afi}/${c.safi === 1 ? 'unicast' : c.safi}`;
    const code = capabilityCode(c);
    return code === CapabilityCode.ADD_PATH ? 'ADD-PATH' : CAPABILITY_NAMES[code] ?? `capability ${code}`;
  });
}

/** What the session uses, as negotiated (fsm/negotiate.ts), by name. */
function negotiatedNames(n: NegotiatedSession): string[] {
  return [
    ...n.families.map(formatAfiSafi),
    ...(n.fourOctetAs ? ['4-octet AS numbers'] : []),
    ...(n.routeRefresh ? ['route refresh'] : []),
    ...(n.enhancedRouteRefresh ? ['enhanced route refresh'] : []),
    ...(n.extendedMessage ? ['extended message'] : []),
    ...(n.localGracefulRestart && n.peerGracefulRestart ? ['graceful restart'] : []),
    ...n.addPath.map((a) => `ADD-PATH ${formatAddPath(a)}`),
  ];
}

function formatAddPath(a: AddPathNegotiated): string {
  const dirs = [...(a.send ? ['send'] : []), ...(a.receive ? ['receive'] : [])];
  return `${formatAfiSafi(a)} ${dirs.join('/')}`;
}

/** `exported`: the peer's exported total and its IPv6 part (the rest is IPv4). */
function familyPrefixes(p: Peer, exported: { total: number; v6: number }): Record<string, { received: number; accepted: number; exported: number }> {
  const a = p.adjIn;
  const fams = p.established?.negotiated.families.map((f) => (f.afi === 2 ? 6 : 4) as 4 | 6) ?? [];
  const out: Record<string, { received: number; accepted: number; exported: number }> = {};
  for (const f of new Set<4 | 6>([...fams, ...(a && a.receivedOf(4) > 0 ? [4 as const] : []), ...(a && a.receivedOf(6) > 0 ? [6 as const] : [])])) {
    out[`ipv${f}-unicast`] = { received: a?.receivedOf(f) ?? 0, accepted: a?.acceptedOf(f) ?? 0, exported: f === 6 ? exported.v6 : exported.total - exported.v6 };
  }
  return out;
}
