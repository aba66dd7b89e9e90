/**
 * Capabilities as an operator reads them (`show protocols all`, birdc's "Neighbor caps"): the
 * IANA name of every code, also of those this codec only carries as `unknown` (a peer's long-lived
 * graceful restart, FQDN, extended next hop...), with the parameters of the ones it decodes.
 * Registry: https://www.iana.org/assignments/capability-codes.
 */
import { capabilityCode } from './capabilities.js';
import { AddPathMode, type AfiSafi, type Capability } from './types.js';
import { ROLE_CAPABILITY_CODE, roleName } from './role.js';

export const CAPABILITY_NAMES: Readonly<Record<number, string>> = {
  1: 'multiprotocol', 2: 'route refresh', 3: 'outbound route filtering', 4: 'multiple routes to a destination',
  5: 'extended next hop', 6: 'extended message', 7: 'BGPsec', 8: 'multiple labels', 9: 'BGP role',
  64: 'graceful restart', 65: '4-octet AS numbers', 66: 'dynamic capability (deprecated)', 67: 'dynamic capability',
  68: 'multisession', 69: 'ADD-PATH', 70: 'enhanced route refresh', 71: 'long-lived graceful restart',
  72: 'routing policy distribution', 73: 'FQDN', 74: 'BFD', 75: 'software version',
  128: 'route refresh (old Cisco)', 129: 'outbound route filtering (old Cisco)', 131: 'multisession (old Cisco)',
};

/** "ipv4-unicast", "ipv6-unicast", else "afi/safi". */
export function formatAfiSafi(f: AfiSafi): string {
  const afi = f.afi === 1 ? 'ipv4' : f.afi === 2 ? 'ipv6' : undefined;
  const safi = f.safi === 1 ? 'unicast' : f.safi === 2 ? 'multicast' : undefined;
  return afi !== undefined && safi !== undefined ? `${afi}-${safi}` : `${f.afi}/${f.safi}`;
}

const ADD_PATH_MODE: Record<number, string> = { [AddPathMode.RECEIVE]: 'receive', [AddPathMode.SEND]: 'send', [AddPathMode.BOTH]: 'send/receive' };

/** FQDN capability (draft-walton-bgp-hostname-capability): hostname and domain, length-prefixed. */
function fqdn(v: Uint8Array): string | undefined {
  const hl = v[0];
  if (hl === undefined || v.length < 1 + hl + 1) return undefined;
  const dl = v[1 + hl]!;
  if (v.length < 2 + hl + dl) return undefined;
  const dec = new TextDecoder('utf-8', { fatal: false });
  const host = dec.decode(v.subarray(1, 1 + hl)), domain = dec.decode(v.subarray(2 + hl, 2 + hl + dl));
  return domain ? `${host}.${domain}` : host;
}

/**
 * "multiprotocol ipv4-unicast", "graceful restart (restart time 120 s, N; ipv4-unicast F)",
 * "long-lived graceful restart (ipv4-unicast F stale 60 s)", "BGP role (customer)", "capability 200".
 */
export function formatCapability(c: Capability): string {
  switch (c.type) {
    case 'multiprotocol': return `multiprotocol ${formatAfiSafi(c)}`;
    case 'four-octet-as': return `4-octet AS numbers (AS ${c.asn})`;
    case 'graceful-restart': {
      const flags = [...(c.restarting ? ['R'] : []), ...(c.notification ? ['N'] : [])];
      const fams = c.families.map((f) => `${formatAfiSafi(f)}${f.forwardingPreserved ? ' F' : ''}`);
      return `graceful restart (restart time ${c.restartTime} s${flags.length ? `, ${flags.join(' ')}` : ''}${fams.length ? `; ${fams.join(', ')}` : ''})`;
    }
    case 'long-lived-graceful-restart': {
      const fams = c.families.map((f) => `${formatAfiSafi(f)}${f.forwardingPreserved ? ' F' : ''} stale ${f.staleTime} s`);
      return `long-lived graceful restart${fams.length ? ` (${fams.join(', ')})` : ''}`;
    }
    case 'add-path': return `ADD-PATH (${c.families.map((f) => `${formatAfiSafi(f)} ${ADD_PATH_MODE[f.mode] ?? f.mode}`).join(', ')})`;
    case 'unknown': {
      const name = CAPABILITY_NAMES[c.code];
      if (c.code === 73) { const f = fqdn(c.value); if (f !== undefined) return `FQDN (${f})`; }
      if (c.code === ROLE_CAPABILITY_CODE && c.value.length === 1) return `BGP role (${roleName(c.value[0]!) ?? `unknown role ${c.value[0]}`})`;
      return name !== undefined ? `${name} (code ${c.code})` : `capability ${c.code}`;
    }
    default: {
      // route refresh, enhanced route refresh, extended message, and any type added later: by code
      const code = capabilityCode(c);
      return CAPABILITY_NAMES[code] ?? `capability ${code}`;
    }
  }
}
