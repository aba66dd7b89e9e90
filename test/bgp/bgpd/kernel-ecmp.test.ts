/**
 * tortie-bgpd's `kernel` section with multipath, against the real kernel and two FRR ToRs
 * (dual-ToR ECMP): both ToRs advertise 198.51.100.0/24; the node installs one route with both
 * ToRs as next hops (RTA_MULTIPATH, our protocol and table); traffic to the server flows; when
 * one ToR's session goes down the route narrows to the other ToR and traffic still flows; a
 * route deleted behind our back comes back; SIGTERM removes our routes (no `persist`), other
 * protocols' routes stay; with `persist` they stay after the daemon exits, and the next start
 * leaves them in place until every peer has sent its End-of-RIB.
 *
 *                  ┌── tor1 FRR AS65101 ──┐
 *   node (ns n)  eth1 10.0.1.2 ─ 10.0.1.1   10.9.1.1 ─ 10.9.1.2 s1 ┐
 *   tortie-bgpd  AS65000                                          srv (ns s): 198.51.100.1/32 on lo
 *                eth2 10.0.2.2 ─ 10.0.2.1   10.9.2.1 ─ 10.9.2.2 s2 ┘
 *                  └── tor2 FRR AS65102 ──┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { FrrPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('vtysh', '/usr/lib/frr/bgpd', 'ping');

const tor = (n: 1 | 2) => `frr defaults datacenter
hostname tor${n}
router bgp 6510${n}
 bgp router-id 10.0.${n}.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.${n}.2 remote-as 65000
 neighbor 10.0.${n}.2 timers connect 1
 address-family ipv4 unicast
  network 198.51.100.0/24
  neighbor 10.0.${n}.2 activate
 exit-address-family
`;

const NODE = `routerId: 10.0.1.2
asn: 65000
peers:
  - { name: tor1, address: 10.0.1.1, asn: 65101, localAddress: 10.0.1.2, connectRetry: 1 }
  - { name: tor2, address: 10.0.2.1, asn: 65102, localAddress: 10.0.2.2, connectRetry: 1 }
# The ToRs are in different ASes: paths of equal length, different content (BIRD merges them).
multipath: { maxPaths: 4, relaxAsPath: true }
kernel: { table: 254, protocol: 186, mergePaths: true, persist: false, families: [ipv4] }
`;

/** The families whose End-of-RIB a peer of the daemon has sent (its show-protocols status). */
const eor = async (d: TortieBgpd, peer: string): Promise<string[]> =>
  ((await d.peer(peer)) as unknown as { eorReceived?: string[] }).eorReceived ?? [];

type IpRoute = { dst?: string; gateway?: string; dev?: string; protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> };

