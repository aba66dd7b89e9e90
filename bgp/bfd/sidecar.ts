/**
 * tortie-bfd: the BFD engine host (engine-host.ts) in a process of its own, serving tortie-node
 * on a unix socket (socket-transport.ts). It does not share fate with the agent, so it sends the
 * C bit (RFC 5880 §4.1) and its sessions stay Up while the agent restarts or crashes: peers then
 * see a BGP restart (graceful restart keeps the routes) with forwarding intact, not a dead node
 * (RFC 5882 §4.3.2).
 *
 *   tortie-node ── bfd.sock (JSON lines) ──▶ BfdSidecar ── host.handle ──▶ EngineHost ── UDP 3784/4784
 *
 * One agent at a time: a new connection replaces the old one. When the agent goes away its
 * sessions run on unclaimed; an agent that connects re-adds (claims) the ones it still wants,
 * and those nobody claimed within the grace period (the agent's hello; its graceful-restart
 * time) get AdminDown and are removed. A `shutdown` from the agent (the node leaving) removes
 * every session with AdminDown; SIGTERM to this process does the same, then exits.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { createEngineHost, type EngineHost } from './engine-host.js';
import type { EngineOptions, FromEngine, ToEngine } from './engine-protocol.js';
import { decodeLine, encodeLine, lineReader, type Hello } from './socket-transport.js';

export interface BfdSidecarOptions {
  readonly socketPath: string;
  /** Grace period when the agent's hello names none, ms. */
  readonly graceMs: number;
  /** Exit once no agent is connected and no session is left (tortie-bfd started by tortie-node itself). */
  readonly exitWhenIdle: boolean;
  readonly engine: EngineOptions;
  readonly logger: Logger;
  readonly exit: (code: number) => void;
}

interface Client { readonly socket: Socket; graceMs: number }

export class BfdSidecar {
  private readonly host: EngineHost;
  private server: Server | undefined;
  private client: Client | undefined;
  /** Sessions the connected agent has added since it connected. */
  private readonly claimed = new Set<string>();
  private grace: NodeJS.Timeout | undefined;
  /** Shutdown requests in flight: on their `done`, remove every session. */
  private readonly shutdowns = new Set<number>();
  private exiting = false;

  constructor(private readonly o: BfdSidecarOptions) {
    this.host = createEngineHost({ ...o.engine, controlPlaneIndependent: true }, (m) => this.fromEngine(m));
  }

