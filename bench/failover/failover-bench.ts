/**
 * How long the cluster keeps sending to a dead node, on the lab (agent/lab): for each way of
 * dying (`tortie-lab fail NODE link|freeze|drop`, agent/lab/lab-fail.ts), `--reps` failures
 * rotating over the nodes; each time is from the fault until every other node and the ToR had
 * deleted the node's block routes from their kernel (`ip -ts monitor route`), then `heal`.
 * With BFD (the lab's default, 100 ms x 3) and, `--no-bfd`, with the BGP hold timer alone.
 *
 * Run (root): node dist/bench/failover/failover-bench.js [--reps 20] [--no-bfd] [--modes link,freeze,drop]
 *             [--nodes 3] [--tor frr|bird] [--json FILE]
 * Prints a table (p50/p99/max per way); writes JSON to bench/results/failover-<bfd|nobfd>-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAIL_MODES, measureFailure, type FailMode, type FailReport } from '../../agent/lab/lab-fail.js';
import type { TorKind } from '../../agent/lab/lab-plan.js';
import { onLab, say } from '../lib/on-lab.js';

interface Args { reps: number; nodes: number; tor: TorKind; bfd: boolean; modes: FailMode[]; json: string | undefined }

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { reps: 20, nodes: 3, tor: 'frr', bfd: true, modes: [...FAIL_MODES], json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    const num = (): number => { const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer`); i++; return n; };
    if (k === '--reps') a.reps = num();
    else if (k === '--nodes') a.nodes = num();
    else if (k === '--no-bfd') a.bfd = false;
    else if (k === '--tor' && (v === 'frr' || v === 'bird')) { a.tor = v; i++; }
    else if (k === '--modes' && v !== undefined) {
      a.modes = v.split(',').map((m) => { if (!(FAIL_MODES as readonly string[]).includes(m)) throw new Error(`--modes: ${m} is not one of ${FAIL_MODES.join(',')}`); return m as FailMode; });
      i++;
    } else if (k === '--json' && v !== undefined) { a.json = v; i++; }
    else throw new Error(`unknown argument ${k} (use --reps N --no-bfd --modes link,freeze,drop --nodes N --tor frr|bird --json FILE)`);
  }
  return a;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  return onLab('failover', 'fb', { nodes: args.nodes, podsPerNode: 1, tor: args.tor, bfd: args.bfd }, 60_000, async (lab) => {
    const runs: FailReport[] = [];
    for (const mode of args.modes) {
      for (let i = 0; i < args.reps; i++) {
        const node = lab.plan.nodes[i % lab.plan.nodes.length];
        if (node === undefined) throw new Error('no node');
        // Without BFD: the hold time (90 s on the mesh), then graceful restart keeps the routes stale for its restart time (120 s).
        runs.push(await measureFailure(lab, node, mode, say, args.bfd ? 60_000 : 400_000));
      }
    }
    const label: Record<FailMode, string> = {
      link: 'link cut at the ToR bridge', freeze: 'node frozen (agent and tortie-bfd SIGSTOP)', drop: 'traffic dropped (nft in the node)',
    };
    const rows = args.modes.map((mode) => {
      const t = runs.filter((r) => r.mode === mode).map((r) => r.allWithdrawnMs);
      return `| ${label[mode]} | ${args.bfd ? 'BFD 100 ms x 3' : 'hold timer only'} | ${t.length} | ${percentile(t, 50)} | ${percentile(t, 99)} | ${Math.max(...t)} |`;
    });
    const table = [
      `Node failures, ${args.reps} per way, rotating over ${args.nodes} nodes (${args.tor} ToR): ms from the fault until every other node and the ToR deleted the node's routes`,
      '| way of dying | detection | reps | p50 ms | p99 ms | max ms |',
      '|---|---|---:|---:|---:|---:|',
      ...rows,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    const file = args.json ?? fileURLToPath(new URL(`../../../bench/results/failover-${args.bfd ? 'bfd' : 'nobfd'}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `${JSON.stringify({ suite: 'failover', date: new Date().toISOString(), nodes: args.nodes, tor: args.tor, bfd: args.bfd, reps: args.reps, runs }, null, 2)}\n`);
    say(`results: ${file}`);
  });
}

process.exitCode = await main();
