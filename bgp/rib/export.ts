/**
 * The export transform (RFC 4271 §5.1, §9.2; RFC 4456 §8; RFC 1997): may this best route go
 * to a peer of this kind, and with which attributes. Pure; UpdateGroup caches results.
 * Order: well-known communities (and LLGR_STALE to a peer without LLGR, RFC 9494 §4.5) → iBGP split horizon / reflection → strip what must not leave
 * (LOCAL_PREF, MED, ORIGINATOR_ID, CLUSTER_LIST towards eBGP) → export policy → RFC 9234 OTC
 * egress (otc.ts: not to providers/peers/RS when set; set towards customers/peers/RS-clients) → add ours
 * (AS prepend, NEXT_HOP self, LOCAL_PREF, ORIGINATOR_ID / CLUSTER_LIST when reflecting).
 * "Never back to the peer it came from" is per peer and lives in UpdateGroup.flush().
 */
import type { Prefix } from '../../common/prefix.js';
import type { CompiledPolicy } from '../policy/compile-policy.js';
import { AsPathSegmentType, WellKnownCommunity, type AsPathSegment, type PathAttributes } from '../wire/types.js';
import { DEFAULT_LOCAL_PREF } from './best-path.js';
import type { Route } from './route.js';
import type { BgpRole } from '../wire/role.js';
import { otcEgress } from './otc.js';

/** Everything that decides the outbound transform; peers with equal targets can share a group. */
export interface ExportTarget {
  readonly kind: 'ebgp' | 'ibgp';
  readonly localAs: number;
  readonly routerId: number;
  /** Defaults to routerId. */
  readonly clusterId?: number;
  /** We are a route reflector for iBGP (RFC 4456). */
  readonly routeReflector?: boolean;
  /** The peers of this target are our route-reflector clients. */
  readonly rrClient?: boolean;
  /** Our IPv4 session address: NEXT_HOP for eBGP, for next-hop-self, and for local routes without one. */
  readonly localAddress?: Uint8Array;
  /** Our global IPv6 address: the MP_REACH next hop in the same cases, for IPv6 prefixes. */
  readonly localAddress6?: Uint8Array;
  /** Set NEXT_HOP to ourselves on iBGP too (not for reflected routes). */
  readonly nextHopSelf?: boolean;
  /** eBGP: pass learned routes on with their next hop unchanged (BIRD's `next hop keep`, Calico's nextHopMode Keep). */
  readonly nextHopKeep?: boolean;
  /** Pass a received MED on to eBGP peers (default: only locally set MEDs leave the AS). */
  readonly sendMed?: boolean;
  /**
   * The peers advertised the long-lived graceful-restart capability: only they may get routes
   * carrying LLGR_STALE (RFC 9494 §4.5); to others such a route is not sent (withdrawn).
   */
  readonly llgr?: boolean;
  readonly policy?: CompiledPolicy;
  /** RFC 9234 role of ours towards these peers (eBGP): the OTC egress procedure (otc.ts). */
  readonly role?: BgpRole;
}

export type ExportRefusal = 'no-advertise' | 'no-export' | 'llgr-stale' | 'ibgp-split-horizon' | 'not-to-non-client' | 'policy' | 'only-to-customer';

/**
 * Exported attributes. For IPv6 prefixes the MP_REACH next hop travels in `mpNextHop` (part of
 * the interning key, so announcements group by it too) and the IPv4 NEXT_HOP is absent; the
 * sender puts `mpNextHop` into MP_REACH_NLRI. Absent `mpNextHop` means "use your own address".
 */
export interface ExportedAttributes extends PathAttributes {
  readonly mpNextHop?: Uint8Array;
}

export type ExportResult =
  | { readonly type: 'export'; readonly attrs: ExportedAttributes }
  | { readonly type: 'refuse'; readonly reason: ExportRefusal; readonly rule?: string };

function prependAs(a: PathAttributes, asn: number): readonly AsPathSegment[] {
  const path = a.asPath ?? [];
  const first = path[0];
  if (first && first.type === AsPathSegmentType.AS_SEQUENCE && first.asns.length < 255) {
    return [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [asn, ...first.asns] }, ...path.slice(1)];
  }
  return [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [asn] }, ...path];
}

const policyIds = new WeakMap<CompiledPolicy, number>();
let nextPolicyId = 1;

/**
 * Peers whose targets have equal keys get identical UPDATEs and can share one UpdateGroup
 * (FRR update-groups). Policies compare by identity: compile once, share the object.
 */
