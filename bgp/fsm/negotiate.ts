/**
 * Our OPEN from configuration, and capability negotiation (RFC 5492) of the two OPENs into the
 * session parameters and the CodecContext: hold time (RFC 4271 §4.2, min of both), 4-octet AS
 * (RFC 6793), MP-BGP families (RFC 4760), ADD-PATH (RFC 7911), extended message (RFC 8654),
 * route refresh (RFC 2918/7313), graceful restart (RFC 4724).
 */
import { AS_TRANS, AddPathMode, Afi, Safi, afiSafiKey, type AfiSafi, type Capability, type NotificationMessage, type OpenMessage } from '../wire/types.js';
import { CeaseSubcode, ErrorCode } from '../wire/errors.js';
import type { AddPathNegotiated, FsmConfig, GracefulRestartInfo, LongLivedGracefulRestartInfo, NegotiatedSession } from './fsm-types.js';
import { BGP_VERSION, peerAsOf } from './open-check.js';
import { roleCapability } from '../wire/role.js';

const IPV4_UNICAST: AfiSafi = { afi: Afi.IPV4, safi: Safi.UNICAST };

function localFamilies(config: FsmConfig): readonly AfiSafi[] {
  return config.families.length > 0 ? config.families : [IPV4_UNICAST];
}

export function buildLocalOpen(config: FsmConfig): OpenMessage {
  const caps: Capability[] = [];
  for (const f of localFamilies(config)) caps.push({ type: 'multiprotocol', afi: f.afi, safi: f.safi });
  if (config.routeRefresh) caps.push({ type: 'route-refresh' }, { type: 'enhanced-route-refresh' });
  if (config.extendedMessage) caps.push({ type: 'extended-message' });
  if (config.gracefulRestart) {
    const gr = config.gracefulRestart;
    caps.push({
      type: 'graceful-restart', restarting: gr.restarting ?? false, notification: gr.notification ?? false,
      restartTime: Math.min(gr.restartTime, 4095),
      families: gr.helperOnly ? [] : localFamilies(config).map((f) => ({ afi: f.afi, safi: f.safi, forwardingPreserved: gr.forwardingPreserved ?? false })),
    });
    const ll = gr.longLived;
    if (ll) {
      caps.push({ type: 'long-lived-graceful-restart', families: gr.helperOnly || ll.staleTime <= 0 ? []
        : localFamilies(config).map((f) => ({ afi: f.afi, safi: f.safi, forwardingPreserved: gr.forwardingPreserved ?? false, staleTime: Math.min(ll.staleTime, 0xffffff) })) });
    }
  }
  caps.push({ type: 'four-octet-as', asn: config.localAs });
  if (config.addPath.length > 0) {
    caps.push({ type: 'add-path', families: config.addPath.map((f) => ({ afi: f.afi, safi: f.safi, mode: f.mode })) });
  }
  if (config.role && config.peerAs !== config.localAs) caps.push(roleCapability(config.role.local));
  return {
    type: 'open', version: BGP_VERSION, myAs: config.localAs > 0xffff ? AS_TRANS : config.localAs,
    holdTime: config.holdTime, bgpId: config.routerId >>> 0, capabilities: caps,
  };
}

function mpFamilies(open: OpenMessage): AfiSafi[] {
  const out: AfiSafi[] = [];
  for (const c of open.capabilities) if (c.type === 'multiprotocol') out.push({ afi: c.afi, safi: c.safi });
  return out;
}

function addPathModes(open: OpenMessage): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of open.capabilities) {
    if (c.type !== 'add-path') continue;
    for (const f of c.families) m.set(afiSafiKey(f.afi, f.safi), f.mode);
  }
  return m;
}

const has = (open: OpenMessage, type: Capability['type']): boolean => open.capabilities.some((c) => c.type === type);

