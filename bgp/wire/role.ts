/**
 * RFC 9234 BGP roles: the BGP Role capability (code 9) and the names used in configuration
 * (BIRD `local role`, FRR `local-role`).
 *
 *   Role capability value: | Role (1 octet) |   0 Provider, 1 RS, 2 RS-Client, 3 Customer, 4 Peer
 *
 * The capability travels as an 'unknown' capability (code 9, one octet of value), so the
 * capability codec needs no case for it: roleCapability() builds it and peerRoles() reads it.
 */
import type { Capability } from './types.js';

export const ROLE_CAPABILITY_CODE = 9;

export const BgpRoleCode = { provider: 0, rs: 1, 'rs-client': 2, customer: 3, peer: 4 } as const;
export type BgpRole = keyof typeof BgpRoleCode;

export const BGP_ROLES: readonly BgpRole[] = ['provider', 'rs', 'rs-client', 'customer', 'peer'];

/** The role the other side must have (RFC 9234 §4.2, Table 2). */
export const EXPECTED_PEER_ROLE: Readonly<Record<BgpRole, BgpRole>> = {
  provider: 'customer', customer: 'provider', rs: 'rs-client', 'rs-client': 'rs', peer: 'peer',
};

export function roleName(code: number): BgpRole | undefined {
  return BGP_ROLES.find((r) => BgpRoleCode[r] === code);
}

export function roleCapability(role: BgpRole): Capability {
  return { type: 'unknown', code: ROLE_CAPABILITY_CODE, value: Uint8Array.of(BgpRoleCode[role]) };
}

/**
 * The role values of every role capability in an OPEN (a number for an unknown value, NaN for a
 * capability whose length is not 1).
 */
export function peerRoles(caps: readonly Capability[]): number[] {
  const out: number[] = [];
  for (const c of caps) if (c.type === 'unknown' && c.code === ROLE_CAPABILITY_CODE) out.push(c.value.length === 1 ? c.value[0]! : NaN);
  return out;
}
