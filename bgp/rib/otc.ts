/**
 * RFC 9234 §5: the Only to Customer (OTC) attribute's ingress and egress procedures, by our
 * configured role on the session (roles are checked in the OPEN, bgp/fsm/role-check.ts):
 *
 *   ingress  from a Customer or RS-Client (we: provider, rs) with OTC          → route leak: refused
 *            from a Peer (we: peer) with OTC ≠ the peer's AS                    → route leak: refused
 *            from a Provider, Peer or RS (we: customer, peer, rs-client) no OTC → add OTC = peer's AS
 *   egress   to a Provider, Peer or RS (we: customer, peer, rs-client) with OTC → not advertised
 *            to a Customer, Peer or RS-Client (we: provider, peer, rs) no OTC   → add OTC = our AS
 *
 * Without a role the attribute passes untouched (optional transitive).
 */
import type { BgpRole } from '../wire/role.js';
import type { PathAttributes } from '../wire/types.js';

/** True when a route with these attributes from a peer in AS `peerAs` is a route leak (refused). */
export function otcIngressLeak(role: BgpRole | undefined, attrs: PathAttributes, peerAs: number): boolean {
  const otc = attrs.onlyToCustomer;
  if (role === undefined || otc === undefined) return false;
  if (role === 'provider' || role === 'rs') return true;
  return role === 'peer' && otc !== peerAs;
}

/** The attributes as stored: OTC = the peer's AS added where the ingress procedure says so. */
export function otcIngressMark(role: BgpRole | undefined, attrs: PathAttributes, peerAs: number): PathAttributes {
  if (attrs.onlyToCustomer !== undefined) return attrs;
  if (role === 'customer' || role === 'peer' || role === 'rs-client') return { ...attrs, onlyToCustomer: peerAs };
  return attrs;
}

/**
 * Egress: undefined when the route must not go to this peer, else the attributes to send (OTC =
 * `localAs` added towards customers, peers and RS clients).
 */
export function otcEgress(role: BgpRole | undefined, attrs: PathAttributes, localAs: number): PathAttributes | undefined {
  if (role === undefined) return attrs;
  const has = attrs.onlyToCustomer !== undefined;
  if (has && (role === 'customer' || role === 'peer' || role === 'rs-client')) return undefined;
  if (!has && (role === 'provider' || role === 'peer' || role === 'rs')) return { ...attrs, onlyToCustomer: localAs };
  return attrs;
}
