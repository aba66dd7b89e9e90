/**
 * In-process micro benchmark of BgpSpeaker over loopback, no namespaces and no other daemons:
 * P raw "tester" peers write pre-encoded UPDATEs (R /24s each, ~1000 per UPDATE) to the speaker,
 * a raw monitor counts what the speaker re-advertises; then the testers withdraw. Prints the
 * announce and withdraw times (first write → monitor holds all / none). For profiling the
 * speaker alone: `node --cpu-prof dist/bench/bgp/speaker-micro.js 1 100000`, or only the announce and
 * withdraw phases: `MICRO_PROF=/tmp/p node dist/bench/bgp/speaker-micro.js 1 100000` (writes
 * /tmp/p-announce.cpuprofile and /tmp/p-withdraw.cpuprofile; the phase times then include the profiler).
 * MICRO_WARM=N repeats both phases N times after the measured ones (the same speaker, warm).
 * MICRO_WARMUP=1 runs tortie-bgpd's JIT warm-up (bgp/speaker/warm-up.ts) first, as the daemon does (run node
 * with the flags of tortie-bgpd's interpreter line, `--max-semi-space-size=8`, to get what it gets).
 * announceFaults/withdrawFaults: the minor page faults of each phase (fresh memory touched).
 * MICRO_LIVE=1 (with --expose-gc): a full GC after the announce, to print what stays alive (liveMBAtPeak).
 * MICRO_WINDOWS=1: prints each phase's start, then its CLOCK_MONOTONIC window in µs (`window withdraw ROUND T0 T1`,
 * the clock of `--cpu-prof` profiles and of `perf record -k CLOCK_MONOTONIC`), to cut a whole-process
 * profile down to one phase, and a `start` line before it (to place --trace-deopt output).
 * Raw peers and the speaker's TCP deps: bench/lib/raw-peer.ts (shared with bench/ctl).
 */
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { silentLogger } from '../../common/logger.js';
import type { Prefix } from '../../common/prefix.js';
import { BgpSpeaker } from '../../bgp/speaker/speaker.js';
import { countIpv4, countIpv4AddPath, warmUp } from '../../bgp/speaker/warm-up.js';
import { encodeUpdates, encodeWithdraws } from '../../bgp/wire/update-encoder.js';
import { openRawPeer, rawPeerConfig, rawPeerContext, speakerTcpDeps } from '../lib/raw-peer.js';

const peers = Number(process.argv[2] ?? 1);
const routes = Number(process.argv[3] ?? 100_000);
const port = 40000 + (process.pid % 20000);
/** MICRO_ADD_PATHS=1: ADD-PATH (RFC 7911) send and receive negotiated on every session, as run.js --add-paths. */
const addPaths = process.env['MICRO_ADD_PATHS'] === '1';
const ctx = rawPeerContext(addPaths);

/** Tester i's pre-encoded UPDATEs (a function, so the Prefix objects are not kept alive by main's frame). */
function encodePeer(i: number): { announce: Uint8Array[]; withdraw: Uint8Array[] } {
  const prefixes: Array<{ prefix: Prefix; pathId?: number }> = [];
  for (let j = 0; j < routes; j++) { const n = (20 << 16) + i * routes + j; prefixes.push({ prefix: { family: 4, bytes: Uint8Array.of(n >>> 16, (n >>> 8) & 255, n & 255, 0), length: 24 }, ...(addPaths ? { pathId: 1 } : {}) }); }
  const announce: Uint8Array[] = [], withdraw: Uint8Array[] = [];
  for (let k = 0; k < prefixes.length; k += 1000) {
    const chunk = prefixes.slice(k, k + 1000);
    announce.push(...encodeUpdates({ afi: 1, safi: 1 }, { origin: 0, asPath: [{ type: 2, asns: [65101 + i] }] }, chunk, Uint8Array.of(10, 1, 0, i & 255), ctx));
    withdraw.push(...encodeWithdraws({ afi: 1, safi: 1 }, chunk, ctx));
  }
  return { announce: [Buffer.concat(announce)], withdraw: [Buffer.concat(withdraw)] };
}

