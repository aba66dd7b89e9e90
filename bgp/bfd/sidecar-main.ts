/**
 * tortie-bfd [--socket PATH] [--pid-file PATH] [--grace SECONDS] [--exit-when-idle]
 *            [--single-hop-port N] [--multihop-port N] [--nice N]
 * The BFD engine of tortie-node in a process of its own (sidecar.ts): the second container of the
 * DaemonSet pod, or started by tortie-node itself when nothing serves the socket.
 */
import { unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { createLogger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { BfdSidecar } from './sidecar.js';
import type { EngineOptions } from './engine-protocol.js';

export const DEFAULT_BFD_SOCKET = '/var/run/tortie/bfd.sock';

function parse(argv: readonly string[]): { socket: string; pidFile: string | undefined; graceMs: number; exitWhenIdle: boolean; engine: EngineOptions } {
  let socket = process.env['TORTIE_BFD_SOCKET'] ?? DEFAULT_BFD_SOCKET;
  let pidFile: string | undefined;
  let graceMs = 120_000;
  let exitWhenIdle = false;
  const engine: { singleHopPort?: number; multihopPort?: number; nice?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const num = (min: number, max: number): number => {
      const n = Number(v);
      if (v === undefined || !Number.isInteger(n) || n < min || n > max) throw new Error(`${k} needs an integer ${min}..${max}, got ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    const str = (): string => { if (v === undefined) throw new Error(`${k} needs a value`); i++; return v; };
    if (k === '--socket') socket = str();
    else if (k === '--pid-file') pidFile = str();
    else if (k === '--grace') graceMs = num(0, 86_400) * 1000;
    else if (k === '--exit-when-idle') exitWhenIdle = true;
    else if (k === '--single-hop-port') engine.singleHopPort = num(1, 65535);
    else if (k === '--multihop-port') engine.multihopPort = num(1, 65535);
    else if (k === '--nice') engine.nice = num(-20, 19);
    else throw new Error(`unknown argument ${JSON.stringify(k)} (tortie-bfd [--socket PATH] [--pid-file PATH] [--grace SECONDS] [--exit-when-idle])`);
  }
  return { socket, pidFile, graceMs, exitWhenIdle, engine };
}

async function main(): Promise<void> {
  const log = createLogger('tortie-bfd');
  let a;
  try { a = parse(process.argv.slice(2)); } catch (err) { log.fatal(describeError(err)); process.exitCode = 2; return; }
  const pidFile = a.pidFile;
  const exit = (code: number): void => {
    if (pidFile !== undefined) {
      try { if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile); } catch { /* gone */ }
    }
    log.flush();
    process.exit(code);
  };
  const sidecar = new BfdSidecar({ socketPath: a.socket, graceMs: a.graceMs, exitWhenIdle: a.exitWhenIdle, engine: a.engine, logger: log, exit });
  try {
    await sidecar.start();
  } catch (err) {
    log.fatal({ socket: a.socket }, `tortie-bfd cannot start: ${describeError(err)}`);
    log.flush();
    process.exitCode = 1;
    return;
  }
  if (pidFile !== undefined) writeFileSync(pidFile, `${process.pid}\n`);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => sidecar.stop());
  // A closed log pipe (the agent that started us is gone) must not kill us.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
}

void main();
