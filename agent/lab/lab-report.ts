/** `tortie-lab check` and `status`: the ping matrix, BGP sessions (nodes and ToR) and routes. */
import { TortieError, describeError } from '../../common/errors.js';
import type { NodeStatusResponse } from '../ctl/node-status-protocol.js';
import { queryNodeStatus } from '../ctl/node-status.js';
import { type LabState, type Progress, readState, torDir } from './lab.js';
import { alive, readPid, tryRunIn } from './lab-host.js';
import { EXTERNAL_CIDR, torNetnsOf, type TorIndex } from './lab-plan.js';
import { formatMatrix, formatRouteKinds, pingMatrix, routeKinds, type PingResult } from './ping-matrix.js';

export function requireState(stateDir: string): LabState {
  const state = readState(stateDir);
  if (state === undefined) throw new TortieError('lab-absent', `no lab is up (no ${stateDir}/lab.json): run \`tortie-lab up\``);
  return state;
}

export interface CheckReport {
  readonly results: PingResult[];
  readonly failed: PingResult[];
  /** Pairs that reached each other but not over an agent route (via the ToR's default route). */
  readonly unconverged: PingResult[];
}

/** The ping matrix and route kinds, printed; `failed` empty means every pod reached every pod. */
export async function check(state: LabState, say: Progress): Promise<CheckReport> {
  const results = await pingMatrix(state.pods, new Set(state.plan.nodes.map((n) => n.address)));
  const failed = results.filter((r) => !r.ok);
  const unconverged = results.filter((r) => r.ok && (r.path === 'tor' || r.path === 'other'));
  say(formatMatrix(state.pods, results));
  say(formatRouteKinds(state.plan.nodes.map((n) => routeKinds(n.netns))));
  const byPath = new Map<string, number>();
  for (const r of results) if (r.ok) byPath.set(r.path, (byPath.get(r.path) ?? 0) + 1);
  say(`ping: ${results.length - failed.length}/${results.length} pairs reached (${[...byPath].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  for (const f of failed) say(`ping FAILED: ${f.from} -> ${f.to} (path ${f.path})`);
  for (const u of unconverged) say(`not converged: ${u.from} -> ${u.to} goes ${u.path === 'tor' ? 'via the ToR' : 'by no agent route'}`);
  return { results, failed, unconverged };
}

/** Ask a node's control socket for its BGP sessions (tortiectl node status's query); never throws. */
export async function nodeStatus(socketPath: string, timeoutMs = 3000): Promise<NodeStatusResponse> {
  try {
    const r = await queryNodeStatus(socketPath, timeoutMs);
    return r === 'not-running' ? { ok: false, error: `nothing listens on ${socketPath}` } : r;
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

/** The ToR's BGP neighbours as vtysh (FRR) or birdc (BIRD) report them. */
export function torSessions(state: LabState, tor: TorIndex = 1): string {
  const dir = torDir(state.plan, tor);
  const ns = torNetnsOf(state.plan, tor);
  if (state.options.tor === 'bird') {
    const r = tryRunIn(ns, 'birdc', ['-s', `${dir}/bird.ctl`, 'show', 'protocols']);
    return r.status === 0 ? r.stdout.trimEnd() : `birdc failed: ${r.stderr.trim()}`;
  }
  const r = tryRunIn(ns, 'vtysh', ['--vty_socket', dir, '-c', 'show bgp summary json']);
  if (r.status !== 0) return `vtysh failed: ${r.stderr.trim()}`;
  const sum = JSON.parse(r.stdout) as { ipv4Unicast?: { peers?: Record<string, { state?: string; pfxRcd?: number; peerUptime?: string }> } };
  const peers = Object.entries(sum.ipv4Unicast?.peers ?? {});
  return peers.map(([ip, p]) => `  ${ip.padEnd(15)} ${String(p.state ?? '?').padEnd(12)} prefixes received ${p.pfxRcd ?? 0}  up ${p.peerUptime ?? '-'}`).join('\n');
}

export async function status(state: LabState, say: Progress): Promise<boolean> {
  let healthy = true;
  for (const n of state.plan.nodes) {
    const pid = readPid(n.pidFile);
    const running = pid !== undefined && alive(pid);
    healthy &&= running;
    say(`${n.name} ${n.address}/${n.prefixLength} subnet ${n.subnet}: tortie-node ${running ? `running (pid ${pid})` : 'NOT running'}`);
    const st = running ? await nodeStatus(`${n.runDir}/node.ctl`) : { ok: false as const, error: 'not running' };
    if (!st.ok) {
      healthy = false;
      say(`  sessions: unavailable (${st.error})`);
    } else {
      for (const p of st.peers) {
        if (p.info !== 'Established') healthy = false;
        say(`  ${p.peerIP.padEnd(15)} ${p.type.padEnd(18)} ${p.state.padEnd(6)} ${p.since.padEnd(9)} ${p.info}`);
      }
    }
  }
  say(`ToR ${state.plan.torNetns} (${state.options.tor}) sessions:\n${torSessions(state)}`);
  if (state.plan.tor2Netns !== undefined) {
    say(`ToR ${state.plan.tor2Netns} (${state.options.tor}) sessions:\n${torSessions(state, 2)}`);
    for (const n of state.plan.nodes) {
      const r = tryRunIn(n.netns, 'ip', ['route', 'show', EXTERNAL_CIDR]);
      say(`${n.name} ECMP towards both ToRs:\n${r.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}`);
    }
  }
  say(formatRouteKinds(state.plan.nodes.map((n) => routeKinds(n.netns))));
  for (const n of state.plan.nodes) {
    const r = tryRunIn(n.netns, 'ip', ['route', 'show', 'proto', '80']);
    say(`${n.name} routes (proto 80):\n${r.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}`);
  }
  return healthy;
}
