/**
 * TCP-MD5 (RFC 2385), GTSM (RFC 5082) and the TTL of single-hop / multihop eBGP, tortie-bgpd
 * against BIRD 2 and FRR 8, checked on the peers' own view and on the kernels' counters (nstat).
 *
 *   bird  AS65001 (ns b) 10.61.1.1 ──── 10.61.1.2 ┐
 *   frr   AS65003 (ns f) 10.61.2.1 ──── 10.61.2.2 ├ tortie-bgpd AS65002 (ns t), listening on "::"
 *      router (ns r) 10.61.3.1 fd61:3::1 ──── 10.61.3.2 fd61:3::2 ┘
 *   far   AS65004 (ns c) 10.61.4.2 fd61:4::2 ──── 10.61.4.1 fd61:4::1 (ns r)   two hops from tortie
 *
 * The listener is dual-stack, so the IPv4 peers' keys and GTSM entries sit on an IPv6 socket
 * (IPv4-mapped); far also peers over IPv6 (IPV6_UNICAST_HOPS, IPV6_MINHOPCOUNT, the filter's
 * IPv6 part).
 * bird and frr: MD5 and GTSM (BIRD `ttl security on`, FRR `ttl-security hops 1`); frr starts with
 * a wrong key on our side (refused, TcpExtTCPMD5Failure in FRR's namespace), then SIGHUP with
 * the right one: frr comes up, bird's session is not touched. far (BIRD, multihop 2) behind the
 * router: our single-hop TTL 1 dies at the router (ICMP time exceeded counted there), multihop 2
 * works; with GTSM on both sides, one hop allowed on ours is refused (TcpExtTCPMinTTLDrop), two work.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';
import { trySh } from '../../helpers/sh.js';
import { existsSync } from 'node:fs';
import { nativeAddonCandidates } from '../../../common/native/native.js';

const skip = topologySkipReason('bird', 'birdc', 'vtysh', '/usr/lib/frr/bgpd', 'nstat')
  ?? (nativeAddonCandidates().some((p) => existsSync(p)) ? undefined : 'the native helper is not built (scripts/build-native.sh)');

const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';
const BIRD = `router id 10.61.1.1;
protocol device {}
protocol static { ipv4; route 10.71.0.0/24 blackhole; }
protocol bgp tortie {
  local 10.61.1.1 as 65001; neighbor 10.61.1.2 as 65002; ${TIMERS}
  password "md5-for-bird"; ttl security on;
  ipv4 { import all; export all; };
}
`;
const far = (gtsm: boolean) => `router id 10.61.4.2;
protocol device {}
protocol static { ipv4; route 10.74.0.0/24 blackhole; }
protocol bgp tortie {
  local 10.61.4.2 as 65004; neighbor 10.61.3.2 as 65002; ${TIMERS}
  multihop 2; ${gtsm ? 'ttl security on;' : ''}
  ipv4 { import all; export all; };
}
protocol bgp tortie6 {
  local fd61:4::2 as 65004; neighbor fd61:3::2 as 65002; ${TIMERS}
  multihop 2; ${gtsm ? 'ttl security on;' : ''}
  ipv6 { import all; export all; };
}
`;
const FRR = `frr defaults datacenter
hostname frrmd5
router bgp 65003
 bgp router-id 10.61.2.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.61.2.2 remote-as 65002
 neighbor 10.61.2.2 timers connect 1
 neighbor 10.61.2.2 password md5-for-frr
 neighbor 10.61.2.2 ttl-security hops 1
 address-family ipv4 unicast
  network 10.73.0.0/24
  neighbor 10.61.2.2 activate
 exit-address-family
`;
const tortie = (o: { frrKey: string; far: string }) => `routerId: 10.61.1.2
asn: 65002
listen: { address: "::", port: 179 }
warmUp: false
peers:
  - { name: bird, address: 10.61.1.1, asn: 65001, connectRetry: 1, password: md5-for-bird, ttlSecurity: true }
  - { name: frr, address: 10.61.2.1, asn: 65003, connectRetry: 1, password: ${o.frrKey}, ttlSecurity: 1 }
  - { name: far, address: 10.61.4.2, asn: 65004, connectRetry: 1${o.far} }
  - { name: far6, address: "fd61:4::2", asn: 65004, connectRetry: 1${o.far} }
originate:
  - { prefix: 10.72.0.0/24 }
`;

/** One kernel counter in a namespace (nstat -az prints absolute values). */
function counter(ns: string, name: string): number {
  const out = trySh('ip', ['netns', 'exec', ns, 'nstat', '-az', name]).stdout;
  const m = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(out);
  return m ? Number(m[1]) : 0;
}

interface FrrNeighbor { bgpState?: string; connectionsEstablished?: number }

