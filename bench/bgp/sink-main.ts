/**
 * Process entry of the sink: `node dist/bench/bgp/sink-main.js --asn 65003 --router-id 10.99.2.2
 * [--listen 0.0.0.0:179] [--connect 10.99.2.1:179] [--hold 90]`.
 * Events are JSON lines on stdout; commands are JSON lines on stdin:
 * {"cmd":"expect","n":N} | {"cmd":"expect-empty"} | {"cmd":"status"}.
 */
import { createInterface } from 'node:readline';
import { RouteSink, type SinkEvent } from './sink.js';
import { parseFlags, hostPort } from './flags.js';

function main(): void {
  const emit = (e: SinkEvent): void => { process.stdout.write(JSON.stringify(e) + '\n'); };
  let flags: Record<string, string[]>;
  try { flags = parseFlags(process.argv.slice(2), ['asn', 'router-id', 'listen', 'connect', 'hold', 'local']); }
  catch (err) { process.stderr.write(`sink: ${(err as Error).message}\n`); process.exit(2); }
  const asn = Number(flags['asn']?.[0] ?? '65003');
  const sink = new RouteSink({ asn, routerId: flags['router-id']?.[0] ?? '10.99.2.2', holdTime: Number(flags['hold']?.[0] ?? '90'), emit });
  for (const l of flags['listen'] ?? []) {
    const [h, p] = hostPort(l, 'listen');
    sink.listen(h, p).catch((err: Error) => { emit({ ev: 'error', message: `listen ${l}: ${err.message}` }); process.exit(1); });
  }
  for (const c of flags['connect'] ?? []) {
    const [h, p] = hostPort(c, 'connect');
    sink.connectTo(h, p, flags['local']?.[0]);
  }
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let cmd: unknown;
    try { cmd = JSON.parse(line); } catch { emit({ ev: 'error', message: `stdin: not JSON: ${line.slice(0, 80)}` }); return; }
    const c = cmd as { cmd?: unknown; n?: unknown };
    if (c.cmd === 'expect' && typeof c.n === 'number') sink.expectFull(c.n);
    else if (c.cmd === 'expect-empty') sink.expectEmpty();
    else if (c.cmd === 'status') emit(sink.status());
    else emit({ ev: 'error', message: `stdin: unknown command ${line.slice(0, 80)}` });
  });
  rl.on('close', () => { sink.close(); process.exit(0); });
  process.on('SIGTERM', () => { sink.close(); process.exit(0); });
}

main();
