/**
 * Control commands against a large table: the longest event-loop stall and the memory of the
 * process that holds the speaker while tortie-bgpctl (the real, bundled client) runs
 * `show route`, `show route all`, `show route count`, `show protocols all`, `show route export`
 * and `show route for`. The speaker and the control server run in this process exactly as
 * tortie-bgpd wires them (BgpSpeaker + startCtlServer); a raw tester peer over loopback loads
 * ROUTES /24s (pre-encoded UPDATEs, as bench/bgp/speaker-micro.ts), a raw monitor peer takes
 * the re-advertisement (so an export view exists). No namespaces, no other daemons.
 *
 *   node --max-semi-space-size=8 dist/bench/ctl/ctl-bench.js [ROUTES=1000000] [--json FILE]
 * (the flag tortie-bgpd runs with, see bgp/bgpd/main.ts: it sets the young generation, so the scavenges)
 *
 * CTL_BENCH_COMMANDS="show route count;show route" runs only those (e.g. against an older build).
 * Then `join`: a third raw peer connects and takes the whole table (its initial update): the
 * longest event-loop stall until it holds every route. Last, `regroup`: the monitor's export
 * policy changes as `configure` changes it (BgpSpeaker.updatePeer: the peer moves to another
 * update group, bgp/speaker/outbound.ts regroup) so that 1/7 of the routes are refused and 1/7
 * get a community: the longest stall until the monitor holds exactly the new export.
 * `--only regroup` (or `join`) skips the control commands and the other measurement.
 *
 * Stall, two ways: wall clock, perf_hooks.monitorEventLoopDelay (1 ms resolution) max and a
 * timer-lag probe (a 2 ms timer chain: worst lateness), which on a shared, loaded machine also
 * count the time the process waited for a CPU; and CPU, the main thread's on-CPU time between
 * two ticks of that timer chain (/proc/self/task/PID/schedstat, ns), which is the longest
 * stretch of work the event loop ran without getting back to its timers; and the wall gap less
 * the main thread's run-queue wait (schedstat field 2), which keeps time it was blocked (waiting
 * for V8's GC helper threads) but not time it waited for a CPU. Server RSS: peak (VmHWM, reset through /proc/self/clear_refs
 * before each command) and after. Client: wall time and max RSS from /usr/bin/time.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import type { Prefix } from '../../common/prefix.js';
import { BgpSpeaker } from '../../bgp/speaker/speaker.js';
import type { PeerConfig, PolicyConfig } from '../../bgp/speaker/peer-config.js';
import { startCtlServer } from '../../bgp/bgpd/ctl-server.js';
import { countIpv4 } from '../../bgp/speaker/warm-up.js';
import { encodeUpdates } from '../../bgp/wire/update-encoder.js';
import { openRawPeer, rawPeerConfig, rawPeerContext, speakerTcpDeps } from '../lib/raw-peer.js';

const argv = process.argv.slice(2);
const jsonAt = argv.indexOf('--json');
const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
const routes = Number(argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--json') ?? 1_000_000);
const port = 40000 + (process.pid % 20000);
const ctx = rawPeerContext(false);
const CTL = new URL('../../bgp/bgpd/tortie-bgpctl.cjs', import.meta.url).pathname;

/** The second AS of the tester's routes k..k+999 (seven AS_PATHs, for the regroup policy). */
const originAs = (k: number): number => 65200 + (k % 7);

/** The tester's table: ROUTES /24s from 20.0.0.0, ~1000 per UPDATE, in one buffer. */
function encodeTable(): Buffer {
  const out: Uint8Array[] = [];
  for (let k = 0; k < routes; k += 1000) {
    const chunk: Array<{ prefix: Prefix }> = [];
    for (let j = k; j < Math.min(routes, k + 1000); j++) { const n = (20 << 16) + j; chunk.push({ prefix: { family: 4, bytes: Uint8Array.of(n >>> 16, (n >>> 8) & 255, n & 255, 0), length: 24 } }); }
    out.push(...encodeUpdates({ afi: 1, safi: 1 }, { origin: 0, asPath: [{ type: 2, asns: [65101, originAs(k)] }], communities: [(65101 << 16) | 7] }, chunk, Uint8Array.of(10, 1, 0, 1), ctx));
  }
  return Buffer.concat(out);
}

