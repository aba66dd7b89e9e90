/**
 * The speaker's show views (BIRD's `show protocols all` / `show route all`, FRR's neighbor
 * views): PeerStatus per peer and RouteView per candidate route, built from the peers, their
 * Established sessions and the Loc-RIB. Read-only: nothing here changes state.
 */
import { formatAddress, formatPrefix, intToIpv4, parsePrefix, type Prefix } from '../../common/prefix.js';
import { AsPathSegmentType, type AsPathSegment, type Capability, type PathAttributes } from '../wire/types.js';
import { formatAsPath } from '../wire/attributes/as-path.js';
import { formatOrigin } from '../wire/attributes/origin.js';
import type { DownReason, FsmState } from '../fsm/fsm-types.js';
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
  readonly communities: readonly string[];
  readonly ibgp: boolean;
  readonly accepted: boolean;
  readonly best: boolean;
  /** Why the best route won over this one, or why this one is best ("only route", ...). */
  readonly reason: string;
  readonly since: number;
  /** Kept from a peer whose session went down with graceful restart (RFC 4724), not re-sent yet. */
  readonly stale?: true;
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
  /** restart-wait: session down, waiting for it within the restart time; stale: back up, waiting for End-of-RIB. */
  readonly state: 'restart-wait' | 'stale';
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
  readonly capabilities: readonly string[];
  readonly families: readonly string[];
  readonly prefixes: { readonly received: number; readonly accepted: number; readonly advertised: number };
  readonly establishedTransitions: number;
  readonly messages: PeerMessageStats;
  /** Families whose End-of-RIB (RFC 4724 §2) the peer sent since it became Established: its initial table is in. */
  readonly eorReceived: readonly string[];
  /** Present while the peer's routes are kept across its restart (graceful restart helper). */
  readonly gracefulRestart?: GracefulRestartStatus;
}


const STEP_REASON: Record<BestPathStep, string> = {
  'next-hop-unreachable': 'next hop unreachable', 'local-pref': 'higher local preference', 'local-origin': 'locally originated',
  'as-path-length': 'shorter AS path', origin: 'lower origin', med: 'lower MED', 'ebgp-over-ibgp': 'eBGP preferred over iBGP',
  'igp-cost': 'lower IGP cost', 'router-id': 'lower router ID', 'cluster-list-length': 'shorter cluster list',
  'peer-address': 'lower neighbor address', 'path-id': 'lower path id',
};

export function peerStatus(p: Peer, speakerAsn: number, advertised: number): PeerStatus {
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
    families: (n?.families ?? []).map((f) => (f.afi === 2 ? 'ipv6-unicast' : 'ipv4-unicast')),
    prefixes: { received: p.adjIn?.received ?? 0, accepted: p.adjIn?.accepted ?? 0, advertised },
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
}

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

/**
 * Routes refused on import (BIRD's `show route filtered`): as received, accepted false, with
 * why in `reason` ("as-path-loop", "import policy: rule 2", ...).
 */
export function filteredRouteViews(src: RouteSource, filter?: string): RouteView[] {
  const only = filter === undefined ? undefined : parsePrefix(filter, { allowHostBits: true });
  const out: RouteView[] = [];
  for (const p of src.peers.values()) {
    p.adjIn?.forEachRejected((prefix, a, nh, why) => {
      out.push({
        prefix: formatPrefix(prefix), from: p.config.name, fromAddress: p.config.address,
        nextHop: nh ? formatAddress(nh) : a.nextHop ? formatAddress(a.nextHop) : '-',
        ...attributesView(a),
        ibgp: p.adjIn?.peer.kind === 'ibgp', accepted: false, best: false, reason: why, since: p.routesSince,
      });
    }, only);
  }
  return out.sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : x.from.localeCompare(y.from)));
}

/** Best routes only (what a FIB would install). */
export function bestRouteViews(src: RouteSource): RouteView[] {
  const out: RouteView[] = [];
  src.rib.forEachBest((p, best) => { out.push(routeView(src, p, formatPrefix(p), best, true, bestReason(src.rib, p))); });
  return out;
}

