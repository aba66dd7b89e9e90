/**
 * End-to-end benchmark on the lab (agent/lab), in one run:
 *
 *  1. Convergence: a pod's CNI ADD on one node → its route in every other node's kernel.
 *     `ip -ts monitor route` runs in every node; t0 = wall clock just before the plugin starts.
 *     The pool's blockSize is 31, so each measured pod opens a new block (a new route on every
 *     other node: direct on the same subnet, via vxlan.calico across); a filler ADD then takes the
 *     block's second address so the next measured pod opens a block again. Source nodes rotate.
 *     Reported: t0 → last node has the route ("from ADD start", includes the plugin's start-up),
 *     ADD return → last node ("after ADD returned", negative when the route was out first),
 *     and the ADD's own duration; p50/p99/max.
 *  2. Throughput (iperf3, TCP, one stream): pod→pod on the same subnet (direct), pod→pod across
 *     subnets (VXLAN), node→node on the same underlay for both, and node→node through the
 *     nodes' own vxlan.calico tunnel addresses (the VXLAN device without the pod path), side by side;
 *     then the pool is annotated for the userspace UDP backend (tortie.io/encapsulation: udp) and,
 *     once the cross-subnet route goes through tortie-udp, pod→pod across subnets again over it.
 *
 * Run (root): node dist/bench/e2e/e2e-bench.js [--pods 60] [--nodes 3] [--seconds 5] [--json FILE]
 * Prints a table; writes JSON to bench/results/e2e-<time>.json (or --json FILE).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CNI_MAIN, type LabState, ctl, runCni, runtimeEnv } from '../../agent/lab/lab.js';
import { run, tryRun, tryRunIn } from '../../agent/lab/lab-host.js';
import { labResources, type NodePlan, type PodPlan } from '../../agent/lab/lab-plan.js';
import { pathKind } from '../../agent/lab/ping-matrix.js';
import { stringify } from 'yaml';
import { waitFor } from '../lib/deadline.js';
import { onLab, say } from '../lib/on-lab.js';

interface Args { pods: number; nodes: number; seconds: number; json: string | undefined }

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { pods: 60, nodes: 3, seconds: 5, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const num = (): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${k} needs a positive integer, got ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    if (k === '--pods') a.pods = num();
    else if (k === '--nodes') a.nodes = num();
    else if (k === '--seconds') a.seconds = num();
    else if (k === '--json' && v !== undefined) { a.json = v; i++; }
    else throw new Error(`unknown argument ${k} (use --pods N --nodes N --seconds S --json FILE)`);
  }
  if (a.nodes < 3) throw new Error('--nodes must be at least 3 (two on one subnet, one on the other)');
  return a;
}

/** A documentation address (RFC 5737) the monitors must see before measuring starts. */
const PROBE_ROUTE = '198.51.100.77/32';
const wallMs = (): number => performance.timeOrigin + performance.now();

/** `ip -ts monitor route` in a namespace: first time each destination was added, wall-clock ms. */
class RouteMonitor {
  readonly seen = new Map<string, number>();
  private readonly proc: ChildProcess;
  private buf = '';
  constructor(readonly netns: string) {
    this.proc = spawn('ip', ['netns', 'exec', netns, 'ip', '-ts', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.line(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
    });
  }
  private line(l: string): void {
    const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\] (?!Deleted)(?:(?:blackhole|unreachable|prohibit) )?(\S+)/.exec(l);
    if (m === null) return;
    const [, sec = '', frac = '0', dst = ''] = m;
    const t = new Date(sec).getTime() + Number(`0.${frac}`) * 1000; // local time, as ip prints it
    const key = dst.includes('/') ? dst : `${dst}/32`;
    if (!this.seen.has(key)) this.seen.set(key, t);
  }
  /** When a route covering `addr` (its /31 block or /32) first appeared. */
  covering(addr: string): number | undefined {
    const last = Number(addr.split('.')[3]);
    const block = `${addr.split('.').slice(0, 3).join('.')}.${last - (last % 2)}/31`;
    const a = this.seen.get(block);
    const b = this.seen.get(`${addr}/32`);
    if (a === undefined) return b;
    return b === undefined ? a : Math.min(a, b);
  }
  stop(): void { this.proc.kill('SIGTERM'); }
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
function stats(xs: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  return { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) };
}

