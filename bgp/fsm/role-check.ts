/**
 * RFC 9234 §4.2 role negotiation on the peer's OPEN. With a local role configured (eBGP only):
 * a role capability whose value does not pair with ours (provider-customer, rs-rs-client,
 * peer-peer), several role capabilities that disagree, or, in strict mode, none at all →
 * OPEN Message Error / Role Mismatch (2/11). Without a local role the peer's role is ignored.
 */
import { BgpWireError, ErrorCode, OpenSubcode } from '../wire/errors.js';
import { BgpRoleCode, EXPECTED_PEER_ROLE, peerRoles, roleName, type BgpRole } from '../wire/role.js';
import type { OpenMessage } from '../wire/types.js';

export interface RoleConfig {
  readonly local: BgpRole;
  /** Refuse a peer that advertises no role (BIRD `require roles`, FRR `strict-mode`). */
  readonly strict: boolean;
}

export function checkRole(role: RoleConfig | undefined, open: OpenMessage): BgpWireError | undefined {
  if (role === undefined) return undefined;
  const roles = peerRoles(open.capabilities);
  const want = EXPECTED_PEER_ROLE[role.local];
  const mismatch = (text: string) => new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.ROLE_MISMATCH, `Role mismatch: ${text}`);
  if (roles.length === 0) {
    return role.strict ? mismatch(`the peer advertises no BGP role (strict mode; we are ${role.local}, expected ${want})`) : undefined;
  }
  if (roles.some((r) => r !== roles[0])) return mismatch(`the peer advertises several different roles (${roles.join(', ')})`);
  const theirs = roles[0]!;
  if (theirs === BgpRoleCode[want]) return undefined;
  return mismatch(`the peer's role is ${roleName(theirs) ?? `unknown (${theirs})`}, ours is ${role.local}: expected ${want}`);
}
