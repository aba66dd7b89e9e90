/**
 * The daemons under test, each configured as a transparent eBGP hop: testers (passive side where
 * the daemon allows it) → target → monitor, import all, export all, nothing into the kernel.
 *
 * - bird: BIRD 2, explicit `import all; export all`, no kernel protocol.
 * - frr: bgpd alone (`-Z`, no zebra), `frr defaults datacenter`, `no bgp ebgp-requires-policy`.
 * - gobgp: gobgpd with a TOML config (default policies accept).
 * - tortie: tortie-bgpd quick form (dist/bgp/bgpd/tortie-bgpd.cjs, the shipped bundle), when that file exists.
 * - tortie-cold: the same with --no-warmup (no JIT warm-up at start: bgp/speaker/warm-up.ts).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchLab, LabProcess } from '../lib/lab.js';
import { run } from '../lib/lab.js';
import { sleep, waitFor } from '../lib/deadline.js';
import { sampleTree } from '../lib/proc-stats.js';
import { countBirdEstablished } from './testers.js';
import { benchAddPaths } from './bgp-bytes.js';
import { MONITOR_ADDR, MONITOR_AS, TARGET_AS, TARGET_ROUTER_ID, testerAddr, testerAs, type Load } from './plan.js';

export const TARGET_NAMES = ['bird', 'frr', 'gobgp', 'tortie', 'tortie-cold'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface RunningTarget {
  readonly name: TargetName;
  readonly proc: LabProcess;
  /** Sessions Established as the daemon itself reports them, or undefined if it has no CLI we read. */
  established(): Promise<number | undefined>;
}

const here = dirname(fileURLToPath(import.meta.url));
/** dist/bgp/bgpd/tortie-bgpd.cjs relative to dist/bench/bgp/. */
export const TORTIE_BGPD = resolve(here, '../../bgp/bgpd/tortie-bgpd.cjs');