describe('TCP-MD5, GTSM and eBGP TTL against BIRD 2 and FRR (tortie-bgpd)', { skip }, () => {
  const topo = new Topology('md5');
  let t: TortieBgpd, bird: BirdPeer, frr: FrrPeer, farBird: BirdPeer;
  let nsT = '', nsF = '', nsR = '';
  const frrNeighbor = (): FrrNeighbor => (frr.json('show bgp neighbors 10.61.2.2 json') as Record<string, FrrNeighbor>)['10.61.2.2'] ?? {};
  const reload = async (o: { frrKey: string; far: string }) => {
    t.writeConfig(tortie(o));
    t.signal('SIGHUP');
    // the reload is applied when the daemon's running config shows it (peer restarted)
  };

  before(async () => {
    nsT = topo.ns('t');
    const nsB = topo.ns('b');
    nsF = topo.ns('f');
    nsR = topo.ns('r');
    const nsC = topo.ns('c');
    topo.link(nsB, 'eth0', '10.61.1.1/24', nsT, 'eb', '10.61.1.2/24');
    topo.link(nsF, 'eth0', '10.61.2.1/24', nsT, 'ef', '10.61.2.2/24');
    topo.link(nsR, 'et', ['10.61.3.1/24', 'fd61:3::1/64'], nsT, 'er', ['10.61.3.2/24', 'fd61:3::2/64']);
    topo.link(nsR, 'ec', ['10.61.4.1/24', 'fd61:4::1/64'], nsC, 'eth0', ['10.61.4.2/24', 'fd61:4::2/64']);
    topo.exec(nsR, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    topo.exec(nsR, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    topo.exec(nsT, 'ip', ['route', 'add', '10.61.4.0/24', 'via', '10.61.3.1']);
    topo.exec(nsC, 'ip', ['route', 'add', '10.61.3.0/24', 'via', '10.61.4.1']);
    topo.exec(nsT, 'ip', ['-6', 'route', 'add', 'fd61:4::/64', 'via', 'fd61:3::1']);
    topo.exec(nsC, 'ip', ['-6', 'route', 'add', 'fd61:3::/64', 'via', 'fd61:4::1']);
    bird = await BirdPeer.start(topo, nsB, BIRD);
    frr = await FrrPeer.start(topo, nsF, FRR);
    farBird = await BirdPeer.start(topo, nsC, far(false));
    t = await TortieBgpd.start(topo, nsT, { yaml: tortie({ frrKey: 'wrong-key', far: '' }) });
  });
  after(async () => { await topo.cleanup(); });

  it('MD5 + GTSM with BIRD: Established on both sides, routes both ways, key visible on the socket', async () => {
    await pollUntil(() => bird.protocol('tortie').bgpState === 'Established', { what: 'BIRD Established with MD5 and ttl security', timeoutMs: 15_000 });
    await pollUntil(async () => (await t.peer('bird')).state === 'Established' && bird.routes('10.72.0.0/24').length === 1,
      { what: 'our route at BIRD' });
    const ss = topo.exec(nsT, 'ss', ['-tni', 'state', 'established', 'dst', '10.61.1.1']);
    assert.match(ss, /md5keys:10\.61\.1\.1/, 'the kernel signs the session with the peer\'s key');
  });

  it('wrong MD5 key with FRR: never Established, FRR\'s kernel counts MD5 failures', async () => {
    const before = counter(nsF, 'TcpExtTCPMD5Failure');
    await pollUntil(() => counter(nsF, 'TcpExtTCPMD5Failure') > before, { what: 'TcpExtTCPMD5Failure rising in FRR\'s namespace', timeoutMs: 15_000 });
    // and ours counts FRR's SYNs, signed with its (right) key against our wrong one
    await pollUntil(() => counter(nsT, 'TcpExtTCPMD5Failure') > 0, { what: 'TcpExtTCPMD5Failure in our namespace', timeoutMs: 15_000 });
    assert.notEqual(frrNeighbor().bgpState, 'Established');
    assert.notEqual((await t.peer('frr')).state, 'Established');
    let last = '';
    await pollUntil(async () => /not answered in 1 s with TCP-MD5 configured/.test(last = (await t.peer('frr')).lastError ?? ''),
      { what: () => `our status to say why (lastError: ${last})` });
  });

  it('SIGHUP with the right key: FRR (MD5 + ttl-security hops 1) comes up, BIRD\'s session is not restarted', async () => {
    const birdBefore = await t.peer('bird');
    const birdSince = bird.protocol('tortie').info;
    await reload({ frrKey: 'md5-for-frr', far: '' });
    await pollUntil(() => frrNeighbor().bgpState === 'Established', { what: 'FRR Established after the key change', timeoutMs: 15_000 });
    await pollUntil(() => ((frr.json('show bgp ipv4 unicast 10.72.0.0/24 json') as { paths?: unknown[] }).paths ?? []).length === 1,
      { what: 'our route at FRR' });
    const birdAfter = await t.peer('bird');
    assert.equal(birdAfter.state, 'Established');
    assert.equal(birdAfter.establishedTransitions, birdBefore.establishedTransitions, 'BIRD\'s session was not reset');
    assert.equal(bird.protocol('tortie').info, birdSince, 'BIRD saw no restart');
  });

  it('single-hop eBGP sends TTL 1: a peer behind a router is not reached; multihop 2 reaches it', async () => {
    const before = counter(nsR, 'IcmpOutTimeExcds');
    await pollUntil(() => counter(nsR, 'IcmpOutTimeExcds') > before, { what: 'the router dropping our TTL-1 packets (IcmpOutTimeExcds)', timeoutMs: 15_000 });
    assert.notEqual(farBird.protocol('tortie').bgpState, 'Established');
    await reload({ frrKey: 'md5-for-frr', far: ', multihop: 2' });
    await pollUntil(() => farBird.protocol('tortie').bgpState === 'Established' && farBird.protocol('tortie6').bgpState === 'Established',
      { what: 'far BIRD Established with multihop 2, IPv4 and IPv6', timeoutMs: 15_000 });
    assert.equal(frrNeighbor().bgpState, 'Established', 'FRR untouched by the reload');
  });

  it('GTSM: a peer one hop too far is refused (its SYNs die at our listener filter, TcpExtTCPMinTTLDrop on ours); two hops allowed: up', async () => {
    // Ours first: BIRD applies `ttl security` to its open connection at once, and would then
    // drop our Cease (sent with the old TTL 2) and stay Established until its hold timer.
    await reload({ frrKey: 'md5-for-frr', far: ', ttlSecurity: true' });
    await pollUntil(() => farBird.protocol('tortie').bgpState !== 'Established' && farBird.protocol('tortie6').bgpState !== 'Established',
      { what: 'far BIRD saw our resets' });
    farBird.reconfigure(far(true));
    const before = counter(nsT, 'TcpExtTCPMinTTLDrop');
    await pollUntil(() => counter(nsT, 'TcpExtTCPMinTTLDrop') > before, { what: 'our kernel dropping the far peer\'s TTL-254 segments', timeoutMs: 15_000 });
    // BIRD's own SYNs (TTL 254 here) die at our listener's GTSM filter: its connection attempts
    // sit in SYN-SENT until its connect retry gives up, again and again, and we never hold a
    // connection from it. Without the filter the handshake completes, its OPEN is queued before
    // accept() sets the minimum TTL, and BIRD reaches Established on our OPEN and KEEPALIVE.
    const nsC = farBird.ns;
    const attempts = { 4: new Set<string>(), 6: new Set<string>() };
    await pollUntil(() => {
      for (const [fam, dst, src] of [[4, '10.61.3.2', /10\.61\.4\.2:(\d+)/g], [6, '[fd61:3::2]', /\[fd61:4::2\]:(\d+)/g]] as const) {
        const synSent = topo.exec(nsC, 'ss', ['-tnH', 'state', 'syn-sent', 'dst', dst, 'dport', '=', ':179']);
        for (const m of synSent.matchAll(src)) attempts[fam].add(m[1] ?? '');
      }
      assert.equal(topo.exec(nsT, 'ss', ['-tnH', 'state', 'established', 'state', 'syn-recv', 'sport', '=', ':179']).split('\n')
        .filter((l) => /10\.61\.4\.2|fd61:4::2/.test(l)).join('\n'), '', 'no connection from the far peer');
      for (const proto of ['tortie', 'tortie6']) assert.doesNotMatch(farBird.protocol(proto).bgpState ?? '', /OpenSent|OpenConfirm|Established/);
      return attempts[4].size >= 3 && attempts[6].size >= 3;
    }, { what: () => `three of far BIRD's connection attempts per family left unanswered (seen: ${attempts[4].size} IPv4, ${attempts[6].size} IPv6)`, timeoutMs: 20_000 });
    assert.match(farBird.protocol('tortie').bgpState ?? '', /^(Connect|Active)$/);
    assert.notEqual((await t.peer('far')).state, 'Established');
    await reload({ frrKey: 'md5-for-frr', far: ', ttlSecurity: true, multihop: 2' });
    await pollUntil(() => farBird.protocol('tortie').bgpState === 'Established' && farBird.protocol('tortie6').bgpState === 'Established',
      { what: 'far BIRD Established with GTSM over two hops, IPv4 and IPv6', timeoutMs: 15_000 });
  });
});