function routesOf(src: RouteSource, prefix: Prefix, key = formatPrefix(prefix)): RouteView[] {
  const rib = src.rib;
  const cands = rib.candidates(prefix);
  if (cands.length === 0) return [];
  if (cands.length === 1) {
    const only = cands[0]!;
    const best = rib.best(prefix) === only;
    return [routeView(src, prefix, key, only, best, best ? 'only route' : 'not selected')];
  }
  const ex = rib.explain(prefix);
  const out: RouteView[] = [];
  const first = ex.losers[0];
  if (ex.best) out.push(routeView(src, prefix, key, ex.best, true, first ? STEP_REASON[first.step] : 'only route'));
  for (const l of ex.losers) out.push(routeView(src, prefix, key, l.route, false, STEP_REASON[l.step]));
  return out;
}

export function bestReason(rib: LocRib, prefix: Prefix): string {
  const cands = rib.candidates(prefix);
  if (cands.length <= 1) return 'only route';
  const first = rib.explain(prefix).losers[0];
  return first ? STEP_REASON[first.step] : 'only route';
}

export function routeView(src: RouteSource, prefix: Prefix, key: string, r: Route, best: boolean, reason: string): RouteView {
  const s = r.source;
  const local = s.kind === 'local';
  const peer = local ? undefined : src.peers.get(s.id);
  return {
    prefix: key, from: s.id, ...(!local ? { fromAddress: formatAddress(s.address) } : {}),
    nextHop: r.nextHop ? formatAddress(r.nextHop) : 'self',
    ...attributesView(r.attrs),
    ibgp: s.kind === 'ibgp', accepted: true, best, reason,
    since: local ? (src.originatedSince(key) ?? 0) : (peer?.routesSince ?? 0),
    ...(peer?.adjIn !== undefined && peer.adjIn.staleCount > 0 && peer.adjIn.isStale(prefix) ? { stale: true as const } : {}),
  };
}

/** The change handed to onBestPathChange listeners: the best path, and the multipath set when it has several. */
export function bestPathChange(src: RouteSource, prefix: Prefix, best: Route | undefined, set: readonly Route[]): BestPathChange {
  const key = formatPrefix(prefix);
  return {
    prefix: key, best: best ? routeView(src, prefix, key, best, true, bestReason(src.rib, prefix)) : undefined,
    ...(set.length > 1 ? { multipath: set.map((r) => routeView(src, prefix, key, r, r === best, r === best ? 'best' : 'multipath')) } : {}),
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


/** The BGP attribute columns of a RouteView (accepted and filtered routes alike). */
function attributesView(a: PathAttributes): Pick<RouteView, 'asPath' | 'asPathText' | 'origin' | 'med' | 'localPref' | 'communities'> {
  const origin = formatOrigin(a.origin ?? 2);
  return {
    asPath: flattenAsPath(a.asPath), asPathText: formatAsPath(a.asPath),
    origin: origin === 'IGP' || origin === 'EGP' ? origin : 'incomplete',
    ...(a.med !== undefined ? { med: a.med } : {}),
    ...(a.localPref !== undefined ? { localPref: a.localPref } : {}),
    communities: (a.communities ?? []).map((x) => `${x >>> 16}:${x & 0xffff}`),
  };
}

function flattenAsPath(path: readonly AsPathSegment[] | undefined): number[] {
  const out: number[] = [];
  for (const s of path ?? []) if (s.type === AsPathSegmentType.AS_SEQUENCE || s.type === AsPathSegmentType.AS_SET) out.push(...s.asns);
  return out;
}

function capabilityNames(caps: readonly Capability[]): string[] {
  return caps.map((c) => {
    switch (c.type) {
      case 'multiprotocol': return `multiprotocol ${c.afi === 2 ? 'IPv6' : c.afi === 1 ? 'IPv4' : c.afi}/${c.safi === 1 ? 'unicast' : c.safi}`;
      case 'four-octet-as': return '4-octet AS numbers';
      case 'route-refresh': return 'route refresh';
      case 'enhanced-route-refresh': return 'enhanced route refresh';
      case 'extended-message': return 'extended message';
      case 'graceful-restart': return 'graceful restart';
      case 'add-path': return 'ADD-PATH';
      case 'unknown': return `unknown capability ${c.code}`;
      default: return 'other';
    }
  });
}
