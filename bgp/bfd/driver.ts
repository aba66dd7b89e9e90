/**
 * The speaker's side of BFD: forwards session adds/updates/removes to the engine host through a
 * transport (transport.ts: a worker thread, or the tortie-bfd process over a unix socket) and its
 * state changes to listeners. Nothing here is on a packet's path, so a busy event loop only
 * delays the *reaction* to a Down, never its detection.
 */
import type { Logger } from '../../common/logger.js';
import { sameParams, type BfdSessionSpec, type BfdSessionView, type BfdStateEvent } from './engine.js';
import type { EngineOptions, FromEngine, ToEngine } from './engine-protocol.js';
import { workerTransport, type BfdTransport, type OpenBfdTransport } from './transport.js';

export interface BfdDriverDeps {
  readonly logger: Logger;
  /** How to reach the engine; default a worker thread (workerPath, options). */
  readonly open?: OpenBfdTransport;
  /** The worker script; default next to this module (ESM) or to the bundle (tortie-bfd-worker.cjs). */
  readonly workerPath?: string;
  readonly options?: EngineOptions;
  /** Wait before opening a closed transport again (default 1000 ms). */
  readonly reopenMs?: number;
}

export class BfdDriver {
  private transport: BfdTransport | undefined;
  private readonly open: OpenBfdTransport;
  private readonly listeners: Array<(e: BfdStateEvent) => void> = [];
  private readonly pending = new Map<number, (m: FromEngine) => void>();
  private readonly specs = new Map<string, BfdSessionSpec>();
  private readonly states = new Map<string, BfdStateEvent>();
  private nextReq = 1;
  private stopping = false;
  private lastClose = '';

  constructor(private readonly deps: BfdDriverDeps) {
    this.open = deps.open ?? workerTransport(deps.workerPath, deps.options);
    this.transport = this.connect();
  }

  /** The engine runs on after this process exits (the tortie-bfd process). */
  get outlivesUs(): boolean { return this.transport?.outlivesUs ?? false; }

  /**
   * A transport that closes (a worker that died of a bug, the tortie-bfd process restarted or
   * not started yet) is opened again after a pause with every session re-added; the engine
   * claims those it still runs, the others come Up through the handshake.
   */
  private connect(): BfdTransport {
    const t: BfdTransport = this.open({
      message: (m) => { if (this.transport === t) this.onMessage(m); },
      closed: (reason) => {
        if (this.transport !== t) return;
        this.transport = undefined;
        for (const r of this.pending.values()) r({ type: 'list', req: 0, sessions: [] });
        this.pending.clear();
        if (this.stopping) return;
        // Said once per reason: a tortie-bfd that is being started fails the same way a few times.
        if (reason !== this.lastClose) this.deps.logger.error({ reason }, 'BFD engine out of reach; reconnecting');
        this.lastClose = reason;
        const timer = setTimeout(() => {
          if (this.stopping) return;
          this.transport = this.connect();
          for (const [id, spec] of this.specs) this.post({ type: 'add', id, spec });
        }, this.deps.reopenMs ?? 1000);
        timer.unref();
      },
    });
    return t;
  }

  onState(cb: (e: BfdStateEvent) => void): () => void {
    this.listeners.push(cb);
    return () => { const i = this.listeners.indexOf(cb); if (i >= 0) this.listeners.splice(i, 1); };
  }

  /** Add a session, or update its timers (Poll Sequence) when only they changed, or re-create it. */
  set(id: string, spec: BfdSessionSpec): void {
    const old = this.specs.get(id);
    if (old && old.peer === spec.peer && old.local === spec.local && old.multihop === spec.multihop) {
      if (!sameParams(old.params, spec.params)) this.post({ type: 'update', id, params: spec.params });
    } else {
      if (old) this.post({ type: 'remove', id });
      this.post({ type: 'add', id, spec });
    }
    this.specs.set(id, spec);
  }

  remove(id: string): void {
    if (!this.specs.delete(id)) return;
    this.states.delete(id);
    this.post({ type: 'remove', id });
  }

  ids(): string[] { return [...this.specs.keys()]; }

  /** The last state change reported for a session. */
  lastEvent(id: string): BfdStateEvent | undefined { return this.states.get(id); }

  async sessions(): Promise<BfdSessionView[]> {
    const m = await this.request((req) => ({ type: 'list', req }));
    return m.type === 'list' ? m.sessions : [];
  }

  /**
   * Planned shutdown: AdminDown to every peer (RFC 5882 §3.2: not a failure), then the worker
   * ends or the connection closes. With `detach` and an engine that outlives us (tortie-bfd),
   * nothing is sent: the sessions run on, and our next start claims them back.
   */
  async stop(options: { readonly detach?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const t = this.transport;
    if (t === undefined) return;
    if (!(options.detach === true && t.outlivesUs)) await this.request((req) => ({ type: 'shutdown', req }));
    this.transport = undefined;
    await t.close();
  }

  private request(make: (req: number) => ToEngine): Promise<FromEngine> {
    if (this.transport === undefined) return Promise.resolve({ type: 'done', req: 0 });
    const req = this.nextReq++;
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      this.post(make(req));
    });
  }

  private post(m: ToEngine): void {
    this.transport?.post(m);
  }

  private onMessage(m: FromEngine): void {
    switch (m.type) {
      case 'state':
        if (!this.specs.has(m.event.id)) return;
        this.states.set(m.event.id, m.event);
        this.lastClose = '';
        this.deps.logger.info({ peer: m.event.peer, from: m.event.from, to: m.event.to, diag: m.event.diagText }, 'BFD session state');
        for (const l of [...this.listeners]) l(m.event);
        break;
      case 'list': case 'done': {
        const r = this.pending.get(m.req);
        this.pending.delete(m.req);
        r?.(m);
        break;
      }
      case 'log': this.deps.logger[m.level](m.fields, m.msg); break;
      default: { const never: never = m; this.deps.logger.warn({ m: never }, 'unknown BFD engine message'); }
    }
  }
}
