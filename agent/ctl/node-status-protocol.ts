/**
 * The control-socket contract between `tortiectl node status` and the local tortie-node
 * (default socket /var/run/tortie/node.ctl, override TORTIE_NODE_CTL). One JSON object per
 * line each way, then the server closes:
 *   → {"command":"bgp-status"}
 *   ← {"ok":true,"processRunning":true,"peers":[{"peerIP":"10.0.3.8","family":4,
 *       "type":"node-to-node mesh","state":"up","since":"08:15:42","info":"Established"}]}
 *   ← {"ok":false,"error":"BGP speaker not started"}
 * `type` is the calicoctl PEER TYPE column (Mesh_ / Global_ / Node_ sessions); `state` is
 * up|start|down (BIRD's protocol state), `info` the BGP FSM state plus any extra text.
 */
export const DEFAULT_NODE_CTL_SOCKET = '/var/run/tortie/node.ctl';

export interface NodeStatusRequest { readonly command: 'bgp-status' }

export type PeerType = 'node-to-node mesh' | 'global' | 'node specific' | 'local workload';

export interface PeerStatus {
  readonly peerIP: string;
  readonly family: 4 | 6;
  readonly type: PeerType;
  readonly state: string;
  readonly since: string;
  readonly info: string;
}

export type NodeStatusResponse =
  | { readonly ok: true; readonly processRunning: boolean; readonly peers: readonly PeerStatus[] }
  | { readonly ok: false; readonly error: string };

/** Validate a decoded response (the socket is trusted, but a bad agent must not crash the CLI). */
export function parseNodeStatusResponse(v: unknown): NodeStatusResponse | string {
  if (v === null || typeof v !== 'object') return 'response is not a JSON object';
  const o = v as Record<string, unknown>;
  if (o['ok'] === false) return { ok: false, error: typeof o['error'] === 'string' ? o['error'] : 'unknown error' };
  if (o['ok'] !== true || !Array.isArray(o['peers'])) return 'response lacks ok/peers';
  const peers: PeerStatus[] = [];
  for (const [i, p] of (o['peers'] as unknown[]).entries()) {
    const q = (p ?? {}) as Record<string, unknown>;
    const s = (k: string): string | undefined => (typeof q[k] === 'string' ? q[k] : undefined);
    const peerIP = s('peerIP'), type = s('type'), state = s('state'), since = s('since'), info = s('info');
    if (peerIP === undefined || type === undefined || state === undefined || since === undefined || info === undefined || (q['family'] !== 4 && q['family'] !== 6)) {
      return `peers[${i}] lacks peerIP, family, type, state, since or info`;
    }
    peers.push({ peerIP, family: q['family'], type: type as PeerType, state, since, info });
  }
  return { ok: true, processRunning: o['processRunning'] !== false, peers };
}
