/**
 * BGP readiness the way calico-node computes it from BIRD (calico-compat.md §2.11): no peers →
 * ready; within the threshold after start → ready only when every enabled peer is Established;
 * after it → ready when at least one is. Pure: the caller passes status and elapsed time.
 */
import type { PeerStatus } from './speaker.js';

export interface Readiness { readonly ready: boolean; readonly reason: string }

export function bgpReadiness(peers: readonly Pick<PeerStatus, 'name' | 'state' | 'enabled'>[], sinceStartMs: number,
  thresholdMs = 30_000): Readiness {
  const enabled = peers.filter((p) => p.enabled);
  if (enabled.length === 0) return { ready: true, reason: 'no BGP peers configured' };
  const up = enabled.filter((p) => p.state === 'Established');
  const down = enabled.filter((p) => p.state !== 'Established').map((p) => `${p.name} ${p.state}`);
  if (sinceStartMs < thresholdMs) {
    return up.length === enabled.length
      ? { ready: true, reason: `all ${up.length} peers Established` }
      : { ready: false, reason: `within ${thresholdMs / 1000} s of start, not all peers Established: ${down.join(', ')}` };
  }
  return up.length > 0
    ? { ready: true, reason: `${up.length} of ${enabled.length} peers Established` }
    : { ready: false, reason: `no peer Established: ${down.join(', ')}` };
}