/** The community the regroup policy adds. */
const TAG = (65002 << 16) | 99;
/** The monitor's new export policy: routes via AS 65200 refused, via 65201 tagged, the rest as before. */
const REGROUP_POLICY: PolicyConfig = { default: 'accept', rules: [
  { match: { asPathPrefix: [65101, 65200] }, action: 'reject' },
  { match: { asPathPrefix: [65101, 65201] }, action: 'accept', set: { addCommunities: [TAG] } },
] };

/**
 * The monitor's view of the tester's /24s, kept from the UPDATEs it reads: per route 0 (not
 * held), 1 (held) or 2 (held, tagged with TAG).
 */
class MonitorView {
  readonly state = new Uint8Array(routes);
  withdrawn = 0;
  tagged = 0;

  read(m: Uint8Array): void {
    if (m[18] !== 2) return;
    const wl = (m[19]! << 8) | m[20]!;
    for (let p = 21; p < 21 + wl; p += 4) { this.set(m, p, 0); this.withdrawn++; }
    const al = (m[21 + wl]! << 8) | m[22 + wl]!;
    let tag = false;
    for (let p = 23 + wl; p < 23 + wl + al;) {
      const flags = m[p]!, type = m[p + 1]!;
      const ext = (flags & 0x10) !== 0;
      const len = ext ? (m[p + 2]! << 8) | m[p + 3]! : m[p + 2]!;
      const v = p + (ext ? 4 : 3);
      if (type === 8) for (let q = v; q < v + len; q += 4) if (((m[q]! << 24) | (m[q + 1]! << 16) | (m[q + 2]! << 8) | m[q + 3]!) >>> 0 === TAG >>> 0) tag = true;
      p = v + len;
    }
    for (let p = 23 + wl + al; p < m.length; p += 4) { this.set(m, p, tag ? 2 : 1); if (tag) this.tagged++; }
  }

  /** The /24 at m[p] (length byte, three address bytes). */
  private set(m: Uint8Array, p: number, v: number): void {
    const i = ((m[p + 1]! << 16) | (m[p + 2]! << 8) | m[p + 3]!) - (20 << 16);
    if (i >= 0 && i < routes) this.state[i] = v;
  }

  /** Routes held, and of those tagged. */
  counts(): { held: number; tagged: number } {
    let held = 0, tagged = 0;
    for (const v of this.state) { if (v !== 0) held++; if (v === 2) tagged++; }
    return { held, tagged };
  }
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
/** The main thread's time on a CPU and waiting for one (ns): the first two fields of its schedstat. */
function mainThreadSched(): { run: number; wait: number } {
  const f = readFileSync(SCHEDSTAT, 'utf8').split(' ');
  return { run: Number(f[0]), wait: Number(f[1]) };
}

function statusKb(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Result {
  readonly command: string;
  readonly clientWallS: number;
  readonly clientCpuS: number;
  /** This process's CPU (all threads) while the command ran. */
  readonly serverCpuS: number;
  readonly clientMaxRssMB: number;
  readonly maxStallMs: number;
  readonly p99StallMs: number;
  readonly timerLagMaxMs: number;
  /** Longest main-thread on-CPU time between two probe ticks. */
  readonly cpuStallMaxMs: number;
  /**
   * Longest gap between two probe ticks less the time the main thread waited in the run queue
   * (runnable, no CPU free): what is left is work and blocking (GC helpers included).
   */
  readonly stallLessRunQueueMaxMs: number;
  readonly serverPeakRssMB: number;
  readonly serverRssAfterMB: number;
  readonly exitCode: number;
  readonly stderr: string;
}

interface Stalls {
  readonly maxStallMs: number;
  readonly p99StallMs: number;
  readonly timerLagMaxMs: number;
  readonly cpuStallMaxMs: number;
  readonly stallLessRunQueueMaxMs: number;
}

/** The stall probes of the file comment, from now until stop(). */
function startProbes(): { stop: () => Stalls } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let lagMax = 0, cpuMax = 0, unqueuedMax = 0;
  let last = performance.now();
  let schedLast = mainThreadSched();
  let probe: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = performance.now();
    const sc = mainThreadSched();
    const gap = now - last - 2;
    lagMax = Math.max(lagMax, gap);
    cpuMax = Math.max(cpuMax, (sc.run - schedLast.run) / 1e6);
    unqueuedMax = Math.max(unqueuedMax, gap - (sc.wait - schedLast.wait) / 1e6);
    last = now; schedLast = sc;
    probe = setTimeout(tick, 2);
  };
  probe = setTimeout(tick, 2);
  h.enable();
  return {
    stop: () => {
      h.disable();
      clearTimeout(probe);
      return { maxStallMs: Math.round(h.max / 1e5) / 10, p99StallMs: Math.round(h.percentile(99) / 1e5) / 10, timerLagMaxMs: Math.round(lagMax * 10) / 10,
        cpuStallMaxMs: Math.round(cpuMax * 10) / 10, stallLessRunQueueMaxMs: Math.round(unqueuedMax * 10) / 10 };
    },
  };
}

