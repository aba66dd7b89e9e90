/**
 * How a BfdDriver reaches its engine host (engine-host.ts): a worker thread of this process
 * (tortie-bgpd: one process anyway, C bit clear) or the tortie-bfd process over a unix socket
 * (tortie-node, socket-transport.ts: the engine outlives a crash of the agent, C bit set).
 * A transport that closes is opened again by the driver, which then re-adds every session.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineOptions, FromEngine, ToEngine } from './engine-protocol.js';

export interface BfdTransportHandlers {
  message(m: FromEngine): void;
  /** The engine is gone (worker exited) or out of reach (socket closed, or never connected). */
  closed(reason: string): void;
}

export interface BfdTransport {
  /** The engine runs on when this process exits: a stop may leave its sessions running. */
  readonly outlivesUs: boolean;
  post(m: ToEngine): void;
  /** Ends the engine (worker) or the connection to it (socket: its sessions run on). */
  close(): Promise<void>;
}

export type OpenBfdTransport = (h: BfdTransportHandlers) => BfdTransport;

/**
 * tortie-bgpd ships as one CommonJS bundle with the worker bundled beside it
 * (scripts/bundle.sh); unbundled ESM (tortie-node, tests) finds worker-main.js next to this file.
 */
export function defaultWorkerPath(): string {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) return join(dirname(__filename), 'tortie-bfd-worker.cjs');
  return fileURLToPath(new URL('./worker-main.js', import.meta.url));
}

export function workerTransport(workerPath: string = defaultWorkerPath(), options: EngineOptions = {}): OpenBfdTransport {
  return (h) => {
    const w = new Worker(workerPath, { workerData: options, name: 'bfd' });
    let error = '';
    w.on('message', (m: FromEngine) => h.message(m));
    w.on('error', (err) => { error = err.message; });
    w.on('exit', (code) => h.closed(`BFD worker exited (code ${code}${error ? `: ${error}` : ''})`));
    return {
      outlivesUs: false,
      post: (m) => w.postMessage(m),
      close: async () => { await w.terminate(); },
    };
  };
}