describe('tortie-bgpd kernel section: dual-ToR ECMP into the kernel', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('kecmp');
  let n: string, t: TortieBgpd, tor1: FrrPeer;
  const route = (): IpRoute | undefined =>
    (JSON.parse(sh('ip', ['-n', n, '-j', 'route', 'show', '198.51.100.0/24'])) as IpRoute[])[0];
  const hops = (): string[] => {
    const r = route();
    if (r === undefined) return [];
    return (r.nexthops ?? [r]).map((h) => `${h.gateway ?? ''}@${h.dev ?? ''}`).sort();
  };
  const ping = (): boolean => trySh('ip', ['netns', 'exec', n, 'ping', '-c', '1', '-W', '1', '198.51.100.1']).status === 0;

  before(async () => {
    n = topo.ns('n');
    const r1 = topo.ns('t1'), r2 = topo.ns('t2'), s = topo.ns('s');
    topo.link(n, 'eth1', '10.0.1.2/24', r1, 'tn', '10.0.1.1/24');
    topo.link(n, 'eth2', '10.0.2.2/24', r2, 'tn', '10.0.2.1/24');
    topo.link(r1, 'ts', '10.9.1.1/24', s, 's1', '10.9.1.2/24');
    topo.link(r2, 'ts', '10.9.2.1/24', s, 's2', '10.9.2.2/24');
    topo.exec(s, 'ip', ['addr', 'add', '198.51.100.1/32', 'dev', 'lo']);
    topo.exec(s, 'ip', ['route', 'add', '10.0.1.0/24', 'via', '10.9.1.1']);
    topo.exec(s, 'ip', ['route', 'add', '10.0.2.0/24', 'via', '10.9.2.1']);
    for (const [r, i] of [[r1, 1], [r2, 2]] as const) {
      topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      topo.exec(r, 'ip', ['route', 'add', '198.51.100.0/24', 'via', `10.9.${i}.2`]);
    }
    // Another protocol's route in the same table: never ours to touch.
    topo.exec(n, 'ip', ['route', 'add', '203.0.113.0/24', 'via', '10.0.1.1', 'proto', 'static']);
    [tor1] = await Promise.all([FrrPeer.start(topo, r1, tor(1)), FrrPeer.start(topo, r2, tor(2))]);
    t = await TortieBgpd.start(topo, n, { yaml: NODE });
  });
  after(async () => { await topo.cleanup(); });

  it('installs both ToRs as next hops of one route, in our protocol; traffic flows', async () => {
    await pollUntil(() => hops().length === 2 || undefined, { what: 'ECMP route with two next hops', timeoutMs: 30_000 });
    assert.deepEqual(hops(), ['10.0.1.1@eth1', '10.0.2.1@eth2']);
    assert.equal(route()?.protocol, 'bgp');
    await pollUntil(() => ping() || undefined, { what: 'ping to the server through the ToRs', timeoutMs: 10_000 });
  });

  it('repairs a route deleted behind its back within a second', async () => {
    sh('ip', ['-n', n, 'route', 'del', '198.51.100.0/24', 'proto', 'bgp']);
    await pollUntil(() => hops().length === 2 || undefined, { what: 'route restored', timeoutMs: 1000, intervalMs: 20 });
  });

  it('narrows to the other ToR when one session goes down, and traffic still flows; widens again', async () => {
    tor1.configure('router bgp 65101', 'neighbor 10.0.1.2 shutdown');
    await pollUntil(() => (hops().length === 1 && hops()[0] === '10.0.2.1@eth2') || undefined, { what: 'route through tor2 only', timeoutMs: 15_000 });
    assert.ok(ping(), 'traffic flows through tor2');
    tor1.configure('router bgp 65101', 'no neighbor 10.0.1.2 shutdown');
    await pollUntil(() => hops().length === 2 || undefined, { what: 'both ToRs again', timeoutMs: 30_000 });
  });

  it('SIGTERM removes our routes (no persist) and leaves other protocols alone', async () => {
    t.signal('SIGTERM');
    await pollUntil(() => route() === undefined || undefined, { what: 'our route removed at stop', timeoutMs: 10_000 });
    const other = JSON.parse(sh('ip', ['-n', n, '-j', 'route', 'show', '203.0.113.0/24'])) as IpRoute[];
    assert.equal(other.length, 1, 'the static route stays');
    await pollUntil(() => t.proc.exited || undefined, { what: 'tortie-bgpd exited', timeoutMs: 10_000 });
  });

  it('with persist the routes stay in the kernel after the daemon exits (BIRD persist)', async () => {
    const p = await TortieBgpd.start(topo, n, { yaml: NODE.replace('persist: false', 'persist: true') });
    await pollUntil(() => hops().length === 2 || undefined, { what: 'ECMP route again', timeoutMs: 30_000 });
    p.signal('SIGTERM');
    await pollUntil(() => p.proc.exited || undefined, { what: 'tortie-bgpd exited', timeoutMs: 10_000 });
    assert.deepEqual(hops(), ['10.0.1.1@eth1', '10.0.2.1@eth2']);
  });

  it('with persist a restart keeps the old routes until every peer has sent its End-of-RIB', async () => {
    tor1.configure('router bgp 65101', 'neighbor 10.0.1.2 shutdown');
    const p = await TortieBgpd.start(topo, n, { yaml: NODE.replace('persist: false', 'persist: true') });
    await pollUntil(async () => (await eor(p, 'tor2')).includes('ipv4-unicast') || undefined, { what: 'End-of-RIB from tor2', timeoutMs: 30_000 });
    // tor2 alone would make it a one-hop route: not yet, tor1 has not sent its End-of-RIB.
    assert.deepEqual(hops(), ['10.0.1.1@eth1', '10.0.2.1@eth2'], 'the persisted route is untouched');
    tor1.configure('router bgp 65101', 'no neighbor 10.0.1.2 shutdown');
    await pollUntil(async () => (await eor(p, 'tor1')).includes('ipv4-unicast') || undefined, { what: 'End-of-RIB from tor1', timeoutMs: 30_000 });
    // Programming now: a route of ours nobody wants goes, the learned one stays.
    sh('ip', ['-n', n, 'route', 'add', 'blackhole', '192.0.2.0/24', 'proto', '186']);
    await pollUntil(() => !sh('ip', ['-n', n, 'route', 'show', 'proto', '186']).includes('192.0.2.0') || undefined, { what: 'stray route of ours removed once programming', timeoutMs: 5000 });
    assert.deepEqual(hops(), ['10.0.1.1@eth1', '10.0.2.1@eth2']);
  });
});
