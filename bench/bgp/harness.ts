/**
 * One benchmark cell: build the lab, start sink, target and tester, wait until every session is
 * Established (tester, target and sink each asked), then T0 → monitor holds P×R → withdrawal →
 * monitor holds 0, sampling the target's CPU seconds and peak RSS; always tear down.
 * Importing this file has no side effects.
 */
import type { Logger } from 'pino';
import { BenchLab } from '../lib/lab.js';
import { nsToS, waitFor } from '../lib/deadline.js';
import { sampleTree } from '../lib/proc-stats.js';
import { MONITOR_AS, MONITOR_ADDR, TARGET_AS, TARGET_MONITOR_SIDE, TARGET_ROUTER_ID, TARGET_TESTER_SIDE, targetAddrFor, testerAddr, type Load } from './plan.js';
import { SinkHandle, type PhaseTimes } from './sink-handle.js';
import { startTarget, type RunningTarget, type TargetName } from './targets.js';
import { startBirdTester, startInjector, type Tester, type TesterKind } from './testers.js';

export type CellTarget = TargetName | 'floor';

export interface CellSpec {
  readonly load: Load;
  readonly target: CellTarget;
  readonly tester: TesterKind;
  readonly rep: number;
  /** Deadline for each of announce and withdraw. */
  readonly phaseTimeoutMs: number;
  /** Deadline for all sessions to be Established. */
  readonly establishTimeoutMs: number;
  /** The cell fails (and the target is stopped) when the target's RSS passes this. */
  readonly maxRssBytes: number;
}

export interface PhaseResult {
  /** T0 → the monitor holds P×R (or 0), seconds. */
  readonly seconds: number;
  readonly firstRouteS: number;
  readonly p50S: number;
  readonly p90S: number;
  readonly updates: number;
  /** Target CPU seconds spent in this phase (undefined for the floor). */
  readonly cpuS: number | undefined;
}

export type CellResult =
  | { readonly ok: true; readonly spec: CellSpec; readonly announce: PhaseResult; readonly withdraw: PhaseResult;
      readonly peakRssBytes: number | undefined; readonly establishS: number;
      /** The target's RSS with every session up, before the first route. */
      readonly readyRssBytes: number | undefined;
      /** tortie-bgpd's own log line for its JIT warm-up ('JIT warm-up done'), when it ran one. */
      readonly warmUp?: { readonly wallMs: number; readonly cpuMs: number } }
  | { readonly ok: false; readonly spec: CellSpec; readonly error: string; readonly phase: string };

export interface HarnessDeps {
  readonly logger: Logger;
  /** Called with the lab as soon as it exists, so a signal handler can clean it. */
  readonly onLab?: (lab: BenchLab) => void;
}

function phase(t0: bigint, t: PhaseTimes, cpuS: number | undefined): PhaseResult {
  return { seconds: nsToS(t.tNs - t0), firstRouteS: nsToS(t.firstNs - t0), p50S: nsToS(t.t50Ns - t0), p90S: nsToS(t.t90Ns - t0), updates: t.updates, cpuS };
}

/**
 * Wait for `p` with a deadline; meanwhile watch the target: fail early if it exits or its RSS
 * passes `maxRssBytes` (a runaway daemon must not take the shared machine down).
 */