async function addMeasured(n: NodePlan, pod: PodPlan): Promise<{ address: string; t0: number; t1: number }> {
  run('ip', ['netns', 'add', pod.netns]);
  const t0 = wallMs();
  const r = await runCni(n, 'ADD', pod);
  const t1 = wallMs();
  const address = (JSON.parse(r.stdout || '{}') as { ips?: Array<{ address?: string }> }).ips?.[0]?.address?.split('/')[0];
  if (r.status !== 0 || address === undefined) throw new Error(`CNI ADD ${pod.name} on ${n.name} failed: ${r.stdout}${r.stderr}`);
  return { address, t0, t1 };
}

interface Convergence {
  fromAddStartMs: number[]; afterAddReturnedMs: number[]; addMs: number[];
  /** Container ids of the measured pods (each claims a new block). */
  measured: string[];
  /** Per measured pod, in order: ADD start → everywhere, and own node's kernel → everywhere (NaN if unseen). */
  perPod: Array<{ containerId: string; fromAddStartMs: number; originToOthersMs: number }>;
  /** The route in the ADD's own node's kernel (block blackhole or workload /32) → every other node's kernel: the agents' part. */
  originToOthersMs: number[];
  kinds: Record<string, number>;
}

/** `interrupted` says the lab is being taken down: stop at the next pod, and leave the pods to that take-down. */
async function convergence(lab: LabState, pods: number, interrupted: () => boolean): Promise<Convergence> {
  const monitors = lab.plan.nodes.map((n) => new RouteMonitor(n.netns));
  const out: Convergence = { fromAddStartMs: [], afterAddReturnedMs: [], addMs: [], measured: [], perPod: [], originToOthersMs: [], kinds: {} };
  const made: Array<{ n: NodePlan; pod: PodPlan }> = [];
  try {
    // Each monitor is subscribed once it reports a probe route added in its namespace.
    await Promise.all(monitors.map((m) => waitFor(`ip monitor in ${m.netns}`, 10_000, () => {
      tryRunIn(m.netns, 'ip', ['route', 'replace', 'blackhole', PROBE_ROUTE]);
      return m.seen.has(PROBE_ROUTE) ? true : undefined;
    }, { intervalMs: 20 })));
    for (const m of monitors) tryRunIn(m.netns, 'ip', ['route', 'del', 'blackhole', PROBE_ROUTE]);
    for (let i = 0; i < pods; i++) {
      if (interrupted()) throw new Error('interrupted');
      const n = lab.plan.nodes[i % lab.plan.nodes.length] as NodePlan;
      const mk = (tag: string): PodPlan => ({ node: n.name, name: `bench-${tag}${i}`, netns: `${lab.options.prefix}-pod${n.index}-${1000 + i * 2 + (tag === 'f' ? 1 : 0)}`, containerId: `${lab.options.prefix}-bench-${tag}${i}` });
      const pod = mk('m');
      const filler = mk('f');
      made.push({ n, pod }, { n, pod: filler });
      const { address, t0, t1 } = await addMeasured(n, pod);
      out.measured.push(pod.containerId);
      const others = monitors.filter((m) => m.netns !== n.netns);
      const origin = monitors.find((m) => m.netns === n.netns);
      const seen = await waitFor(`${address} on every other node`, 10_000, () => {
        const ts = others.map((m) => m.covering(address));
        return ts.every((t) => t !== undefined) ? (ts as number[]) : undefined;
      }, { intervalMs: 2 });
      const last = Math.max(...seen);
      out.fromAddStartMs.push(last - t0);
      out.afterAddReturnedMs.push(last - t1);
      out.addMs.push(t1 - t0);
      const own = origin?.covering(address);
      if (own !== undefined) out.originToOthersMs.push(last - own);
      out.perPod.push({ containerId: pod.containerId, fromAddStartMs: last - t0, originToOthersMs: own === undefined ? NaN : last - own });
      for (const m of others) {
        const via = tryRunIn(m.netns, 'ip', ['-o', 'route', 'get', address]).stdout.includes('vxlan.calico') ? 'vxlan' : 'direct';
        out.kinds[via] = (out.kinds[via] ?? 0) + 1;
      }
      await addMeasured(n, filler);
      if ((i + 1) % 10 === 0) say(`convergence: ${i + 1}/${pods} pods`);
    }
  } finally {
    for (const m of monitors) m.stop();
    // A CNI DEL per pod against agents being stopped only waits for their time-outs.
    if (!interrupted()) await Promise.all(made.map(({ n, pod }) => runCni(n, 'DEL', pod)));
    for (const { pod } of made) tryRun('ip', ['netns', 'del', pod.netns]);
  }
  return out;
}

