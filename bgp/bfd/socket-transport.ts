/**
 * tortie-node ⇄ tortie-bfd over a unix socket (mode 0600): one JSON object per line, the
 * engine-protocol.ts messages plus a first `hello` that says how long the sessions may wait for
 * a restarted agent to claim them. Byte arrays (auth keys) travel as {"$b64": "..."}.
 */
import { createConnection } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { FromEngine, ToEngine } from './engine-protocol.js';
import type { OpenBfdTransport } from './transport.js';

export interface Hello {
  readonly type: 'hello';
  /** Sessions this client does not claim again within this many ms of its going away are removed (AdminDown). */
  readonly graceMs: number;
}

/** A line longer than this is a broken peer, not a message. */
export const MAX_LINE_BYTES = 1 << 20;

export function encodeLine(m: ToEngine | FromEngine | Hello): string {
  return `${JSON.stringify(m, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? { $b64: Buffer.from(raw).toString('base64') } : value;
  })}\n`;
}

export function decodeLine(line: string): unknown {
  return JSON.parse(line, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && Object.keys(value).length === 1 && typeof (value as { $b64?: unknown }).$b64 === 'string') {
      return new Uint8Array(Buffer.from((value as { $b64: string }).$b64, 'base64'));
    }
    return value;
  });
}

/** Calls `onLine` for each complete line of a stream; false when a line outgrew MAX_LINE_BYTES. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => boolean {
  let buf = '';
  // A chunk may end inside a multi-byte character (a peer name in UTF-8).
  const decoder = new StringDecoder('utf8');
  return (chunk) => {
    buf += decoder.write(chunk);
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() !== '') onLine(line);
    }
    return buf.length <= MAX_LINE_BYTES;
  };
}

export interface SocketTransportOptions {
  readonly path: string;
  readonly graceMs: number;
  /** Nothing listens on `path` (ENOENT, ECONNREFUSED): called before `closed`, e.g. to start tortie-bfd. */
  readonly unreachable?: (code: string) => void;
}

export function socketTransport(o: SocketTransportOptions): OpenBfdTransport {
  return (h) => {
    const s = createConnection(o.path);
    let connected = false;
    let reason = 'connection to tortie-bfd closed';
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.on('connect', () => { connected = true; });
    s.on('error', (err: NodeJS.ErrnoException) => {
      reason = `tortie-bfd at ${o.path}: ${err.message}`;
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) o.unreachable?.(err.code);
    });
    const read = lineReader((line) => {
      let m: unknown;
      try { m = decodeLine(line); } catch { reason = 'tortie-bfd sent a line that is not JSON'; s.destroy(); return; }
      h.message(m as FromEngine);
    });
    s.on('data', (chunk: Buffer) => { if (!read(chunk)) { reason = 'tortie-bfd sent an over-long line'; s.destroy(); } });
    s.on('close', () => h.closed(reason));
    s.write(encodeLine({ type: 'hello', graceMs: o.graceMs }));
    return {
      outlivesUs: true,
      post: (m) => { if (!s.destroyed) s.write(encodeLine(m)); },
      close: async () => { s.end(); await closed; },
    };
  };
}
