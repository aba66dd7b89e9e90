/**
 * Main-thread side of BFD: starts the worker (worker-main.ts) that runs the engine, forwards
 * session adds/updates/removes to it and its state changes to listeners. Nothing here is on a
 * packet's path, so a busy main loop only delays the *reaction* to a Down, never its detection.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../common/logger.js';
import type { BfdSessionSpec, BfdSessionView, BfdStateEvent } from './engine.js';
import type { BfdSessionParams } from './session.js';
import type { FromWorker, ToWorker, WorkerOptions } from './worker-protocol.js';

export interface BfdDriverDeps {
  readonly logger: Logger;
  /** The worker script; default: next to this module (ESM) or to the bundle (tortie-bfd-worker.cjs). */
  readonly workerPath?: string;
  readonly options?: WorkerOptions;
}

/**
 * tortie-bgpd ships as one CommonJS bundle with the worker bundled beside it
 * (scripts/bundle.sh); unbundled ESM (tortie-node, tests) finds worker-main.js next to this file.
 */
export function defaultWorkerPath(): string {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) return join(dirname(__filename), 'tortie-bfd-worker.cjs');
  return fileURLToPath(new URL('./worker-main.js', import.meta.url));
}

export class BfdDriver {
  private worker: Worker;
  private readonly listeners: Array<(e: BfdStateEvent) => void> = [];
  private readonly pending = new Map<number, (m: FromWorker) => void>();
  private readonly specs = new Map<string, BfdSessionSpec>();
  private readonly states = new Map<string, BfdStateEvent>();
  private nextReq = 1;
  private stopping = false;
  private running = false;

  constructor(private readonly deps: BfdDriverDeps) {
    this.worker = this.startWorker();
  }

  /**
   * A worker that dies (a bug, not a packet: the engine never throws on input) is started again
   * after a second with every session re-added; sessions come back Up through the handshake.
   */
  private startWorker(): Worker {
    const w = new Worker(this.deps.workerPath ?? defaultWorkerPath(), { workerData: this.deps.options ?? {}, name: 'bfd' });
    this.running = true;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (err) => this.deps.logger.error({ err: err.message }, 'BFD worker failed'));
    w.on('exit', (code) => {
      this.running = false;
      for (const r of this.pending.values()) r({ type: 'list', req: 0, sessions: [] });
      this.pending.clear();
      if (this.stopping) return;
      this.deps.logger.error({ code }, 'BFD worker exited; restarting it in 1 s');
      const t = setTimeout(() => {
        if (this.stopping) return;
        this.worker = this.startWorker();
        for (const [id, spec] of this.specs) this.post({ type: 'add', id, spec });
      }, 1000);
      t.unref();
    });
    return w;
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

  /** Planned shutdown: AdminDown to every peer (RFC 5882 §3.2: not a failure), then stop the worker. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.running) return;
    await this.request((req) => ({ type: 'shutdown', req }));
    await this.worker.terminate();
  }

  private request(make: (req: number) => ToWorker): Promise<FromWorker> {
    if (!this.running) return Promise.resolve({ type: 'done', req: 0 });
    const req = this.nextReq++;
    return new Promise((resolve) => {
      this.pending.set(req, resolve);
      this.post(make(req));
    });
  }

  private post(m: ToWorker): void {
    if (this.running) this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'state':
        if (!this.specs.has(m.event.id)) return;
        this.states.set(m.event.id, m.event);
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
      default: { const never: never = m; this.deps.logger.warn({ m: never }, 'unknown BFD worker message'); }
    }
  }
}

function sameParams(a: BfdSessionParams, b: BfdSessionParams): boolean {
  return a.desiredMinTxUs === b.desiredMinTxUs && a.requiredMinRxUs === b.requiredMinRxUs && a.detectMult === b.detectMult
    && a.passive === b.passive && a.auth?.type === b.auth?.type && a.auth?.keyId === b.auth?.keyId
    && Buffer.from(a.auth?.key ?? []).equals(Buffer.from(b.auth?.key ?? []));
}
