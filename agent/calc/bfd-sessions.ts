/**
 * Snapshot + the BGP peers → the BFD sessions this node runs (bgp/bfd), one per BGP peer whose
 * source names a BFDProfile: a BGPPeer by its annotation `tortie.io/bfd-profile`, the
 * node-to-node mesh by the same annotation on BGPConfiguration `default`. Single-hop (RFC 5881)
 * when the peer is inside this node's own subnet or another subnet connected to the host (a
 * second uplink to another ToR), multihop (RFC 5883) otherwise, unless the profile says. A profile that does not exist is a problem and no session (BGP carries on).
 */
import { parsePrefix, prefixContains, parseAddress } from '../../common/prefix.js';
import type { BfdSessionSpec } from '../../bgp/bfd/engine.js';
import { BFD_DEFAULTS, BFD_PROFILE_ANNOTATION } from '../resources/bfd-profile.js';
import type { CalcPeer } from './bgp-peers.js';
import type { Snapshot } from './snapshot.js';

export interface BfdCalcResult {
  /** By BGP peer name (the speaker's peer the session guards). */
  readonly sessions: ReadonlyMap<string, BfdSessionSpec>;
  readonly problems: readonly string[];
}

function onLink(cidr: string | undefined, peer: string): boolean {
  if (cidr === undefined) return false;
  try { return prefixContains(parsePrefix(cidr, { allowHostBits: true }), parseAddress(peer)); } catch { return false; }
}

/** `connected`: the CIDRs on the host's interfaces (os.networkInterfaces), beside the node's own. */
export function bfdSessions(s: Snapshot, peers: readonly CalcPeer[], connected: readonly string[] = []): BfdCalcResult {
  const sessions = new Map<string, BfdSessionSpec>();
  const problems: string[] = [];
  const local = s.nodes.get(s.localNode);
  const peerInfo = new Map(s.peers.map((p) => [p.name, p]));
  for (const p of peers) {
    const [profileName, where] = p.kind === 'node-to-node mesh'
      ? [s.meshBfdProfile, 'BGPConfiguration default']
      : [p.source === undefined ? undefined : peerInfo.get(p.source)?.bfdProfile, `BGPPeer ${p.source ?? '?'}`];
    if (profileName === undefined) continue;
    const profile = s.bfdProfiles?.get(profileName);
    if (profile === undefined) {
      problems.push(`${where}: metadata.annotations.${BFD_PROFILE_ANNOTATION}: no BFDProfile ${JSON.stringify(profileName)}; ${p.config.name} runs without BFD`);
      continue;
    }
    const peer = p.config.address;
    const cidr = peer.includes(':') ? local?.ipv6Cidr : local?.ipv4Cidr;
    const rx = profile.receiveInterval ?? BFD_DEFAULTS.receiveInterval;
    const tx = profile.transmitInterval ?? BFD_DEFAULTS.transmitInterval;
    sessions.set(p.config.name, {
      peer, ...(p.config.localAddress !== undefined ? { local: p.config.localAddress } : {}),
      multihop: profile.multihop ?? !(onLink(cidr, peer) || connected.some((c) => onLink(c, peer))),
      params: { desiredMinTxUs: tx * 1000, requiredMinRxUs: rx * 1000, detectMult: profile.detectMultiplier ?? BFD_DEFAULTS.detectMultiplier, passive: profile.passive ?? false },
    });
  }
  return { sessions, problems };
}
