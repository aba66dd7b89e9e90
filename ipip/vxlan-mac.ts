/**
 * A stable VTEP MAC for a node: the first 6 bytes of SHA-256(node name) with the
 * locally-administered bit set and the multicast bit cleared, so every node (and every restart)
 * computes the same MAC for a peer without storing it. The IPv6 VTEP (vxlan-v6.calico) gets its
 * own MAC from another seed, as Calico keeps vxlanTunnelMACAddr and vxlanTunnelMACAddrV6 apart.
 * Calico stores random ones in the Node resource; when those fields are set, use them instead.
 */
import { createHash } from 'node:crypto';

export function vxlanMacForNode(nodeName: string, family: 4 | 6 = 4): string {
  const h = createHash('sha256').update(`${family === 4 ? 'tortie-vxlan' : 'tortie-vxlan-v6'}:${nodeName}`).digest();
  const b = [...h.subarray(0, 6)];
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