/**
 * The agents' own IPAM time for the measured ADDs (each claims a new block), from the `assigned`
 * lines of their logs: handle check, pools, affinities, the claim and the assignment, in etcd.
 */
function assignTimes(lab: LabState, containerIds: readonly string[]): Map<string, number> {
  const wanted = new Set(containerIds);
  const out = new Map<string, number>();
  for (const n of lab.plan.nodes) {
    let text = '';
    try { text = readFileSync(n.logFile, 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line.includes('"assigned"')) continue;
      try {
        const j = JSON.parse(line) as { msg?: string; containerId?: string; ms?: number };
        if (j.msg === 'assigned' && j.containerId !== undefined && wanted.has(j.containerId) && typeof j.ms === 'number') out.set(j.containerId, j.ms);
      } catch { /* not a log line of ours */ }
    }
  }
  return out;
}

const STARTUP_RUNS = 11;

/**
 * What a pod ADD pays before the plugin sends its first byte: Node.js itself (`node -e 0`) and
 * the plugin's own module loading (`CNI_COMMAND=VERSION`), both started in a node namespace the
 * way the lab's runtime starts the plugin. Medians, wall clock.
 */
interface Startup {
  /** `node -e 0`, the plugin (the bundle) and the plugin's unbundled ESM entry, in the ADDs' environment. */
  readonly nodeMs: number; readonly pluginMs: number; readonly pluginModulesMs: number;
  /** `node -e 0` with this shell's environment (NODE_EXTRA_CA_CERTS and the like, if set). */
  readonly nodeShellEnvMs: number;
}

function processStartup(n: NodePlan): Startup {
  const plugin = CNI_MAIN;
  const modules = fileURLToPath(new URL('../../agent/cni/main.js', import.meta.url));
  const version = '{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"tortie"}';
  const time = (args: string[], input: string, env: NodeJS.ProcessEnv): number => {
    const xs: number[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) {
      const t = performance.now();
      const r = spawnSync('ip', ['netns', 'exec', n.netns, process.execPath, ...args], { input, env, stdio: ['pipe', 'ignore', 'ignore'] });
      if (r.status !== 0) throw new Error(`${args.join(' ')} in ${n.netns} exited ${String(r.status)}`);
      xs.push(performance.now() - t);
    }
    return pct(xs, 50);
  };
  // The environment the ADDs run with (runtimeEnv), not this shell's.
  return {
    nodeMs: time(['-e', '0'], '', runtimeEnv(n)),
    pluginMs: time([plugin], version, { ...runtimeEnv(n), CNI_COMMAND: 'VERSION' }),
    pluginModulesMs: time([modules], version, { ...runtimeEnv(n), CNI_COMMAND: 'VERSION' }),
    nodeShellEnvMs: time(['-e', '0'], '', process.env),
  };
}

interface IperfJson { error?: string; end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } } }

interface Throughput { name: string; from: string; to: string; gbps: number; retransmits: number }

