/**
 * Process entry of the injector: `node dist/bench/bgp/injector-main.js
 * --session LOCAL,ASN,FIRST24,COUNT,TARGET:PORT [--session ...] [--hold 90]`.
 * Commands on stdin (JSON lines): {"cmd":"announce"} | {"cmd":"withdraw"} | {"cmd":"status"};
 * events on stdout (JSON lines).
 */
import { createInterface } from 'node:readline';
import { Injector, type InjectorEvent, type InjectorSessionSpec } from './injector.js';
import { hostPort, parseFlags } from './flags.js';

function parseSession(s: string): InjectorSessionSpec {
  const [local, asn, first24, count, target] = s.split(',');
  const n = [asn, first24, count].map(Number);
  if (local === undefined || target === undefined || n.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new Error(`--session ${s}: expected LOCAL,ASN,FIRST24,COUNT,TARGET:PORT`);
  }
  const [host, port] = hostPort(target, 'session');
  return { local, asn: n[0]!, first24: n[1]!, count: n[2]!, target: { host, port } };
}

function main(): void {
  const emit = (e: InjectorEvent): void => { process.stdout.write(JSON.stringify(e) + '\n'); };
  let inj: Injector;
  try {
    const flags = parseFlags(process.argv.slice(2), ['session', 'hold']);
    const specs = (flags['session'] ?? []).map(parseSession);
    if (specs.length === 0) throw new Error('at least one --session is needed');
    inj = new Injector(specs, Number(flags['hold']?.[0] ?? '90'), emit);
  } catch (err) {
    process.stderr.write(`injector: ${(err as Error).message}\n`);
    process.exit(2);
  }
  inj.start();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let c: { cmd?: unknown };
    try { c = JSON.parse(line) as { cmd?: unknown }; } catch { emit({ ev: 'error', message: `stdin: not JSON: ${line.slice(0, 80)}` }); return; }
    if (c.cmd === 'announce' || c.cmd === 'withdraw') void inj.send(c.cmd);
    else if (c.cmd === 'status') emit(inj.status());
    else emit({ ev: 'error', message: `stdin: unknown command ${line.slice(0, 80)}` });
  });
  rl.on('close', () => { inj.close(); process.exit(0); });
  process.on('SIGTERM', () => { inj.close(); process.exit(0); });
}

main();