async function measure(ctlPath: string, words: readonly string[]): Promise<Result> {
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* older kernels: VmHWM is then the lifetime peak */ }
  // the probes start once the client is spawned: fork+exec of this big process is the bench's cost, not the daemon's
  const r = new Promise<{ code: number; stderr: string }>((resolve) => {
    const c = spawn('/usr/bin/time', ['-f', '%e %M %U %S', process.execPath, CTL, '-s', ctlPath, ...words], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.setEncoding('utf8');
    c.stderr.on('data', (d: string) => { err += d; });
    c.on('close', (code) => resolve({ code: code ?? -1, stderr: err }));
  });
  const probes = startProbes();
  const cpu0 = process.cpuUsage();
  const { code, stderr } = await r;
  const stalls = probes.stop();
  const [wall, kb, cu, cs] = (stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  const cpu = process.cpuUsage(cpu0);
  return {
    command: words.join(' '), clientWallS: wall ?? NaN, clientCpuS: Math.round(((cu ?? 0) + (cs ?? 0)) * 100) / 100,
    serverCpuS: Math.round((cpu.user + cpu.system) / 1e4) / 100, clientMaxRssMB: Math.round((kb ?? 0) / 1024),
    ...stalls,
    serverPeakRssMB: Math.round(statusKb('VmHWM') / 1024), serverRssAfterMB: Math.round(statusKb('VmRSS') / 1024),
    exitCode: code, stderr: stderr.trim().split('\n').slice(0, -1).join('\n').slice(0, 300),
  };
}

/**
 * A peer coming up next to the loaded table (its initial update, bgp/speaker/table-sync.ts): the
 * longest event-loop stall (the probes of measure()) from its connect until it holds every route.
 */
async function measureJoin(): Promise<Record<string, number>> {
  let held = 0;
  let all: (() => void) | undefined;
  const done = new Promise<void>((r) => { all = r; });
  const probes = startProbes();
  // the sampler only sees a stall once its timer runs: a stall starting at enable() went unseen
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const joiner = await openRawPeer(port, '127.0.9.2', 65004, 0x0a000902, { keepaliveMs: 30_000, onMessage: (m) => { if (m[18] !== 2) return; held += countIpv4(m); if (held === routes) all?.(); } });
  await done;
  const stalls = probes.stop();
  joiner.destroy();
  return { wallS: Math.round((performance.now() - t0) / 10) / 100, ...stalls };
}

/**
 * The monitor's export policy changes (speaker.updatePeer with only `export` changed, as a
 * `configure` does): the longest event-loop stall (the probes of measure()) and the wall time from
 * the call until the monitor holds exactly the new export (refused routes withdrawn, tagged ones
 * re-announced with TAG); `sentMB`: what the monitor was sent meanwhile.
 */
async function measureRegroup(sp: BgpSpeaker, cfg: PeerConfig, view: MonitorView, onRead: { bytes: number; check: (() => void) | undefined }): Promise<Record<string, number | boolean>> {
  let refused = 0, toTag = 0;
  for (let k = 0; k < routes; k += 1000) {
    const n = Math.min(routes, k + 1000) - k;
    if (originAs(k) === 65200) refused += n; else if (originAs(k) === 65201) toTag += n;
  }
  view.withdrawn = 0; view.tagged = 0; onRead.bytes = 0;
  let all: (() => void) | undefined;
  const done = new Promise<void>((r) => { all = r; });
  onRead.check = () => { if (view.withdrawn >= refused && view.tagged >= toTag) all?.(); };
  const probes = startProbes();
  // the sampler only sees a stall once its timer runs: a stall starting at enable() went unseen
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const changed = sp.updatePeer({ ...cfg, export: REGROUP_POLICY });
  const callMs = performance.now() - t0;
  await done;
  const stalls = probes.stop();
  onRead.check = undefined;
  const { held, tagged } = view.counts();
  return { changed, wallS: Math.round((performance.now() - t0) / 10) / 100, callMs: Math.round(callMs * 10) / 10, ...stalls, sentMB: Math.round(onRead.bytes / 1e5) / 10,
    exact: held === routes - refused && tagged === toTag && view.withdrawn === refused && view.tagged === toTag,
    held, tagged, withdrawnSeen: view.withdrawn, taggedSeen: view.tagged };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-ctl-bench-'));
  const ctlPath = join(dir, 'bgpd.ctl');
  const monitorConfig = rawPeerConfig('monitor', '127.0.9.1', 65003);
  const sp = new BgpSpeaker(speakerTcpDeps(), { routerId: '10.0.0.1', asn: 65002, listen: { address: '127.0.0.1', port },
    peers: [rawPeerConfig('tester', '127.0.10.1', 65101), monitorConfig, rawPeerConfig('joiner', '127.0.9.2', 65004)] });
  await sp.start();
  const ctl = await startCtlServer(ctlPath, { speaker: () => sp, reload: () => ({}), startedAt: 0, now: () => performance.now() }, silentLogger());
  let held = 0;
  let loaded: (() => void) | undefined;
  const view = new MonitorView();
  const onRead: { bytes: number; check: (() => void) | undefined } = { bytes: 0, check: undefined };
  // the bench outlasts the hold time: keepalives as a real peer sends them
  const mon = await openRawPeer(port, '127.0.9.1', 65003, 0x0a000901, { keepaliveMs: 30_000, onMessage: (m) => {
    onRead.bytes += m.length;
    view.read(m);
    onRead.check?.();
    if (m[18] !== 2 || held === routes) return;
    held += countIpv4(m); if (held === routes) loaded?.();
  } });
  const tester = await openRawPeer(port, '127.0.10.1', 65101, 0x0a000a01, { keepaliveMs: 30_000 });
  const upBy = performance.now() + 30_000;
  while (!sp.status().every((s) => s.state === 'Established' || s.name === 'joiner')) {
    if (performance.now() > upBy) throw new Error(`sessions not Established within 30 s: ${JSON.stringify(sp.status().map((s) => [s.name, s.state, s.lastError]))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const table = encodeTable();
  const t0 = performance.now();
  const done = new Promise<void>((r) => { loaded = r; });
  tester.write(table);
  await done;
  const loadS = (performance.now() - t0) / 1000;
  console.error(`loaded ${routes} routes in ${loadS.toFixed(1)} s (monitor holds them all)`);
  const results: Result[] = [];
  const commands = only !== undefined ? [] : process.env['CTL_BENCH_COMMANDS']?.split(';').map((c) => c.trim().split(/\s+/)) ?? [
    ['show', 'route', 'count'], ['show', 'protocols', 'all'], ['show', 'route', 'for', '20.3.4.5'],
    ['show', 'route'], ['show', 'route', 'all'], ['-o', 'json', 'show', 'route'], ['show', 'route', 'export', 'monitor'],
  ];
  if (commands.length > 0) results.push(await measure(ctlPath, ['show', 'status']));
  for (const words of commands) {
    const r = await measure(ctlPath, words);
    console.error(JSON.stringify(r));
    results.push(r);
  }
  const joined = only === undefined || only === 'join' ? await measureJoin() : undefined;
  if (joined) console.error(JSON.stringify({ join: joined }));
  const regroup = only === undefined || only === 'regroup' ? await measureRegroup(sp, monitorConfig, view, onRead) : undefined;
  if (regroup) console.error(JSON.stringify({ regroup }));
  const established = sp.status().every((s) => s.name === 'joiner' || (s.state === 'Established' && s.establishedTransitions === 1));
  const out = { routes, loadS: Math.round(loadS * 10) / 10, node: process.version, execArgv: process.execArgv, sessionsStayedUp: established, results, join: joined, regroup };
  console.log(JSON.stringify(out, null, 2));
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
  for (const s of [tester, mon]) s.destroy();
  await sp.stop();
  await new Promise<void>((r) => ctl.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