function execIn(ns: string, cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20_000 },
      (err, stdout, stderr) => { if (err !== null) rej(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`)); else res(stdout); });
  });
}

/** Why a target cannot run on this machine, or undefined. */
export function targetSkipReason(name: TargetName): string | undefined {
  const need: Record<TargetName, string[]> = { bird: ['bird', 'birdc'], frr: ['/usr/lib/frr/bgpd', 'vtysh'], gobgp: ['gobgpd', 'gobgp'], tortie: [], 'tortie-cold': [] };
  for (const c of need[name]) {
    try { run('sh', ['-c', `command -v ${c}`]); } catch { return `${c} is not installed`; }
  }
  if ((name === 'tortie' || name === 'tortie-cold') && !existsSync(TORTIE_BGPD)) return `${TORTIE_BGPD} does not exist (build tortie-bgpd first)`;
  return undefined;
}

export function birdTargetConfig(load: Load, logPath: string): string {
  const l = [
    `router id ${TARGET_ROUTER_ID};`,
    `log "${logPath}" { warning, error, fatal, bug };`,
    'protocol device { scan time 60; }',
    'template bgp tpl {',
    `  local as ${TARGET_AS};`,
    '  connect delay time 1; connect retry time 1; hold time 240;',
    `  ipv4 { import all; export all;${benchAddPaths() ? ' add paths on;' : ''} };`,
    '}',
  ];
  for (let i = 0; i < load.peers; i++) l.push(`protocol bgp t${i} from tpl { neighbor ${testerAddr(i)} as ${testerAs(i)}; passive on; }`);
  l.push(`protocol bgp mon from tpl { neighbor ${MONITOR_ADDR} as ${MONITOR_AS}; }`);
  return l.join('\n') + '\n';
}

export function frrTargetConfig(load: Load): string {
  const l = ['frr defaults datacenter', 'hostname tortie-bench-dut', 'log stdout warnings', '!', `router bgp ${TARGET_AS}`,
    ` bgp router-id ${TARGET_ROUTER_ID}`, ' no bgp ebgp-requires-policy', ' no bgp network import-check',
    ' timers bgp 80 240'];
  for (let i = 0; i < load.peers; i++) {
    l.push(` neighbor ${testerAddr(i)} remote-as ${testerAs(i)}`, ` neighbor ${testerAddr(i)} passive`);
  }
  l.push(` neighbor ${MONITOR_ADDR} remote-as ${MONITOR_AS}`);
  // ADD-PATH runs: FRR always offers receive; send to every neighbour
  if (benchAddPaths()) {
    l.push(' address-family ipv4 unicast');
    for (let i = 0; i < load.peers; i++) l.push(`  neighbor ${testerAddr(i)} addpath-tx-all-paths`);
    l.push(`  neighbor ${MONITOR_ADDR} addpath-tx-all-paths`, ' exit-address-family');
  }
  l.push('!');
  return l.join('\n') + '\n';
}

export function gobgpTargetConfig(load: Load): string {
  const l = ['[global.config]', `  as = ${TARGET_AS}`, `  router-id = "${TARGET_ROUTER_ID}"`, ''];
  const nb = (addr: string, asn: number, passive: boolean): void => {
    l.push('[[neighbors]]', '  [neighbors.config]', `    neighbor-address = "${addr}"`, `    peer-as = ${asn}`,
      '  [neighbors.timers.config]', '    hold-time = 240', '    keepalive-interval = 80');
    if (passive) l.push('  [neighbors.transport.config]', '    passive-mode = true');
    if (benchAddPaths()) l.push('  [neighbors.add-paths.config]', '    receive = true', '    send-max = 8');
    l.push('');
  };
  for (let i = 0; i < load.peers; i++) nb(testerAddr(i), testerAs(i), true);
  nb(MONITOR_ADDR, MONITOR_AS, false);
  return l.join('\n');
}

/**
 * The node flags on tortie-bgpd's interpreter line (`#!/usr/bin/env -S node FLAGS`), so the
 * bench runs the daemon as its executable does.
 */
export function shebangNodeArgs(script: string): string[] {
  let first = '';
  try { first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? ''; } catch { return []; }
  const m = /^#!\/usr\/bin\/env -S node\s+(.*)$/.exec(first);
  return m ? m[1]!.split(/\s+/).filter((a) => a !== '') : [];
}

/**
 * RSS of tortie-bgpd with no peers, 0.5 s after its control socket listens (after the JIT
 * warm-up unless `warmUp` is false): the floor of its memory in every cell. Undefined when it
 * does not start within 15 s.
 */
export async function idleTortieRssMB(warmUp: boolean): Promise<number | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bgpd-idle-'));
  const port = 30000 + (process.pid % 20000);
  const p = spawn(process.execPath, [...shebangNodeArgs(TORTIE_BGPD), TORTIE_BGPD, '--as', String(TARGET_AS), '--router-id', TARGET_ROUTER_ID,
    '--listen', `127.0.0.1:${port}`, '--ctl', join(dir, 'ctl'), ...(warmUp ? [] : ['--no-warmup'])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    await waitFor('idle tortie-bgpd to listen', 15_000, () => (out.includes('control socket listening') ? true : p.exitCode !== null ? false : undefined));
    if (p.exitCode !== null || p.pid === undefined) return undefined;
    await sleep(500);
    return sampleTree(p.pid).rssBytes / 1e6;
  } catch {
    return undefined;
  } finally {
    p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tortieArgs(load: Load, ctlPath: string, warmUp = true): string[] {
  const a = [TORTIE_BGPD, '--as', String(TARGET_AS), '--router-id', TARGET_ROUTER_ID, '--ctl', ctlPath, ...(warmUp ? [] : ['--no-warmup'])];
  const ap = benchAddPaths() ? ',addpaths' : '';
  for (let i = 0; i < load.peers; i++) a.push('--peer', `${testerAddr(i)},as=${testerAs(i)}${ap}`);
  a.push('--peer', `${MONITOR_ADDR},as=${MONITOR_AS}${ap}`);
  return a;
}

function tortieEstablished(ctlPath: string): Promise<number> {
  return new Promise((res, rej) => {
    const sock = createConnection(ctlPath);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); rej(new Error('ctl timeout')); }, 5000);
    sock.on('error', (e) => { clearTimeout(timer); rej(e); });
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer); sock.destroy();
      const r = JSON.parse(buf.slice(0, nl)) as { ok?: boolean; data?: Array<{ state?: string }>; error?: string };
      if (r.ok !== true || !Array.isArray(r.data)) { rej(new Error(`ctl: ${r.error ?? 'bad answer'}`)); return; }
      res(r.data.filter((p) => p.state === 'Established').length);
    });
    sock.write('{"cmd":"show-protocols"}\n');
  });
}

