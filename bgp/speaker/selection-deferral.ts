/**
 * Graceful restart, restarting speaker (RFC 4724 §4.1): after we restarted (R bit set), route
 * selection for advertisement is deferred until every peer we wait for has sent End-of-RIB for
 * each family of its session, or the selection deferral timer expires (BIRD `graceful restart
 * wait`, FRR `bgp graceful-restart select-defer-time`). Until then no peer gets our table: it
 * would be built from a partial Loc-RIB and make peers withdraw what we have not re-learnt yet.
 * Then every Established peer gets the table and our End-of-RIB per family, and the embedding
 * program learns the Loc-RIB has converged (tortie-node removes its stale kernel routes then).
 *
 *   start (restarting) ──▶ deferring ── every waited-for peer: End-of-RIB per family ──▶ converged
 *                              └──────── deferral timer expires ─────────────────────────┘
 *
 * Not waited for (RFC 4724 §4.1): peers without a graceful-restart capability, peers that set
 * the R bit themselves, disabled and removed peers. A peer that never comes up holds the
 * deferral until the timer.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { afiSafiKey } from '../wire/types.js';
import type { NegotiatedSession } from '../fsm/fsm-types.js';
import type { Peer } from './peer.js';

/** Seconds to wait for End-of-RIB after a restart (BIRD's `graceful restart wait` default). */
export const DEFAULT_SELECTION_DEFERRAL_TIME = 240;

export interface SelectionDeferralStatus {
  readonly deferring: boolean;
  /** Peers whose End-of-RIB we still wait for, with the families (`afi/safi`) missing; `[]` not yet Established. */
  readonly waitingFor: Readonly<Record<string, readonly string[]>>;
  /** Why it ended: 'not restarting', 'End-of-RIB from every peer', 'deferral timer expired', 'stopped'. */
  readonly endedBy?: string;
}

export interface SelectionDeferralDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The configured peers (enabled ones are waited for). */
  readonly peers: () => Iterable<Peer>;
  /** Deferral over: send every Established peer its table and End-of-RIB. */
  readonly finished: () => void;
}

export class SelectionDeferral {
  private active: boolean;
  private endedBy: string | undefined;
  private timer: TimerHandle | undefined;
  /** Families still owing End-of-RIB, by Established peer name; a peer absent here and not in `done` is not up yet. */
  private readonly owing = new Map<string, Set<string>>();
  private readonly done = new Set<string>();
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly deps: SelectionDeferralDeps, restarting: boolean, private readonly timeSeconds: number) {
    this.active = restarting;
    if (!restarting) this.endedBy = 'not restarting';
  }

  /** Whether advertisement is still held back. */
  get deferring(): boolean { return this.active; }

  /** Start the deferral timer (after the configured peers were added). */
  start(): void {
    if (!this.active || this.timer) return;
    this.deps.log.info({ deferralTime: this.timeSeconds }, 'graceful restart: restarting, route advertisement deferred until every peer sent End-of-RIB (RFC 4724 §4.1)');
    this.timer = this.deps.clock.setTimeout(() => { this.timer = undefined; this.end('deferral timer expired'); }, this.timeSeconds * 1000);
    this.check();
  }

  /** A peer is Established: wait for its End-of-RIB of each family, unless RFC 4724 §4.1 excludes it. */
  established(p: Peer, n: NegotiatedSession): void {
    if (!this.active || this.done.has(p.name)) return;
    const g = n.peerGracefulRestart;
    if (!g || g.restarting) { this.done.add(p.name); this.check(); return; }
    const missing = new Set(n.families.map((f) => afiSafiKey(f.afi, f.safi)));
    for (const f of p.established?.eorReceived ?? []) missing.delete(f === 'ipv4-unicast' ? '1/1' : f === 'ipv6-unicast' ? '2/1' : f);
    this.owing.set(p.name, missing);
    this.check();
  }

  endOfRib(p: Peer, afi: number, safi: number): void {
    if (!this.active) return;
    this.owing.get(p.name)?.delete(afiSafiKey(afi, safi));
    this.check();
  }

  /** The peer was removed or disabled: not waited for any more. */
  forget(name: string): void {
    if (!this.active) return;
    this.owing.delete(name);
    this.done.add(name);
    this.check();
  }

  /** Speaker stopping: the deferral ends without sending anything. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.active) { this.active = false; this.endedBy = 'stopped'; }
  }

  /** Resolves once the deferral is over (at once when we did not restart). */
  whenConverged(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => { this.waiters.push(resolve); });
  }

  status(): SelectionDeferralStatus {
    const waitingFor: Record<string, string[]> = {};
    if (this.active) {
      for (const p of this.deps.peers()) {
        if (!p.enabled || this.done.has(p.name)) continue;
        const o = this.owing.get(p.name);
        if (!o || o.size > 0) waitingFor[p.name] = o ? [...o] : [];
      }
    }
    return { deferring: this.active, waitingFor, ...(this.endedBy !== undefined ? { endedBy: this.endedBy } : {}) };
  }

  private check(): void {
    if (!this.active || this.timer === undefined) return;
    for (const [name, o] of this.owing) if (o.size === 0) { this.owing.delete(name); this.done.add(name); }
    for (const p of this.deps.peers()) if (p.enabled && !this.done.has(p.name)) return;
    this.end('End-of-RIB from every peer');
  }

  private end(why: string): void {
    if (!this.active) return;
    const late = this.status().waitingFor;
    this.active = false;
    this.endedBy = why;
    this.timer?.cancel();
    this.timer = undefined;
    this.deps.log.info({ why, ...(Object.keys(late).length ? { notWaitedFor: late } : {}) }, 'graceful restart: selection deferral over, advertising our routes and End-of-RIB');
    this.deps.finished();
    for (const w of this.waiters.splice(0)) w();
  }
}
