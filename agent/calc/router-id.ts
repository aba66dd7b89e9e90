/**
 * The BGP router id as calico-node derives it (confd's populateNodeConfig): CALICO_ROUTER_ID=hash
 * → an IPv4-formatted hash of the node name (for IPv6-only nodes and clusters whose node
 * addresses repeat); any other non-empty value → that value; otherwise the node's IPv4 address.
 */
import { createHash } from 'node:crypto';

/**
 * confd's hashToIPv4: the first four bytes of sha256(node name); a first octet above 223 is
 * lowered by 32 so the id is never a multicast or reserved address.
 */
export function hashToIPv4(nodeName: string): string {
  const b = createHash('sha256').update(nodeName).digest();
  const first = (b[0] ?? 0) > 223 ? (b[0] ?? 0) - 32 : (b[0] ?? 0);
  return [first, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0].join('.');
}

export function routerIdFor(setting: string | undefined, nodeName: string, nodeIpv4: string | undefined): string | undefined {
  if (setting === 'hash') return hashToIPv4(nodeName);
  if (setting !== undefined && setting !== '') return setting;
  return nodeIpv4;
}