async function withDeadline<T>(p: Promise<T>, ms: number, what: string, describe: () => string,
  watch?: { pid: number; maxRssBytes: number; exited: () => boolean }): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms / 1000} s waiting for ${what}; ${describe()}`)), ms);
    if (watch !== undefined) {
      poll = setInterval(() => {
        if (watch.exited()) { rej(new Error(`target exited while waiting for ${what}; ${describe()}`)); return; }
        const rss = sampleTree(watch.pid).rssBytes;
        if (rss > watch.maxRssBytes) rej(new Error(`target RSS ${Math.round(rss / 1e6)} MB passed the ${Math.round(watch.maxRssBytes / 1e6)} MB limit while waiting for ${what}; ${describe()}`));
      }, 250);
    }
  });
  try { return await Promise.race([p, timeout]); } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (poll !== undefined) clearInterval(poll);
  }
}

/** The wall and CPU milliseconds of tortie-bgpd's 'JIT warm-up done' log line (pino JSON on stderr), if any. */
export function warmUpLogged(output: string): { wallMs: number; cpuMs: number } | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"JIT warm-up done"')) continue;
    try {
      const j = JSON.parse(line) as { wallMs?: unknown; cpuMs?: unknown };
      if (typeof j.wallMs === 'number' && typeof j.cpuMs === 'number') return { wallMs: j.wallMs, cpuMs: j.cpuMs };
    } catch { /* a partial line */ }
  }
  return undefined;
}

export async function runCell(spec: CellSpec, deps: HarnessDeps): Promise<CellResult> {
  const { load } = spec;
  const log = deps.logger.child({ load: load.label, target: spec.target, tester: spec.tester, rep: spec.rep });
  const lab = new BenchLab('bgp');
  deps.onLab?.(lab);
  let step = 'topology';
  let target: RunningTarget | undefined;
  let sink: SinkHandle | undefined;
  let tester: Tester | undefined;
  const floor = spec.target === 'floor';
  try {
    const t = lab.ns('t'); const d = lab.ns('d'); const m = lab.ns('m');
    const testerAddrs = Array.from({ length: load.peers }, (_x, i) => `${testerAddr(i)}/24`);
    lab.veth(t, 'eth0', testerAddrs, d, 'eth0', [`${TARGET_TESTER_SIDE}/24`, ...Array.from({ length: load.peers }, (_x, i) => `${targetAddrFor(i)}/24`)]);
    lab.veth(d, 'eth1', [`${TARGET_MONITOR_SIDE}/24`], m, 'eth0', [`${MONITOR_ADDR}/24`]);

    step = 'sink';
    sink = floor ? await SinkHandle.start(lab, d, TARGET_AS, TARGET_ROUTER_ID) : await SinkHandle.start(lab, m, MONITOR_AS, MONITOR_ADDR);
    if (spec.target !== 'floor') {
      step = `target ${spec.target}`;
      target = await startTarget(spec.target, lab, d, load);
    }
    step = `tester ${spec.tester}`;
    tester = spec.tester === 'bird' ? await startBirdTester(lab, t, load) : startInjector(lab, t, load);

    step = 'sessions';
    const wantSink = floor ? load.peers : 1;
    const started = Date.now();
    let last = {};
    const s = sink; const tt = tester; const tg = target;
    await waitFor('every session Established', spec.establishTimeoutMs, async () => {
      if (tg?.proc.exited === true) throw new Error(tg.proc.exitReason());
      const testerUp = await tt.established();
      const targetUp = tg === undefined ? undefined : await tg.established().catch(() => -1);
      last = { tester: `${testerUp}/${load.peers}`, sink: `${s.sessions}/${wantSink}`, ...(tg === undefined ? {} : { target: targetUp === undefined ? 'no CLI' : `${targetUp}/${load.peers + 1}` }) };
      const targetOk = targetUp === undefined || targetUp === load.peers + 1;
      return testerUp === load.peers && s.sessions === wantSink && targetOk ? true : undefined;
    }, { intervalMs: 250, describe: () => last });
    const establishS = (Date.now() - started) / 1000;
    log.info({ establishS, sessions: last }, 'all sessions Established');

    const pid = target?.proc.pid;
    const readyRssBytes = pid === undefined ? undefined : sampleTree(pid).rssBytes;
    const warmUp = target === undefined ? undefined : warmUpLogged(target.proc.output);
    const cpu = (): number | undefined => (pid === undefined ? undefined : sampleTree(pid).cpuSeconds);
    const describe = (): string => `sink holds ${s.count}; target ${tg === undefined ? 'none' : tg.proc.exited ? tg.proc.exitReason() : 'alive'}`;
    const total = load.peers * load.routes;

    step = 'announce';
    const cpu0 = cpu();
    const full = sink.arm('full', total);
    const t0 = await tester.announce();
    const watch = pid === undefined || tg === undefined ? undefined : { pid, maxRssBytes: spec.maxRssBytes, exited: () => tg.proc.exited };
    const tFull = await withDeadline(full, spec.phaseTimeoutMs, `the monitor to hold ${total} routes`, describe, watch);
    const cpu1 = cpu();
    const announce = phase(t0, tFull, cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0);
    log.info({ s: announce.seconds, cpuS: announce.cpuS }, 'announce done');

    step = 'withdraw';
    const empty = sink.arm('empty', 0);
    const w0 = await tester.withdraw();
    const tEmpty = await withDeadline(empty, spec.phaseTimeoutMs, 'the monitor to hold 0 routes', describe, watch);
    const cpu2 = cpu();
    const withdraw = phase(w0, tEmpty, cpu2 === undefined || cpu1 === undefined ? undefined : cpu2 - cpu1);
    const peakRssBytes = pid === undefined ? undefined : sampleTree(pid).peakRssBytes;
    log.info({ s: withdraw.seconds, cpuS: withdraw.cpuS, peakRssMB: peakRssBytes === undefined ? undefined : Math.round(peakRssBytes / 1e6) }, 'withdraw done');
    return { ok: true, spec, announce, withdraw, peakRssBytes, establishS, readyRssBytes, ...(warmUp ? { warmUp } : {}) };
  } catch (err) {
    const msg = (err as Error).message;
    const procs = [target?.proc, tester?.proc, sink?.proc].filter((p) => p?.exited === true).map((p) => p?.exitReason());
    const error = [msg, ...procs].join(' | ').slice(0, 1500);
    log.warn({ step, error }, 'cell failed');
    return { ok: false, spec, error, phase: step };
  } finally {
    await lab.cleanup();
  }
}
