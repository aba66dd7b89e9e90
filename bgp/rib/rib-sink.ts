/**
 * The contract between an Adj-RIB-In and the Loc-RIB it feeds: the Adj-RIB-In keeps no table of
 * its accepted paths (they are the Loc-RIB's candidates with that neighbour as source), so it
 * reads, replaces and walks them through this interface (LocRib implements it).
 */
import type { Prefix } from '../../common/prefix.js';
import type { AttrInterner } from './attr-intern.js';
import type { PeerInfo, Route } from './route.js';

/** What the Adj-RIB-In needs from the Loc-RIB it feeds. */
export interface RibSink {
  readonly interner: AttrInterner;
  readonly localAs: number;
  readonly routerId: number;
  readonly clusterId: number;
  /**
   * Make `neu` the candidate of `source` with `pathId` for `prefix` (undefined: remove it);
   * returns the candidate it replaced.
   */
  swap(prefix: Prefix, source: PeerInfo, pathId: number, neu: Route | undefined): Route | undefined;
  /** swap() of an IPv4 prefix given as address (uint32) and length. */
  swapV4(addr: number, len: number, source: PeerInfo, pathId: number, neu: Route | undefined): Route | undefined;
  /** The candidates of `source` for `prefix`. */
  pathsOf(prefix: Prefix, source: PeerInfo): readonly Route[];
  /**
   * Visits the candidates of `source`, prefix by prefix, from table slot `cursor` on, for up to
   * `max` prefixes; returns the cursor to continue from (-1: done). `fn` must not change the RIB.
   */
  forEachOf(source: PeerInfo, cursor: number, max: number, fn: (prefix: Prefix, route: Route) => void): number;
  /** forEachOf with IPv4 prefixes as address (uint32) and length: no object per prefix. */
  forEachOfV4(source: PeerInfo, cursor: number, max: number, fn4: (addr: number, len: number, route: Route) => void, fn6: (prefix: Prefix, route: Route) => void): number;
  /** Changes when entries move between table slots: a sliced forEachOf walk must start again. */
  readonly layout: number;
  /**
   * Peer down: remove the candidates of `source` of up to `max` prefixes from table slot
   * `cursor` on, in place (one hash operation each, no list of them first), passing each removed
   * route to `dropped`; returns the cursor to continue from (-1: done). Subscribers learn at flush().
   */
  dropFrom(source: PeerInfo, cursor: number, max: number, dropped: (route: Route, prefix: Prefix) => void): number;
  /** End of one batch: notify subscribers. */
  flush(): void;
}
