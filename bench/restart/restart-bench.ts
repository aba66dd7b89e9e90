/**
 * What a tortie-node restart costs the cluster, on the lab (agent/lab): for each way of
 * restarting (SIGTERM and start as a DaemonSet rolling update does, SIGKILL and start, SIGTERM and
 * an upgraded agent), `--reps` restarts rotating over the nodes, each measured by
 * agent/lab/lab-restart.ts: packets lost between pods on every node pair (ping every 10 ms),
 * routes withdrawn from the ToR's FIB and the other nodes' kernels, and the time from the signal
 * to every node's routes being as before (full re-convergence).
 *
 * With `--bfd` the lab runs BFD (100 ms x 3) on the mesh and towards the ToR, each node's engine
 * in tortie-bfd, which outlives the agent: a kill -9 must lose nothing there either.
 *
 * Run (root): node dist/bench/restart/restart-bench.js [--reps 3] [--nodes 3] [--tor frr|bird] [--bfd] [--modes term,kill,upgrade] [--json FILE]
 * Prints a table; writes JSON to bench/results/restart-<time>.json (or --json FILE).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRestart, restartNode, type RestartMode, type RestartReport } from '../../agent/lab/lab-restart.js';
import type { TorKind } from '../../agent/lab/lab-plan.js';
import { onLab, say } from '../lib/on-lab.js';

interface Args { reps: number; nodes: number; tor: TorKind; bfd: boolean; modes: RestartMode[]; json: string | undefined }

const MODES: readonly RestartMode[] = ['term', 'kill', 'upgrade'];

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { reps: 3, nodes: 3, tor: 'frr', bfd: false, modes: [...MODES], json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    const num = (): number => { const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new Error(`${k} needs a positive integer`); i++; return n; };
    if (k === '--reps') a.reps = num();
    else if (k === '--nodes') a.nodes = num();
    else if (k === '--tor' && (v === 'frr' || v === 'bird')) { a.tor = v; i++; }
    else if (k === '--json' && v !== undefined) { a.json = v; i++; }
    else if (k === '--bfd') a.bfd = true;
    else if (k === '--modes' && v !== undefined) {
      const ms = v.split(',');
      const bad = ms.filter((m) => !(MODES as readonly string[]).includes(m));
      if (bad.length > 0 || ms.length === 0) throw new Error(`--modes: ${bad.join(', ')} is not one of ${MODES.join(', ')}`);
      a.modes = ms as RestartMode[];
      i++;
    } else throw new Error(`unknown argument ${k} (use --reps N --nodes N --tor frr|bird --bfd --modes term,kill,upgrade --json FILE)`);
  }
  return a;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN); };

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  return onLab('restart', 'rb', { nodes: args.nodes, podsPerNode: 1, tor: args.tor, bfd: args.bfd }, 60_000, async (lab) => {
    const modes = args.modes;
    const runs: RestartReport[] = [];
    for (const mode of modes) {
      for (let i = 0; i < args.reps; i++) {
        const node = lab.plan.nodes[i % lab.plan.nodes.length];
        if (node === undefined) throw new Error('no node');
        const r = await restartNode(lab, node, { mode }, say);
        say(formatRestart(r));
        runs.push(r);
      }
    }
    const label: Record<RestartMode, string> = { term: 'SIGTERM, start (rolling update)', kill: 'SIGKILL, start (crash)', upgrade: 'SIGTERM, start a new build (upgrade)' };
    const rows = modes.map((mode) => {
      const rs = runs.filter((r) => r.mode === mode);
      const lost = rs.map((r) => r.lostPackets);
      const gap = rs.map((r) => Math.max(0, ...r.pings.map((p) => p.longestGapMs)));
      const wTor = rs.map((r) => r.withdrawnOnTor);
      const wNodes = rs.map((r) => Object.values(r.withdrawnOnNodes).reduce((a, b) => a + b, 0));
      const conv = rs.map((r) => r.convergedMs);
      // From the new agent serving to every session Established: what the peers make it wait
      // (an idle-hold back-off, a connect retry), apart from the agent's own start-up.
      const back = rs.map((r) => r.sessionsMs - r.servingMs);
      return `| ${label[mode]}${args.bfd ? ", BFD on" : ""} | ${median(lost)} (max ${Math.max(...lost)}) | ${median(gap)} (max ${Math.max(...gap)}) | ${median(wTor)} / ${median(wNodes)} | ${median(back)} (max ${Math.max(...back)}) | ${median(conv)} (max ${Math.max(...conv)}) |`;
    });
    const table = [
      `Restarts of one tortie-node, ${args.reps} per way, rotating over ${args.nodes} nodes (${args.tor} ToR${args.bfd ? ', BFD 100 ms x 3 in tortie-bfd' : ', no BFD'}); pods ping every 10 ms on every node pair; medians (max)`,
      '| restart | lost packets, all pairs | longest outage ms | routes withdrawn: ToR / other nodes | cni.sock served → sessions Established, ms | signal → routes as before, ms |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows,
    ].join('\n');
    process.stdout.write(`${table}\n`);
    const file = args.json ?? fileURLToPath(new URL(`../../../bench/results/restart-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, `${JSON.stringify({ suite: 'restart', date: new Date().toISOString(), nodes: args.nodes, tor: args.tor, bfd: args.bfd, reps: args.reps, runs }, null, 2)}\n`);
    say(`results: ${file}`);
  });
}

process.exitCode = await main();
