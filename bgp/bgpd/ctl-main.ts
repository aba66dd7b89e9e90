#!/usr/bin/env node
/**
 * tortie-bgpctl: talk to tortie-bgpd's control socket.
 *   tortie-bgpctl [-s PATH] [-o json] show protocols [all] [NAME] | show route [all] [filtered] [PREFIX]
 *   | show route count | show status | show bfd sessions [all] | reload | enable|disable|restart|refresh PEER
 */
import { Command } from 'commander';
import { createConnection } from 'node:net';
import { DEFAULT_CTL_PATH, type CtlRequest, type CtlResponse } from './ctl-protocol.js';
import { formatBfdSessions, formatProtocols, formatRouteCount, formatRoutes, type RouteCount } from './format.js';
import type { BfdSessionView } from '../bfd/engine.js';
import type { PeerStatus, RouteView } from '../speaker/speaker.js';

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
    const prefix = rest.find((x) => x !== 'all' && x !== 'filtered');
    return { req: { cmd: 'show-route', ...(prefix !== undefined ? { prefix } : {}), ...(filtered ? { filtered: true } : {}) }, all };
  }
  if (a === 'show' && b === 'status') return { req: { cmd: 'show-status' }, all: false };
  if (a === 'show' && b === 'bfd' && (rest[0] === 'sessions' || rest[0] === 'session')) return { req: { cmd: 'show-bfd-sessions' }, all: rest[1] === 'all' };
  if (a === 'reload' || a === 'configure') return { req: { cmd: 'reload' }, all: false };
  if ((a === 'enable' || a === 'disable' || a === 'restart' || a === 'refresh') && b !== undefined) return { req: { cmd: a, name: b }, all: false };
  fail(`unknown command "${w.join(' ')}" (try: show protocols [all] [NAME], show route [all] [filtered] [PREFIX], show route count, show status, show bfd sessions [all], reload, enable|disable|restart|refresh PEER)`);
}

const { req, all } = toRequest(words);
const sock = createConnection(opts.socket);
let buf = '';
sock.setEncoding('utf8');
sock.on('error', (err) => fail(`cannot reach tortie-bgpd at ${opts.socket}: ${err.message}`));
sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
sock.on('data', (d: string) => {
  buf += d;
  const nl = buf.indexOf('\n');
  if (nl < 0) return;
  sock.end();
  const resp = JSON.parse(buf.slice(0, nl)) as CtlResponse;
  if (!resp.ok) fail(resp.error);
  if (opts.output === 'json') { process.stdout.write(`${JSON.stringify(resp.data, null, 2)}\n`); return; }
  let text: string;
  switch (req.cmd) {
    case 'show-protocols': text = formatProtocols(resp.data as PeerStatus[], all); break;
    case 'show-route': text = formatRoutes(resp.data as RouteView[], all, req.filtered === true); break;
    case 'show-route-count': text = formatRouteCount(resp.data as RouteCount); break;
    case 'show-bfd-sessions': text = formatBfdSessions(resp.data as BfdSessionView[], all); break;
    case 'show-status': {
      const st = resp.data as { routerId: string; asn: number; ready: boolean; reason: string };
      text = `Router ID is ${st.routerId}\nLocal AS ${st.asn}\nBGP ${st.ready ? 'ready' : 'not ready'}: ${st.reason}`;
      break;
    }
    default: text = typeof resp.data === 'string' ? resp.data : JSON.stringify(resp.data);
  }
  process.stdout.write(`${text}\n`);
});
