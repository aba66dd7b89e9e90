/**
 * Path identifiers we send (RFC 7911 §3): one per route source and received path id, the same
 * for every prefix and every session (BIRD's global route-source ids). A path keeps its id while
 * its attributes change, so a new version replaces the old one on the peer by id, and the id of a
 * withdrawn path is known at any later flush. Ids are never reused: their number is bounded by
 * the distinct (neighbour name, received path id) pairs seen.
 */
import type { PeerInfo, Route } from './route.js';

export class PathIds {
  private readonly bySource = new Map<string, Map<number, number>>();
  private next = 1;
  // one-entry memo: the routes of one UPDATE share their source and usually their path id
  private lastSource: PeerInfo | undefined;
  private lastRx = -1;
  private lastTx = 0;

  /** The identifier we send for `route`. */
  of(route: Route): number {
    const src = route.source;
    const rx = route.pathId;
    if (src === this.lastSource && rx === this.lastRx) return this.lastTx;
    let m = this.bySource.get(src.id);
    if (m === undefined) { m = new Map(); this.bySource.set(src.id, m); }
    let tx = m.get(rx);
    if (tx === undefined) { tx = this.next++; m.set(rx, tx); }
    this.lastSource = src; this.lastRx = rx; this.lastTx = tx;
    return tx;
  }

  /** Identifiers handed out so far. */
  get size(): number { return this.next - 1; }
}
