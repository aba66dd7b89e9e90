/**
 * The benchmark's addressing plan and load model (shared by testers, targets and the harness).
 *
 *   ns T (testers)                 ns D (target)                 ns M (monitor)
 *   10.99.1.10 .. 10.99.1.(9+P) ── 10.99.1.1,          10.99.2.1 ─ 10.99.2.2 (sink)
 *                                  10.99.1.130 .. (129+P): tester i connects to 130+i
 *   AS 65101 .. 65100+P            AS 65002                      AS 65003
 *
 * Floor mode: the sink takes the target's place (10.99.1.1, AS 65002) and no monitor runs.
 */

export interface Load {
  /** Tester peers. */
  readonly peers: number;
  /** Unique /24s per peer. */
  readonly routes: number;
  readonly label: string;
}

export const TARGET_AS = 65002;
export const MONITOR_AS = 65003;
export const TESTER_AS_BASE = 65101;
export const TARGET_ROUTER_ID = '10.99.0.2';
export const TARGET_TESTER_SIDE = '10.99.1.1';
export const TARGET_MONITOR_SIDE = '10.99.2.1';
export const MONITOR_ADDR = '10.99.2.2';
/** First /24 handed out: 20.0.0.0/24 (disjoint from the lab's 10.99/16). */
export const BASE_24 = 20 << 16;

export const MAX_PEERS = 110;

export function testerAddr(i: number): string {
  if (i < 0 || i >= MAX_PEERS) throw new Error(`tester index ${i} out of range 0..${MAX_PEERS - 1}`);
  return `10.99.1.${10 + i}`;
}

/**
 * The target-side address tester i connects to: one per tester (10.99.1.(130+i)), because BIRD
 * locks one session per (neighbor, port) and the BIRD tester runs every peer in one process.
 */
export function targetAddrFor(i: number): string {
  if (i < 0 || i >= MAX_PEERS) throw new Error(`tester index ${i} out of range 0..${MAX_PEERS - 1}`);
  return `10.99.1.${130 + i}`;
}
export const testerAs = (i: number): number => TESTER_AS_BASE + i;
export const testerFirst24 = (load: Load, i: number): number => BASE_24 + i * load.routes;

function parseCount(s: string, where: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(s);
  if (m === null) throw new Error(`load "${where}": "${s}" is not a count like 1000, 10k or 1M`);
  const mult = m[2] === '' ? 1 : m[2]?.toLowerCase() === 'k' ? 1000 : 1_000_000;
  return Number(m[1]) * mult;
}

/** "10x10k" → { peers: 10, routes: 10000 }. */
export function parseLoad(s: string): Load {
  const m = /^(\d+)x(\w+)$/i.exec(s.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) throw new Error(`load "${s}": expected PEERSxROUTES, e.g. 1x100k, 10x10k, 100x1k, 1x1M`);
  const peers = Number(m[1]);
  const routes = parseCount(m[2], s);
  if (peers < 1 || peers > MAX_PEERS) throw new Error(`load "${s}": peers must be 1..${MAX_PEERS}`);
  if (routes < 1 || peers * routes > 4_000_000) throw new Error(`load "${s}": routes must be ≥1 and peers×routes ≤ 4M`);
  return { peers, routes, label: s.trim() };
}
