/**
 * BGP readiness as calico-node's `-bird-ready` decides it (calico-compat §2.11, Calico
 * `checkBIRDReady`): no peers configured → ready; within the start-up threshold (`--threshold-time`,
 * 30 s) ready only when every configured peer is Established, so a rolling update waits for BGP;
 * after it, ready while at least one peer is Established, so a partly-down mesh does not make
 * every node unready. The detail names the peers that are not Established, with their state.
 * Pure: the agent calls it every second with the speaker's status.
 */
import type { HealthReport } from '../../felix/health/health-aggregator.js';

export interface PeerReadinessInput {
  readonly name: string;
  readonly address: string;
  readonly state: string;
}

export const DEFAULT_BGP_READY_THRESHOLD_MS = 30_000;

export function bgpReadiness(peers: readonly PeerReadinessInput[], sinceStartMs: number,
  thresholdMs: number = DEFAULT_BGP_READY_THRESHOLD_MS): HealthReport {
  if (peers.length === 0) return { live: true, ready: true, detail: 'no BGP peers configured' };
  const down = peers.filter((p) => p.state !== 'Established');
  const up = peers.length - down.length;
  if (down.length === 0) return { live: true, ready: true, detail: `${up}/${peers.length} BGP sessions established` };
  // Name at most a few peers: a large mesh would make the body unreadable.
  const shown = down.slice(0, 10).map((p) => `${p.address} (${p.name}: ${p.state})`).join(', ');
  const names = `${shown}${down.length > 10 ? ` and ${down.length - 10} more` : ''}`;
  const startingUp = sinceStartMs < thresholdMs;
  if (startingUp || up === 0) {
    return { live: true, ready: false, detail: `BGP not established with ${names}${startingUp ? ` (start-up: every peer must be up for the first ${Math.round(thresholdMs / 1000)} s)` : ''}` };
  }
  return { live: true, ready: true, detail: `${up}/${peers.length} BGP sessions established; not established with ${names}` };
}
