/** Capabilities by name (show protocols all): every IANA code a peer may send, decoded from OPEN bytes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../../bgp/wire/reader.js';
import { decodeCapabilities } from '../../../bgp/wire/capabilities.js';
import { formatCapability } from '../../../bgp/wire/capability-names.js';
import type { Capability } from '../../../bgp/wire/types.js';

/** Optional parameter type 2 (capabilities) bodies: code, length, value. */
function caps(...tlvs: number[][]): Capability[] {
  const out: Capability[] = [];
  decodeCapabilities(new Reader(Uint8Array.from(tlvs.flat())), out);
  return out;
}

describe('capability names', () => {
  it('names the codes FRR and BIRD send, with the parameters of the decoded ones', () => {
    const fqdn = [...'tor1'].map((c) => c.charCodeAt(0));
    const got = caps(
      [1, 4, 0, 1, 0, 1], // multiprotocol IPv4 unicast
      [2, 0], // route refresh
      [128, 0], // old Cisco route refresh (FRR sends it)
      [5, 6, 0, 1, 0, 1, 0, 2], // extended next hop: IPv4 unicast over IPv6
      [6, 0], // extended message
      [64, 6, 0x80 | 0x40 | 0, 120, 0, 1, 1, 0x80], // graceful restart: R, N, 120 s; ipv4-unicast F
      [65, 4, 0, 0, 0xfd, 0xe9], // AS 65001
      [69, 4, 0, 1, 1, 3], // ADD-PATH ipv4-unicast send/receive
      [70, 0], // enhanced route refresh
      [71, 7, 0, 1, 1, 0x80, 0, 0, 60], // long-lived GR
      [73, 6, 4, ...fqdn, 0], // FQDN "tor1", no domain
      [9, 1, 3], // BGP role: customer
      [200, 1, 9],
    );
    assert.deepEqual(got.map(formatCapability), [
      'multiprotocol ipv4-unicast', 'route refresh', 'route refresh (old Cisco) (code 128)', 'extended next hop (code 5)',
      'extended message', 'graceful restart (restart time 120 s, R N; ipv4-unicast F)', '4-octet AS numbers (AS 65001)',
      'ADD-PATH (ipv4-unicast send/receive)', 'enhanced route refresh', 'long-lived graceful restart (ipv4-unicast F stale 60 s)', 'FQDN (tor1)',
      'BGP role (customer)', 'capability 200',
    ]);
  });
});
