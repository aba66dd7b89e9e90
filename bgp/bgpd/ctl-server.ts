/**
 * Unix-socket control server for tortie-bgpd: answers CtlRequests from the speaker's status.
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { BgpSpeaker } from '../speaker/speaker.js';
import { parseRequest, type CtlRequest, type CtlResponse } from './ctl-protocol.js';
import { routeCount } from './format.js';
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

export async function startCtlServer(path: string, h: CtlHandlers, logger: Logger): Promise<Server> {
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
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  logger.info({ path }, 'control socket listening');
  return server;
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
    case 'show-route': return r.filtered === true ? sp.filteredRoutes(r.prefix) : sp.routes(r.prefix);
    case 'show-route-count': return routeCount(sp.routes());
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