async function main(): Promise<void> {
  // The tables first: the garbage of encoding them is not the speaker's (the warm-up's GCs take it).
  const ann: Uint8Array[][] = [], wd: Uint8Array[][] = [];
  for (let i = 0; i < peers; i++) { const e = encodePeer(i); ann.push(e.announce); wd.push(e.withdraw); }
  const warmed = process.env['MICRO_WARMUP'] ? await warmUp({ logger: silentLogger() }) : undefined;
  if (warmed && !warmed.ok) throw new Error(`warm-up failed: ${warmed.error ?? '?'}`);
  const cfgPeers = Array.from({ length: peers }, (_, i) => rawPeerConfig(`t${i}`, `127.0.${10 + (i >> 8)}.${(i & 255) + 1}`, 65101 + i, addPaths));
  cfgPeers.push(rawPeerConfig('monitor', '127.0.9.1', 65003, addPaths));
  const sp = new BgpSpeaker(speakerTcpDeps(), { routerId: '10.0.0.1', asn: 65002, listen: { address: '127.0.0.1', port }, peers: cfgPeers });
  await sp.start();
  let held = 0;
  let done: (() => void) | undefined;
  let want = -1;
  const mon = await openRawPeer(port, '127.0.9.1', 65003, 0x0a000901, { addPaths, onMessage: (m) => {
    if (m[18] !== 2) return;
    held += addPaths ? countIpv4AddPath(m) : countIpv4(m);
    if (held === want) done?.();
  } });
  const testers = await Promise.all(cfgPeers.slice(0, peers).map((c, i) => openRawPeer(port, c.address, c.asn, 0x0a000a00 + i + 1, { addPaths })));
  while (!sp.status().every((s) => s.state === 'Established')) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const cpuS: number[] = [];
  /** Minor page faults per phase: fresh memory the process touched (costly on some VMs: count it). */
  const faults: number[] = [];
  const phase = async (bufs: Uint8Array[][], target: number): Promise<number> => {
    want = target;
    const finished = new Promise<void>((r) => { done = r; });
    const prof = process.env['MICRO_PROF'] ? new Session() : undefined;
    if (prof) { prof.connect(); await prof.post('Profiler.enable'); await prof.post('Profiler.setSamplingInterval', { interval: 100 }); await prof.post('Profiler.start'); }
    if (process.env['MICRO_WINDOWS']) console.error(`start ${target === 0 ? 'withdraw' : 'announce'} ${round}`);
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const pf0 = process.resourceUsage().minorPageFault;
    const elu0 = performance.eventLoopUtilization();
    testers.forEach((s, i) => { for (const b of bufs[i]!) s.write(b); }); // encoded beforehand: no copy in the timed phase
    await finished;
    const t1 = process.hrtime.bigint();
    const dt = Number(t1 - t0) / 1e9;
    if (process.env['MICRO_WINDOWS']) console.error(`window ${target === 0 ? 'withdraw' : 'announce'} ${round} ${t0 / 1000n} ${t1 / 1000n}`);
    const cpu = process.cpuUsage(cpu0);
    cpuS.push((cpu.user + cpu.system) / 1e6);
    faults.push(process.resourceUsage().minorPageFault - pf0);
    if (prof) {
      const { profile } = await prof.post('Profiler.stop');
      const file = `${process.env['MICRO_PROF']}-${target === 0 ? 'withdraw' : 'announce'}${round > 0 ? `-warm${round}` : ''}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      prof.disconnect();
      console.error(`profile of this phase: ${file}`);
    }
    const elu = performance.eventLoopUtilization(elu0);
    if (process.env['MICRO_ELU']) console.error(`event loop utilization ${(elu.utilization * 100).toFixed(0)} %`);
    return dt;
  };
  // MICRO_WARM=N: N more announce + withdraw rounds after the measured (cold) one, printed as
  // warmAnnounceS/warmWithdrawS (the same process: JIT-compiled code, tables and heap already grown).
  let round = 0;
  const a = await phase(ann, peers * routes);
  // MICRO_LIVE=1 with --expose-gc: what the speaker (and this process's pre-encoded messages) keeps alive while holding every route.
  const gc = process.env['MICRO_LIVE'] === '1' ? (globalThis as { gc?: () => void }).gc : undefined;
  let liveMB: number | undefined;
  if (gc) { gc(); liveMB = Math.round(process.memoryUsage().heapUsed / 1e6); }
  if (process.env['MICRO_SNAPSHOT']) console.error(`heap snapshot: ${writeHeapSnapshot(process.env['MICRO_SNAPSHOT'])}`);
  const w = await phase(wd, 0);
  const warm: Array<[number, number]> = [];
  for (round = 1; round <= Number(process.env['MICRO_WARM'] ?? 0); round++) warm.push([await phase(ann, peers * routes), await phase(wd, 0)]);
  const mu = process.memoryUsage();
  console.log(JSON.stringify({ peers, routes, announceS: a, withdrawS: w, announceCpuS: cpuS[0], withdrawCpuS: cpuS[1], announceFaults: faults[0], withdrawFaults: faults[1], ...(warmed ? { warmUpCpuMs: warmed.cpuMs, warmUpWallMs: warmed.wallMs } : {}), ...(warm.length ? { warmAnnounceS: warm.map((x) => x[0]), warmWithdrawS: warm.map((x) => x[1]) } : {}), rssMB: Math.round(mu.rss / 1e6), heapMB: Math.round(mu.heapTotal / 1e6), heapUsedMB: Math.round(mu.heapUsed / 1e6), externalMB: Math.round(mu.external / 1e6), arrayBuffersMB: Math.round(mu.arrayBuffers / 1e6), ...(liveMB !== undefined ? { liveMBAtPeak: liveMB } : {}) }));
  for (const s of [...testers, mon]) s.destroy();
  await sp.stop();
  process.exit(0);
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });

