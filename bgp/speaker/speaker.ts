/**
 * BgpSpeaker: the in-process BGP speaker that tortie-node and tortie-bgpd embed. Glue between
 * bgp/session (one BgpSession per configured peer, a BgpListener dispatching incoming
 * connections), bgp/rib (one Adj-RIB-In per peer feeding the Loc-RIB) and bgp/policy. By concern:
 *   peer.ts                 a configured peer and what outlives its sessions (its routes, GR state)
 *   established-session.ts  what lives for one Established session (created there, dropped at down)
 *   outbound.ts             Loc-RIB changes → update groups → packed UPDATEs
 *   inbound.ts              UPDATEs and ROUTE-REFRESHes into the peer's Adj-RIB-In (RFC 7606, 2918, 7313)
 *   graceful-restart.ts     RFC 4724/8538 helper: a GR peer's routes kept stale across its restart
 *   selection-deferral.ts   RFC 4724 §4.1 restarting speaker: advertise only once peers sent End-of-RIB
 *   views.ts                status() and the route views
 *   peer-sessions.ts        a peer's BgpSession: made, wired, Established and down
 *   route-flush.ts          a peer's routes removed from the Loc-RIB in slices
 *   originated.ts           locally originated prefixes
 * This file: the API and the peer lifecycle (add, update, remove, enable, disable, restart).
 */
import type { Server, Socket } from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { ipv4ToInt, parseAddress } from '../../common/prefix.js';
import { CeaseSubcode } from '../wire/errors.js';
import type { ConnectOptions } from '../session/session.js';
import { BgpListener } from '../session/listener.js';
import { LocRib, type BestChanges } from '../rib/loc-rib.js';
import { multipathOptions, peerConfigEquals, type OriginateAttrs, type PeerConfig, type SpeakerConfig } from './peer-config.js';
import { ListenerSecurity } from './listener-security.js';
import { compilePeerPolicy } from './policy-config.js';
import { Peer } from './peer.js';
import { Outbound } from './outbound.js';
import { DEFAULT_STALE_TIME, GracefulRestartHelper } from './graceful-restart.js';
import { Inbound } from './inbound.js';
import { StaleRoutes } from './stale-routes.js';
import { DEFAULT_SELECTION_DEFERRAL_TIME, SelectionDeferral, type SelectionDeferralStatus } from './selection-deferral.js';
import { PeerSessions } from './peer-sessions.js';
import { RouteFlush } from './route-flush.js';
import { Originated } from './originated.js';
import {
  bestPathChange, bestRouteViews, peerStatus, routeViews,
  routeCount, type BestPathChange, type PeerStatus, type RouteCount, type RouteSource, type RouteView,
} from './views.js';
import { streamRoutes, type RouteQuery, type RouteSink, type StreamOptions } from './route-stream.js';

export type { ConnectOptions } from '../session/session.js';
export type { FsmState } from '../fsm/fsm-types.js';
export type { PeerMessageStats } from './peer.js';
export type { OriginateAttrs } from './peer-config.js';
export type { SelectionDeferralStatus } from './selection-deferral.js';
export type { BestPathChange, GracefulRestartStatus, PeerStatus, RouteCount, RouteView } from './views.js';

export interface SpeakerDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly connect: (o: ConnectOptions) => Socket;
  /** Start listening; resolve once bound (reject with the bind error). */
  readonly listen: (o: { address: string; port: number }, onConnection: (s: Socket) => void) => Promise<Server>;
}

/**
 * Pause between the Cease/4 of restartPeer() and our own new connection (the peer's is accepted
 * at once). 0 = next tick: with a pause FRR reconnects first and afterwards reports the reset as
 * "No AFI/SAFI activated for peer" instead of Cease/Administrative Reset.
 */
const RESTART_DELAY_MS = 0;

