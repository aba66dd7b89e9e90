/**
 * Restart without flapping: our routes found in the kernel at start-up are kept (added to the
 * desired set when nothing newer covers their destination) until BGP has converged — every
 * peer Established and its End-of-RIB (RFC 4724 §2) received for each of its families, or, for
 * peers that send none, best paths quiet for `quietMs` — or a deadline passes. Pure.
 */
import type { DesiredRoute } from '../../felix/routes/route.js';
import type { KernelRoute } from '../../felix/netlink/types.js';

export interface PeerProgress {
  readonly state: string;
  /** Negotiated families ("ipv4-unicast", ...) and those whose End-of-RIB arrived. */
  readonly families?: readonly string[];
  readonly eorReceived?: readonly string[];
}

export interface ConvergenceInput {
  /** true when BGP is off: nothing to wait for. */
  readonly bgpOff: boolean;
  /** Peers, undefined while the speaker is not running. */
  readonly peers: readonly PeerProgress[] | undefined;
}

export class RestartConvergence {
  private readonly inherited = new Map<string, DesiredRoute>();
  private done = false;
  private allUpSince: number | undefined;
  private lastChange = Number.NEGATIVE_INFINITY;

  constructor(private readonly startedAt: number, private readonly deadlineMs = 30_000, private readonly quietMs = 3000) {}

  /** Remember our kernel routes (as desired routes); none = nothing to protect. */
  inherit(routes: Iterable<DesiredRoute>): void {
    for (const r of routes) this.inherited.set(r.dst, r);
    if (this.inherited.size === 0) this.done = true;
  }

  get converged(): boolean { return this.done; }
  get inheritedRoutes(): DesiredRoute[] { return [...this.inherited.values()]; }

  bestPathChanged(now: number): void { this.lastChange = now; }

  /** Re-evaluate; returns true when this call declared convergence. */
  check(now: number, input: ConvergenceInput): boolean {
    if (this.done) return false;
    const peers = input.peers;
    const allUp = input.bgpOff || (peers !== undefined && peers.every((p) => p.state === 'Established'));
    if (!allUp) this.allUpSince = undefined;
    else this.allUpSince ??= now;
    const allEor = peers !== undefined && peers.every((p) => (p.families ?? []).length > 0 && (p.families ?? []).every((f) => (p.eorReceived ?? []).includes(f)));
    const quiet = now - (this.allUpSince ?? now) >= this.quietMs && now - this.lastChange >= this.quietMs;
    const settled = allUp && (input.bgpOff || peers?.length === 0 || allEor || quiet);
    if (!settled && now - this.startedAt <= this.deadlineMs) return false;
    this.done = true;
    this.inherited.clear();
    return true;
  }

  /** The desired routes plus the inherited ones whose destination nothing newer covers. */
  withInherited(routes: readonly DesiredRoute[]): DesiredRoute[] {
    if (this.done) return [...routes];
    const have = new Set(routes.map((r) => r.dst));
    return [...routes, ...[...this.inherited.values()].filter((r) => !have.has(r.dst))];
  }
}

/** A kernel route of ours as a desired route (to keep it unchanged during start-up). */
export function kernelToDesired(r: KernelRoute, links: ReadonlyMap<number, string>): DesiredRoute | undefined {
  if (r.type === 'blackhole') return { dst: r.dst, type: 'blackhole', ...(r.metric !== 0 ? { metric: r.metric } : {}) };
  if (r.type !== 'unicast' || r.nexthops !== undefined) return undefined;
  const iface = links.get(r.ifindex ?? -1);
  if (iface === undefined) return undefined;
  return {
    dst: r.dst, type: 'unicast', iface, onlink: r.onlink, scope: r.scope,
    ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
    ...(r.metric !== 0 ? { metric: r.metric } : {}),
    ...(r.mtu === undefined ? {} : { mtu: r.mtu }),
  };
}
