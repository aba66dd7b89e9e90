/**
 * Unix-socket control server for tortie-bgpd: answers CtlRequests from the speaker's status.
 * Whoever can connect can disable peers, so the socket is 0600 (0660 with a group, like BIRD's
 * `-g group`) whatever the umask: bound under umask 0177 (no moment where others may connect),
 * then chmod/chown to the final mode.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { BgpSpeaker } from '../speaker/speaker.js';
import type { RouteQuery, RouteSink } from '../speaker/route-stream.js';
import { parseRequest, type CtlRequest, type CtlResponse } from './ctl-protocol.js';
import { bgpReadiness } from '../speaker/readiness.js';
import type { BfdSessionView } from '../bfd/engine.js';

export interface CtlHandlers {
  readonly speaker: () => BgpSpeaker;
  /** Re-read the config and apply it; returns the diff summary. */
  readonly reload: () => unknown;
  /** Monotonic ms when the daemon started (readiness threshold). */
  readonly startedAt: number;
  readonly now: () => number;
  /** BFD sessions from the worker (empty when no peer has BFD). */
  readonly bfdSessions?: () => Promise<readonly BfdSessionView[]>;
}

export interface CtlSocketOptions {
  /** Group allowed to use the socket (mode 0660); absent: owner only (0600). */
  readonly group?: number;
}

/** A group name or numeric id → gid (from /etc/group; Node has no getgrnam). */
export function resolveGroup(text: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(text)) return Number(text);
  let lines: string[] = [];
  try { lines = readFileSync(groupFile, 'utf8').split('\n'); } catch { /* reported below */ }
  for (const l of lines) {
    const [name, , gid] = l.split(':');
    if (name === text && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`--ctl-group: no group ${JSON.stringify(text)} in ${groupFile}`);
}

export async function startCtlServer(path: string, h: CtlHandlers, logger: Logger, opts: CtlSocketOptions = {}): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    // Answers go out in request order, also when one of them is asynchronous.
    let queue: Promise<void> = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('error', () => { /* client went away */ });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 65536 && !buf.includes('\n')) {
        sock.end(`${JSON.stringify({ ok: false, error: 'request line longer than 64 KiB' })}\n`);
        buf = '';
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let answer: unknown;
        try { answer = handle(parseRequest(line), h); } catch (err) { answer = Promise.reject(err); }
        if (answer instanceof Streamed) {
          const s = answer;
          queue = queue.then(() => sendStream(sock, s));
          continue;
        }
        const pending = Promise.resolve(answer).then((data): CtlResponse => ({ ok: true, data }), (err: unknown): CtlResponse => ({ ok: false, error: describeError(err) }));
        queue = queue.then(async () => {
          const resp = await pending;
          if (!sock.destroyed) sock.write(`${JSON.stringify(resp)}\n`);
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // listen() binds a Unix socket synchronously: the file is created under this umask.
    const old = process.umask(0o177);
    try {
      server.listen(path, () => { server.off('error', reject); resolve(); });
    } finally { process.umask(old); }
  });
  const mode = opts.group === undefined ? 0o600 : 0o660;
  try {
    if (opts.group !== undefined) chownSync(path, -1, opts.group);
    chmodSync(path, mode);
  } catch (err) {
    server.close();
    throw new Error(`control socket ${path}: cannot set mode ${mode.toString(8)}${opts.group === undefined ? '' : ` and group ${opts.group}`}: ${describeError(err)}`);
  }
  logger.info({ path, mode: mode.toString(8), ...(opts.group !== undefined ? { group: opts.group } : {}) }, 'control socket listening');
  return server;
}

/** A long list answered in several lines (see ctl-protocol.ts), produced when its turn comes. */
class Streamed {
  constructor(readonly run: (sink: RouteSink) => Promise<number>) {}
}

/**
 * Run a Streamed answer: each batch as a `more` line, written when the previous one is
 * taken (socket back-pressure: the socket's buffer is all the server holds), the last batch
 * held back to go without `more`. A client that goes away ends the walk.
 */
async function sendStream(sock: Socket, s: Streamed): Promise<void> {
  let held: readonly unknown[] | undefined;
  const gone = new Error('client went away');
  const write = (resp: CtlResponse): Promise<void> | undefined => {
    if (sock.destroyed || !sock.writable) throw gone;
    if (sock.write(`${JSON.stringify(resp)}\n`)) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => { sock.off('drain', done); sock.off('close', done); resolve(); };
      sock.on('drain', done);
      sock.on('close', done);
    });
  };
  try {
    await s.run((batch) => {
      const prev = held;
      held = batch;
      return prev === undefined ? undefined : write({ ok: true, data: prev, more: true });
    });
    await write({ ok: true, data: held ?? [] });
  } catch (err) {
    if (err === gone) return;
    try { await write({ ok: false, error: describeError(err) }); } catch { /* gone as well */ }
  }
}

function routeQuery(r: Extract<CtlRequest, { cmd: 'show-route' }>): RouteQuery {
  if (r.for !== undefined) return { type: 'for', address: r.for };
  if (r.export !== undefined) return { type: 'export', peer: r.export, ...(r.prefix !== undefined ? { prefix: r.prefix } : {}) };
  const prefix = r.prefix !== undefined ? { prefix: r.prefix } : {};
  return r.filtered === true ? { type: 'filtered', ...prefix } : { type: 'table', ...prefix };
}

function handle(r: CtlRequest, h: CtlHandlers): unknown {
  const sp = h.speaker();
  switch (r.cmd) {
    case 'show-protocols': {
      const all = sp.status();
      if (r.name === undefined) return all;
      const one = all.filter((p) => p.name === r.name);
      if (one.length === 0) throw new Error(`no such protocol ${JSON.stringify(r.name)}`);
      return one;
    }
    case 'show-route': { const q = routeQuery(r); return new Streamed((sink) => sp.streamRoutes(q, sink)); }
    case 'show-route-count': return sp.routeCount();
    case 'show-status': return { routerId: sp.routerId, asn: sp.asn, ...bgpReadiness(sp.status(), h.now() - h.startedAt) };
    case 'show-bfd-sessions': return h.bfdSessions ? h.bfdSessions() : [];
    case 'reload': return h.reload();
    case 'enable': sp.enablePeer(r.name); return `${r.name}: enabled`;
    case 'disable': sp.disablePeer(r.name); return `${r.name}: disabled`;
    case 'restart': sp.restartPeer(r.name); return `${r.name}: restarted`;
    case 'refresh': sp.routeRefresh(r.name); return `${r.name}: route refresh requested`;
    default: { const never: never = r; return never; }
  }
}
