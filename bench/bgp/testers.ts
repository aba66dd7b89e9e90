/**
 * The two tester kinds. Both announce tester i's R /24s from 10.99.1.(10+i), AS 65101+i, to
 * 10.99.1.1 (the target or, in floor mode, the sink), and both start at an explicit T0.
 *
 * - bird: one BIRD process, per peer a table, a disabled static protocol preloaded with its
 *   routes and a BGP protocol exporting that table; T0 = `birdc enable "s*"`, withdrawal =
 *   `disable "s*"` (bgperf's method with one process instead of P containers).
 * - injector: bench/bgp/injector-main.js, pre-encoded UPDATEs written at T0.
 */
import { benchAddPaths } from './bgp-bytes.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import type { BenchLab, LabProcess } from '../lib/lab.js';
import { monoNs, waitFor } from '../lib/deadline.js';
import { slash24ToString } from './bgp-bytes.js';
import { TARGET_AS, targetAddrFor, testerAddr, testerAs, testerFirst24, type Load } from './plan.js';
import type { InjectorEvent } from './injector.js';

export type TesterKind = 'bird' | 'injector';

export interface Tester {
  readonly kind: TesterKind;
  /** Sessions Established now, and a description for timeouts. */
  established(): Promise<number>;
  /** Send everything; resolves with T0 (CLOCK_MONOTONIC ns). */
  announce(): Promise<bigint>;
  withdraw(): Promise<bigint>;
  readonly proc: LabProcess;
}

const here = dirname(fileURLToPath(import.meta.url));

export function birdTesterConfig(load: Load, logPath: string): string {
  const lines: string[] = [
    `router id ${testerAddr(0)};`,
    `log "${logPath}" { warning, error, fatal, bug };`,
    'protocol device { scan time 60; }',
  ];
  for (let i = 0; i < load.peers; i++) {
    lines.push(`ipv4 table tt${i};`);
    lines.push(`protocol static s${i} {`, '  disabled;', `  ipv4 { table tt${i}; };`);
    const first = testerFirst24(load, i);
    for (let j = 0; j < load.routes; j++) lines.push(`  route ${slash24ToString(first + j)} blackhole;`);
    lines.push('}');
    lines.push(`protocol bgp p${i} {`,
      `  local ${testerAddr(i)} as ${testerAs(i)};`,
      `  neighbor ${targetAddrFor(i)} as ${TARGET_AS};`,
      '  connect delay time 1; connect retry time 1; hold time 240;',
      `  ipv4 { table tt${i}; import none; export all;${benchAddPaths() ? ' add paths on;' : ''} };`,
      '}');
  }
  return lines.join('\n') + '\n';
}

function birdc(lab: BenchLab, ns: string, ctl: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'birdc', '-s', ctl, ...cmd.split(' ')], { encoding: 'utf8', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`birdc ${cmd} in ${lab.tag}: ${err.message} ${stderr}`));
        else resolve(stdout);
      });
  });
}

export function countBirdEstablished(showProtocols: string, protoPrefix: string): number {
  let n = 0;
  for (const line of showProtocols.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0]?.startsWith(protoPrefix) === true && f[1] === 'BGP' && line.includes('Established')) n++;
  }
  return n;
}

export async function startBirdTester(lab: BenchLab, ns: string, load: Load): Promise<Tester> {
  const conf = lab.file('tester-bird.conf', birdTesterConfig(load, join(lab.dir, 'tester-bird.log')));
  const ctl = join(lab.dir, 'tester-bird.ctl');
  const proc = lab.spawn('bird tester', ns, 'bird', ['-f', '-c', conf, '-s', ctl, '-P', join(lab.dir, 'tester-bird.pid')]);
  // A big static config takes a while to parse: wait until the control socket answers.
  await waitFor('BIRD tester control socket', 120_000, async () => {
    if (proc.exited) throw new Error(proc.exitReason());
    return (await birdc(lab, ns, ctl, 'show status')).includes('Daemon is up') ? true : undefined;
  }, { intervalMs: 200 });
  return {
    kind: 'bird', proc,
    established: async () => countBirdEstablished(await birdc(lab, ns, ctl, 'show protocols'), 'p'),
    announce: async () => { const t0 = monoNs(); await birdc(lab, ns, ctl, 'enable "s*"'); return t0; },
    withdraw: async () => { const t0 = monoNs(); await birdc(lab, ns, ctl, 'disable "s*"'); return t0; },
  };
}

export function startInjector(lab: BenchLab, ns: string, load: Load): Tester {
  const args = [join(here, 'injector-main.js'), '--hold', '240'];
  for (let i = 0; i < load.peers; i++) args.push('--session', `${testerAddr(i)},${testerAs(i)},${testerFirst24(load, i)},${load.routes},${targetAddrFor(i)}:179`);
  const proc = lab.spawn('injector', ns, process.execPath, args);
  let sessions = 0;
  const waiting = new Map<'announce' | 'withdraw', (t0: bigint) => void>();
  proc.onLine((line) => {
    let e: InjectorEvent;
    try { e = JSON.parse(line) as InjectorEvent; } catch { proc.output += line + '\n'; return; }
    if (e.ev === 'established' || e.ev === 'closed') sessions = e.sessions;
    else if (e.ev === 'sent') waiting.get(e.what)?.(BigInt(e.t0Ns));
    else if (e.ev === 'error') proc.output += `${e.message}\n`;
  });
  const send = (what: 'announce' | 'withdraw'): Promise<bigint> => new Promise((resolve) => {
    waiting.set(what, resolve);
    proc.send(JSON.stringify({ cmd: what }));
  });
  return {
    kind: 'injector', proc,
    established: () => { if (proc.exited) throw new Error(proc.exitReason()); return Promise.resolve(sessions); },
    announce: () => send('announce'),
    withdraw: () => send('withdraw'),
  };
}
