/**
 * A stable VTEP MAC for a node: the first 6 bytes of SHA-256(node name) with the
 * locally-administered bit set and the multicast bit cleared, so every node (and every restart)
 * computes the same MAC for a peer without storing it. Calico stores a random one in
 * Node.spec.vxlanTunnelMACAddr; when that field is set, use it instead.
 */
import { createHash } from 'node:crypto';

export function vxlanMacForNode(nodeName: string): string {
  const h = createHash('sha256').update(`tortie-vxlan:${nodeName}`).digest();
  const b = [...h.subarray(0, 6)];
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
