/**
 * OPEN validation (RFC 4271 §6.2, RFC 6286 BGP identifier, RFC 6793 4-octet AS, RFC 5492
 * required capabilities). Returns the error to send as a NOTIFICATION, or undefined when the
 * OPEN is acceptable.
 */
import { capabilityCode } from '../wire/capabilities.js';
import { BgpWireError, ErrorCode, OpenSubcode } from '../wire/errors.js';
import { AS_TRANS, type OpenMessage } from '../wire/types.js';
import type { FsmConfig } from './fsm-types.js';
import { checkRole } from './role-check.js';

/** The highest BGP version we speak; sent as the 2-octet data of 2/1. */
export const BGP_VERSION = 4;

/** The peer's real AS: the 4-octet AS capability when present, else the 2-octet field. */
export function peerAsOf(open: OpenMessage): number {
  for (const c of open.capabilities) if (c.type === 'four-octet-as') return c.asn;
  return open.myAs;
}

function u16(n: number): Uint8Array { return Uint8Array.of((n >> 8) & 0xff, n & 0xff); }

function ipv4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

export function checkOpen(open: OpenMessage, config: FsmConfig): BgpWireError | undefined {
  if (open.version !== BGP_VERSION) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION,
      `OPEN version ${open.version} is not supported (we speak ${BGP_VERSION})`, { data: u16(BGP_VERSION) });
  }
  const hasFourOctet = open.capabilities.some((c) => c.type === 'four-octet-as');
  if (open.myAs === AS_TRANS && !hasFourOctet) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS,
      `OPEN has AS_TRANS (${AS_TRANS}) without a 4-octet AS capability`, { data: u16(open.myAs) });
  }
  const peerAs = peerAsOf(open);
  if (hasFourOctet && peerAs <= 0xffff && open.myAs !== peerAs) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS,
      `OPEN My AS ${open.myAs} disagrees with its 4-octet AS capability ${peerAs}`, { data: u16(open.myAs) });
  }
  if (peerAs !== config.peerAs) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS,
      `peer AS ${peerAs} does not match the configured AS ${config.peerAs}`, { data: u16(open.myAs) });
  }
  if (open.bgpId === 0) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER,
      'BGP identifier 0.0.0.0 is not allowed (RFC 6286)');
  }
  if (config.peerAs === config.localAs && open.bgpId === config.routerId) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER,
      `iBGP peer uses our own BGP identifier ${ipv4Text(open.bgpId)} (RFC 6286)`);
  }
  if (open.holdTime === 1 || open.holdTime === 2) {
    return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME,
      `hold time ${open.holdTime} s is unacceptable (must be 0 or at least 3)`);
  }
  const roleError = config.peerAs !== config.localAs ? checkRole(config.role, open) : undefined;
  if (roleError) return roleError;
  for (const code of config.requiredCapabilities) {
    const present = open.capabilities.some((c) => capabilityCode(c) === code);
    if (!present) {
      return new BgpWireError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_CAPABILITY,
        `required capability ${code} is missing from the peer's OPEN`, { data: Uint8Array.of(code, 0) });
    }
  }
  return undefined;
}

