/**
 * BGP metrics Calico lacks (it has none): per-peer session state, prefixes received / accepted /
 * advertised per AFI/SAFI, session flaps, UPDATE counts. The agent feeds these from the speaker's
 * events (bgp/ does not import felix/). Per-peer series grow with the mesh (a 500-node mesh is
 * thousands of series per node): `setTotals()` feeds peer-less sums, always exported, and the
 * agent can turn the per-peer ones off.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** RFC 4271 §8.2.2 states, with the numeric value exported in tortie_bgp_session_state. */
export const BgpSessionStateCode = {
  Idle: 1, Connect: 2, Active: 3, OpenSent: 4, OpenConfirm: 5, Established: 6,
} as const;
export type BgpSessionStateName = keyof typeof BgpSessionStateCode;

export interface PrefixCounts {
  readonly received: number;
  readonly accepted: number;
  readonly advertised: number;
}

export class BgpMetrics {
  private readonly state: Gauge<'peer'>;
  private readonly established: Gauge<'peer'>;
  private readonly flaps: Counter<'peer'>;
  private readonly received: Gauge<'peer' | 'afi_safi'>;
  private readonly accepted: Gauge<'peer' | 'afi_safi'>;
  private readonly advertised: Gauge<'peer' | 'afi_safi'>;
  private readonly updates: Counter<'peer' | 'direction'>;
  private readonly sessions: Gauge<'state'>;
  private readonly prefixTotals: Gauge<'afi_safi' | 'kind'>;
  private readonly last = new Map<string, BgpSessionStateName>();
  private readonly afiSafis = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.state = new Gauge({ name: 'tortie_bgp_session_state',
      help: 'BGP FSM state per peer: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established',
      labelNames: ['peer'], registers });
    this.established = new Gauge({ name: 'tortie_bgp_session_established', help: '1 when the session is Established',
      labelNames: ['peer'], registers });
    this.flaps = new Counter({ name: 'tortie_bgp_session_flaps_total', help: 'Times the session left Established',
      labelNames: ['peer'], registers });
    this.received = new Gauge({ name: 'tortie_bgp_prefixes_received', help: 'Prefixes in Adj-RIB-In (before import policy)',
      labelNames: ['peer', 'afi_safi'], registers });
    this.accepted = new Gauge({ name: 'tortie_bgp_prefixes_accepted', help: 'Prefixes accepted by import policy',
      labelNames: ['peer', 'afi_safi'], registers });
    this.advertised = new Gauge({ name: 'tortie_bgp_prefixes_advertised', help: 'Prefixes in Adj-RIB-Out',
      labelNames: ['peer', 'afi_safi'], registers });
    this.updates = new Counter({ name: 'tortie_bgp_updates_total', help: 'UPDATE messages, by direction',
      labelNames: ['peer', 'direction'], registers });
    this.sessions = new Gauge({ name: 'tortie_bgp_sessions', help: 'BGP sessions per FSM state (all peers)',
      labelNames: ['state'], registers });
    this.prefixTotals = new Gauge({ name: 'tortie_bgp_prefixes', help: 'Prefixes over all peers: received, accepted, advertised',
      labelNames: ['afi_safi', 'kind'], registers });
  }

  /** Peer-less sums: sessions per state, prefixes per AFI/SAFI (exported however many peers there are). */
  setTotals(peers: readonly { readonly state: BgpSessionStateName; readonly afiSafi: string; readonly prefixes: PrefixCounts }[]): void {
    const byState = new Map<string, number>(Object.keys(BgpSessionStateCode).map((k) => [k, 0]));
    const prefixes = new Map<string, PrefixCounts>();
    for (const p of peers) {
      byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
      const t = prefixes.get(p.afiSafi) ?? { received: 0, accepted: 0, advertised: 0 };
      prefixes.set(p.afiSafi, { received: t.received + p.prefixes.received, accepted: t.accepted + p.prefixes.accepted,
        advertised: t.advertised + p.prefixes.advertised });
    }
    for (const [state, n] of byState) this.sessions.set({ state }, n);
    this.prefixTotals.reset();
    for (const [afiSafi, t] of prefixes) {
      for (const kind of ['received', 'accepted', 'advertised'] as const) this.prefixTotals.set({ afi_safi: afiSafi, kind }, t[kind]);
    }
  }

  /** Record the FSM state; leaving Established counts one flap. */
  setSessionState(peer: string, state: BgpSessionStateName): void {
    const prev = this.last.get(peer);
    if (prev === 'Established' && state !== 'Established') this.flaps.inc({ peer });
    this.last.set(peer, state);
    this.state.set({ peer }, BgpSessionStateCode[state]);
    this.established.set({ peer }, state === 'Established' ? 1 : 0);
    if (prev === undefined) this.flaps.inc({ peer }, 0);
  }

  setPrefixes(peer: string, afiSafi: string, counts: PrefixCounts): void {
    const known = this.afiSafis.get(peer) ?? new Set<string>();
    known.add(afiSafi);
    this.afiSafis.set(peer, known);
    this.received.set({ peer, afi_safi: afiSafi }, counts.received);
    this.accepted.set({ peer, afi_safi: afiSafi }, counts.accepted);
    this.advertised.set({ peer, afi_safi: afiSafi }, counts.advertised);
  }

  countUpdate(peer: string, direction: 'in' | 'out', n = 1): void {
    this.updates.inc({ peer, direction }, n);
  }

  /** Forget a deconfigured peer's series. */
  removePeer(peer: string): void {
    this.last.delete(peer);
    this.state.remove({ peer });
    this.established.remove({ peer });
    this.flaps.remove({ peer });
    for (const afiSafi of this.afiSafis.get(peer) ?? []) {
      for (const g of [this.received, this.accepted, this.advertised]) g.remove({ peer, afi_safi: afiSafi });
    }
    this.afiSafis.delete(peer);
    for (const d of ['in', 'out'] as const) this.updates.remove({ peer, direction: d });
  }
}
