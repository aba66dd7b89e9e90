/**
 * The control-socket contract between `tortiectl node status` and the local tortie-node
 * (default socket /var/run/tortie/node.ctl, override TORTIE_NODE_CTL). One JSON object per
 * line each way, then the server closes:
 *   → {"command":"bgp-status"}
 *   ← {"ok":true,"processRunning":true,"peers":[{"peerIP":"10.0.3.8","family":4,
 *       "type":"node-to-node mesh","state":"up","since":"08:15:42","info":"Established"}]}
 *   ← {"ok":false,"error":"BGP speaker not started"}
 *   → {"command":"bfd-status"}
 *   ← {"ok":true,"sessions":[{"peerIP":"10.0.3.8","multihop":false,"state":"Up","remoteState":"Up",
 *       "txIntervalMs":100,"detectTimeMs":300,"diag":"No Diagnostic"}]}   (agents without BFD: [])
 *   → {"command":"bgp-routes"}
 *   ← {"ok":true,"routes":[...]}   every route the speaker holds (the lab and tests read it)
 * `type` is the calicoctl PEER TYPE column (Mesh_ / Global_ / Node_ sessions); `state` is
 * up|start|down (BIRD's protocol state), `info` the BGP FSM state plus any extra text.
 */
export const DEFAULT_NODE_CTL_SOCKET = '/var/run/tortie/node.ctl';

export interface NodeStatusRequest { readonly command: 'bgp-status' | 'bfd-status' | 'bgp-routes' }

export interface BfdStatus {
  readonly peerIP: string;
  readonly multihop: boolean;
  readonly state: string;
  readonly remoteState: string;
  readonly txIntervalMs: number;
  readonly detectTimeMs: number;
  readonly diag: string;
}

/** The bfd-status answer; an agent from before BFD answers an error, read as no sessions. */
export function parseBfdStatusResponse(v: unknown): BfdStatus[] | string {
  const o = (v ?? {}) as Record<string, unknown>;
  if (o['ok'] === false) return [];
  if (o['ok'] !== true || !Array.isArray(o['sessions'])) return 'response lacks ok/sessions';
  const out: BfdStatus[] = [];
  for (const [i, x] of (o['sessions'] as unknown[]).entries()) {
    const q = (x ?? {}) as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof q[k] === 'string' ? q[k] : undefined);
    const num = (k: string): number | undefined => (typeof q[k] === 'number' ? q[k] : undefined);
    const peerIP = str('peerIP'), state = str('state'), remoteState = str('remoteState'), diag = str('diag');
    const tx = num('txIntervalMs'), det = num('detectTimeMs');
    if (peerIP === undefined || state === undefined || remoteState === undefined || diag === undefined || tx === undefined || det === undefined) {
      return `sessions[${i}] lacks peerIP, state, remoteState, txIntervalMs, detectTimeMs or diag`;
    }
    out.push({ peerIP, multihop: q['multihop'] === true, state, remoteState, txIntervalMs: tx, detectTimeMs: det, diag });
  }
  return out;
}

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