/** The node's own address on vxlan.calico (its VTEP/tunnel address, from the pool). */
function vtepAddress(n: NodePlan): string {
  const j = JSON.parse(tryRunIn(n.netns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', 'vxlan.calico']).stdout || '[]') as Array<{ addr_info?: Array<{ local?: string }> }>;
  const a = j[0]?.addr_info?.[0]?.local;
  if (a === undefined) throw new Error(`${n.name} has no address on vxlan.calico`);
  return a;
}

async function iperf(lab: LabState, seconds: number): Promise<Throughput[]> {
  const byNode = (i: number): string => lab.pods.find((p) => p.node === lab.plan.nodes[i]?.netns)?.netns ?? '';
  const addr = (ns: string): string => lab.pods.find((p) => p.netns === ns)?.address ?? '';
  const n1 = lab.plan.nodes[0], n2 = lab.plan.nodes[1], n3 = lab.plan.nodes.find((n) => n.subnet === 2);
  if (n1 === undefined || n2 === undefined || n3 === undefined || n2.subnet !== 1) throw new Error('iperf3 needs two nodes on subnet 1 and one on subnet 2');
  const p1 = byNode(0), p2 = byNode(1), p3 = lab.pods.find((p) => p.node === n3.netns)?.netns ?? '';
  // One server in the destination pod, one in its node; each takes the clients one after another.
  const servers = [p1, n1.netns].map((ns) => spawn('ip', ['netns', 'exec', ns, 'iperf3', '-s'], { stdio: 'ignore' }));
  const cases: Array<[string, string, string, string]> = [
    ['pod→pod same subnet (direct)', p2, p1, addr(p1)],
    ['node→node same subnet', n2.netns, n1.netns, n1.address],
    ['pod→pod cross subnet (VXLAN)', p3, p1, addr(p1)],
    ['node→node cross subnet (routed by ToR)', n3.netns, n1.netns, n1.address],
    ['node→node over VXLAN (tunnel addresses)', n3.netns, n1.netns, vtepAddress(n1)],
  ];
  const out: Throughput[] = [];
  const measure = async ([name, from, to, target]: [string, string, string, string]): Promise<void> => {
      let lastErr = '';
      const j = await waitFor(`iperf3 ${name}`, 30_000 + seconds * 1000, () => {
        const r = tryRunIn(from, 'iperf3', ['-c', target, '-t', String(seconds), '-J']);
        let parsed: IperfJson = {};
        try { parsed = JSON.parse(r.stdout || '{}') as IperfJson; } catch { /* retried */ }
        lastErr = parsed.error ?? r.stderr.trim();
        // Until the server listens the client fails; a result without a rate is not a result.
        return r.status === 0 && parsed.error === undefined && (parsed.end?.sum_received?.bits_per_second ?? 0) > 0 ? parsed : undefined;
      }, { intervalMs: 200, describe: () => lastErr });
      out.push({ name, from, to, gbps: (j.end?.sum_received?.bits_per_second ?? 0) / 1e9, retransmits: j.end?.sum_sent?.retransmits ?? 0 });
      say(`iperf3: ${name}: ${out.at(-1)?.gbps.toFixed(2)} Gbit/s`);
  };
  try {
    for (const c of cases) await measure(c);
    // The same pool over the UDP backend, switched live: wait until node3 routes pod1 through tortie-udp.
    const pool = labResources({ ...lab.plan, options: { ...lab.plan.options, encap: 'udp' } }).filter((d) => d['kind'] === 'IPPool');
    ctl(lab.plan, ['apply', '-f', '-'], pool.map((d) => stringify(d)).join('---\n'));
    const nodeIps = new Set(lab.plan.nodes.map((n) => n.address));
    await waitFor('the cross-subnet route to move to tortie-udp', 30_000, async () => ((await pathKind(n3.netns, addr(p1), nodeIps)) === 'udp' ? true : undefined));
    await measure(['pod→pod cross subnet (UDP backend)', p3, p1, addr(p1)]);
  } finally {
    for (const s of servers) s.kill();
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  return onLab('e2e', 'bx', { nodes: args.nodes, podsPerNode: 1, tor: 'frr', blockSize: 31 }, 30_000, async (lab, interrupted) => {
    const conv = await convergence(lab, args.pods, interrupted);
    const startup = processStartup(lab.plan.nodes[0] as NodePlan);
    const thr = await iperf(lab, args.seconds);
    const s1 = stats(conv.fromAddStartMs), s2 = stats(conv.afterAddReturnedMs), s3 = stats(conv.addMs), s4 = stats(conv.originToOthersMs);
    const assigns = assignTimes(lab, conv.measured);
    const s5 = stats([...assigns.values()]);
    // Where the slowest 5% of ADDs lost their time (medians over those pods).
    const slow = [...conv.perPod].sort((a, b) => b.fromAddStartMs - a.fromAddStartMs).slice(0, Math.max(1, Math.ceil(conv.perPod.length / 20)));
    const med = (xs: number[]): number => pct(xs.filter((x) => Number.isFinite(x)), 50);
    const tail = { n: slow.length, fromAddStartMs: med(slow.map((p) => p.fromAddStartMs)), assignMs: med(slow.map((p) => assigns.get(p.containerId) ?? NaN)),
      originToOthersMs: med(slow.map((p) => p.originToOthersMs)) };
    const f = (x: number): string => x.toFixed(1).padStart(8);
    const table = [
      `Convergence, ${s1.n} pods on ${args.nodes} nodes (route seen in every other node's kernel; ${Object.entries(conv.kinds).map(([k, v]) => `${v} ${k}`).join(', ')} routes)`,
      '| measure | p50 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|',
      `| CNI ADD start → route on every other node | ${f(s1.p50)} | ${f(s1.p99)} | ${f(s1.max)} |`,
      `| CNI ADD returned → route on every other node | ${f(s2.p50)} | ${f(s2.p99)} | ${f(s2.max)} |`,
      `| CNI ADD duration (plugin start to result) | ${f(s3.p50)} | ${f(s3.p99)} | ${f(s3.max)} |`,
      `| route in the ADD's node → every other node (agents, BGP, kernel) | ${f(s4.p50)} | ${f(s4.p99)} | ${f(s4.max)} |`,
      `| the agent's IPAM assign for the ADD (new block claimed; ${s5.n} from its log) | ${f(s5.p50)} | ${f(s5.p99)} | ${f(s5.max)} |`,
      `| process start: \`node -e 0\` / the CNI plugin's VERSION (median of ${STARTUP_RUNS}) | ${f(startup.nodeMs)} | ${f(startup.pluginMs)} | |`,
      '',
      `Start-up, medians of ${STARTUP_RUNS}: the plugin unbundled (its ESM module graph) ${startup.pluginModulesMs.toFixed(1)} ms against ${startup.pluginMs.toFixed(1)} ms bundled; \`node -e 0\` with this shell's environment ${startup.nodeShellEnvMs.toFixed(1)} ms against ${startup.nodeMs.toFixed(1)} ms with the plugin's.`,
      '',
      `The slowest ${tail.n} ADDs (medians): start → everywhere ${tail.fromAddStartMs.toFixed(1)} ms, of which the agent's IPAM ${tail.assignMs.toFixed(1)} ms and own kernel → every other node ${tail.originToOthersMs.toFixed(1)} ms.`,
      '',
      `Throughput, iperf3 TCP 1 stream, ${args.seconds} s each`,
      '| path | Gbit/s | retransmits |',
      '|---|---:|---:|',
      ...thr.map((t) => `| ${t.name} | ${t.gbps.toFixed(2)} | ${t.retransmits} |`),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    const file = args.json ?? fileURLToPath(new URL(`../../../bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `${JSON.stringify({
      suite: 'e2e', date: new Date().toISOString(), nodes: args.nodes, pods: args.pods, blockSize: 31,
      convergence: { fromAddStart: s1, afterAddReturned: s2, addDuration: s3, originToOthers: s4, agentAssign: s5, slowest5pct: tail, routeKinds: conv.kinds, samplesMs: conv.fromAddStartMs,
        perPod: conv.perPod.map((p) => ({ ...p, assignMs: assigns.get(p.containerId) ?? null })) },
      processStartupMs: startup,
      throughput: thr,
    }, null, 2)}\n`);
    say(`results: ${file}`);
  });
}

process.exitCode = await main();
