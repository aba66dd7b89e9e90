/**
 * BFD under load (issue goal: 100 ms x 3 sessions, zero false Down while 1M routes are announced
 * and withdrawn on another peer and while `show route` runs at 1M routes).
 *
 *   ns B: BIRD 2 protocol bfd, 3 neighbors, 100 ms x 3 ── veth ── ns T: tortie-bgpd (as shipped)
 *   ns I: injector (bench/bgp), 1 session, N /24s        ── veth ──┘   3 BFD peers + the injector peer
 *
 * Phases: announce N, `show route count` and `show route` (the whole table as JSON over the
 * control socket), withdraw N. Throughout, BIRD's own view (`birdc show bfd sessions`) is sampled
 * every 20 ms: any sample not Up is a false Down. Tortie's side: the sessions' `since` must not
 * move. Usage: node dist/bench/bfd/bfd-load.js [--routes 1000000] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchLab, cleanupAllLabsSync, hasCommand, tryRun } from '../lib/lab.js';
import { waitFor } from '../lib/deadline.js';
import { parseFlags } from '../bgp/flags.js';
import { shebangNodeArgs } from '../bgp/targets.js';
import { sampleTree } from '../lib/proc-stats.js';
import type { BfdSessionView } from '../../bgp/bfd/engine.js';
import { responseReader } from '../../bgp/bgpd/ctl-protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const BGPD = join(here, '../../bgp/bgpd/tortie-bgpd.cjs');
const INJECTOR = join(here, '../bgp/injector-main.js');
const PAIRS = [['10.0.0.1', '10.0.0.2'], ['10.0.0.3', '10.0.0.5'], ['10.0.0.4', '10.0.0.6']] as const;

const flags = parseFlags(process.argv.slice(2), ['routes', 'json']);
const ROUTES = Number(flags['routes']?.[0] ?? '1000000');

/** One control request; a long list arrives as several lines marked `more` (bgp/bgpd/ctl-protocol.ts): counted, joined. */
function ctl(path: string, req: Record<string, unknown>): Promise<{ data: unknown; ms: number; bytes: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let bytes = 0;
    const read = responseReader();
    s.setEncoding('utf8');
    s.on('error', reject);
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      bytes += Buffer.byteLength(d);
      const r = read(d);
      if (r === undefined) return;
      s.end();
      if ('error' in r) reject(new Error(r.error)); else resolve({ data: r.data, ms: performance.now() - t0, bytes });
    });
  });
}

const s2 = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(2);

interface Sampler {
  samples: number;
  notUp: Array<{ at: number; rows: string }>;
  /** BIRD's Since column per session: a change is a state change, even one shorter than a sample. */
  readonly since: Map<string, Set<string>>;
  stop(): Promise<void>;
}

