/**
 * The session side of a configured peer, for BgpSpeaker: making its BgpSession from the config,
 * wiring it to the listener and the speaker's inbound path, and what happens at Established
 * (an EstablishedSession, the Adj-RIB-In, the table sent) and at down (graceful restart or the
 * routes flushed). Only events of the peer's current session are acted on.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { parseAddress } from '../../common/prefix.js';
import { CeaseSubcode } from '../wire/errors.js';
import type { DownReason, NegotiatedSession } from '../fsm/fsm-types.js';
import { BgpSession, type ConnectOptions } from '../session/session.js';
import { canonicalAddress, type BgpListener } from '../session/listener.js';
import { compactWireCodec } from '../session/wire-codec-default.js';
import type { LocRib } from '../rib/loc-rib.js';
import type { PeerInfo } from '../rib/route.js';
import { addPathFamilies, importChecks, peerSocketOptions, type PeerConfig, type SpeakerConfig } from './peer-config.js';
import type { ListenerSecurity } from './listener-security.js';
import type { Peer } from './peer.js';
import { sessionInterface } from './link-local.js';
import { EstablishedSession } from './established-session.js';
import type { Outbound } from './outbound.js';
import { gracefulRestartCapability, type GracefulRestartHelper } from './graceful-restart.js';
import type { Inbound } from './inbound.js';
import type { SelectionDeferral } from './selection-deferral.js';
import type { RouteFlush } from './route-flush.js';
import { downText } from './views.js';

export interface PeerSessionsDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly log: Logger;
  readonly connect: (o: ConnectOptions) => Socket;
  readonly config: () => SpeakerConfig;
  readonly rib: () => LocRib;
  readonly listener: BgpListener;
  readonly security: ListenerSecurity;
  readonly outbound: Outbound;
  readonly gr: GracefulRestartHelper;
  readonly deferral: () => SelectionDeferral;
  readonly inbound: Inbound;
  readonly flush: RouteFlush;
  readonly stopped: () => boolean;
}

export class PeerSessions {
  constructor(private readonly deps: PeerSessionsDeps) {}

  newSession(c: PeerConfig): BgpSession {
    const cfg = this.deps.config();
    return new BgpSession({
      name: c.name, peerAddress: c.address, peerPort: c.port,
      ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}),
      localAs: c.localAs ?? cfg.asn, peerAs: c.asn, routerId: cfg.routerId,
      holdTime: c.holdTime, connectRetryTime: c.connectRetry, passive: c.passive,
      families: c.families.map((f) => (f === 'ipv6-unicast' ? { afi: 2, safi: 1 } : { afi: 1, safi: 1 })),
      routeRefresh: true, addPath: addPathFamilies(c),
      gracefulRestart: gracefulRestartCapability(c, cfg.gracefulRestart, () => this.deps.deferral().deferring),
      socketOptions: peerSocketOptions(c, cfg.asn),
      ...(c.localRole !== undefined ? { role: { local: c.localRole, strict: c.roleStrict ?? false } } : {}),
    }, { clock: this.deps.clock, logger: this.deps.logger, codec: compactWireCodec, connect: this.deps.connect });
  }

  /** Wire a peer's (new) session to the speaker and the listener. */
  attach(p: Peer): void {
    const s = p.session;
    this.deps.listener.addSession(s);
    this.secureListener(p, p.config.password, p.config.ttlSecurity);
    s.on('established', (n) => { if (p.session === s) this.onEstablished(p, n); });
    s.on('update', (m, info) => { if (p.session === s) this.deps.inbound.update(p, m, info); });
    s.on('route-refresh', (m) => { if (p.session === s) this.deps.inbound.routeRefresh(p, m.afi, m.safi, m.subtype); });
    s.on('down', (r) => { if (p.session === s) this.onDown(p, r); });
  }

  /** Stop a peer's current session for good (Cease/subcode) and drop what it contributed. */
  retire(p: Peer, subcode: number): void {
    const s = p.session;
    this.deps.listener.removeSession(s);
    this.secureListener(p, undefined, undefined);
    s.automaticStop(subcode, { restart: false });
    this.endSession(p);
    this.deps.gr.finish(p);
    this.deps.flush.flush(p, subcode === CeaseSubcode.PEER_DECONFIGURED ? 'peer removed' : 'configuration changed');
  }

  /** Send the table and End-of-RIB to an Established peer not yet in an update group, unless deferring. */
  startOutbound(p: Peer): void {
    const e = p.established;
    if (e && !e.group && !e.isClosed && !this.deps.deferral().deferring && !this.deps.stopped()) this.deps.outbound.start(p, e);
  }

  /** The Established session is over: out of its update group, its timers cancelled. */
  endSession(p: Peer): void {
    const e = p.established;
    if (!e) return;
    p.established = undefined;
    this.deps.outbound.leaveGroup(p, e);
    e.close();
  }

  private secureListener(p: Peer, password: string | undefined, ttlSecurityHops: number | undefined): void {
    const problem = this.deps.security.set(p.config.address, password, ttlSecurityHops);
    if (problem === undefined) return;
    p.lastError = problem;
    this.deps.log.error({ peer: p.config.name, err: problem }, 'listener security not set for this peer');
  }

  private onEstablished(p: Peer, n: NegotiatedSession): void {
    if (this.deps.stopped()) return;
    this.endSession(p);
    p.lastError = undefined;
    const e = new EstablishedSession(n, this.deps.clock.wallNow());
    p.established = e;
    p.routesSince = e.since;
    const iface = sessionInterface(canonicalAddress(p.session.connection?.localAddress), p.config.address);
    const info: PeerInfo = {
      id: p.config.name, kind: n.ibgp ? 'ibgp' : 'ebgp', asn: p.config.asn, routerId: n.peerBgpId >>> 0,
      address: parseAddress(p.config.address).bytes,
      ...(p.config.routeReflectorClient ? { rrClient: true } : {}),
      ...(iface === undefined ? {} : { interface: iface }),
    };
    const kept = p.adjIn;
    if (kept && (kept.peer.kind !== info.kind || kept.peer.routerId !== info.routerId || kept.peer.asn !== info.asn)) {
      // The routes kept are tied to the old identity (best path reads it): not the same speaker.
      this.deps.gr.finish(p);
      this.deps.flush.flush(p, 'the peer came back with another BGP identifier or AS');
    }
    if (p.adjIn) {
      this.deps.gr.established(p, n);
    } else {
      this.deps.flush.finishDrain(p.config.name);
      p.adjIn = this.deps.rib().addPeer(info, {
        ...(p.importPolicy ? { policy: p.importPolicy } : {}),
        ...(p.config.allowAsIn !== undefined && p.config.allowAsIn > 0 ? { allowAsIn: p.config.allowAsIn } : {}),
        ...(p.config.localAs !== undefined ? { localAs: p.config.localAs } : {}),
        ...importChecks(p.config, n.ibgp),
        now: () => this.deps.clock.wallNow(),
      });
    }
    this.deps.deferral().established(p, n);
    this.startOutbound(p);
  }

  private onDown(p: Peer, r: DownReason): void {
    p.lastError = downText(r, p.config.asn);
    const e = p.established;
    this.endSession(p);
    if (e !== undefined && !this.deps.stopped()) this.deps.gr.down(p, e.negotiated, r);
    else if (!p.gr) this.deps.flush.flush(p, 'session down');
  }
}
