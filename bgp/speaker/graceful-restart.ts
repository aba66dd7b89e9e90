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
  /** restart-wait: session down, waiting for it; stale: back up, waiting for End-of-RIB. */
  state: 'restart-wait' | 'stale';
  /** Families whose routes are kept stale. */
  readonly stale: Set<4 | 6>;
  timer: TimerHandle | undefined;
}

export interface GrHelperOptions {
  /** Keep a GR peer's routes across its restart (default true). */
  readonly helper: boolean;
  /** Seconds stale routes are kept after the session is back, waiting for End-of-RIB (FRR stalepath-time, default 360). */
  readonly staleTime: number;
}

export const DEFAULT_STALE_TIME = 360;

export interface GrHelperDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** Remove every route of the peer now. */
  readonly flush: (p: Peer, why: string) => void;
  /** Withdraw the peer's routes of `family` still stale (in slices), logging `why` with the count. */
  readonly sweep: (p: Peer, family: 4 | 6, why: string) => void;
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
   * after calling deps.flush). `n` is the session that went down.
   */
  down(p: Peer, n: NegotiatedSession, r: DownReason): boolean {
    const why = this.noRetainReason(n, r);
    const g = n.peerGracefulRestart;
    if (why !== undefined || !g) { this.finish(p); this.deps.flush(p, why ?? 'no graceful restart'); return false; }
    const rib = p.adjIn;
    if (!rib) { this.finish(p); return false; }
    const kept = new Set<4 | 6>();
    for (const f of g.families) {
      const fam = familyOf(f.afi, f.safi);
      if (fam !== undefined && n.families.some((x) => x.afi === f.afi && x.safi === f.safi)) kept.add(fam);
    }
    if (p.gr) for (const f of p.gr.stale) if (!kept.has(f)) rib.sweepStale(f); // still stale from before, not listed now (rare: all at once)
    for (const f of [4, 6] as const) if (!kept.has(f)) rib.withdrawFamily(f);
    const staleNow = rib.markStale(kept);
    this.finish(p);
    const state: GrHelperState = { state: 'restart-wait', stale: kept, timer: undefined };
    p.gr = state;
    state.timer = this.deps.clock.setTimeout(() => {
      if (p.gr !== state) return;
      this.deps.log.warn({ peer: p.name, restartTime: g.restartTime }, 'graceful restart: the peer did not come back within its restart time; its stale routes are removed');
      this.finish(p);
      this.deps.flush(p, 'restart timer expired');
    }, g.restartTime * 1000);
    this.deps.log.info({ peer: p.name, families: [...kept].map((f) => `ipv${f}`), stale: staleNow, restartTime: g.restartTime, reason: r.text },
      'graceful restart: session down, the peer\'s routes are kept as stale');
    return true;
  }

  /** Why the routes of the session that went down are not kept, or undefined (keep them). */
  private noRetainReason(n: NegotiatedSession, r: DownReason): string | undefined {
    if (!this.deps.options().helper) return 'graceful restart helper disabled';
    const g = n.peerGracefulRestart;
    if (!g) return 'the peer did not advertise graceful restart';
    if (g.families.length === 0) return 'the peer\'s graceful restart capability lists no address family';
    if (g.restartTime === 0) return 'the peer\'s restart time is 0';
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
   * the F bit (forwarding state preserved) wait for End-of-RIB under the stale-path timer; the
   * others are flushed now (RFC 4724 §4.2).
   */
  established(p: Peer, n: NegotiatedSession): void {
    const gr = p.gr;
    const rib = p.adjIn;
    if (!gr || !rib) return;
    gr.timer?.cancel();
    gr.timer = undefined;
    const g = n.peerGracefulRestart;
    for (const f of [...gr.stale]) {
      const listed = g?.families.find((x) => familyOf(x.afi, x.safi) === f);
      const negotiated = n.families.some((x) => familyOf(x.afi, x.safi) === f);
      if (listed?.forwardingPreserved === true && negotiated) continue;
      gr.stale.delete(f);
      this.deps.sweep(p, f, `graceful restart: ${!g ? 'no graceful restart capability' : !listed ? 'family not in the capability' : !negotiated ? 'family not negotiated' : 'F bit clear (forwarding state lost)'} on the new session: stale routes removed`);
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
  finish(p: Peer): void {
    p.gr?.timer?.cancel();
    p.gr = undefined;
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
export function gracefulRestartCapability(c: PeerConfig, g: SpeakerConfig['gracefulRestart']): GracefulRestartConfig {
  if (g?.enabled === false) return { restartTime: 0, helperOnly: true, notification: true };
  return {
    restartTime: Math.min(4095, c.gracefulRestartTime ?? g?.restartTime ?? DEFAULT_RESTART_TIME), notification: true,
    forwardingPreserved: g?.forwardingPreserved ?? false, restarting: g?.restarting ?? false,
  };
}
