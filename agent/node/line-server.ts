/**
 * A unix-socket server speaking one JSON request line → one JSON response line, then close
 * (the shape of cni.sock and node.ctl). A stale socket file from a previous run is replaced;
 * a malformed request gets an error answer, never a crash.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';

export interface LineServer { readonly path: string; close(): Promise<void> }

export async function startLineServer(path: string, handle: (request: unknown) => Promise<unknown>,
  errorAnswer: (message: string) => unknown, log: Logger, maxLineBytes = 1 << 20): Promise<LineServer> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  const server: Server = createServer((conn) => {
    let buf = '';
    let done = false;
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('data', (chunk: string) => {
      if (done) return;
      buf += chunk;
      if (buf.length > maxLineBytes) { done = true; conn.end(`${JSON.stringify(errorAnswer('request too large'))}\n`); return; }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      done = true;
      let req: unknown;
      try { req = JSON.parse(buf.slice(0, nl)); } catch { conn.end(`${JSON.stringify(errorAnswer('request is not JSON'))}\n`); return; }
      handle(req).then((res) => { conn.end(`${JSON.stringify(res)}\n`); }, (err: unknown) => {
        log.error({ err: describeError(err) }, 'request handler failed');
        conn.end(`${JSON.stringify(errorAnswer(describeError(err)))}\n`);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${path}: ${err.message}`)));
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return { path, close: () => new Promise<void>((r) => { server.close(() => r()); rmSync(path, { force: true }); }) };
}
