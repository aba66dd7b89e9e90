/**
 * Exported-route counts per family (birdc's per-channel "Routes: N imported, F filtered, M
 * exported") in `show protocols all`, against two BIRD 2 peers whose sessions each carry IPv4
 * and IPv6: one plain, one with ADD-PATH (paths counted). The counts are read from
 * tortie-bgpctl's text with the parser used for birdc, and compared with what each BIRD says it
 * imported on that channel; a withdrawal and a route passed on from the other peer move them.
 *
 *   bird-a AS65001 10.0.1.1 fd01::1 ──veth── 10.0.1.2 fd01::2 ┐
 *                                                              tortie-bgpd AS65002 (ns t)
 *   bird-b AS65003 10.0.2.1 fd02::1 ──veth── 10.0.2.2 fd02::2 ┘   (ADD-PATH with bird-b)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, TortieBgpd, parseBirdProtocol } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc');
const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';

const bird = (i: 1 | 2, as: number, addPaths: boolean) => `router id 10.0.${i}.1;
protocol device {}
protocol direct { ipv4; ipv6; }
protocol static s4 { ipv4; route 10.${60 + i}.0.0/24 blackhole; }
protocol static s6 { ipv6; route 2001:db8:${60 + i}::/48 blackhole; }
protocol bgp tortie { local 10.0.${i}.1 as ${as}; neighbor 10.0.${i}.2 as 65002; ${TIMERS}
  ipv4 { import all; export where proto = "s4"; ${addPaths ? 'add paths rx;' : ''} };
  ipv6 { import all; export where proto = "s6"; ${addPaths ? 'add paths rx;' : ''} }; }
`;

const TORTIE = `routerId: 10.0.1.2
asn: 65002
peers:
  - { name: birda, address: 10.0.1.1, asn: 65001, localAddress: 10.0.1.2, families: [ipv4-unicast, ipv6-unicast], connectRetry: 1 }
  - { name: birdb, address: 10.0.2.1, asn: 65003, localAddress: 10.0.2.2, families: [ipv4-unicast, ipv6-unicast], connectRetry: 1, addPaths: on }
originate:
  - { prefix: 10.50.0.0/24 }
  - { prefix: 10.50.1.0/24 }
  - { prefix: 10.50.2.0/24 }
  - { prefix: "2001:db8:50::/48" }
  - { prefix: "2001:db8:51::/48" }
`;

describe('show protocols all: exported routes per family, as each BIRD imported them', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('famcnt');
  let t: TortieBgpd, a: BirdPeer, b: BirdPeer;
  /** Our per-channel counts, from tortie-bgpctl's birdc-shaped text. */
  const ours = (peer: string) => parseBirdProtocol(t.ctl('show', 'protocols', 'all', peer)).routes;
  const theirs = (p: BirdPeer) => p.protocol('tortie').routes;
  const agree = async (peer: string, p: BirdPeer, want: { ipv4: number; ipv6: number }) => {
    await pollUntil(() => {
      const o = ours(peer), th = theirs(p);
      return (o.ipv4?.exported === want.ipv4 && o.ipv6?.exported === want.ipv6
        && th.ipv4?.imported === want.ipv4 && th.ipv6?.imported === want.ipv6) || undefined;
    }, { what: `${peer}: ${JSON.stringify(want)} exported, as BIRD imported`, timeoutMs: 30_000 });
  };

  before(async () => {
    const tn = topo.ns('t'), an = topo.ns('a'), bn = topo.ns('b');
    topo.link(an, 'eth0', ['10.0.1.1/24', 'fd01::1/64'], tn, 'eth1', ['10.0.1.2/24', 'fd01::2/64']);
    topo.link(bn, 'eth0', ['10.0.2.1/24', 'fd02::1/64'], tn, 'eth2', ['10.0.2.2/24', 'fd02::2/64']);
    [a, b] = await Promise.all([BirdPeer.start(topo, an, bird(1, 65001, false)), BirdPeer.start(topo, bn, bird(2, 65003, true))]);
    t = await TortieBgpd.start(topo, tn, { yaml: TORTIE });
  });
  after(async () => { await topo.cleanup(); });

  it('counts originated and passed-on routes per channel, without and with ADD-PATH', async () => {
    // To each BIRD: our 3 IPv4 and 2 IPv6 prefixes plus the other BIRD's one of each (never its own).
    await agree('birda', a, { ipv4: 4, ipv6: 3 });
    await agree('birdb', b, { ipv4: 4, ipv6: 3 });
    const text = t.ctl('show', 'protocols', 'all', 'birda');
    assert.match(text, /Channel ipv4\n +State: +UP\n +Routes: +1 imported, 0 filtered, 4 exported\n/);
    assert.match(text, /Channel ipv6\n +State: +UP\n +Routes: +1 imported, 0 filtered, 3 exported\n/);
  });

  it('follows a withdrawal from one peer in the other peer\'s IPv6 count only', async () => {
    a.cmd('disable', 's6');
    await agree('birdb', b, { ipv4: 4, ipv6: 2 });
    await agree('birda', a, { ipv4: 4, ipv6: 3 });
    a.cmd('enable', 's6');
    await agree('birdb', b, { ipv4: 4, ipv6: 3 });
  });
});