function sampleBird(ns: string, birdCtl: string, t0: number): Sampler {
  const s: Sampler = { samples: 0, notUp: [], since: new Map(), stop: async () => undefined };
  let running = true;
  const loop = (async () => {
    while (running) {
      const out = tryRun('ip', ['netns', 'exec', ns, 'birdc', '-s', birdCtl, 'show', 'bfd', 'sessions']).out;
      const rows = out.split('\n').filter((l) => /^10\.0\.0\./.test(l));
      s.samples++;
      for (const r of rows) {
        const [addr = '', , , since = ''] = r.trim().split(/\s+/);
        const set = s.since.get(addr) ?? new Set<string>();
        set.add(since);
        s.since.set(addr, set);
      }
      if (rows.length !== 3 || rows.some((r) => !/\sUp\s/.test(r))) s.notUp.push({ at: Math.round(performance.now() - t0), rows: rows.join(' | ') });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  s.stop = async () => { running = false; await loop; };
  return s;
}

async function main(): Promise<void> {
  for (const c of ['bird', 'birdc']) if (!hasCommand(c)) throw new Error(`${c} is not installed`);
  const lab = new BenchLab('bfd');
  process.on('SIGINT', () => { cleanupAllLabsSync(); process.exit(130); });
  try {
    const nsB = lab.ns('b'), nsT = lab.ns('t'), nsI = lab.ns('i');
    lab.veth(nsB, 'veB', PAIRS.map(([b]) => `${b}/24`), nsT, 'veT', PAIRS.map(([, t]) => `${t}/24`));
    lab.veth(nsI, 'veI', ['10.0.1.1/24'], nsT, 'veTI', ['10.0.1.2/24']);
    const birdCtl = join(lab.dir, 'bird.ctl');
    const birdConf = lab.file('bird.conf', `router id 10.0.0.1;
protocol device {}
protocol bfd {
  interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
${PAIRS.map(([b, t]) => `  neighbor ${t} dev "veB" local ${b};`).join('\n')}
}
`);
    // BIRD at the priority of our BFD thread (nice -10): on a loaded machine a starved peer's
    // silence would otherwise be counted against us.
    lab.spawn('bird', nsB, 'nice', ['-n', '-10', 'bird', '-f', '-c', birdConf, '-s', birdCtl]);
    const ctlPath = join(lab.dir, 'bgpd.ctl');
    const conf = lab.file('bgpd.yaml', `routerId: 10.0.0.2
asn: 65002
peers:
${PAIRS.map(([b, t], i) => `  - { name: b${i + 1}, address: ${b}, localAddress: ${t}, asn: 65001, passive: true, bfd: { minRx: 100, minTx: 100, multiplier: 3 } }`).join('\n')}
  - { name: inj, address: 10.0.1.1, asn: 65010, passive: true, holdTime: 240 }
`);
    const bgpd = lab.spawn('tortie-bgpd', nsT, process.execPath, [...shebangNodeArgs(BGPD), BGPD, '-c', conf, '--ctl', ctlPath]);
    const sessions = async () => (await ctl(ctlPath, { cmd: 'show-bfd-sessions' })).data as BfdSessionView[];
    const up = await waitFor('3 BFD sessions Up on both sides', 30_000, async () => {
      if (bgpd.exited) throw new Error(bgpd.exitReason());
      const s = await sessions();
      const bird = tryRun('ip', ['netns', 'exec', nsB, 'birdc', '-s', birdCtl, 'show', 'bfd', 'sessions']).out;
      return s.length === 3 && s.every((x) => x.state === 'Up') && (bird.match(/\sUp\s/g) ?? []).length === 3 ? s : undefined;
    });
    const first24 = 11 << 16;
    const inj = lab.spawn('injector', nsI, process.execPath, [INJECTOR, '--hold', '240', '--session', `10.0.1.1,65010,${first24},${ROUTES},10.0.1.2:179`]);
    let established = 0;
    const sent = new Map<string, () => void>();
    inj.onLine((line) => {
      try {
        const e = JSON.parse(line) as { ev: string; sessions?: number; what?: string };
        if (e.ev === 'established') established = e.sessions ?? 0;
        if (e.ev === 'sent' && e.what !== undefined) sent.get(e.what)?.();
      } catch { /* not an event */ }
    });
    await waitFor('injector session Established', 30_000, () => (established === 1 ? true : undefined), { describe: () => inj.output.slice(-300) });
    const received = async () => ((await ctl(ctlPath, { cmd: 'show-protocols', name: 'inj' })).data as Array<{ prefixes: { received: number } }>)[0]?.prefixes.received ?? -1;

    const t0 = performance.now();
    const sampler = sampleBird(nsB, birdCtl, t0);
    const phases: Record<string, number> = {};
    const timed = async (name: string, fn: () => Promise<unknown>) => { const a = performance.now(); await fn(); phases[name] = Math.round(performance.now() - a); };
    await timed('announce', async () => {
      await new Promise<void>((r) => { sent.set('announce', r); inj.send('{"cmd":"announce"}'); });
      await waitFor(`${ROUTES} routes at tortie`, 600_000, async () => ((await received()) === ROUTES ? true : undefined), { intervalMs: 200 });
    });
    let countMs = 0, routeMs = 0, routeBytes = 0;
    await timed('show route count', async () => { countMs = (await ctl(ctlPath, { cmd: 'show-route-count' })).ms; });
    await timed('show route', async () => { const r = await ctl(ctlPath, { cmd: 'show-route' }); routeMs = r.ms; routeBytes = r.bytes; });
    await timed('withdraw', async () => {
      await new Promise<void>((r) => { sent.set('withdraw', r); inj.send('{"cmd":"withdraw"}'); });
      await waitFor('all routes withdrawn at tortie', 600_000, async () => ((await received()) === 0 ? true : undefined), { intervalMs: 200 });
    });
    const peakRssMb = sampleTree(bgpd.pid).peakRssBytes / 2 ** 20;
    await sampler.stop();
    const after = await sessions();
    const moved = after.filter((s) => s.state !== 'Up' || s.since !== up.find((u) => u.id === s.id)?.since).map((s) => s.id);
    const result = {
      routes: ROUTES, bfd: '100 ms x 3, 3 sessions (BIRD 2)', phasesMs: phases, showRouteCountMs: Math.round(countMs),
      showRouteMs: Math.round(routeMs), showRouteBytes: routeBytes, peakRssMb: Math.round(peakRssMb),
      birdSamples: sampler.samples, birdSamplesNotUp: sampler.notUp.length, firstNotUp: sampler.notUp.slice(0, 5),
      birdStateChanges: [...sampler.since.values()].reduce((n, set) => n + set.size - 1, 0),
      tortieSessionsThatMoved: moved,
      // The daemon's own log of state changes after the sessions first came Up (last 64 KiB of its stderr).
      tortieStateChanges: bgpd.output.split('\n').filter((l) => l.includes('BFD session state'))
        .map((l) => { try { const j = JSON.parse(l) as { peer: string; from: string; to: string; diag: string; time: number }; return `${j.peer} ${j.from}->${j.to} (${j.diag})`; } catch { return l.slice(0, 120); } })
        .filter((l) => !/Down->Init|Init->Up|Down->Up/.test(l) || moved.length > 0),
      machine: tryRun('uptime', []).out.trim(),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\n| routes | announce s | show route count s | show route s | withdraw s | BIRD samples (not Up) | BIRD state changes | Tortie sessions that moved |\n|---|---|---|---|---|---|---|---|\n`
      + `| ${ROUTES} | ${s2(phases['announce'])} | ${s2(countMs)} | ${s2(routeMs)} | ${s2(phases['withdraw'])} | ${sampler.samples} (${sampler.notUp.length}) | ${result.birdStateChanges} | ${moved.length} |\n`);
    const json = flags['json']?.[0];
    if (json !== undefined) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await lab.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bfd-load: ${err instanceof Error ? err.message : String(err)}\n`);
  cleanupAllLabsSync();
  process.exit(1);
});