  /** Listen on the socket; fails when another tortie-bfd answers there. */
  async start(): Promise<void> {
    if (existsSync(this.o.socketPath)) {
      if (await answers(this.o.socketPath)) throw new Error(`another tortie-bfd is serving ${this.o.socketPath}`);
      unlinkSync(this.o.socketPath);
    }
    const server = createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Created 0600 (umask while binding), then chmod in case the umask did not apply.
      const old = process.umask(0o177);
      try { server.listen(this.o.socketPath, () => resolve()); } finally { process.umask(old); }
    });
    chmodSync(this.o.socketPath, 0o600);
    server.on('error', (err) => this.o.logger.error({ err: describeError(err) }, 'tortie-bfd socket failed'));
    this.o.logger.info({ socket: this.o.socketPath, graceMs: this.o.graceMs, exitWhenIdle: this.o.exitWhenIdle }, 'tortie-bfd serving');
    // Started for an agent that never connects: go away after the grace period.
    if (this.o.exitWhenIdle) this.armGrace(this.o.graceMs);
  }

  /** SIGTERM: AdminDown to every peer (RFC 5882 §3.2), then exit. */
  stop(): void {
    if (this.exiting) return;
    this.exiting = true;
    this.shutdowns.add(-1);
    this.host.handle({ type: 'shutdown', req: -1 });
  }

  private accept(socket: Socket): void {
    const c: Client = { socket, graceMs: this.o.graceMs };
    const old = this.client;
    this.client = c;
    if (old) {
      // The agent restarted before its old connection was seen closing: the new one claims again.
      this.o.logger.info('a new tortie-node connected; dropping the previous connection');
      old.socket.destroy();
      this.claimed.clear();
      this.armGrace(old.graceMs);
    }
    // A grace timer still running keeps running: it removes what this agent does not claim in time.
    const read = lineReader((line) => {
      try {
        this.fromAgent(c, decodeLine(line) as ToEngine | Hello);
      } catch (err) {
        this.o.logger.warn({ err: describeError(err) }, 'tortie-bfd: bad line from tortie-node; closing its connection');
        socket.destroy();
      }
    });
    socket.on('data', (chunk: Buffer) => { if (!read(chunk)) socket.destroy(); });
    socket.on('error', () => { /* 'close' follows */ });
    socket.on('close', () => { if (this.client === c) this.detached(); });
  }

  private fromAgent(c: Client, m: ToEngine | Hello): void {
    switch (m.type) {
      case 'hello':
        if (Number.isFinite(m.graceMs) && m.graceMs >= 0) c.graceMs = m.graceMs;
        this.o.logger.info({ graceMs: c.graceMs, sessions: this.host.ids().length }, 'tortie-node connected');
        return;
      case 'add': this.claimed.add(m.id); break;
      case 'remove': this.claimed.delete(m.id); break;
      case 'shutdown': this.shutdowns.add(m.req); break;
      case 'update': case 'list': break;
      default: { const never: never = m; throw new Error(`unknown message ${JSON.stringify(never)}`); }
    }
    this.host.handle(m);
  }

  /** The agent went away: its sessions run on, waiting for it to claim them again. */
  private detached(): void {
    const graceMs = this.client?.graceMs ?? this.o.graceMs;
    this.client = undefined;
    this.claimed.clear();
    const n = this.host.ids().length;
    if (n === 0) { this.exitIfIdle(); return; }
    this.o.logger.warn({ sessions: n, graceMs }, 'tortie-node went away; BFD sessions run on until it claims them again');
    this.armGrace(graceMs);
  }

  private armGrace(ms: number): void {
    if (this.grace) clearTimeout(this.grace);
    this.grace = setTimeout(() => {
      this.grace = undefined;
      for (const id of this.host.ids()) {
        if (this.claimed.has(id)) continue;
        this.o.logger.warn({ session: id }, 'no tortie-node claimed this BFD session within the grace period: AdminDown, removed');
        this.host.handle({ type: 'remove', id });
      }
      this.exitIfIdle();
    }, ms);
  }

  private exitIfIdle(): void {
    if (!this.o.exitWhenIdle || this.client !== undefined || this.host.ids().length > 0 || this.exiting) return;
    this.o.logger.info('no tortie-node and no BFD session left: exiting');
    this.exiting = true;
    this.finish(0);
  }

  private fromEngine(m: FromEngine): void {
    if (m.type === 'log') this.o.logger[m.level](m.fields, m.msg);
    if (m.type === 'state') this.o.logger.info({ session: m.event.id, peer: m.event.peer, from: m.event.from, to: m.event.to, diag: m.event.diagText }, 'BFD session state');
    if (m.type === 'done' && this.shutdowns.delete(m.req)) {
      for (const id of this.host.ids()) this.host.handle({ type: 'remove', id });
      this.claimed.clear();
      if (m.req === -1) { this.finish(0); return; }
    }
    const c = this.client;
    if (c && !c.socket.destroyed) c.socket.write(encodeLine(m));
  }

  /** Let the last AdminDown packets leave (send sockets close 100 ms after a remove), then exit. */
  private finish(code: number): void {
    this.server?.close();
    try { unlinkSync(this.o.socketPath); } catch { /* gone */ }
    setTimeout(() => this.o.exit(code), 200);
  }
}

/** Whether something accepts connections on a unix socket path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
