/**
 * CLI: `node dist/bench/bgp/run.js [--loads 1x100k,10x10k,100x1k,1x1M] [--targets
 * bird,frr,gobgp,tortie] [--tester bird|injector|both] [--reps N] [--json out.json]`.
 * Progress on stderr (pino), the markdown table on stdout, results as JSON under bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../common/logger.js';
import { cleanupAllLabsSync } from '../lib/lab.js';
import { runCell, type CellResult, type CellTarget } from './harness.js';
import { parseLoad, type Load } from './plan.js';
import { markdownTable, summarize } from './report.js';
import { idleTortieRssMB, TARGET_NAMES, targetSkipReason, type TargetName } from './targets.js';
import type { TesterKind } from './testers.js';

/** Loads a target is known to take minutes on (performance.md §1); skipped unless --all-loads. */
const SLOW: Readonly<Record<string, readonly string[]>> = { gobgp: ['100x1k', '1x1M'] };

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = resolve(here, '../../../bench/results');

interface Options {
  loads: string; targets: string; tester: string; reps: string; json?: string; timeout: string;
  gobgpTimeout: string; establishTimeout: string; maxRssMb: string; allLoads?: boolean; floor: boolean; addPaths?: boolean;
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench-bgp')
    .description('bgperf-style BGP propagation benchmark: testers → target → monitor, side by side')
    .option('--loads <list>', 'PEERSxROUTES list', '1x100k,10x10k,100x1k,1x1M')
    .option('--targets <list>', `targets among ${TARGET_NAMES.join(',')}`, 'bird,frr,gobgp,tortie')
    .option('--tester <kind>', 'bird | injector | both', 'both')
    .option('--reps <n>', 'repetitions per cell (median reported)', '1')
    .option('--json <file>', 'results file (default bench/results/bgp-<timestamp>.json)')
    .option('--timeout <s>', 'deadline per phase (announce, withdraw) in seconds', '120')
    .option('--gobgp-timeout <s>', 'deadline per phase for GoBGP', '300')
    .option('--establish-timeout <s>', 'deadline for every session to be Established', '90')
    .option('--max-rss-mb <mb>', 'fail a cell when the target\'s RSS passes this', '4000')
    .option('--all-loads', 'do not skip loads known to take minutes on a target (GoBGP at 100x1k, 1x1M)')
    .option('--no-floor', 'skip the harness floor (testers straight into the sink)')
    .option('--add-paths', 'negotiate ADD-PATH (RFC 7911, send and receive, IPv4 unicast) on every session: injector, target, sink');
  program.parse();
  const o = program.opts<Options>();
  const log = createLogger('bench-bgp');

  let loads: Load[]; let targets: TargetName[]; let testers: TesterKind[]; let reps: number;
  try {
    loads = o.loads.split(',').map(parseLoad);
    targets = o.targets.split(',').map((t) => {
      if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new Error(`--targets: unknown target "${t}" (known: ${TARGET_NAMES.join(', ')})`);
      return t as TargetName;
    });
    testers = o.tester === 'both' ? ['bird', 'injector'] : o.tester === 'bird' || o.tester === 'injector' ? [o.tester] : (() => { throw new Error(`--tester: "${o.tester}" is not bird, injector or both`); })();
    reps = Number(o.reps);
    if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: "${o.reps}" is not a positive integer`);
    if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
    // read by targets.ts and the injector, sink and BIRD tester (child processes inherit it)
    if (o.addPaths === true) process.env['TORTIE_BENCH_ADD_PATHS'] = '1';
  } catch (err) {
    process.stderr.write(`bench-bgp: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }

  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`bench-bgp: ${sig}: cleaning up namespaces and daemons\n`);
    cleanupAllLabsSync();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => cleanupAllLabsSync());

  const notes: string[] = [];
  if (o.addPaths === true) notes.push('ADD-PATH (RFC 7911) send and receive negotiated on every session (a session without it is closed by the injector and the sink)');
  const idleNode = idleNodeRssMB();
  if (idleNode !== undefined) notes.push(`an idle \`node\` (this Node.js, nothing loaded): ${idleNode.toFixed(0)} MB RSS`);
  if (targets.some((t) => t.startsWith('tortie')) && targetSkipReason('tortie') === undefined) {
    for (const warm of [true, false]) {
      const mb = await idleTortieRssMB(warm);
      if (mb !== undefined) notes.push(`an idle tortie-bgpd (no peers${warm ? ', after its JIT warm-up' : ', --no-warmup'}): ${mb.toFixed(0)} MB RSS`);
    }
  }
  const runnable: TargetName[] = [];
  for (const t of targets) {
    const why = targetSkipReason(t);
    if (why === undefined) runnable.push(t);
    else { const n = `${t.startsWith('tortie') ? 'tortie-bgpd' : t}: not runnable: ${why}`; notes.push(n); log.warn(n); }
  }

  const results: CellResult[] = [];
  const started = new Date();
  for (const tester of testers) {
    for (const load of loads) {
      const cells: CellTarget[] = [...(o.floor ? ['floor' as const] : []), ...runnable];
      for (const target of cells) {
        if (!o.allLoads && SLOW[target]?.includes(load.label) === true) {
          const n = `${target} skipped at ${load.label} (known to take minutes, performance.md §1; --all-loads to include)`;
          if (!notes.includes(n)) notes.push(n);
          log.info(n);
          continue;
        }
        for (let rep = 1; rep <= reps; rep++) {
          const timeoutS = Number(target === 'gobgp' ? o.gobgpTimeout : o.timeout);
          log.info({ tester, load: load.label, target, rep }, 'cell start');
          const r = await runCell({ load, target, tester, rep, phaseTimeoutMs: timeoutS * 1000, establishTimeoutMs: Number(o.establishTimeout) * 1000, maxRssBytes: Number(o.maxRssMb) * 1e6 }, { logger: log });
          results.push(r);
          if (!r.ok && target.startsWith('tortie')) {
            const n = `${target}: not runnable at ${tester}/${load.label}: ${r.phase}: ${r.error.slice(0, 300)}`;
            notes.push(n);
          }
          if (!r.ok && target.startsWith('tortie')) break;
        }
      }
    }
  }

  const sums = summarize(results);
  const table = markdownTable(sums, notes);
  const cmd = `node dist/bench/bgp/run.js ${process.argv.slice(2).join(' ')}`.trim();
  process.stdout.write(`## BGP propagation (${started.toISOString()}, ${reps} rep(s); command: \`${cmd}\`)\n\n${table}\n`);
  const file = o.json ?? join(resultsDir, `bgp-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), command: cmd, notes, summary: sums, results }, null, 2));
  process.stderr.write(`bench-bgp: results in ${file}\n`);
}

/** RSS of a `node` process that loads nothing: the floor of any Node.js daemon's memory here. */
function idleNodeRssMB(): number | undefined {
  const r = spawnSync(process.execPath, ['-e', 'setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 200)'], { encoding: 'utf8', timeout: 10_000 });
  const n = Number(r.stdout);
  return r.status === 0 && Number.isFinite(n) && n > 0 ? n / 1e6 : undefined;
}

void main();
