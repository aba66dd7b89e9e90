/**
 * Work over one peer's stale routes (graceful restart, long-lived GR, RFC 7313 refresh), done in
 * slices of SLICE prefixes, one per event-loop turn: at a million routes a single pass stalls
 * the loop for hundreds of ms, long enough for other sessions' hold timers to notice. Each run
 * belongs to one Adj-RIB-In and one marking (staleEpoch): a flush, or a new marking (the peer
 * went down again), ends it. Sweeps and long-lived marking wait for a marking still under way.
 */
import type { Logger } from '../../common/logger.js';
import type { AdjRibIn } from '../rib/adj-rib-in.js';
import type { Peer } from './peer.js';

/** Prefixes per event-loop turn: small slices keep each turn short at 1M routes. */
const SLICE = 4096;

export interface StaleRoutesDeps {
  readonly log: Logger;
  readonly stopped: () => boolean;
}

export class StaleRoutes {
  constructor(private readonly deps: StaleRoutesDeps) {}

  /**
   * Mark the peer's routes of `families` stale; `withdrawOthers`: withdraw those of the other
   * families (the peer's graceful restart does not cover them). Logs `why` with the count.
   */
  mark(p: Peer, families: ReadonlySet<4 | 6>, withdrawOthers: boolean, why: string): void {
    const rib = p.adjIn;
    if (!rib) return;
    rib.beginMarkStale(families, withdrawOthers);
    this.run(p, rib, () => rib.markStaleSome(SLICE), () => {
      this.deps.log.info({ peer: p.name, families: [...families].map((f) => `ipv${f}`), stale: rib.staleCount }, why);
    });
  }

  /** Withdraw the peer's routes of `family` still stale (End-of-RIB, GR timers, RFC 7313 EoRR). */
  sweep(p: Peer, family: 4 | 6, why: string): void {
    const rib = p.adjIn;
    if (!rib) return;
    let cursor = 0, total = 0;
    this.run(p, rib, () => {
      const r = rib.sweepStaleSome(family, cursor, SLICE);
      total += r.withdrawn;
      cursor = r.cursor;
      return cursor === -1;
    }, () => { if (total > 0) this.deps.log.info({ peer: p.name, family: `ipv${family}`, withdrawn: total }, why); });
  }

  /** The stale routes of `family` enter the long-lived stale period (RFC 9494): LLGR_STALE added, NO_LLGR ones withdrawn. */
  longLived(p: Peer, family: 4 | 6): void {
    const rib = p.adjIn;
    if (!rib) return;
    let cursor = 0, marked = 0, withdrawn = 0;
    this.run(p, rib, () => {
      const r = rib.longLivedStaleSome(family, cursor, SLICE);
      marked += r.marked; withdrawn += r.withdrawn; cursor = r.cursor;
      return cursor === -1;
    }, () => {
      this.deps.log.info({ peer: p.name, family: `ipv${family}`, marked, withdrawnNoLlgr: withdrawn }, 'long-lived graceful restart: stale routes now carry LLGR_STALE');
    });
  }

  /**
   * Call `slice` once per turn until it returns true, then `done`; stop when the peer's routes
   * are flushed or marked anew. Work other than the marking itself waits for a marking under way.
   */
  private run(p: Peer, rib: AdjRibIn, slice: () => boolean, done: () => void): void {
    const marking = rib.marking;
    const epoch = rib.staleEpoch;
    const step = (): void => {
      if (p.adjIn !== rib || rib.staleEpoch !== epoch || this.deps.stopped()) return;
      if (!marking && rib.marking) { setImmediate(step); return; }
      if (slice()) done(); else setImmediate(step);
    };
    step();
  }
}
