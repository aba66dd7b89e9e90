/**
 * node.ctl: `{"command":"bgp-status"|"bfd-status"}` as agent/ctl/node-status-protocol.ts defines (calicoctl node
 * status); `{"command":"bgp-routes"}` → `{ ok, routes: RouteView[] }`, every route the speaker
 * holds with its attributes (what `birdcl show route all` shows on a calico-node).
 */
import type { Logger } from '../../common/logger.js';
import type { PeerStatus as SpeakerPeerStatus } from '../../bgp/speaker/speaker.js';
import type { RouteView } from '../../bgp/speaker/views.js';
import type { BfdStatus, NodeStatusResponse, PeerStatus } from '../ctl/node-status-protocol.js';
import type { BfdSessionView } from '../../bgp/bfd/engine.js';
import { diagText } from '../../bgp/bfd/packet.js';
import { peerKindOfName } from '../calc/bgp-peers.js';
import { startLineServer, type LineServer } from './line-server.js';

const pad = (n: number): string => String(n).padStart(2, '0');

export function peerStatusRow(p: SpeakerPeerStatus): PeerStatus {
  const d = new Date(p.since);
  // BIRD protocol state: up when Established, start while trying, down when disabled.
  const state = !p.enabled ? 'down' : p.state === 'Established' ? 'up' : 'start';
  const info = p.state === 'Established' || p.lastError === undefined ? p.state : `${p.state} ${p.lastError}`;
  return {
    peerIP: p.address, family: p.address.includes(':') ? 6 : 4, type: peerKindOfName(p.name) ?? 'global', state,
    since: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`, info,
  };
}

export function bgpStatus(peers: readonly SpeakerPeerStatus[] | undefined): NodeStatusResponse {
  // No speaker (backend vxlan/none, no IPv4 address, or not started yet): calicoctl's
  // "The BGP backend process (BIRD) is not running."
  if (peers === undefined) return { ok: true, processRunning: false, peers: [] };
  return { ok: true, processRunning: true, peers: peers.map(peerStatusRow) };
}

export function bfdStatusRow(v: BfdSessionView): BfdStatus {
  return { peerIP: v.peer, multihop: v.multihop, state: v.state, remoteState: v.remoteState, txIntervalMs: v.txIntervalUs / 1000,
    detectTimeMs: v.detectTimeUs / 1000, diag: diagText(v.localDiag) };
}

export interface CtlSources {
  /** Every route the speaker holds (`bgp-routes`). */
  readonly routes?: () => readonly RouteView[] | undefined;
  /** The agent's BFD sessions (`bfd-status`). */
  readonly bfd?: () => Promise<readonly BfdSessionView[]>;
}

export function startCtlServer(path: string, status: () => readonly SpeakerPeerStatus[] | undefined, logger: Logger,
  sources: CtlSources = {}): Promise<LineServer> {
  const log = logger.child({ component: 'ctl-server' });
  return startLineServer(path, async (req) => {
    const cmd = req !== null && typeof req === 'object' ? (req as Record<string, unknown>)['command'] : undefined;
    if (cmd === 'bgp-routes') return { ok: true, routes: sources.routes?.() ?? [] };
    if (cmd === 'bfd-status') return { ok: true, sessions: (await (sources.bfd?.() ?? Promise.resolve([]))).map(bfdStatusRow) };
    if (cmd !== 'bgp-status') return { ok: false, error: `unknown command ${JSON.stringify(cmd)} (supported: bgp-status, bgp-routes, bfd-status)` };
    return bgpStatus(status());
  }, (m) => ({ ok: false, error: m }), log);
}