/** Negotiate the session from our OPEN and the peer's (already validated by checkOpen). */
export function negotiate(config: FsmConfig, localOpen: OpenMessage, peerOpen: OpenMessage): NegotiatedSession {
  const holdTime = Math.min(localOpen.holdTime, peerOpen.holdTime);
  const keepaliveTime = Math.floor(holdTime / 3);
  const fourOctetAs = has(localOpen, 'four-octet-as') && has(peerOpen, 'four-octet-as');
  // RFC 4760 §8: a speaker that sends no MP capability is taken to support IPv4 unicast only.
  const ours = mpFamilies(localOpen);
  const theirsRaw = mpFamilies(peerOpen);
  const theirs = theirsRaw.length > 0 ? theirsRaw : [IPV4_UNICAST];
  const mine = ours.length > 0 ? ours : [IPV4_UNICAST];
  const families = mine.filter((f) => theirs.some((t) => t.afi === f.afi && t.safi === f.safi));

  const localAp = addPathModes(localOpen);
  const peerAp = addPathModes(peerOpen);
  const addPath: AddPathNegotiated[] = [];
  const addPathReceive = new Set<string>();
  const addPathSend = new Set<string>();
  for (const f of families) {
    const key = afiSafiKey(f.afi, f.safi);
    const l = localAp.get(key) ?? 0;
    const p = peerAp.get(key) ?? 0;
    const receive = (l & AddPathMode.RECEIVE) !== 0 && (p & AddPathMode.SEND) !== 0;
    const send = (l & AddPathMode.SEND) !== 0 && (p & AddPathMode.RECEIVE) !== 0;
    if (receive) addPathReceive.add(key);
    if (send) addPathSend.add(key);
    if (receive || send) addPath.push({ afi: f.afi, safi: f.safi, send, receive });
  }
  const extendedMessage = has(localOpen, 'extended-message') && has(peerOpen, 'extended-message');
  const routeRefresh = has(localOpen, 'route-refresh') && has(peerOpen, 'route-refresh');
  const enhancedRouteRefresh = has(localOpen, 'enhanced-route-refresh') && has(peerOpen, 'enhanced-route-refresh');
  let peerGracefulRestart: GracefulRestartInfo | undefined;
  let peerLongLived: LongLivedGracefulRestartInfo | undefined;
  const unknownCapabilities: Array<{ code: number; value: Uint8Array }> = [];
  for (const c of peerOpen.capabilities) {
    if (c.type === 'graceful-restart') {
      peerGracefulRestart = { restarting: c.restarting, notification: c.notification, restartTime: c.restartTime, families: c.families };
    } else if (c.type === 'long-lived-graceful-restart') {
      peerLongLived = { families: c.families };
    } else if (c.type === 'unknown') {
      unknownCapabilities.push({ code: c.code, value: c.value });
    }
  }
  const peerAs = peerAsOf(peerOpen);
  const ibgp = peerAs === config.localAs;
  return {
    peerAs, peerBgpId: peerOpen.bgpId >>> 0, localBgpId: localOpen.bgpId >>> 0, ibgp,
    holdTime, keepaliveTime, fourOctetAs, families, addPath, extendedMessage, routeRefresh, enhancedRouteRefresh,
    ...(peerGracefulRestart ? { peerGracefulRestart } : {}),
    localGracefulRestart: has(localOpen, 'graceful-restart'),
    // RFC 9494 §3: LLGR without a graceful-restart capability is ignored
    ...(peerLongLived && peerGracefulRestart ? { peerLongLivedGracefulRestart: peerLongLived } : {}),
    peerCapabilities: peerOpen.capabilities, unknownCapabilities,
    codec: { fourOctetAs, extendedMessage, addPathReceive, addPathSend, ibgp },
    localOpen, peerOpen,
  };
}

/**
 * Both sides set the N bit of the graceful-restart capability (RFC 8538 §2): a NOTIFICATION
 * other than Cease/Hard Reset then keeps graceful restart, and we send Hard Reset where a
 * session must end for good (see hardResetWrap).
 */
export function notificationGr(n: NegotiatedSession): boolean {
  const ours = n.localOpen.capabilities.some((c) => c.type === 'graceful-restart' && c.notification);
  return ours && n.peerGracefulRestart?.notification === true;
}

/**
 * The Established session `n` went down the way a graceful restart of the peer looks (RFC 4724
 * §4.2, RFC 8538): the peer advertised a restart time and families, we sent no NOTIFICATION, and
 * it sent none or, with the N bit on both sides, one other than Cease/Hard Reset.
 */
export function peerRestarting(n: NegotiatedSession, drop: { readonly notify?: NotificationMessage; readonly received?: NotificationMessage }): boolean {
  const g = n.peerGracefulRestart;
  if (g === undefined || g.restartTime === 0 || g.families.length === 0 || drop.notify !== undefined) return false;
  const r = drop.received;
  return r === undefined || (notificationGr(n) && !(r.code === ErrorCode.CEASE && r.subcode === CeaseSubcode.HARD_RESET));
}
