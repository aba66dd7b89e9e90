/**
 * Instruments for the lab robustness tests (test/e2e/robustness.test.ts): the pinger and route
 * monitor the lab itself uses (agent/lab/lab-watch.ts), kernel route snapshots, node logs read
 * from an offset, health endpoints fetched inside a node namespace.
 */
import { readFileSync, statSync } from 'node:fs';
import { httpGetIn } from '../helpers/sh.js';

export { Pinger, RouteMonitor, agentRoutes, formatPing, routeSet, type KernelRoute, type PingStats } from '../../agent/lab/lab-watch.js';

/** Byte offset of a log file now; read what was written after it with `logSince`. */
export function logOffset(file: string): number {
  try { return statSync(file).size; } catch { return 0; }
}

export interface LogLine { level: number; msg: string; key?: string; err?: string; [k: string]: unknown }

export function logSince(file: string, offset: number): LogLine[] {
  const text = readFileSync(file).subarray(offset).toString('utf8');
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try { out.push(JSON.parse(l) as LogLine); } catch { /* partial last line */ }
  }
  return out;
}

/** GET a health endpoint of the tortie-node in `netns`: "<status> <body>". */
export function health(netns: string, path: '/readiness' | '/liveness', port = 9099): string {
  return httpGetIn(netns, port, path);
}
