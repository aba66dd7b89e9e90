/**
 * Messages between the main thread (driver.ts) and the BFD worker (worker-main.ts); structured
 * clone carries them, so only plain data (Uint8Array keys included).
 */
import type { BfdSessionSpec, BfdSessionView, BfdStateEvent } from './engine.js';
import type { BfdSessionParams } from './session.js';

export interface WorkerOptions {
  /** Overrides of the well-known ports, for tests that run two engines on one host. */
  readonly singleHopPort?: number;
  readonly multihopPort?: number;
  /** Nice value of the worker thread (default -10; 0 leaves it alone). */
  readonly nice?: number;
}

export type ToWorker =
  | { readonly type: 'add'; readonly id: string; readonly spec: BfdSessionSpec }
  | { readonly type: 'update'; readonly id: string; readonly params: BfdSessionParams }
  | { readonly type: 'remove'; readonly id: string }
  | { readonly type: 'list'; readonly req: number }
  | { readonly type: 'shutdown'; readonly req: number };

export type FromWorker =
  | { readonly type: 'state'; readonly event: BfdStateEvent }
  | { readonly type: 'list'; readonly req: number; readonly sessions: BfdSessionView[] }
  | { readonly type: 'done'; readonly req: number }
  | { readonly type: 'log'; readonly level: 'error' | 'warn' | 'info' | 'debug'; readonly msg: string; readonly fields: Record<string, unknown> };
