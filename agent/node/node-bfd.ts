/**
 * tortie-node's BFD: the sessions calc/bfd-sessions.ts asks for, run by the one BFD engine
 * (bgp/bfd, a worker thread started with the first session), tied to the BGP speaker:
 *   - a session going Down from Up, unless the peer said AdminDown, closes that peer's BGP
 *     session at once with Cease/10 "BFD Down" (RFC 9384) and its routes are withdrawn, not
 *     kept stale: our C bit is 0, as is BIRD's and FRR's, so a peer's BFD failing means its
 *     forwarding may have failed too (RFC 5882 §4.3.2), and a node that died must lose its
 *     routes within the detection time, not after the graceful-restart time;
 *   - a planned stop (SIGTERM, an upgrade) sends AdminDown first (RFC 5882 §3.2), which takes
 *     no BGP session down, so graceful restart keeps the node's routes while it restarts.
 */
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { BfdDriver } from '../../bgp/bfd/driver.js';
import type { BfdSessionSpec, BfdSessionView } from '../../bgp/bfd/engine.js';
import type { WorkerOptions } from '../../bgp/bfd/worker-protocol.js';

export interface NodeBfdDeps {
  readonly logger: Logger;
  /** Cease/10 to this BGP peer; false when its session was not up (nothing to tear down). */
  readonly bfdDown: (peer: string) => boolean;
  /** Ports and priority overrides (tests that run two agents in one namespace). */
  readonly workerOptions?: WorkerOptions;
}

export class NodeBfd {
  private driver: BfdDriver | undefined;
  private stopped = false;

  constructor(private readonly deps: NodeBfdDeps) {}

  /** The sessions wanted now, by BGP peer name: added, changed (Poll Sequence) or removed (AdminDown). */
  apply(want: ReadonlyMap<string, BfdSessionSpec>): void {
    if (this.stopped || (want.size === 0 && this.driver === undefined)) return;
    const d = this.driver ??= this.start();
    for (const id of d.ids()) if (!want.has(id)) d.remove(id);
    for (const [id, spec] of want) d.set(id, spec);
  }

  async sessions(): Promise<BfdSessionView[]> { return this.driver ? this.driver.sessions() : []; }

  /** Planned stop: AdminDown to every peer, then the worker ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.driver?.stop();
  }

  private start(): BfdDriver {
    const log = this.deps.logger.child({ component: 'bfd' });
    const d = new BfdDriver({ logger: log, ...(this.deps.workerOptions ? { options: this.deps.workerOptions } : {}) });
    d.onState((e) => {
      // RFC 5882 §3.2: the peer's AdminDown is a planned stop, not a failed path.
      if (e.from !== 'Up' || e.to !== 'Down' || e.remoteState === 'AdminDown' || this.stopped) return;
      try {
        if (this.deps.bfdDown(e.id)) log.warn({ peer: e.id, diag: e.diagText }, 'BFD Down: BGP session closed (Cease/10), routes withdrawn');
      } catch (err) { log.warn({ peer: e.id, err: describeError(err) }, 'BFD Down for a peer the speaker does not have'); }
    });
    return d;
  }
}
