/**
 * `tortie-lab restart NODE [--kill] [--upgrade [DIST]]`: restart one node's tortie-node the way a
 * DaemonSet rolling update (SIGTERM, start), a crash (SIGKILL, start) or an upgrade (SIGTERM,
 * start a newly built agent) does, while watching what users feel:
 *   - pods ping each other every 10 ms on every ordered node pair (one pod per node);
 *   - `ip monitor route` on every other node (proto 80) and on the ToR (its zebra's BGP routes)
 *     counts the routes the restart deleted: each is a withdrawal that reached a router's FIB;
 * and times the way back: process gone, cni.sock served, every session Established, every node's
 * routes as before the restart (full re-convergence).
 */
import { existsSync } from 'node:fs';
import { TortieError } from '../../common/errors.js';
import { type LabState, type Progress, NODE_MAIN, startNode, waitNodeReady } from './lab.js';
import { nodeStatus } from './lab-report.js';
import { alive, readPid, stopPid } from './lab-host.js';
import type { NodePlan } from './lab-plan.js';
import { Pinger, RouteMonitor, formatPing, routeSet, waitUntil, type PingStats } from './lab-watch.js';

export type RestartMode = 'term' | 'kill' | 'upgrade';

export interface RestartOptions {
  readonly mode: RestartMode;
  /** With mode upgrade: the agent to start (agent/node/main.js of another build); default this build's. */
  readonly upgradeMain?: string;
  /** Probe interval of the pingers (default 10 ms). */
  readonly pingIntervalMs?: number;
  /** Longest wait for re-convergence (default 60 s). */
  readonly timeoutMs?: number;
  /** Called once the old agent is gone, before the new one starts (tests look at the peers' view then). */
  readonly whileDown?: () => Promise<void>;
}

export interface RestartReport {
  readonly node: string;
  readonly mode: RestartMode;
  readonly pings: readonly PingStats[];
  readonly lostPackets: number;
  /** Deletions of agent routes (proto 80) on the other nodes, per node. */
  readonly withdrawnOnNodes: Readonly<Record<string, number>>;
  /** Deletions of BGP routes in the ToR's kernel (what its FIB lost). */
  readonly withdrawnOnTor: number;
  /** Milliseconds from the signal. */
  readonly stoppedMs: number;
  readonly servingMs: number;
  readonly sessionsMs: number;
  readonly convergedMs: number;
}

/** A node as `tortie-lab status` names it (tortie-node2), by its namespace, name or index. */
export function findNode(state: LabState, name: string): NodePlan {
  const n = state.plan.nodes.find((x) => x.name === name || x.netns === name || String(x.index) === name || `node${x.index}` === name);
  if (n === undefined) {
    throw new TortieError('lab-node', `no node ${JSON.stringify(name)} (nodes: ${state.plan.nodes.map((x) => x.name).join(', ')})`);
  }
  return n;
}

async function allEstablished(n: NodePlan, expected: number): Promise<boolean> {
  const st = await nodeStatus(`${n.runDir}/node.ctl`, 1000);
  return st.ok && st.peers.length === expected && st.peers.every((p) => p.info === 'Established');
}


export async function restartNode(state: LabState, node: NodePlan, options: RestartOptions, say: Progress): Promise<RestartReport> {
  const main = options.mode === 'upgrade' ? options.upgradeMain ?? NODE_MAIN : NODE_MAIN;
  if (!existsSync(main)) throw new TortieError('lab-restart', `no agent at ${main}`, { where: '--upgrade' });
  const oldPid = readPid(node.pidFile);
  if (oldPid === undefined || !alive(oldPid)) throw new TortieError('lab-restart', `tortie-node in ${node.netns} is not running`);
  const nodes = state.plan.nodes;
  const sessions = nodes.length; // the other nodes and the ToR
  const before = new Map(nodes.map((n) => [n.name, routeSet(n.netns)]));

  // One pod per node; every ordered pair of nodes.
  const podOf = new Map(nodes.map((n) => [n.name, state.pods.find((p) => p.node === n.netns)]));
  const pingers: Pinger[] = [];
  for (const a of nodes) {
    for (const b of nodes) {
      const pa = podOf.get(a.name), pb = podOf.get(b.name);
      if (a === b || pa === undefined || pb === undefined) continue;
      pingers.push(new Pinger(`${pa.name}→${pb.name}`, pa.netns, pb.address, options.pingIntervalMs ?? 10));
    }
  }
  const others = nodes.filter((n) => n !== node);
  const monitors = [...others.map((n) => new RouteMonitor(n.netns)), new RouteMonitor(state.plan.torNetns)];
  let stats: PingStats[] = [];
  try {
    for (const m of monitors) await m.flush();
    await Promise.all(pingers.map((p) => p.started()));
    say(`restart ${node.name} (${options.mode}): ${pingers.length} pod pairs pinging every ${options.pingIntervalMs ?? 10} ms`);
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const t0 = performance.now();
    if (options.mode === 'kill') process.kill(oldPid, 'SIGKILL'); else await stopPid(oldPid, 10_000);
    const tStopped = await waitUntil('the old tortie-node to exit', deadline, 5, () => !alive(oldPid));
    await options.whileDown?.();
    startNode(node, main);
    await waitNodeReady(node, Math.max(1000, deadline - Date.now()));
    const tServing = performance.now();
    const tSessions = await waitUntil('every BGP session Established', deadline, 20, () => allEstablished(node, sessions));
    const tConverged = await waitUntil('every node\'s routes as before the restart', deadline, 20,
      () => nodes.every((n) => JSON.stringify(routeSet(n.netns)) === JSON.stringify(before.get(n.name))));
    // A second of traffic after convergence, so late loss is counted too.
    const seen = pingers.map((p) => p.replies);
    await waitUntil('every pair answering after the restart', deadline, 20, () => pingers.every((p, i) => p.replies >= (seen[i] ?? 0) + 100));
    for (const m of monitors) await m.flush();
    stats = [];
    for (const p of pingers) stats.push(await p.stop());
    const ms = (t: number): number => Math.round(t - t0);
    const withdrawnOnNodes = Object.fromEntries(others.map((n, i) => [n.name, monitors[i]?.deletedAgentRoutes().length ?? 0]));
    const report: RestartReport = {
      node: node.name, mode: options.mode, pings: stats, lostPackets: stats.reduce((a, s) => a + s.lost, 0),
      withdrawnOnNodes, withdrawnOnTor: monitors.at(-1)?.deletedRoutes(state.options.tor === 'bird' ? 'bird' : 'bgp').length ?? 0,
      stoppedMs: ms(tStopped), servingMs: ms(tServing), sessionsMs: ms(tSessions), convergedMs: ms(tConverged),
    };
    return report;
  } finally {
    for (const p of pingers) if (!stats.some((s) => s.what === p.what)) await p.stop();
    for (const m of monitors) await m.stop();
  }
}

export function formatRestart(r: RestartReport): string {
  const lossy = r.pings.filter((p) => p.lost > 0);
  return [
    `restart ${r.node} (${r.mode}): exited ${r.stoppedMs} ms, cni.sock ${r.servingMs} ms, sessions Established ${r.sessionsMs} ms, routes as before ${r.convergedMs} ms after the signal`,
    `lost packets: ${r.lostPackets} over ${r.pings.length} pod pairs${lossy.length === 0 ? '' : ` (${lossy.map(formatPing).join('; ')})`}`,
    `routes withdrawn: ToR ${r.withdrawnOnTor}, ${Object.entries(r.withdrawnOnNodes).map(([n, c]) => `${n} ${c}`).join(', ')}`,
  ].join('\n');
}
