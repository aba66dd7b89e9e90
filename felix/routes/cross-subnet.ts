/**
 * CrossSubnet (calico-compat.md §2.8): a remote node is reached directly when its address lies in
 * the subnet of the local node's own address (the prefix on the interface carrying it), and
 * through the tunnel otherwise. Pure: no I/O.
 */
import { parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import { assertNever } from '../../common/assert-never.js';

export type EncapMode = 'Never' | 'Always' | 'CrossSubnet';
export type RouteVia = 'direct' | 'tunnel';

/**
 * @param nodeCidr the local node address with its prefix length, e.g. "192.168.1.10/24"
 * @param peerIp the remote node address, e.g. "192.168.2.20"
 */
export function crossSubnetDecision(mode: EncapMode, nodeCidr: string, peerIp: string): RouteVia {
  switch (mode) {
    case 'Never': return 'direct';
    case 'Always': return 'tunnel';
    case 'CrossSubnet': return sameSubnet(nodeCidr, peerIp) ? 'direct' : 'tunnel';
    default: return assertNever(mode, 'encapsulation mode');
  }
}

export function sameSubnet(nodeCidr: string, peerIp: string): boolean {
  const subnet = parsePrefix(nodeCidr, { allowHostBits: true });
  const peer = parseAddress(peerIp);
  return prefixContains(subnet, peer);
}
