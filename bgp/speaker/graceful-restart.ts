/**
 * Graceful restart, receiving speaker ("helper", RFC 4724 §4.2 with RFC 8538), on by default
 * as in BIRD and FRR. When the session of a peer that advertised GR for a family goes down
 * (TCP failure, hold timer expiry, a new connection while Established; with the N bit of
 * RFC 8538 also a NOTIFICATION other than Cease/Hard Reset), its routes of that family stay in
 * the Loc-RIB marked stale: no withdrawal to other peers, no kernel change. Then:
 *
 *   down ──▶ restart-wait (restart timer = the peer's Restart Time) ──expires──▶ flush
 *     └─ re-established ──▶ stale (stale-path timer): families the new OPEN lists with F set
 *          keep waiting; others are flushed at once ── End-of-RIB(f) ──▶ sweep f ── none left ──▶ done
 *
 * Families the peer did not list, and everything on a Hard Reset, are flushed at once.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { CeaseSubcode, ErrorCode } from '../wire/errors.js';
import type { DownReason, GracefulRestartConfig, NegotiatedSession } from '../fsm/fsm-types.js';
import type { PeerConfig, SpeakerConfig } from './peer-config.js';
import { notificationGr } from '../fsm/negotiate.js';
import type { Peer } from './peer.js';

export interface GrHelperState {
  /**
   * restart-wait: session down, within the restart time; long-lived: down past it, routes of
   * the LLGR families carry LLGR_STALE (RFC 9494); stale: back up, waiting for End-of-RIB.
   */
  state: 'restart-wait' | 'long-lived' | 'stale';
  /** Families whose routes are kept stale. */
  readonly stale: Set<4 | 6>;
  /** Long-lived Stale Time per family the peer listed in its LLGR capability (seconds, > 0). */
  readonly longLivedTime: ReadonlyMap<4 | 6, number>;
  /** Families in their long-lived stale period. */
  readonly longLived: Set<4 | 6>;
  timer: TimerHandle | undefined;
  /** Long-lived Stale Time timers, one per family in `longLived`. */
  readonly llTimers: TimerHandle[];
}

export interface GrHelperOptions {
  /** Keep a GR peer's routes across its restart (default true). */
  readonly helper: boolean;
  /** Seconds stale routes are kept after the session is back, waiting for End-of-RIB (FRR stalepath-time, default 360). */
  readonly staleTime: number;
  /** Keep an LLGR peer's routes past its restart time, as LLGR_STALE (RFC 9494; default true, BIRD `aware`). */
  readonly longLivedHelper: boolean;
}

export const DEFAULT_STALE_TIME = 360;

export interface GrHelperDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** Remove every route of the peer now. */
  readonly flush: (p: Peer, why: string) => void;
  /** Mark the peer's routes of `families` stale and withdraw its others (in slices). */
  readonly markStale: (p: Peer, families: ReadonlySet<4 | 6>, why: string) => void;
  /** Withdraw the peer's routes of `family` still stale (in slices), logging `why` with the count. */
  readonly sweep: (p: Peer, family: 4 | 6, why: string) => void;
  /** Stale routes of `family` enter the long-lived stale period: LLGR_STALE added, NO_LLGR ones withdrawn (in slices). */
  readonly longLived: (p: Peer, family: 4 | 6) => void;
  readonly options: () => GrHelperOptions;
}

/** Whether the NOTIFICATION is Cease/Hard Reset (RFC 8538 §3): no graceful restart then. */
function isHardReset(n: { code: number; subcode: number } | undefined): boolean {
  return n !== undefined && n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET;
}

const familyOf = (afi: number, safi: number): 4 | 6 | undefined => (safi !== 1 ? undefined : afi === 1 ? 4 : afi === 2 ? 6 : undefined);

export class GracefulRestartHelper {
  constructor(private readonly deps: GrHelperDeps) {}

