/**
 * Every pod pings every other pod; each pair also records how the source node forwards to the
 * destination (`ip route get` in the source node): local (cali*), direct (the underlay, via the
 * peer node), vxlan (vxlan.calico) or udp (the UDP backend's tortie-udp). Route kinds per node come
 * from the agent's own routes.
 */
import { runInAsync, tryRunIn } from './lab-host.js';
import { UDP_DEVICE } from '../../ipip/udp-tunnel.js';

export interface LabPod {
  readonly name: string;
  readonly netns: string;
  readonly node: string;
  readonly address: string;
}

/** local: same node; direct: via the peer node; vxlan: vxlan.calico; udp: tortie-udp; tor: default route via the ToR. */
export type PathKind = 'local' | 'direct' | 'vxlan' | 'udp' | 'tor' | 'other';


export interface PingResult {
  readonly from: string;
  readonly to: string;
  readonly ok: boolean;
  readonly path: PathKind;
}

/** The agent's route protocol number (contract: proto 80). */
export const AGENT_ROUTE_PROTO = 80;

async function limit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

export async function pathKind(nodeNetns: string, dst: string, nodeAddresses: ReadonlySet<string>): Promise<PathKind> {
  const r = await runInAsync(nodeNetns, 'ip', ['-j', 'route', 'get', dst]);
  if (r.status !== 0) return 'other';
  const route = (JSON.parse(r.stdout || '[]') as Array<{ dev?: string; gateway?: string }>)[0];
  const dev = route?.dev ?? '';
  if (dev.startsWith('cali')) return 'local';
  if (dev === 'vxlan.calico') return 'vxlan';
  if (dev === UDP_DEVICE) return 'udp';
  if (dev === 'eth0') return route?.gateway !== undefined && nodeAddresses.has(route.gateway) ? 'direct' : 'tor';
  return 'other';
}

/** Ping every ordered pair (up to three tries: a first ARP/neighbour resolution, a loaded machine). */
export async function pingMatrix(pods: readonly LabPod[], nodeAddresses: ReadonlySet<string>, concurrency = 8): Promise<PingResult[]> {
  const pairs: Array<[LabPod, LabPod]> = [];
  for (const a of pods) for (const b of pods) if (a !== b) pairs.push([a, b]);
  const paths = new Map<string, Promise<PathKind>>();
  return limit(pairs, concurrency, async ([a, b]) => {
    const key = `${a.node}>${b.address}`;
    if (!paths.has(key)) paths.set(key, pathKind(a.node, b.address, nodeAddresses));
    let ok = false;
    for (let attempt = 0; attempt < 3 && !ok; attempt++) {
      ok = (await runInAsync(a.netns, 'ping', ['-n', '-q', '-c', '1', '-W', '1', b.address])).status === 0;
    }
    return { from: a.name, to: b.name, ok, path: await (paths.get(key) as Promise<PathKind>) };
  });
}

const MARK: Record<PathKind, string> = { local: 'L', direct: 'D', vxlan: 'V', udp: 'U', tor: 'T', other: '?' };

/** A matrix as text: one row per source pod; cells `D`/`V`/`L` on success, `x` on failure. */
export function formatMatrix(pods: readonly LabPod[], results: readonly PingResult[]): string {
  const byPair = new Map(results.map((r) => [`${r.from}>${r.to}`, r]));
  const w = Math.max(...pods.map((p) => p.name.length), 4);
  const head = `${'from\\to'.padEnd(w + 18)} ${pods.map((p) => p.name.padStart(w)).join(' ')}`;
  const rows = pods.map((a) => {
    const cells = pods.map((b) => {
      if (a === b) return '-'.padStart(w);
      const r = byPair.get(`${a.name}>${b.name}`);
      return (r === undefined ? '?' : r.ok ? MARK[r.path] : 'x').padStart(w);
    });
    return `${`${a.name} ${a.address}`.padEnd(w + 18)} ${cells.join(' ')}`;
  });
  return [head, ...rows, 'D = direct to the peer node, V = VXLAN, U = UDP backend, L = same node, T = via the ToR (no agent route yet), x = no reply'].join('\n');
}

export interface RouteKinds { readonly node: string; direct: number; vxlan: number; udp: number; workload: number; blackhole: number; other: number }

/** Count the agent's routes (proto 80) in a node's kernel by kind. */
export function routeKinds(nodeNetns: string): RouteKinds {
  const kinds: RouteKinds = { node: nodeNetns, direct: 0, vxlan: 0, udp: 0, workload: 0, blackhole: 0, other: 0 };
  const r = tryRunIn(nodeNetns, 'ip', ['-j', 'route', 'show', 'proto', String(AGENT_ROUTE_PROTO)]);
  if (r.status !== 0) return kinds;
  for (const route of JSON.parse(r.stdout || '[]') as Array<{ type?: string; dev?: string; gateway?: string }>) {
    if (route.type === 'blackhole') kinds.blackhole++;
    else if (route.dev === 'vxlan.calico') kinds.vxlan++;
    else if (route.dev === UDP_DEVICE) kinds.udp++;
    else if (route.dev?.startsWith('cali') === true) kinds.workload++;
    else if (route.gateway !== undefined) kinds.direct++;
    else kinds.other++;
  }
  return kinds;
}

export function formatRouteKinds(rows: readonly RouteKinds[]): string {
  const w = Math.max(...rows.map((r) => r.node.length), 4);
  const head = `${'node'.padEnd(w)}  direct  vxlan  udp  workload  blackhole(local block)  other`;
  return [head, ...rows.map((r) => `${r.node.padEnd(w)}  ${String(r.direct).padStart(6)}  ${String(r.vxlan).padStart(5)}  ${String(r.udp).padStart(3)}  ${String(r.workload).padStart(8)}  ${String(r.blackhole).padStart(21)}  ${String(r.other).padStart(5)}`)].join('\n');
}
