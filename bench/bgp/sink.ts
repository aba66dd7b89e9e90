/**
 * The monitor/sink: a BGP speaker that re-advertises nothing and counts IPv4 /24s.
 *
 * Each /24 has a present bit (16 MiB table indexed by its top 24 bits), so a repeated
 * announcement or a withdrawal of something absent does not move the count; the testers use
 * disjoint prefixes, so in floor mode (P testers straight into the sink) the count is P×R too.
 * Every UPDATE that changes the count is timestamped (CLOCK_MONOTONIC ns, comparable with the
 * harness and the injector): the curve gives the first route, 50 %, 90 % and the last.
 */
import { createServer, connect, type Server } from 'node:net';
import { walkUpdate } from './bgp-bytes.js';
import { MiniSession } from './mini-session.js';

export type SinkEvent =
  | { readonly ev: 'listening'; readonly addr: string }
  | { readonly ev: 'established'; readonly peer: string; readonly asn: number; readonly sessions: number }
  | { readonly ev: 'closed'; readonly peer: string; readonly reason: string; readonly sessions: number }
  | { readonly ev: 'full' | 'empty'; readonly tNs: string; readonly firstNs: string; readonly t50Ns: string;
      readonly t90Ns: string; readonly count: number; readonly updates: number }
  | { readonly ev: 'status'; readonly sessions: number; readonly count: number; readonly other: number;
      readonly updates: number; readonly errors: number }
  | { readonly ev: 'error'; readonly message: string };

export interface SinkOptions {
  readonly asn: number;
  readonly routerId: string;
  readonly holdTime: number;
  readonly emit: (e: SinkEvent) => void;
}

type Phase = { readonly kind: 'idle' } | { readonly kind: 'fill'; readonly n: number } | { readonly kind: 'drain' };

export class RouteSink {
  private readonly present = new Uint8Array(1 << 24);
  private readonly sessions = new Set<MiniSession>();
  count = 0;
  other = 0;
  updates = 0;
  errors = 0;
  private phase: Phase = { kind: 'idle' };
  private curveT: bigint[] = [];
  private curveN: number[] = [];
  private servers: Server[] = [];

  constructor(private readonly opts: SinkOptions) {}

  get established(): number {
    let n = 0;
    for (const s of this.sessions) if (s.state === 'Established') n++;
    return n;
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.adopt(sock));
      server.once('error', reject);
      server.listen(port, host, () => {
        this.opts.emit({ ev: 'listening', addr: `${host}:${port}` });
        resolve();
      });
      this.servers.push(server);
    });
  }

  /** Active mode: connect to a peer (retrying every second until closed). */
  connectTo(host: string, port: number, localAddress?: string): void {
    const attempt = (): void => {
      const sock = connect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) });
      sock.once('connect', () => this.adopt(sock));
      sock.once('error', () => { sock.destroy(); setTimeout(attempt, 1000).unref(); });
    };
    attempt();
  }

  private adopt(sock: import('node:net').Socket): void {
    const s = new MiniSession(sock, {
      asn: this.opts.asn, routerId: this.opts.routerId, holdTime: this.opts.holdTime,
      onUpdate: (msg) => this.onUpdate(msg, s.addPathReceive),
      onEstablished: (x) => this.opts.emit({ ev: 'established', peer: x.remote, asn: x.peerOpen?.asn ?? 0, sessions: this.established }),
      onClose: (x, reason) => {
        this.sessions.delete(x);
        this.opts.emit({ ev: 'closed', peer: x.remote, reason, sessions: this.established });
      },
    });
    this.sessions.add(s);
  }

  /** Start a fill phase: report `full` when the count reaches n. */
  expectFull(n: number): void {
    this.phase = { kind: 'fill', n };
    this.resetCurve();
    this.check();
  }

  /** Start a drain phase: report `empty` when the count returns to 0. */
  expectEmpty(): void {
    this.phase = { kind: 'drain' };
    this.resetCurve();
    this.check();
  }

  status(): SinkEvent {
    return { ev: 'status', sessions: this.established, count: this.count, other: this.other, updates: this.updates, errors: this.errors };
  }

  private resetCurve(): void {
    this.curveT = [process.hrtime.bigint()];
    this.curveN = [this.count];
  }

  private onUpdate(msg: Buffer, addPath: boolean): void {
    this.updates++;
    const before = this.count;
    try {
      walkUpdate(msg, (announce, len, key) => {
        if (len !== 24) { this.other += announce ? 1 : -1; return; }
        const had = this.present[key] === 1;
        if (announce && !had) { this.present[key] = 1; this.count++; }
        else if (!announce && had) { this.present[key] = 0; this.count--; }
      }, addPath);
    } catch (err) {
      this.errors++;
      this.opts.emit({ ev: 'error', message: (err as Error).message });
    }
    if (this.count !== before) {
      this.curveT.push(process.hrtime.bigint());
      this.curveN.push(this.count);
      this.check();
    }
  }

  private check(): void {
    const p = this.phase;
    if (p.kind === 'fill' && this.count >= p.n) this.finish('full', (c) => c, p.n);
    else if (p.kind === 'drain' && this.count === 0) this.finish('empty', (c) => this.curveN[0]! - c, this.curveN[0] ?? 0);
  }

  /** Times at which `progress(count)` first reached 1, 50 %, 90 % and 100 % of `total`. */
  private finish(ev: 'full' | 'empty', progress: (count: number) => number, total: number): void {
    const at = (frac: number): string => {
      const goal = Math.max(1, Math.ceil(total * frac));
      for (let i = 0; i < this.curveN.length; i++) if (progress(this.curveN[i]!) >= goal) return String(this.curveT[i]!);
      return String(this.curveT[this.curveT.length - 1]!);
    };
    const tNs = String(this.curveT[this.curveT.length - 1]!);
    this.opts.emit({ ev, tNs, firstNs: at(0), t50Ns: at(0.5), t90Ns: at(0.9), count: this.count, updates: this.updates });
    this.phase = { kind: 'idle' };
  }

  close(): void {
    for (const s of this.sessions) s.close('sink closing');
    for (const srv of this.servers) srv.close();
  }
}