  /**
   * The Established session of `p` went down: keep its routes stale (true) or flush them (false,
   * after calling deps.flush). `n` is the session that went down. Families in the GR capability
   * wait for the restart time; families in the LLGR capability (with a Long-lived Stale Time)
   * then enter the long-lived stale period, at once when the restart time is 0 (RFC 9494 §4.2).
   */
  down(p: Peer, n: NegotiatedSession, r: DownReason): boolean {
    const g = n.peerGracefulRestart;
    const negotiated = (afi: number, safi: number) => n.families.some((x) => x.afi === afi && x.safi === safi);
    const gr = new Set<4 | 6>();
    if (g && g.restartTime > 0) for (const f of g.families) { const fam = familyOf(f.afi, f.safi); if (fam !== undefined && negotiated(f.afi, f.safi)) gr.add(fam); }
    const llTime = new Map<4 | 6, number>();
    if (this.deps.options().longLivedHelper) {
      for (const f of n.peerLongLivedGracefulRestart?.families ?? []) {
        const fam = familyOf(f.afi, f.safi);
        if (fam !== undefined && f.staleTime > 0 && negotiated(f.afi, f.safi)) llTime.set(fam, f.staleTime);
      }
    }
    const kept = new Set<4 | 6>([...gr, ...llTime.keys()]);
    const why = this.noRetainReason(n, r, kept);
    if (why !== undefined || !g) { this.finish(p); this.deps.flush(p, why ?? 'no graceful restart'); return false; }
    const rib = p.adjIn;
    if (!rib) { this.finish(p); return false; }
    // routes of the families not kept go, also those still stale from an earlier restart
    this.deps.markStale(p, kept, 'graceful restart: the peer\'s routes marked stale');
    this.finish(p);
    const state: GrHelperState = { state: 'restart-wait', stale: kept, longLivedTime: llTime, longLived: new Set(), timer: undefined, llTimers: [] };
    p.gr = state;
    this.deps.log.info({ peer: p.name, families: [...kept].map((f) => `ipv${f}`), restartTime: g.restartTime,
      ...(llTime.size ? { longLivedStaleTime: Object.fromEntries([...llTime].map(([f, t]) => [`ipv${f}`, t])) } : {}), reason: r.text },
    'graceful restart: session down, the peer\'s routes are kept as stale');
    // families only in the LLGR capability (or a restart time of 0) skip the restart-wait period
    const now = [...kept].filter((f) => !gr.has(f));
    if (now.length) this.enterLongLived(p, state, now);
    if (gr.size > 0) {
      state.timer = this.deps.clock.setTimeout(() => {
        if (p.gr !== state) return;
        state.timer = undefined;
        this.enterLongLived(p, state, [...gr]);
      }, g.restartTime * 1000);
    }
    return true;
  }

  /**
   * The restart time ran out for `families`: those with a Long-lived Stale Time enter the
   * long-lived stale period under their own timer; the others are removed (RFC 4724 §4.2).
   */
  private enterLongLived(p: Peer, state: GrHelperState, families: ReadonlyArray<4 | 6>): void {
    for (const f of families) {
      if (!state.stale.has(f)) continue;
      const t = state.longLivedTime.get(f);
      if (t === undefined) {
        state.stale.delete(f);
        this.deps.log.warn({ peer: p.name, family: `ipv${f}` }, 'graceful restart: the peer did not come back within its restart time; its stale routes are removed');
        this.deps.sweep(p, f, 'graceful restart: restart timer expired: stale routes removed');
        continue;
      }
      state.longLived.add(f);
      state.state = 'long-lived';
      this.deps.log.warn({ peer: p.name, family: `ipv${f}`, longLivedStaleTime: t },
        'long-lived graceful restart: the peer did not come back within its restart time; its routes are kept as LLGR_STALE, least preferred (RFC 9494)');
      this.deps.longLived(p, f);
      state.llTimers.push(this.deps.clock.setTimeout(() => {
        if (p.gr !== state || !state.stale.has(f)) return;
        state.stale.delete(f);
        state.longLived.delete(f);
        this.deps.sweep(p, f, 'long-lived graceful restart: long-lived stale time expired: stale routes removed');
        if (state.stale.size === 0) this.finish(p);
      }, t * 1000));
    }
    if (state.stale.size === 0 && p.gr === state) this.finish(p);
  }

  /** Why the routes of the session that went down are not kept, or undefined (keep them). */
  private noRetainReason(n: NegotiatedSession, r: DownReason, kept: ReadonlySet<4 | 6>): string | undefined {
    if (!this.deps.options().helper) return 'graceful restart helper disabled';
    const g = n.peerGracefulRestart;
    if (!g) return 'the peer did not advertise graceful restart';
    if (kept.size === 0) {
      if (g.families.length === 0) return 'the peer\'s graceful restart capability lists no address family';
      if (g.restartTime === 0) return 'the peer\'s restart time is 0';
      return 'no negotiated family in the peer\'s graceful restart capability';
    }
    const notif = r.notificationReceived ?? r.notificationSent;
    if (notif !== undefined) {
      if (isHardReset(notif)) return 'Cease/Hard Reset (RFC 8538)';
      // BFD saw the forwarding path fail (ours sent it, or the peer's): the routes lead nowhere.
      // A planned restart never gets here: it sends BFD AdminDown, which takes no session down.
      if (notif.code === ErrorCode.CEASE && notif.subcode === CeaseSubcode.BFD_DOWN) return 'Cease/BFD Down (RFC 9384): the forwarding path failed';
      if (!notificationGr(n)) return 'NOTIFICATION without the RFC 8538 N bit on both sides';
    }
    return undefined;
  }

