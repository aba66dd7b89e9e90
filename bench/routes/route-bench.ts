/**
 * Route programming benchmark: RouteTable (over RtNetlink) versus `ip -batch`, same routes, same
 * run, each into an empty namespace. Workload-style routes `10.x.y.z/32 dev b0 scope link proto 80`.
 * Also times a full resync that finds nothing to change (wall and the agent's CPU time; the
 * steady-state one, after a first resync has taken in what the add wrote). Prints a table and a
 * JSON line; `--json FILE` also writes the JSON there (bench/results/).
 *
 * Each size is measured `--repeat` times (default 3), ours and ip -batch alternating, and the
 * median of each is reported: the machine is shared, so single runs are noisy. Two untimed 10k
 * cycles warm the agent's JIT first (it is a long-running daemon).
 *
 *   npm run -s build; node dist/bench/routes/route-bench.js [10000 100000] [--repeat 3] [--json FILE]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsAgent } from '../../test/felix/routes/ns-agent-client.js';

const repeatArg = process.argv.indexOf('--repeat');
const repeat = repeatArg > 0 ? Math.max(1, Number(process.argv[repeatArg + 1]) || 1) : 3;
const jsonArg = process.argv.indexOf('--json');
const jsonFile = jsonArg > 0 ? process.argv[jsonArg + 1] : undefined;
const counts = process.argv.slice(2).filter((a, i, all) => !['--repeat', '--json'].includes(a) && !['--repeat', '--json'].includes(all[i - 1] ?? ''))
  .map(Number).filter((n) => Number.isInteger(n) && n > 0);
const sizes = counts.length > 0 ? counts : [10_000, 100_000];
const ns = `tt-rbench-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'route-bench-'));
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', maxBuffer: 256 << 20 });

function dst(i: number): string { return `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/32`; }

function timeBatch(lines: string[]): number {
  const f = join(dir, 'batch');
  writeFileSync(f, `${lines.join('\n')}\n`);
  const t0 = performance.now();
  ip('-n', ns, '-batch', f);
  return performance.now() - t0;
}

const countRoutes = (): number => ip('-n', ns, 'route', 'show', 'proto', '80').split('\n').filter(Boolean).length;

interface Row { routes: number; tortieAddMs: number; ipBatchAddMs: number; addRatio: number; tortieDelMs: number;
  ipBatchDelMs: number; delRatio: number; noopResyncMs: number; noopResyncCpuMs: number }

async function main(): Promise<void> {
  const rows: Row[] = [];
  let agent: NsAgent | undefined;
  try {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b0p');
    ip('-n', ns, 'link', 'set', 'b0', 'up');
    ip('-n', ns, 'link', 'set', 'b0p', 'up');
    agent = new NsAgent(ns);
    // The agent is a long-running process: warm the JIT with one untimed 10k cycle first.
    for (let k = 0; k < 2; k++) {
      await agent.call('routes.bench', { count: 10_000, iface: 'b0' }, 600_000);
      await agent.call('routes.clearBench', {}, 600_000);
    }
    const median = (xs: number[]): number => { const v = [...xs].sort((a, b) => a - b); return v[Math.floor(v.length / 2)] ?? NaN; };
    for (const n of sizes) {
      const names = Array.from({ length: n }, (_, i) => dst(i));
      const m = { ipAdd: [] as number[], ipDel: [] as number[], add: [] as number[], del: [] as number[], resync: [] as number[], resyncCpu: [] as number[] };
      for (let k = 0; k < repeat; k++) {
        // ip -batch into the empty namespace, then ours, same routes.
        m.ipAdd.push(timeBatch(names.map((d) => `route add ${d} dev b0 proto 80 scope link`)));
        if (countRoutes() !== n) throw new Error('ip -batch did not install every route');
        m.ipDel.push(timeBatch(names.map((d) => `route del ${d} dev b0 proto 80`)));
        if (countRoutes() !== 0) throw new Error('ip -batch did not delete every route');

        const add = await agent.call<{ ms: number; failed: number; updated: number }>('routes.bench', { count: n, iface: 'b0' }, 600_000);
        if (add.failed !== 0 || add.updated !== n || countRoutes() !== n) throw new Error(`tortie add: ${JSON.stringify(add)}`);
        // Two no-op resyncs: the first after an add also takes in the entries the add wrote; the
        // second is the steady state (the 90 s refresh, a resync after an error elsewhere).
        let resync = { ms: 0, cpuMs: 0, updated: 0, deleted: 0 };
        for (let j = 0; j < 2; j++) {
          resync = await agent.call<{ ms: number; cpuMs: number; updated: number; deleted: number }>('routes.resync', {}, 600_000);
          if (resync.updated !== 0 || resync.deleted !== 0) throw new Error(`no-op resync wrote: ${JSON.stringify(resync)}`);
        }
        const del = await agent.call<{ ms: number; failed: number; deleted: number }>('routes.clearBench', {}, 600_000);
        if (del.failed !== 0 || del.deleted !== n || countRoutes() !== 0) throw new Error(`tortie delete: ${JSON.stringify(del)}`);
        m.add.push(add.ms); m.del.push(del.ms); m.resync.push(resync.ms); m.resyncCpu.push(resync.cpuMs);
      }
      const r3 = (x: number): number => Math.round(x * 1000) / 1000;
      const [add, ipAdd, del, ipDel] = [median(m.add), median(m.ipAdd), median(m.del), median(m.ipDel)];
      rows.push({ routes: n, tortieAddMs: r3(add), ipBatchAddMs: r3(ipAdd), addRatio: r3(add / ipAdd),
        tortieDelMs: r3(del), ipBatchDelMs: r3(ipDel), delRatio: r3(del / ipDel), noopResyncMs: r3(median(m.resync)),
        noopResyncCpuMs: r3(median(m.resyncCpu)) });
    }
  } finally {
    await agent?.stop();
    try { ip('netns', 'del', ns); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
  const pad = (s: string | number, w: number): string => String(s).padStart(w);
  process.stdout.write(`${['routes', 'tortie add ms', 'ip -batch add ms', 'ratio', 'tortie del ms', 'ip -batch del ms', 'ratio', 'no-op resync ms', 'its CPU ms']
    .map((h, i) => pad(h, i === 0 ? 7 : 16)).join(' ')}\n`);
  for (const r of rows) {
    process.stdout.write(`${[r.routes, r.tortieAddMs.toFixed(0), r.ipBatchAddMs.toFixed(0), r.addRatio.toFixed(2), r.tortieDelMs.toFixed(0),
      r.ipBatchDelMs.toFixed(0), r.delRatio.toFixed(2), r.noopResyncMs.toFixed(0), r.noopResyncCpuMs.toFixed(0)].map((c, i) => pad(c, i === 0 ? 7 : 16)).join(' ')}\n`);
  }
  const json = JSON.stringify({ bench: 'routes', at: new Date().toISOString(), iproute2: ip('-V').trim(), repeat, statistic: 'median',
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number), rows });
  process.stdout.write(`${json}\n`);
  if (jsonFile !== undefined) writeFileSync(jsonFile, `${json}\n`);
}

main().catch((err: unknown) => { process.stderr.write(`route-bench failed: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 1; });
