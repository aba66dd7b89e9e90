#!/usr/bin/env node
/**
 * tortie-bgpctl: talk to tortie-bgpd's control socket.
 *   tortie-bgpctl [-s PATH] [-o json] show protocols [all] [NAME] | show route [all] [filtered] [PREFIX]
 *   | show route [all] for ADDR | show route [all] export PEER [PREFIX] | show route count | show status
 *   | show bfd sessions [all] | reload | enable|disable|restart|refresh PEER
 * Route lists arrive in batches (ctl-protocol.ts) and are printed as they come, JSON too (an array
 * written item by item): a million routes never sit in this process at once.
 */
import { Command } from 'commander';
import { createConnection } from 'node:net';
import { DEFAULT_CTL_PATH, type CtlRequest, type CtlResponse } from './ctl-protocol.js';
import { formatBfdSessions, formatProtocols, formatRouteCount, RouteFormatter } from './format.js';
import type { BfdSessionView } from '../bfd/engine.js';
import type { PeerStatus, RouteCount, RouteView } from '../speaker/speaker.js';

const program = new Command('tortie-bgpctl')
  .option('-s, --socket <path>', 'control socket', DEFAULT_CTL_PATH)
  .option('-o, --output <format>', 'text or json', 'text')
  .argument('<words...>', 'command')
  .parse();
const opts = program.opts<{ socket: string; output: string }>();
const words = program.args;

function fail(msg: string): never {
  process.stderr.write(`tortie-bgpctl: ${msg}\n`);
  process.exit(1);
}

function toRequest(w: readonly string[]): { req: CtlRequest; all: boolean } {
  const [a, b, ...rest] = w;
  if (a === 'show' && (b === 'protocols' || b === 'protocol')) {
    const all = rest[0] === 'all';
    const name = all ? rest[1] : rest[0];
    return { req: name !== undefined ? { cmd: 'show-protocols', name } : { cmd: 'show-protocols' }, all };
  }
  if (a === 'show' && b === 'route') {
    if (rest[0] === 'count') return { req: { cmd: 'show-route-count' }, all: false };
    const all = rest.includes('all');
    const filtered = rest.includes('filtered');
    const words = rest.filter((x) => x !== 'all' && x !== 'filtered');
    if (words[0] === 'for') {
      if (words[1] === undefined) fail('show route for: which address?');
      return { req: { cmd: 'show-route', for: words[1] }, all };
    }
    if (words[0] === 'export') {
      if (words[1] === undefined) fail('show route export: which peer?');
      return { req: { cmd: 'show-route', export: words[1], ...(words[2] !== undefined ? { prefix: words[2] } : {}) }, all };
    }
    const prefix = words[0];
    return { req: { cmd: 'show-route', ...(prefix !== undefined ? { prefix } : {}), ...(filtered ? { filtered: true } : {}) }, all };
  }
  if (a === 'show' && b === 'status') return { req: { cmd: 'show-status' }, all: false };
  if (a === 'show' && b === 'bfd' && (rest[0] === 'sessions' || rest[0] === 'session')) return { req: { cmd: 'show-bfd-sessions' }, all: rest[1] === 'all' };
  if (a === 'reload' || a === 'configure') return { req: { cmd: 'reload' }, all: false };
  if ((a === 'enable' || a === 'disable' || a === 'restart' || a === 'refresh') && b !== undefined) return { req: { cmd: a, name: b }, all: false };
  fail(`unknown command "${w.join(' ')}" (try: show protocols [all] [NAME], show route [all] [filtered] [PREFIX], show route [all] for ADDR, show route [all] export PEER, show route count, show status, show bfd sessions [all], reload, enable|disable|restart|refresh PEER)`);
}

const { req, all } = toRequest(words);
const sock = createConnection(opts.socket);
const json = opts.output === 'json';
let buf = '';
/** Items of a streamed list printed so far (JSON: the array is open). */
let streamed = 0;
const routes = new RouteFormatter(all, req.cmd === 'show-route' && req.filtered === true);
sock.setEncoding('utf8');
sock.on('error', (err) => fail(`cannot reach tortie-bgpd at ${opts.socket}: ${err.message}`));
sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
sock.on('data', (d: string) => {
  buf += d;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const resp = JSON.parse(line) as CtlResponse;
    if (!resp.ok) { if (json && streamed > 0) process.stdout.write('\n]\n'); fail(resp.error); }
    if (req.cmd === 'show-route') { printRoutes(resp.data as RouteView[], resp.more === true); if (resp.more === true) continue; }
    else print(resp.data);
    sock.end();
    return;
  }
  // back-pressure on a slow terminal or pipe: stop reading until stdout has taken what we wrote
  if (process.stdout.writableNeedDrain) { sock.pause(); process.stdout.once('drain', () => sock.resume()); }
});

function printRoutes(batch: readonly RouteView[], more: boolean): void {
  let out = '';
  if (json) {
    for (const r of batch) out += `${streamed++ === 0 ? '[\n' : ',\n'}${JSON.stringify(r, null, 2).replace(/^/gm, '  ')}`;
    if (!more) out += streamed === 0 ? '[]\n' : '\n]\n';
  } else {
    const lines = routes.lines(batch);
    if (lines.length > 0) out = `${lines.join('\n')}\n`;
  }
  if (out !== '') process.stdout.write(out);
}

function print(data: unknown): void {
  if (json) { process.stdout.write(`${JSON.stringify(data, null, 2)}\n`); return; }
  let text: string;
  switch (req.cmd) {
    case 'show-protocols': text = formatProtocols(data as PeerStatus[], all); break;
    case 'show-route-count': text = formatRouteCount(data as RouteCount); break;
    case 'show-bfd-sessions': text = formatBfdSessions(data as BfdSessionView[], all); break;
    case 'show-status': {
      const st = data as { routerId: string; asn: number; ready: boolean; reason: string };
      text = `Router ID is ${st.routerId}\nLocal AS ${st.asn}\nBGP ${st.ready ? 'ready' : 'not ready'}: ${st.reason}`;
      break;
    }
    default: text = typeof data === 'string' ? data : JSON.stringify(data);
  }
  process.stdout.write(`${text}\n`);
}