  /**
   * The session is Established again while routes are kept: families the new OPEN lists with
   * the F bit (forwarding state preserved; for a family in its long-lived period, the F bit of
   * the LLGR capability, RFC 9494 §4.2) wait for End-of-RIB under the stale-path timer; the
   * others are flushed now (RFC 4724 §4.2).
   */
  established(p: Peer, n: NegotiatedSession): void {
    const gr = p.gr;
    const rib = p.adjIn;
    if (!gr || !rib) return;
    this.cancelTimers(gr);
    const g = n.peerGracefulRestart;
    const ll = n.peerLongLivedGracefulRestart;
    for (const f of [...gr.stale]) {
      const longLived = gr.longLived.has(f);
      const listed = longLived ? ll?.families.find((x) => familyOf(x.afi, x.safi) === f) : g?.families.find((x) => familyOf(x.afi, x.safi) === f);
      const negotiated = n.families.some((x) => familyOf(x.afi, x.safi) === f);
      if (listed?.forwardingPreserved === true && negotiated) continue;
      gr.stale.delete(f);
      const cap = longLived ? 'long-lived graceful restart' : 'graceful restart';
      this.deps.sweep(p, f, `graceful restart: ${!g ? 'no graceful restart capability' : !listed ? `family not in the ${cap} capability` : !negotiated ? 'family not negotiated' : `F bit clear in the ${cap} capability (forwarding state lost)`} on the new session: stale routes removed`);
    }
    if (gr.stale.size === 0) { this.finish(p); return; }
    gr.state = 'stale';
    const staleTime = this.deps.options().staleTime;
    gr.timer = this.deps.clock.setTimeout(() => {
      if (p.gr !== gr) return;
      this.deps.log.warn({ peer: p.name, staleTime }, 'graceful restart: no End-of-RIB within the stale-path time; stale routes removed');
      for (const f of gr.stale) this.deps.sweep(p, f, 'graceful restart: stale-path time expired: stale routes removed');
      this.finish(p);
    }, staleTime * 1000);
  }

  /** End-of-RIB from the peer (RFC 4724 §2): what of that family is still stale was not re-sent; withdraw it. */
  endOfRib(p: Peer, afi: number, safi: number): void {
    const gr = p.gr;
    const f = familyOf(afi, safi);
    if (!gr || gr.state !== 'stale' || f === undefined || !gr.stale.has(f)) return;
    gr.stale.delete(f);
    this.deps.sweep(p, f, 'graceful restart: End-of-RIB received, stale routes not re-sent removed');
    if (gr.stale.size === 0) this.finish(p);
  }

  /** Forget the helper state (routes flushed, swept, or the peer removed). */
  /**
   * The restarting peer's BFD went Down and its C bit said BFD does not share fate with its BGP
   * (RFC 5882 §4.3.2): its forwarding failed too, so its stale routes go now, not at the end of
   * the restart time (a node that died while its agent was restarting). False when not restarting.
   */
  forwardingFailed(p: Peer): boolean {
    if (!p.gr) return false;
    this.finish(p);
    this.deps.flush(p, 'BFD Down with the C bit set during graceful restart: the peer\'s forwarding failed (RFC 5882 §4.3.2)');
    return true;
  }

  finish(p: Peer): void {
    if (p.gr) this.cancelTimers(p.gr);
    p.gr = undefined;
  }

  private cancelTimers(gr: GrHelperState): void {
    gr.timer?.cancel();
    gr.timer = undefined;
    for (const t of gr.llTimers.splice(0)) t.cancel();
  }
}

/** Our restart time when none is configured, seconds (BIRD's and Calico's 120). */
export const DEFAULT_RESTART_TIME = 120;

/**
 * Our graceful-restart capability (RFC 4724 §3): as a restarting speaker, our families with
 * the restart time, F only when the embedding program says forwarding survived, R after a
 * restart; "aware" (no families, restart time 0, as BIRD's default) when disabled, which
 * still makes peers send End-of-RIB and FRR answer ROUTE-REFRESH. The N bit (RFC 8538) is
 * always set: a NOTIFICATION other than Hard Reset then keeps the routes on both sides.
 */
export function gracefulRestartCapability(c: PeerConfig, g: SpeakerConfig['gracefulRestart'], deferring: () => boolean = () => true): GracefulRestartConfig {
  if (g?.enabled === false) return { restartTime: 0, helperOnly: true, notification: true, ...(g.longLivedHelper ?? true ? { longLived: { staleTime: 0 } } : {}) };
  const restartTime = Math.min(4095, c.gracefulRestartTime ?? g?.restartTime ?? DEFAULT_RESTART_TIME);
  const forwardingPreserved = g?.forwardingPreserved ?? false;
  const restarting = g?.restarting ?? false;
  // RFC 9494: our families with the Long-lived Stale Time, or none ("aware": peers may send us
  // LLGR_STALE routes and we keep theirs past the restart time) while the LLGR helper is on.
  const llst = Math.min(0xffffff, g?.longLivedStaleTime ?? 0);
  const longLived = llst > 0 || (g?.longLivedHelper ?? true) ? { longLived: { staleTime: llst } } : {};
  // The FSM builds an OPEN per connection from this object: R is read then, so it is set only
  // while our selection deferral lasts (a session that resets later is not "just restarted").
  return { restartTime, notification: true, forwardingPreserved, ...longLived, get restarting() { return restarting && deferring(); } };
}
