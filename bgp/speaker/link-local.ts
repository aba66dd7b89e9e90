/**
 * RFC 2545 §3: an IPv6 next hop carries the link-local address after the global one (32 octets)
 * when the peer shares a subnet with the router the global address names. For our own next hop
 * (next-hop-self, eBGP) that is: the peer's address is on a subnet of the interface holding the
 * session's local address; then we add that interface's link-local address, as FRR and BIRD do.
 * Received next hops: the global one is used, the link-local one when the global is all zeros.
 */
import { networkInterfaces } from 'node:os';
import { isValidAddress, parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import { canonicalAddress } from '../session/listener.js';

/** Our link-local address on the session's interface when the peer is on one of its subnets. */
export function sharedSubnetLinkLocal(localText: string | undefined, peerText: string): Uint8Array | undefined {
  if (localText === undefined || !isValidAddress(peerText)) return undefined;
  const peer = parseAddress(canonicalAddress(peerText) ?? peerText);
  for (const addrs of Object.values(networkInterfaces())) {
    if (!addrs?.some((a) => canonicalAddress(a.address) === localText)) continue;
    const onLink = addrs.some((a) => a.cidr !== null && !a.internal && prefixContains(parsePrefix(a.cidr, { allowHostBits: true }), peer));
    const ll = addrs.find((a) => a.family === 'IPv6' && isLinkLocal(parseAddress(a.address).bytes));
    return onLink && ll ? parseAddress(ll.address).bytes : undefined;
  }
  return undefined;
}

/**
 * The interface toward a peer, worked out once per session: for policy `interface` matches (BIRD's
 * `ifname` of its routes) and for the kernel section's link-local next hops, which are on the
 * link of the session (RFC 2545 §3). The one with a subnet holding the peer's address, else the
 * one holding the session's local address (a multihop session, or a link-local peer: fe80::/64
 * is on every interface). Undefined when neither is known.
 */
export function sessionInterface(localText: string | undefined, peerText: string): string | undefined {
  const parsed = isValidAddress(peerText) ? parseAddress(canonicalAddress(peerText) ?? peerText) : undefined;
  const peer = parsed !== undefined && !isLinkLocal(parsed.bytes) ? parsed : undefined;
  let holder: string | undefined;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (peer !== undefined && addrs?.some((a) => a.cidr !== null && !a.internal && prefixContains(parsePrefix(a.cidr, { allowHostBits: true }), peer))) return name;
    if (localText !== undefined && addrs?.some((a) => canonicalAddress(a.address) === localText)) holder ??= name;
  }
  return holder;
}

function isLinkLocal(b: Uint8Array): boolean { return b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80; }

/** The next hop to use from an MP_REACH next-hop list (global first, then link-local). */
export function usableNextHop(hops: readonly Uint8Array[]): Uint8Array | undefined {
  const g = hops[0], ll = hops[1];
  if (g === undefined || ll === undefined || g.length !== 16) return g;
  return g.every((x) => x === 0) ? ll : g;
}
