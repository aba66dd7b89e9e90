/**
 * `tortie-lab fail NODE link|freeze|drop` and `tortie-lab heal NODE`: three ways for a node to die
 * as seen from the rest of the cluster, and the measurement bench/failover runs:
 *   link    its port leaves the ToR bridge (the cable is cut at the switch; the node keeps carrier);
 *   freeze  its tortie-node and its tortie-bfd are stopped (SIGSTOP): BGP, BFD and the agent all hang,
 *           the kernel forwards on (a kill -9 of the agent alone is a restart, not a dead node: BFD stays Up);
 *   drop    an nft table in the node's namespace drops everything on its uplink, both ways.
 * `heal` undoes all three (each is a no-op when not in place). `measureFailure` times, from the
 * fault, when every other node and the ToR deleted the node's block routes from their kernel
 * (`ip -ts monitor route` timestamps), then heals and waits until the routes are back.
 */
import { TortieError } from '../../common/errors.js';
import { torDir, torExternalRoute, type LabState, type Progress } from './lab.js';
import { alive, readPid, run, runIn, tryRun, tryRunIn } from './lab-host.js';
import { LAB_BFD, torNetnsOf, type NodePlan, type TorIndex } from './lab-plan.js';
import { RouteMonitor, agentRoutes, waitUntil, type KernelRoute } from './lab-watch.js';
import { spawnSync } from 'node:child_process';

export const FAIL_MODES = ['link', 'freeze', 'drop'] as const;
export type FailMode = (typeof FAIL_MODES)[number];

/** The nft table `drop` adds in the node namespace (never one of the agent's, which start with "tortie"/"calico"). */
const DROP_TABLE = 'labfail';

function agentPid(node: NodePlan): number {
  const pid = readPid(node.pidFile);
  if (pid === undefined || !alive(pid)) throw new TortieError('lab-fail', `tortie-node in ${node.netns} is not running`);
  return pid;
}

/** The node's tortie-bfd (agent/node/bfd-process.ts writes bfd.pid beside its socket), when one runs. */
function bfdPid(node: NodePlan): number | undefined {
  const pid = readPid(`${node.runDir}/bfd.pid`);
  return pid !== undefined && alive(pid) ? pid : undefined;
}

export function failNode(state: LabState, node: NodePlan, mode: FailMode): void {
  switch (mode) {
    case 'link': run('ip', ['-n', state.plan.torNetns, 'link', 'set', node.torIfname, 'nomaster']); break;
    case 'freeze': {
      const pids = [agentPid(node), bfdPid(node)];
      for (const pid of pids) if (pid !== undefined) process.kill(pid, 'SIGSTOP');
      break;
    }
    case 'drop':
      runIn(node.netns, 'nft', ['-f', '-'], [
        `table inet ${DROP_TABLE} {`,
        '  chain in { type filter hook prerouting priority -310; policy accept; iifname "eth0" drop; }',
        '  chain out { type filter hook postrouting priority -310; policy accept; oifname "eth0" drop; }',
        '}', ''].join('\n'));
      break;
    default: { const never: never = mode; throw new TortieError('lab-fail', `unknown failure ${String(never)}`); }
  }
}

/** Undo every kind of failure on the node; returns what was undone. */
export function healNode(state: LabState, node: NodePlan): string[] {
  const undone: string[] = [];
  const master = tryRun('ip', ['-n', state.plan.torNetns, '-j', 'link', 'show', node.torIfname]);
  const info = JSON.parse(master.stdout || '[]') as Array<{ master?: string }>;
  if (master.status === 0 && info[0]?.master === undefined) {
    run('ip', ['-n', state.plan.torNetns, 'link', 'set', node.torIfname, 'master', `br${node.subnet}`]);
    undone.push('link');
  }
  for (const pid of [readPid(node.pidFile), bfdPid(node)]) {
    if (pid !== undefined && alive(pid) && processState(pid) === 'T') { process.kill(pid, 'SIGCONT'); if (!undone.includes('freeze')) undone.push('freeze'); }
  }
  if (tryRunIn(node.netns, 'nft', ['delete', 'table', 'inet', DROP_TABLE]).status === 0) undone.push('drop');
  return undone;
}

/** Every link of a namespace but lo. */
function links(ns: string): string[] {
  const r = tryRun('ip', ['-n', ns, '-j', 'link', 'show']);
  return (JSON.parse(r.stdout || '[]') as Array<{ ifname?: string }>).map((l) => l.ifname ?? '').filter((n) => n !== '' && n !== 'lo');
}

/**
 * `tortie-lab fail-tor 1|2`: a ToR dies as a switch does, every link of its namespace down. Its
 * BGP and BFD sessions time out, the nodes' uplinks to it lose carrier; the nodes narrow their
 * ECMP routes to the other ToR. tor1 also carries etcd and the mesh: fail tor2 to watch ECMP alone.
 */
export function failTor(state: LabState, tor: TorIndex): string[] {
  const ns = torNetnsOf(state.plan, tor);
  const all = links(ns);
  for (const l of all) run('ip', ['-n', ns, 'link', 'set', l, 'down']);
  return all;
}

/** `tortie-lab heal-tor 1|2`: its links up again, and its route to the outside network (flushed with its link). */
export function healTor(state: LabState, tor: TorIndex): string[] {
  const ns = torNetnsOf(state.plan, tor);
  const all = links(ns);
  for (const l of all) run('ip', ['-n', ns, 'link', 'set', l, 'up']);
  torExternalRoute(state.plan, tor);
  return all;
}