interface FrrSummary { ipv4Unicast?: { peers?: Record<string, { state?: string }> } }
interface GobgpNeighbor { state?: { session_state?: number | string } }

export async function startTarget(name: TargetName, lab: BenchLab, ns: string, load: Load): Promise<RunningTarget> {
  switch (name) {
    case 'bird': {
      const conf = lab.file('target-bird.conf', birdTargetConfig(load, join(lab.dir, 'target-bird.log')));
      const ctl = join(lab.dir, 'target-bird.ctl');
      const proc = lab.spawn('bird target', ns, 'bird', ['-f', '-c', conf, '-s', ctl, '-P', join(lab.dir, 'target-bird.pid')]);
      return {
        name, proc,
        established: async () => countBirdEstablished(await execIn(ns, 'birdc', ['-s', ctl, 'show', 'protocols']), ''),
      };
    }
    case 'frr': {
      const dir = join(lab.dir, 'frr');
      mkdirSync(dir, { recursive: true });
      chmodSync(lab.dir, 0o755);
      const uid = Number(run('id', ['-u', 'frr']).trim()); const gid = Number(run('id', ['-g', 'frr']).trim());
      chownSync(dir, uid, gid);
      const conf = join(dir, 'bgpd.conf');
      lab.file('frr/bgpd.conf', frrTargetConfig(load));
      chownSync(conf, uid, gid);
      const proc = lab.spawn('frr bgpd', ns, '/usr/lib/frr/bgpd', ['-f', conf, '-i', join(dir, 'bgpd.pid'), '-z', join(dir, 'zserv.api'),
        '--vty_socket', dir, '-n', '-Z', '-u', 'frr', '-g', 'frr']);
      return {
        name, proc,
        established: async () => {
          const j = JSON.parse(await execIn(ns, 'vtysh', ['--vty_socket', dir, '-c', 'show bgp summary json'])) as FrrSummary;
          return Object.values(j.ipv4Unicast?.peers ?? {}).filter((p) => p.state === 'Established').length;
        },
      };
    }
    case 'gobgp': {
      const conf = lab.file('gobgp.toml', gobgpTargetConfig(load));
      const proc = lab.spawn('gobgpd', ns, 'gobgpd', ['-f', conf, '--api-hosts=127.0.0.1:50051', '--pprof-disable', '-l', 'warn']);
      return {
        name, proc,
        established: async () => {
          const j = JSON.parse(await execIn(ns, 'gobgp', ['-u', '127.0.0.1', '-p', '50051', 'neighbor', '-j'])) as GobgpNeighbor[];
          return j.filter((n) => n.state?.session_state === 6 || n.state?.session_state === 'established').length;
        },
      };
    }
    case 'tortie':
    case 'tortie-cold': {
      // TORTIE_BENCH_NODE_ARGS: extra node flags for the target, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      const nodeArgs = (process.env['TORTIE_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
      const proc = lab.spawn('tortie-bgpd', ns, process.execPath, [...shebangNodeArgs(TORTIE_BGPD), ...nodeArgs, ...tortieArgs(load, join(lab.dir, 'tortie-bgpd.ctl'), name === 'tortie')]);
      // Give it a moment to fail on arguments before the sessions wait starts.
      await waitFor('tortie-bgpd start', 1500, () => (proc.exited ? true : undefined), { intervalMs: 100 }).catch(() => undefined);
      if (proc.exited) throw new Error(proc.exitReason());
      const ctl = join(lab.dir, 'tortie-bgpd.ctl');
      // Its control socket speaks JSON lines ({"cmd":"show-protocols"}); if it does not answer,
      // the harness relies on the testers' and the sink's view of the sessions.
      return { name, proc, established: () => tortieEstablished(ctl).catch(() => undefined) };
    }
  }
}