export function exportTargetKey(t: ExportTarget): string {
  let pid = 0;
  if (t.policy) {
    pid = policyIds.get(t.policy) ?? 0;
    if (pid === 0) { pid = nextPolicyId++; policyIds.set(t.policy, pid); }
  }
  const b = (x: Uint8Array | undefined) => (x ? Array.from(x).join('.') : '-');
  return [t.kind, t.localAs, t.routerId, t.clusterId ?? t.routerId, t.routeReflector ? 1 : 0, t.rrClient ? 1 : 0,
    b(t.localAddress), b(t.localAddress6), t.nextHopSelf ? 1 : 0, t.sendMed ? 1 : 0, pid, t.nextHopKeep ? 'keep' : '', t.role ?? '', t.llgr ? 'llgr' : ''].join('|');
}

/** True when `exportRoute` never looks at the prefix for this target (results can be cached per attribute set). */
export function prefixIndependent(t: ExportTarget): boolean { return !t.policy || t.policy.prefixIndependent; }

export function exportRoute(prefix: Prefix, route: Route, t: ExportTarget): ExportResult {
  const src = route.source;
  const a0 = route.attrs;
  const comms = a0.communities;
  if (comms) {
    if (comms.includes(WellKnownCommunity.NO_ADVERTISE)) return { type: 'refuse', reason: 'no-advertise' };
    if (!t.llgr && route.llgrStale) return { type: 'refuse', reason: 'llgr-stale' };
    if (t.kind === 'ebgp' && (comms.includes(WellKnownCommunity.NO_EXPORT) || comms.includes(WellKnownCommunity.NO_EXPORT_SUBCONFED))) {
      return { type: 'refuse', reason: 'no-export' };
    }
  }
  const reflected = src.kind === 'ibgp' && t.kind === 'ibgp';
  if (reflected) {
    if (!t.routeReflector) return { type: 'refuse', reason: 'ibgp-split-horizon' };
    if (!src.rrClient && !t.rrClient) return { type: 'refuse', reason: 'not-to-non-client' };
  }
  // strip what must not leave
  let a: PathAttributes = a0;
  if (t.kind === 'ebgp') {
    const { localPref: _l, originatorId: _o, clusterList: _c, med, ...rest } = a;
    a = med !== undefined && (t.sendMed || src.kind === 'local') ? { ...rest, med } : rest;
  }
  if (t.policy) {
    const iface = src.interface ?? route.iface;
    const r = t.policy.evaluate(prefix, a, { sourceKind: src.kind, sourcePeer: src.id, localAs: t.localAs, ...(iface === undefined ? {} : { interface: iface }) });
    if (r.type === 'reject') return { type: 'refuse', reason: 'policy', rule: r.rule };
    a = r.attrs;
  }
  if (t.role !== undefined) {
    const o = otcEgress(t.role, a, t.localAs);
    if (o === undefined) return { type: 'refuse', reason: 'only-to-customer' };
    a = o;
  }
  // add ours
  const out: { -readonly [K in keyof ExportedAttributes]: ExportedAttributes[K] } = { ...a };
  out.origin ??= 0;
  // A locally originated route with an explicit next hop (the embedder's choice) keeps it.
  const localNh = src.kind === 'local' ? route.nextHop : undefined;
  if (t.kind === 'ebgp') {
    out.asPath = prependAs(a, t.localAs);
    if (out.localPref !== undefined) delete out.localPref; // an export policy may not send LOCAL_PREF out of the AS
    if (t.localAddress && !localNh && !(t.nextHopKeep && route.nextHop)) out.nextHop = t.localAddress;
  } else {
    out.asPath ??= [];
    out.localPref ??= DEFAULT_LOCAL_PREF;
    if (reflected) {
      out.originatorId ??= src.routerId;
      out.clusterList = [t.clusterId ?? t.routerId, ...(a.clusterList ?? [])];
    } else if (t.nextHopSelf && t.localAddress && !localNh) out.nextHop = t.localAddress;
  }
  if (prefix.family === 4) {
    if (!out.nextHop && t.localAddress) out.nextHop = t.localAddress;
  } else {
    // IPv6: same rules as NEXT_HOP, applied to the MP_REACH next hop
    delete out.nextHop;
    const self = !localNh && ((t.kind === 'ebgp' && !(t.nextHopKeep && route.nextHop)) || (t.nextHopSelf && !reflected) || !route.nextHop);
    const nh = self ? t.localAddress6 : route.nextHop;
    if (nh) out.mpNextHop = nh;
  }
  return { type: 'export', attrs: out };
}
