/**
 * RFC 2545 §3 link-local next hop: over an IPv6 session on a shared subnet tortie-bgpd sends its
 * global address and its link-local one (32-octet MP_REACH next hop), checked in BIRD's view of
 * the route (`BGP.next_hop: GLOBAL LINK-LOCAL`); BIRD's own 32-octet next hops are accepted and
 * the global one used.
 *
 *   BIRD AS65001 (ns b) fd62:5::1 ──veth── fd62:5::2 tortie-bgpd AS65002 (ns t)
 *
 * BIRD, not FRR: the test helper runs FRR's bgpd without zebra, and without zebra's interface
 * data FRR 8.4 withdraws every route with a link-local next hop ("sent a v6 LL next-hop and
 * there's no peer interface information") and then misparses the UPDATE's NLRI (3/10).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc');

const BIRD = `router id 10.62.5.1;
protocol device {}
protocol static { ipv6; route fd81::/64 blackhole; }
protocol bgp tortie {
  local fd62:5::1 as 65001; neighbor fd62:5::2 as 65002;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv6 { import all; export all; };
}
`;

const TORTIE = `routerId: 10.62.5.2
asn: 65002
listen: { address: "::", port: 179 }
warmUp: false
peers:
  - { name: bird, address: "fd62:5::1", asn: 65001, connectRetry: 1 }
originate:
  - { prefix: "fd72::/64" }
`;

describe('interop: IPv6 link-local next hop with the global one (RFC 2545 §3) against BIRD', { skip, timeout: 90_000 }, () => {
  const topo = new Topology('ll6');
  let t: TortieBgpd, bird: BirdPeer, nsT: string;
  before(async () => {
    nsT = topo.ns('t');
    const nsB = topo.ns('b');
    topo.link(nsB, 'veB', 'fd62:5::1/64', nsT, 'veT', 'fd62:5::2/64');
    t = await TortieBgpd.start(topo, nsT, { yaml: TORTIE });
    bird = await BirdPeer.start(topo, nsB, BIRD);
  });
  after(async () => { await topo.cleanup(); });

  it('our route reaches BIRD with our global and our link-local next hop', async () => {
    const ourLl = await pollUntil(() => /inet6 (fe80::[0-9a-f:]+)\/64/.exec(topo.exec(nsT, 'ip', ['-6', 'addr', 'show', 'dev', 'veT', 'scope', 'link']))?.[1],
      { what: 'link-local address on veT' });
    const r = await pollUntil(() => bird.routes('fd72::/64').find((x) => x.proto === 'tortie'), { what: 'fd72::/64 at BIRD', timeoutMs: 30_000 });
    assert.equal(r.attrs['BGP.next_hop'], `fd62:5::2 ${ourLl}`);
  });

  it('BIRD\'s route (BIRD sends global + link-local on a direct session) is accepted with its global next hop', async () => {
    const r = await pollUntil(async () => (await t.routes('fd81::/64'))[0], { what: 'fd81::/64 at tortie', timeoutMs: 30_000 });
    assert.equal(r.nextHop, 'fd62:5::1');
  });
});