function processState(pid: number): string | undefined {
  const r = spawnSync('ps', ['-o', 'state=', '-p', String(pid)], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().slice(0, 1) : undefined;
}

export interface FailReport {
  readonly node: string;
  readonly mode: FailMode;
  /** Per observer (other nodes, then the ToR): ms from the fault until its last route to the node's blocks was deleted. */
  readonly withdrawnMs: Readonly<Record<string, number>>;
  /** The slowest observer: when the whole cluster had stopped sending to the node. */
  readonly allWithdrawnMs: number;
  /** From heal until every observer had the node's routes back. */
  readonly healedMs: number;
  /** performance.now() of the heal. */
  readonly healedAt: number;
}

/** The node's block CIDRs (its blackhole routes, as Calico's). */
function nodeBlocks(node: NodePlan): string[] {
  return agentRoutes(node.netns).filter((r) => r.type === 'blackhole').map((r) => r.dst);
}

/**
 * The ToR's BFD session with the node is Up at the lab's interval both ways. A session just back
 * Up still runs at 1 s (RFC 5880 §6.8.3) until its Poll Sequence ends: a failure then is seen after
 * 3 s, which would measure how soon the bench fails a node again, not BFD.
 */
function torBfdSettled(state: LabState, node: NodePlan): boolean {
  const ns = state.plan.torNetns, dir = torDir(state.plan, 1);
  if (state.options.tor === 'bird') {
    const r = tryRunIn(ns, 'birdc', ['-s', `${dir}/bird.ctl`, 'show', 'bfd', 'sessions']);
    const cols = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[0] === node.address);
    return cols !== undefined && cols[2] === 'Up' && Number(cols[4]) * 1000 === LAB_BFD.intervalMs;
  }
  const r = tryRunIn(ns, 'vtysh', ['--vty_socket', dir, '-c', 'show bfd peers json']);
  if (r.status !== 0) return false;
  const p = (JSON.parse(r.stdout || '[]') as Array<Record<string, unknown>>).find((x) => x['peer'] === node.address);
  return p !== undefined && p['status'] === 'up' && p['transmit-interval'] === LAB_BFD.intervalMs && p['remote-transmit-interval'] === LAB_BFD.intervalMs;
}

function torRoutes(state: LabState): KernelRoute[] {
  const r = spawnSync('ip', ['-n', state.plan.torNetns, '-j', 'route', 'show', 'proto', state.options.tor === 'bird' ? 'bird' : 'bgp'], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout || '[]') as KernelRoute[] : [];
}

/** Wall-clock ms of the last `Deleted <block>` line, `ip -ts` printing local time as [YYYY-MM-DDTHH:MM:SS.micro]. */
function lastDeletion(lines: readonly string[], blocks: readonly string[]): number | undefined {
  let last: number | undefined;
  for (const l of lines) {
    const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\] Deleted (\S+)/.exec(l);
    if (m === null || !blocks.includes(m[2] ?? '')) continue;
    last = Math.max(last ?? 0, new Date((m[1] ?? '').slice(0, 23)).getTime());
  }
  return last;
}

export async function measureFailure(state: LabState, node: NodePlan, mode: FailMode, say: Progress, timeoutMs = 200_000): Promise<FailReport> {
  const blocks = nodeBlocks(node);
  if (blocks.length === 0) throw new TortieError('lab-fail', `${node.name} has no blocks (no pods?): nothing to see withdrawn`);
  const others = state.plan.nodes.filter((n) => n !== node);
  const has = (routes: KernelRoute[]): boolean => routes.some((r) => blocks.includes(r.dst));
  const observers = [
    ...others.map((n) => ({ name: n.name, netns: n.netns, routes: () => agentRoutes(n.netns) })),
    { name: 'tor', netns: state.plan.torNetns, routes: () => torRoutes(state) },
  ];
  const deadline = Date.now() + timeoutMs;
  await waitUntil(`every observer to route ${node.name}'s blocks ${blocks.join(' ')}`, deadline, 100, () => observers.every((o) => has(o.routes())));
  if (state.options.bfd === true) await waitUntil(`the ToR's BFD session with ${node.name} Up at ${LAB_BFD.intervalMs} ms`, deadline, 100, () => torBfdSettled(state, node));
  const monitors = observers.map((o) => new RouteMonitor(o.netns));
  try {
    for (const m of monitors) await m.flush();
    const t0 = Date.now();
    failNode(state, node, mode);
    await waitUntil(`every observer to withdraw ${node.name}'s routes`, deadline, 100, () => observers.every((o) => !has(o.routes())));
    for (const m of monitors) await m.flush();
    const withdrawnMs: Record<string, number> = {};
    observers.forEach((o, i) => {
      const t = lastDeletion(monitors[i]?.lines() ?? [], blocks);
      if (t === undefined) throw new TortieError('lab-fail', `${o.name}: the route monitor saw no deletion of ${blocks.join(' ')}`);
      withdrawnMs[o.name] = Math.max(0, Math.round(t - t0));
    });
    const tHeal = performance.now();
    healNode(state, node);
    await waitUntil(`every observer to route ${node.name}'s blocks again`, Date.now() + timeoutMs, 100, () => observers.every((o) => has(o.routes())));
    const report: FailReport = { node: node.name, mode, withdrawnMs, allWithdrawnMs: Math.max(...Object.values(withdrawnMs)), healedMs: Math.round(performance.now() - tHeal), healedAt: tHeal };
    say(formatFail(report));
    return report;
  } finally {
    healNode(state, node);
    for (const m of monitors) await m.stop();
  }
}

export function formatFail(r: FailReport): string {
  return `fail ${r.node} ${r.mode}: all withdrawn after ${r.allWithdrawnMs} ms (${Object.entries(r.withdrawnMs).map(([k, v]) => `${k} ${v}`).join(', ')}); healed in ${r.healedMs} ms`;
}
