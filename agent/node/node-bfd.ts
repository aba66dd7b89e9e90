/**
 * tortie-node's BFD: the sessions calc/bfd-sessions.ts asks for, run by the one BFD engine
 * (bgp/bfd), tied to the BGP speaker:
 *   - where the engine runs: in the tortie-bfd process (the DaemonSet's second container, or
 *     started here, detached, when nothing serves its socket), which outlives a crash of this
 *     process and so sends the C bit: a killed agent keeps its BFD sessions Up and its peers see
 *     a graceful BGP restart, while a dead node still drops BFD within the detection time.
 *     `thread` (TORTIE_BFD_ENGINE=thread, or tortie-bfd missing) runs it in a worker thread,
 *     C bit clear: then a crash of the agent looks like a dead node;
 *   - a session going Down from Up, unless the peer said AdminDown, closes that peer's BGP
 *     session at once with Cease/10 "BFD Down" (RFC 9384) and its routes are withdrawn: the
 *     path failed (RFC 5882 §4.3). If the peer is restarting (BGP closed, routes kept stale)
 *     and its C bit is set (another tortie-node's tortie-bfd), its forwarding failed too: its
 *     graceful restart ends and its routes go now (§4.3.2);
 *   - a session coming Up again reconnects that peer's BGP now, not after the idle-hold back-off;
 *   - a restart (SIGTERM) leaves the tortie-bfd sessions running for the next agent to claim;
 *     a node leaving for good, or the thread engine, sends AdminDown first (RFC 5882 §3.2).
 */
import { networkInterfaces } from 'node:os';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { BfdDriver } from '../../bgp/bfd/driver.js';
import type { BfdSessionSpec, BfdSessionView } from '../../bgp/bfd/engine.js';
import type { EngineOptions } from '../../bgp/bfd/engine-protocol.js';
import { socketTransport } from '../../bgp/bfd/socket-transport.js';

/** The subnets on this host's interfaces: a BGP peer in one of them gets single-hop BFD (calc/bfd-sessions.ts). */
export function connectedCidrs(): string[] {
  return Object.values(networkInterfaces()).flatMap((as) => (as ?? []).filter((a) => !a.internal && a.cidr !== null).map((a) => a.cidr as string));
}

export type NodeBfdEngine =
  | {
    readonly kind: 'process';
    /** tortie-bfd's socket. */
    readonly socket: string;
    /** How long tortie-bfd keeps our sessions for us after we went away (the graceful-restart time). */
    readonly graceMs: number;
    /**
     * Start tortie-bfd, detached; false when it cannot be (not installed): the worker thread is
     * used instead. Absent: another serves the socket (the DaemonSet's container); wait for it.
     */
    readonly startProcess?: () => boolean;
  }
  | { readonly kind: 'thread'; readonly options?: EngineOptions };

export interface NodeBfdDeps {
  readonly logger: Logger;
  /**
   * Cease/10 to this BGP peer, or with `forwardingFailed` (its C bit) the end of its graceful
   * restart; false when there was nothing to tear down.
   */
  readonly bfdDown: (peer: string, options: { readonly forwardingFailed: boolean }) => boolean;
  /** Reconnect this BGP peer now (BFD Up again). */
  readonly bfdUp: (peer: string) => void;
  /** Default: a worker thread. */
  readonly engine?: NodeBfdEngine;
}

/** Start tortie-bfd at most this often while its socket stays unreachable. */
const START_EVERY_MS = 5000;

export class NodeBfd {
  private driver: BfdDriver | undefined;
  private stopped = false;
  private lastStart = -Infinity;
  private want: ReadonlyMap<string, BfdSessionSpec> = new Map();
  private readonly log: Logger;

  constructor(private readonly deps: NodeBfdDeps) {
    this.log = deps.logger.child({ component: 'bfd' });
  }

  /** The sessions wanted now, by BGP peer name: added, changed (Poll Sequence) or removed (AdminDown). */
  apply(want: ReadonlyMap<string, BfdSessionSpec>): void {
    this.want = want;
    if (this.stopped || (want.size === 0 && this.driver === undefined)) return;
    const d = this.driver ??= this.start(this.deps.engine ?? { kind: 'thread' });
    for (const id of d.ids()) if (!want.has(id)) d.remove(id);
    for (const [id, spec] of want) d.set(id, spec);
  }

  async sessions(): Promise<BfdSessionView[]> { return this.driver ? this.driver.sessions() : []; }

  /**
   * Planned stop. `leaving` (the node leaves for good): AdminDown to every peer and the sessions
   * removed. Otherwise (a restart) tortie-bfd's sessions run on; the thread engine ends with
   * AdminDown, which peers take as a planned stop (RFC 5882 §3.2), not a failure.
   */
  async stop(options: { readonly leaving?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await this.driver?.stop({ detach: options.leaving !== true });
  }

  private start(engine: NodeBfdEngine): BfdDriver {
    let d: BfdDriver;
    if (engine.kind === 'process') {
      const open = socketTransport({ path: engine.socket, graceMs: engine.graceMs, unreachable: () => this.startProcess(engine) });
      d = new BfdDriver({ logger: this.log, open, reopenMs: 250 });
    } else {
      d = new BfdDriver({ logger: this.log, ...(engine.options ? { options: engine.options } : {}) });
    }
    d.onState((e) => {
      if (this.stopped || d !== this.driver) return;
      if (e.to === 'Up' && e.from !== 'Up') {
        try { this.deps.bfdUp(e.id); } catch (err) { this.log.warn({ peer: e.id, err: describeError(err) }, 'BFD Up for a peer the speaker does not have'); }
        return;
      }
      // RFC 5882 §3.2: the peer's AdminDown is a planned stop, not a failed path.
      if (e.from !== 'Up' || e.to !== 'Down' || e.remoteState === 'AdminDown') return;
      try {
        if (this.deps.bfdDown(e.id, { forwardingFailed: e.remoteControlPlaneIndependent })) {
          this.log.warn({ peer: e.id, diag: e.diagText, cBit: e.remoteControlPlaneIndependent }, 'BFD Down: BGP session closed (Cease/10) or its graceful restart ended, routes withdrawn');
        }
      } catch (err) { this.log.warn({ peer: e.id, err: describeError(err) }, 'BFD Down for a peer the speaker does not have'); }
    });
    return d;
  }

  /** Nothing serves tortie-bfd's socket: start it (detached, so it outlives us), or fall back to the thread. */
  private startProcess(engine: NodeBfdEngine & { kind: 'process' }): void {
    const now = performance.now();
    if (this.stopped || now - this.lastStart < START_EVERY_MS || engine.startProcess === undefined) return;
    this.lastStart = now;
    let started = false;
    try { started = engine.startProcess(); } catch (err) { this.log.warn({ err: describeError(err) }, 'cannot start tortie-bfd'); }
    if (started) { this.log.info({ socket: engine.socket }, 'nothing serves the BFD socket: started tortie-bfd (detached, it outlives this process)'); return; }
    this.log.warn('tortie-bfd is not available: BFD runs in a worker thread of tortie-node (C bit clear), so a crash of tortie-node looks like a node failure to BFD peers');
    const old = this.driver;
    this.driver = undefined;
    void old?.stop({ detach: true });
    this.driver = this.start({ kind: 'thread' });
    for (const [id, spec] of this.want) this.driver.set(id, spec);
  }
}
