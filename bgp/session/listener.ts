/**
 * The BGP TCP listener (port 179 by default): hands each accepted connection to the session
 * configured for its remote address (and local address, when the session pins one). A
 * connection from an unknown address is closed without reading, like BIRD ("Unexpected connect
 * from unknown address"). Collision detection (RFC 4271 §6.8) happens in the session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { describeError, TortieError } from '../../common/errors.js';
import { formatAddress, isValidAddress, parseAddress } from '../../common/prefix.js';
import { LogLimiter } from '../../common/log-limiter.js';
import type { BgpSession } from './session.js';

export interface ListenerConfig {
  /** Default '::' (IPv4 and IPv6 on a dual-stack host). */
  readonly host?: string;
  /** Default 179; 0 picks a free port (tests). */
  readonly port?: number;
}

export interface ListenerDeps {
  readonly logger: Logger;
}

/** Canonical text of an address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes a.b.c.d. */
export function canonicalAddress(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = text.startsWith('::ffff:') && isValidAddress(text.slice(7)) && !text.slice(7).includes(':') ? text.slice(7) : text;
  const pct = t.indexOf('%');
  const bare = pct >= 0 ? t.slice(0, pct) : t;
  return isValidAddress(bare) ? formatAddress(parseAddress(bare)) : undefined;
}

export class BgpListener {
  private readonly sessions = new Map<string, BgpSession>();
  private server: Server | undefined;
  private readonly log: Logger;
  private boundPort = 0;
  /** Anyone can connect to port 179: one line per such connection must not flood the log. */
  private readonly unknownLog = new LogLimiter();

  constructor(private readonly config: ListenerConfig, deps: ListenerDeps) {
    this.log = deps.logger.child({ component: 'bgp-listener' });
  }

  /** Route connections from `session.peerAddress` to `session`. */
  addSession(session: BgpSession): void {
    const key = canonicalAddress(session.peerAddress);
    if (key === undefined) throw new TortieError('BAD_PEER_ADDRESS', `peer address "${session.peerAddress}" is not an IP address`, { where: `session ${session.name}` });
    if (this.sessions.has(key) && this.sessions.get(key) !== session) {
      throw new TortieError('DUPLICATE_PEER', `a session for ${key} is already registered`, { where: `session ${session.name}` });
    }
    this.sessions.set(key, session);
  }

  removeSession(session: BgpSession): void {
    const key = canonicalAddress(session.peerAddress);
    if (key !== undefined && this.sessions.get(key) === session) this.sessions.delete(key);
  }

  /** The bound port (useful with port 0). */
  get port(): number { return this.boundPort; }

  listen(): Promise<{ readonly host: string; readonly port: number }> {
    const host = this.config.host ?? '::';
    const port = this.config.port ?? 179;
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new TortieError('LISTEN_FAILED', `cannot listen on [${host}]:${port}: ${describeError(err)}`, { cause: err, where: 'bgp listener' })));
      server.listen({ host, port, ...(host === '::' ? { ipv6Only: false } : {}) }, () => {
        const addr = server.address();
        this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
        server.on('error', (err) => this.log.error({ err: describeError(err) }, 'listener error'));
        this.log.info({ host, port: this.boundPort }, 'listening for BGP connections');
        resolve({ host, port: this.boundPort });
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /**
   * Dispatch one accepted connection to its session (or close it). listen() calls this; an
   * embedder that owns the server socket (BgpSpeaker's injected listen) calls it directly.
   */
  accept(socket: Socket): void {
    socket.on('error', () => { /* reported by the session once adopted; unknown peers are destroyed */ });
    const remote = canonicalAddress(socket.remoteAddress);
    const local = canonicalAddress(socket.localAddress);
    const session = remote === undefined ? undefined : this.sessions.get(remote);
    const pinned = session?.config.localAddress === undefined ? undefined : canonicalAddress(session.config.localAddress);
    if (session === undefined || (pinned !== undefined && pinned !== local)) {
      const extra = this.unknownLog.take('unknown');
      if (extra !== undefined) {
        this.log.warn({ remote: socket.remoteAddress, local: socket.localAddress, ...extra },
          `unexpected connect from unknown address ${socket.remoteAddress ?? '?'} (port ${socket.remotePort ?? '?'})`);
      }
      socket.destroy();
      return;
    }
    socket.resume();
    session.acceptConnection(socket);
  }
}
