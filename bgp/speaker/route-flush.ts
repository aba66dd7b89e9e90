/**
 * Removing a peer's routes from the Loc-RIB (session down without graceful restart, peer removed
 * or reconfigured, GR timers): in slices of FLUSH_SLICE prefixes, one per event-loop turn
 * (LocRib.removePeerSome), so a peer with a million routes does not hold back the keepalives of
 * the other sessions. The name stays "draining" until done; a new Adj-RIB-In under that name
 * finishes the drain first (finishDrain).
 */
import type { Logger } from '../../common/logger.js';
import type { LocRib } from '../rib/loc-rib.js';
import type { Peer } from './peer.js';

/** Prefixes removed per event-loop turn when a peer's routes are flushed. */
const FLUSH_SLICE = 20_000;

export class RouteFlush {
  /** Peers whose routes are being removed in slices (by name): finished before the name is used again. */
  private readonly draining = new Set<string>();

  constructor(private readonly deps: { readonly log: Logger; readonly rib: () => LocRib }) {}

  /** Remove every route of the peer from the Loc-RIB (other peers get the withdrawals), in slices. */
  flush(p: Peer, why: string): void {
    const adj = p.adjIn;
    if (!adj) return;
    p.adjIn = undefined;
    const name = p.config.name;
    const rib = this.deps.rib();
    this.deps.log.debug({ peer: name, routes: adj.received, why }, 'removing the peer\'s routes');
    if (rib.removePeerSome(name, FLUSH_SLICE)) return;
    this.draining.add(name);
    const next = (): void => {
      if (!this.draining.has(name) || this.deps.rib() !== rib) return;
      if (rib.removePeerSome(name, FLUSH_SLICE)) this.draining.delete(name); else setImmediate(next);
    };
    setImmediate(next);
  }

  /** A new Adj-RIB-In under a name still being flushed: finish that first. */
  finishDrain(name: string): void {
    if (!this.draining.delete(name)) return;
    this.deps.rib().removePeer(name);
  }

  /** The Loc-RIB was replaced: nothing left to drain. */
  clear(): void { this.draining.clear(); }
}
