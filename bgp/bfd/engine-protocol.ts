/**
 * Messages between a BfdDriver and the engine host (engine-host.ts) it drives: structured clone
 * carries them to the worker thread, JSON lines (socket-transport.ts) to the tortie-bfd process;
 * so only plain data (auth keys as Uint8Array, which the socket codec turns into base64).
 */
import type { BfdSessionSpec, BfdSessionView, BfdStateEvent } from './engine.js';
import type { BfdSessionParams } from './session.js';

export interface EngineOptions {
  /** Overrides of the well-known ports, for tests that run two engines on one host. */
  readonly singleHopPort?: number;
  readonly multihopPort?: number;
  /** Nice value of the engine's thread (default -10; 0 leaves it alone). */
  readonly nice?: number;
  /**
   * The C bit (RFC 5880 §4.1, RFC 5882 §4.3.2): set when the engine does not share fate with the
   * BGP speaker (the tortie-bfd process), clear when it does (the worker thread of tortie-bgpd).
   */
  readonly controlPlaneIndependent?: boolean;
}

export type ToEngine =
  | { readonly type: 'add'; readonly id: string; readonly spec: BfdSessionSpec }
  | { readonly type: 'update'; readonly id: string; readonly params: BfdSessionParams }
  | { readonly type: 'remove'; readonly id: string }
  | { readonly type: 'list'; readonly req: number }
  | { readonly type: 'shutdown'; readonly req: number };

export type FromEngine =
  | { readonly type: 'state'; readonly event: BfdStateEvent }
  | { readonly type: 'list'; readonly req: number; readonly sessions: BfdSessionView[] }
  | { readonly type: 'done'; readonly req: number }
  | { readonly type: 'log'; readonly level: 'error' | 'warn' | 'info' | 'debug'; readonly msg: string; readonly fields: Record<string, unknown> };

