/**
 * The route views as a stream, for tables of any size (`show route`, `show route filtered`,
 * `show route export PEER`): a control command must not hold the event loop (keepalives, BFD,
 * UPDATEs of every session run on it), nor build its whole answer in memory. The prefixes are
 * walked in network order in slices (SortedPrefixWalk); after each slice of at most `sliceMs`
 * the stream yields to the event loop (setImmediate), and it hands out views in batches to a
 * sink that may ask it to wait (socket back-pressure). Each route is looked up when its turn
 * comes, so a view shows the route as it is then: like birdc, a long listing is not a snapshot.
 */
import { formatAddress, formatPrefix, maskBytes, parseAddress, parsePrefix, type Prefix } from '../../common/prefix.js';
import type { SortedPrefixWalk } from '../rib/sorted-prefix-walk.js';
import { isSelfNextHop } from '../rib/update-group.js';
import type { ExportedAttributes } from '../rib/export.js';
import type { Peer } from './peer.js';
import { cachedColumns, rejectedView, routesOf, type RouteSource, type RouteView } from './views.js';

export type RouteQuery =
  /** Every candidate route (BIRD `show route`); `prefix`: that network only. */
  | { readonly type: 'table'; readonly prefix?: string }
  /** The routes of the longest prefix that covers `address` (BIRD `show route for`). */
  | { readonly type: 'for'; readonly address: string }
  /** Paths refused on import (BIRD `show route filtered`). */
  | { readonly type: 'filtered'; readonly prefix?: string }
  /** What we advertise to `peer`, after export policy (BIRD `show route export`). */
  | { readonly type: 'export'; readonly peer: string; readonly prefix?: string };

/** Receives the views batch by batch; a returned promise makes the stream wait until it settles. */
export type RouteSink = (batch: RouteView[]) => void | Promise<void>;

export interface StreamOptions {
  /** Longest stretch of work between two yields to the event loop (ms). */
  readonly sliceMs?: number;
  /** Views per sink call. */
  readonly batch?: number;
  /** Monotonic ms (tests may count slices with a fake). */
  readonly now?: () => number;
  /** Called at each yield to the event loop (tests count slices). */
  readonly onYield?: () => void;
}

const DEFAULT_SLICE_MS = 5;
const DEFAULT_BATCH = 256;
/** Prefixes handled between two looks at the clock. */
const LOOK_EVERY = 32;

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Stream the views `q` asks for to `sink`; resolves with how many were sent. */
export async function streamRoutes(source: RouteSource, q: RouteQuery, sink: RouteSink, o: StreamOptions = {}): Promise<number> {
  const src: RouteSource = { ...source, columns: new Map() };
  const now = o.now ?? (() => performance.now());
  const sliceMs = o.sliceMs ?? DEFAULT_SLICE_MS;
  const batchSize = o.batch ?? DEFAULT_BATCH;
  let batch: RouteView[] = [];
  let sent = 0;
  let deadline = now() + sliceMs;
  const pause = async (): Promise<void> => { o.onYield?.(); await yieldTurn(); deadline = now() + sliceMs; };
  const emit = async (views: readonly RouteView[]): Promise<void> => {
    for (const v of views) batch.push(v);
    if (batch.length < batchSize) return;
    const b = batch;
    batch = [];
    sent += b.length;
    await sink(b);
  };
  /** Walk `walk` in slices, passing each prefix to `visit`. */
  const walkAll = async (walk: SortedPrefixWalk, visit: (p: Prefix) => readonly RouteView[]): Promise<void> => {
    while (!walk.prepare(deadline, now)) await pause();
    for (let n = 1; ; n++) {
      const p = walk.next();
      if (p === undefined) return;
      const views = visit(p);
      if (views.length > 0) await emit(views);
      if (n % LOOK_EVERY === 0 && now() >= deadline) await pause();
    }
  };

  switch (q.type) {
    case 'table':
      if (q.prefix !== undefined) await emit(routesOf(src, parsePrefix(q.prefix, { allowHostBits: true })));
      else await walkAll(src.rib.sortedWalk(), (p) => routesOf(src, p));
      break;
    case 'for': await emit(longestMatch(src, q.address)); break;
    case 'filtered': {
      const only = q.prefix === undefined ? undefined : parsePrefix(q.prefix, { allowHostBits: true });
      for (const peer of [...src.peers.values()]) {
        const adj = peer.adjIn;
        if (!adj) continue;
        const visit = (prefix: Prefix): RouteView[] => {
          const out: RouteView[] = [];
          if (peer.adjIn === adj) adj.forEachRejected((px, a, nh, why) => { out.push(rejectedView(peer, px, a, nh, why)); }, prefix);
          return out;
        };
        if (only) await emit(visit(only)); else await walkAll(adj.rejectedWalk(), visit);
      }
      break;
    }
    case 'export': {
      const peer = src.peers.get(q.peer);
      if (!peer) throw new Error(`no such peer ${JSON.stringify(q.peer)} (peers: ${[...src.peers.keys()].join(', ') || 'none'})`);
      const visit = (p: Prefix): RouteView[] => { const v = exportedView(src, peer, p); return v ? [v] : []; };
      if (q.prefix !== undefined) await emit(visit(parsePrefix(q.prefix, { allowHostBits: true })));
      else if (peer.established?.group) await walkAll(src.rib.sortedWalk(), visit);
      break;
    }
    default: { const never: never = q; throw new Error(`unknown route query ${JSON.stringify(never)}`); }
  }
  if (batch.length > 0) { sent += batch.length; await sink(batch); }
  return sent;
}

/** The candidates of the most specific prefix that contains `text` (an address, or a prefix to look up as its network). */
export function longestMatch(src: RouteSource, text: string): RouteView[] {
  const target = text.includes('/') ? parsePrefix(text, { allowHostBits: true }) : undefined;
  const addr = target ?? (() => { const a = parseAddress(text); return { family: a.family, bytes: a.bytes, length: a.family === 4 ? 32 : 128 }; })();
  for (let len = addr.length; len >= 0; len--) {
    const p: Prefix = { family: addr.family, bytes: maskBytes(addr.bytes, len), length: len };
    const views = routesOf(src, p);
    if (views.length > 0) return views;
  }
  return [];
}

/** The route `peer` is sent for `prefix` (its update group's export transform), or undefined. */
function exportedView(src: RouteSource, peer: Peer, prefix: Prefix): RouteView | undefined {
  const e = peer.established;
  const best = src.rib.best(prefix);
  if (!e?.group || !best || best.source.id === peer.config.name) return undefined;
  const a: ExportedAttributes | null = e.group.ug.transform(prefix, best);
  if (!a) return undefined;
  const self = prefix.family === 4 ? e.local4 : e.local6;
  const nh = prefix.family === 4 ? a.nextHop : a.mpNextHop;
  const local = best.source.kind === 'local';
  return {
    prefix: formatPrefix(prefix), from: best.source.id, ...(!local ? { fromAddress: formatAddress(best.source.address) } : {}),
    nextHop: nh === undefined || isSelfNextHop(nh) ? (self ? formatAddress(self) : 'self') : formatAddress(nh),
    ...cachedColumns(src, a),
    ibgp: e.negotiated.ibgp, accepted: true, best: true, reason: `exported to ${peer.config.name}`,
    since: best.since > 0 ? best.since : local ? (src.originatedSince(formatPrefix(prefix)) ?? 0) : (src.peers.get(best.source.id)?.routesSince ?? 0),
  };
}