export class BgpSpeaker {
  private readonly peers = new Map<string, Peer>();
  private readonly originated = new Originated();
  private readonly listeners: Array<(c: BestPathChange) => void> = [];
  private rib: LocRib;
  private unsubscribeRib: () => void;
  private listener: BgpListener;
  private readonly outbound: Outbound;
  private readonly gr: GracefulRestartHelper;
  private readonly routeFlush: RouteFlush;
  private readonly sessions: PeerSessions;
  private server: Server | undefined;
  private readonly inbound: Inbound;
  /** RFC 4724 §4.1: after our restart, nothing is advertised until peers sent End-of-RIB. */
  private readonly deferral: SelectionDeferral;
  /** TCP-MD5 keys and GTSM minimum TTLs on the listening socket, per peer. */
  private readonly security = new ListenerSecurity(() => this.server);
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly deps: SpeakerDeps, private config: SpeakerConfig) {
    this.log = deps.logger.child({ component: 'bgp-speaker' });
    this.rib = this.newRib();
    this.unsubscribeRib = this.rib.onBestChange((c) => this.onBestChange(c));
    this.listener = new BgpListener({ host: config.listen.address, port: config.listen.port }, { logger: deps.logger });
    this.outbound = new Outbound({
      clock: deps.clock, log: this.log, rib: () => this.rib, stopped: () => this.stopped,
      localAs: (p) => p.config.localAs ?? this.config.asn,
    });
    this.routeFlush = new RouteFlush({ log: this.log, rib: () => this.rib });
    const stale = new StaleRoutes({ log: this.log, stopped: () => this.stopped });
    this.gr = new GracefulRestartHelper({
      clock: deps.clock, log: this.log, flush: (p, why) => this.routeFlush.flush(p, why), sweep: (p, f, why) => stale.sweep(p, f, why),
      markStale: (p, families, why) => stale.mark(p, families, true, why), longLived: (p, f) => stale.longLived(p, f),
      options: () => ({ helper: this.config.gracefulRestart?.helper ?? true, staleTime: this.config.gracefulRestart?.staleTime ?? DEFAULT_STALE_TIME,
        longLivedHelper: this.config.gracefulRestart?.longLivedHelper ?? true }),
    });
    const g = config.gracefulRestart;
    this.deferral = new SelectionDeferral({
      clock: deps.clock, log: this.log, peers: () => this.peers.values(),
      finished: () => { for (const p of this.peers.values()) this.sessions.startOutbound(p); },
    }, g?.restarting === true && g.enabled !== false, g?.selectionDeferralTime ?? DEFAULT_SELECTION_DEFERRAL_TIME);
    this.inbound = new Inbound({
      clock: deps.clock, log: this.log,
      endOfRib: (p, afi, safi) => { this.gr.endOfRib(p, afi, safi); this.deferral.endOfRib(p, afi, safi); },
      refresh: (p, afi, safi) => this.outbound.refresh(p, afi, safi),
      markStale: (p, family, why) => stale.mark(p, new Set([family]), false, why),
      sweepStale: (p, family, why) => stale.sweep(p, family, why),
      current: (x) => !this.stopped && this.peers.get(x.config.name) === x,
    });
    this.sessions = new PeerSessions({
      clock: deps.clock, logger: deps.logger, log: this.log, connect: deps.connect, config: () => this.config, rib: () => this.rib,
      listener: this.listener, security: this.security, outbound: this.outbound, gr: this.gr, deferral: () => this.deferral,
      inbound: this.inbound, flush: this.routeFlush, stopped: () => this.stopped,
    });
  }

  get routerId(): string { return this.config.routerId; }
  get asn(): number { return this.config.asn; }

  /** Bind the listener (port 0 disables it) and start every peer. */
  async start(): Promise<void> {
    if (this.config.listen.port !== 0) {
      this.server = await this.deps.listen(this.config.listen, (s) => this.listener.accept(s));
    }
    for (const p of this.config.peers) this.addPeer(p);
    this.deferral.start();
  }

  /**
   * Resolves when the Loc-RIB has converged after our restart (RFC 4724 §4.1): every peer we
   * wait for sent End-of-RIB, or the selection deferral timer expired; at once when we were not
   * restarting. Our table and End-of-RIB go out to peers at that moment: the embedding program
   * removes what it kept from before the restart (tortie-node: stale kernel routes) then.
   */
  whenConverged(): Promise<void> { return this.deferral.whenConverged(); }

  /** The restart's selection deferral: still deferring, and for which peers and families. */
  selectionDeferral(): SelectionDeferralStatus { return this.deferral.status(); }

  /** The bound listen port (useful with port 0 in tests). */
  listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  addPeer(config: PeerConfig): void {
    if (this.peers.has(config.name)) throw new Error(`peer ${config.name} already exists`);
    const p = new Peer(config, this.sessions.newSession(config));
    this.sessions.attach(p);
    this.peers.set(config.name, p);
    p.session.start();
  }

  /** Reset the session only when the config actually changed (Cease/6 other configuration change). */
  updatePeer(config: PeerConfig): boolean {
    const p = this.peers.get(config.name);
    if (!p) { this.addPeer(config); return true; }
    if (peerConfigEquals(p.config, config)) return false;
    if (this.updatePolicies(p, config)) return true;
    this.sessions.retire(p, CeaseSubcode.OTHER_CONFIGURATION_CHANGE);
    p.replaceSession(config, this.sessions.newSession(config));
    this.sessions.attach(p);
    if (p.enabled) p.session.start();
    return true;
  }

  /**
   * A change of only the import and/or export policy is applied in place, like BIRD and FRR:
   * import → the Adj-RIB-In gets the new policy and re-runs import over what it holds (it keeps
   * the received attributes of changed and refused paths), then the peer is asked for a
   * ROUTE-REFRESH when it supports one; export → the peer moves to the
   * update group of its new policy and gets the difference. Returns false when another field
   * changed (then the session is reset).
   */
  private updatePolicies(p: Peer, config: PeerConfig): boolean {
    const strip = (c: PeerConfig): PeerConfig => { const { import: _i, export: _e, ...rest } = c; return rest; };
    if (!peerConfigEquals(strip(p.config), strip(config))) return false;
    const importChanged = JSON.stringify(p.config.import ?? null) !== JSON.stringify(config.import ?? null);
    const n = p.established?.negotiated;
    p.config = config;
    p.importPolicy = compilePeerPolicy(config.import, 'import');
    const exportPolicy = compilePeerPolicy(config.export, 'export');
    const exportChanged = exportPolicy !== p.exportPolicy;
    p.exportPolicy = exportPolicy;
    this.log.info({ peer: config.name, importChanged, exportChanged }, 'policy changed: applied without a session reset');
    if (importChanged && p.adjIn) {
      p.adjIn.setPolicy(p.importPolicy);
      const looked = p.adjIn.refilter(); // from the attributes as received: effective at once
      this.log.info({ peer: config.name, paths: looked }, 'import policy re-applied to the Adj-RIB-In');
      // and ask for the table again when the peer can (re-syncs anything we did not keep)
      if (n?.routeRefresh) for (const f of n.families) p.session.send({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: 0 });
    }
    if (exportChanged && n) this.outbound.regroup(p);
    return true;
  }

  /** Cease/3 peer de-configured, then forget the peer and its routes. */
  removePeer(name: string): void {
    const p = this.peers.get(name);
    if (!p) return;
    this.sessions.retire(p, CeaseSubcode.PEER_DECONFIGURED);
    this.peers.delete(name);
    this.deferral.forget(name);
  }

  /** Apply a whole new config: only added, changed and removed peers are touched. */
  reconfigure(next: SpeakerConfig): { added: string[]; changed: string[]; removed: string[]; unchanged: string[] } {
    const r = { added: [] as string[], changed: [] as string[], removed: [] as string[], unchanged: [] as string[] };
    if (next.asn !== this.config.asn || next.routerId !== this.config.routerId || next.clusterId !== this.config.clusterId) {
      // Identity change: every session must restart, and the Loc-RIB knows our AS and id.
      for (const name of [...this.peers.keys()]) { this.removePeer(name); r.removed.push(name); }
      this.config = next;
      this.unsubscribeRib();
      this.outbound.clear();
      this.routeFlush.clear();
      this.rib = this.newRib();
      this.unsubscribeRib = this.rib.onBestChange((c) => this.onBestChange(c));
      this.originated.replay(this.rib);
      for (const p of next.peers) { this.addPeer(p); r.added.push(p.name); }
      return r;
    }
    const names = new Set(next.peers.map((p) => p.name));
    for (const name of [...this.peers.keys()]) if (!names.has(name)) { this.removePeer(name); r.removed.push(name); }
    // Multipath settings: reselect every prefix, no session reset; the new sets go to the listeners.
    if (JSON.stringify(multipathOptions(next)) !== JSON.stringify(multipathOptions(this.config))) this.rib.setBestPathOptions(multipathOptions(next));
    this.config = next; // before the peers: new sessions read the speaker-wide settings (graceful restart)
    for (const p of next.peers) {
      if (!this.peers.has(p.name)) { this.addPeer(p); r.added.push(p.name); } else if (this.updatePeer(p)) r.changed.push(p.name); else r.unchanged.push(p.name);
    }
    return r;
  }

  enablePeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = true;
    if (p.session.state === 'Idle') p.session.start();
  }

  disablePeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = false;
    this.background(p.session.stop(), name, 'disable');
    // routes kept for a graceful restart are not waited for by a peer we switched off
    if (p.gr) { this.gr.finish(p); this.routeFlush.flush(p, 'peer disabled'); }
    this.deferral.forget(name);
  }

  /**
   * Cease/4 administrative reset; the peer's reconnection is accepted at once and we connect
   * ourselves after RESTART_DELAY_MS (not in the same tick as the stop).
   */
  restartPeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = true;
    this.background(p.session.resetWithPause(RESTART_DELAY_MS), name, 'restart');
  }

  /**
   * BFD saw the path to this peer fail (RFC 5882 §4.3): Cease/10 "BFD Down" (RFC 9384) at once and
   * its routes withdrawn, then reconnect as after any automatic stop. A session that is not up
   * is left alone, unless the peer restarts (stale routes) and `forwardingFailed` (its C bit).
   */
  bfdDown(name: string, options: { readonly forwardingFailed?: boolean } = {}): boolean {
    const p = this.mustPeer(name);
    const st = p.session.state;
    if (st === 'Idle' || st === 'Connect' || st === 'Active') return options.forwardingFailed === true && this.gr.forwardingFailed(p);
    p.session.automaticStop(CeaseSubcode.BFD_DOWN, { restart: true, message: 'BFD Down' });
    return true;
  }

  /** BFD Up again (after the Down that closed this session): reconnect now, as FRR's BGP_Start on BFD Up. */
  /** The interface the session to `name` runs over, from when it was last Established (link-local.ts). */
  peerInterface(name: string): string | undefined { return this.peers.get(name)?.adjIn?.peer.interface; }

  bfdUp(name: string): void { this.mustPeer(name).session.restartNow(); }

  private mustPeer(name: string): Peer {
    const p = this.peers.get(name);
    if (!p) throw new Error(`no such peer ${JSON.stringify(name)} (peers: ${[...this.peers.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** Send ROUTE-REFRESH for every negotiated family to a peer. */
  routeRefresh(name: string): void {
    const p = this.mustPeer(name);
    const n = p.established?.negotiated;
    if (!n) throw new Error(`peer ${name} is not Established (${p.session.state})`);
    if (!n.routeRefresh) throw new Error(`peer ${name} did not negotiate route refresh`);
    for (const f of n.families) p.session.send({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: 0 });
  }

  onBestPathChange(cb: (c: BestPathChange) => void): () => void {
    this.listeners.push(cb);
    return () => { const i = this.listeners.indexOf(cb); if (i >= 0) this.listeners.splice(i, 1); };
  }

  originate(prefixText: string, attrs: OriginateAttrs = {}): void { this.originated.originate(this.rib, prefixText, attrs, this.deps.clock.wallNow()); }

  withdraw(prefixText: string): void { this.originated.withdraw(this.rib, prefixText); }

  /**
   * Send the UPDATEs that pending changes call for now instead of at the next setImmediate: for an
   * embedding program that originated or withdrew prefixes and goes on with other work first
   * (the agent programs its kernel after originating; a slow netlink dump would hold the UPDATE back).
   */
  flush(): void { this.outbound.flush(); }

  /**
   * Cease/2 administrative shutdown to every peer (sent as Hard Reset where the N bit is
   * negotiated: peers flush our routes), close the listener. `graceful`: close the connections
   * without a NOTIFICATION instead (BIRD's `graceful restart` command), so peers that took our
   * graceful-restart capability keep our routes, stale, until we are back or our restart time
   * runs out: for a restart that keeps the forwarding state.
   */
  async stop(options: { readonly graceful?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.deferral.cancel();
    for (const p of this.peers.values()) { p.established?.close(); this.gr.finish(p); }
    if (options.graceful) {
      for (const p of this.peers.values()) { this.listener.removeSession(p.session); p.session.destroy(); }
    } else {
      await Promise.all([...this.peers.values()].map((p) => p.session.stop().catch((err: unknown) => {
        this.log.warn({ peer: p.config.name, err: describeError(err) }, 'stopping session failed');
      })));
    }
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  // ------------------------------------------------------------ status

  status(): PeerStatus[] {
    return [...this.peers.values()].map((p) => peerStatus(p, this.config.asn, this.outbound.advertised(p)));
  }

  /** Every candidate route (originated and received), best flagged, sorted by prefix. */
  routes(filter?: string): RouteView[] { return routeViews(this.routeSource(), filter); }

  /** Best routes only (what a FIB would install). */
  bestRoutes(): RouteView[] { return bestRouteViews(this.routeSource()); }

  /** The route views of `q` (also `show route filtered`: as received, with why), in slices and batches for tables of any size (route-stream.ts). */
  streamRoutes(q: RouteQuery, sink: RouteSink, options?: StreamOptions): Promise<number> { return streamRoutes(this.routeSource(), q, sink, options); }
  /** `show route count` from the RIBs' counters (no walk). */ routeCount(): RouteCount { return routeCount(this.rib); }

  private routeSource(): RouteSource {
    return { rib: this.rib, peers: this.peers, originatedSince: (k) => this.originated.since(k) };
  }

  // ------------------------------------------------------------ sessions

  private newRib(): LocRib {
    const id = (a: string) => ipv4ToInt(parseAddress(a).bytes) >>> 0;
    const cluster = this.config.clusterId;
    return new LocRib({ localAs: this.config.asn, routerId: id(this.config.routerId), ...(cluster !== undefined ? { clusterId: id(cluster) } : {}), logger: this.log,
      bestPath: multipathOptions(this.config) });
  }

  private background(pr: Promise<void>, name: string, what: string): void {
    pr.catch((err: unknown) => this.log.warn({ peer: name, err: describeError(err) }, `${what} failed`));
  }

  // ------------------------------------------------------------ Loc-RIB → update groups, listeners

  private onBestChange(changes: BestChanges): void {
    this.outbound.apply(changes);
    if (this.listeners.length === 0) return;
    // Every entry is a change of the best path or of the multipath set (the Loc-RIB records nothing else).
    const { best } = changes;
    const src = this.routeSource();
    for (let i = 0; i < changes.length; i++) {
      const change = bestPathChange(src, changes.prefixes.prefix(i), best[i], changes.ecmpAt(i));
      for (const l of this.listeners) {
        try { l(change); } catch (err) { this.log.error({ err: describeError(err) }, 'onBestPathChange listener threw'); }
      }
    }
  }
}
