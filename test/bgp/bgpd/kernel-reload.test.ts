/**
 * tortie-bgpd's `kernel` section follows reloads (`configure` and SIGHUP, as birdc's configure)
 * against the real kernel, and installs IPv6 link-local next hops on the session's interface.
 * Two BIRDs advertise 198.51.100.0/24 (equal paths); ExaBGP advertises fd99::/64 with only a
 * link-local next hop (fe80::99, its side of the link). Reloads turn merge paths on (the table is
 * replayed into the same sink), add IPv6, move the routes to another table and protocol (the old
 * ones go), drop the section (routes removed) and add it back. ExaBGP also advertises
 * 203.0.113.0/24 with next hop 10.8.0.1, on no connected subnet: it is installed through the
 * kernel's static route to 10.8.0.0/24 (recursive, BIRD `gateway recursive`), not through the
 * default route, and goes when that static route goes.
 *
 *   bird1 AS65101 10.0.1.1 ─── eth1 10.0.1.2 ┐
 *   bird2 AS65102 10.0.2.1 ─── eth2 10.0.2.2 ├ node (ns n) tortie-bgpd AS65000
 *   exabgp AS65103 fd03::1, fe80::99 ── eth3 fd03::2 ┘   fd99::1, 10.8.0.1, 203.0.113.1 on exabgp's lo
 *                  10.0.3.1             ── eth3 10.0.3.2
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { trySh } from '../../helpers/sh.js';
import { BirdPeer, ExabgpPeer, TortieBgpd } from '../../helpers/bgp-peers.js';

const skip = topologySkipReason('bird', 'birdc', 'exabgp', 'ping');

const bird = (i: 1 | 2) => `router id 10.0.${i}.1;
protocol device {}
protocol static s4 { ipv4; route 198.51.100.0/24 blackhole; }
protocol bgp node { local 10.0.${i}.1 as 6510${i}; neighbor 10.0.${i}.2 as 65000;
  connect delay time 1; connect retry time 1; error wait time 1, 2;
  ipv4 { import none; export where proto = "s4"; }; }
`;

const EXA = `neighbor fd03::2 {
  router-id 10.0.3.1; local-address fd03::1; local-as 65103; peer-as 65000; hold-time 30;
  family { ipv6 unicast; }
  static { route fd99::/64 next-hop fe80::99; }
}
neighbor 10.0.3.2 {
  router-id 10.0.3.1; local-address 10.0.3.1; local-as 65103; peer-as 65000; hold-time 30;
  family { ipv4 unicast; }
  static { route 203.0.113.0/24 next-hop 10.8.0.1; }
}
`;

const config = (kernel: string) => `routerId: 10.0.1.2
asn: 65000
warmUp: false
listen: { address: "::", port: 179 }
peers:
  - { name: bird1, address: 10.0.1.1, asn: 65101, localAddress: 10.0.1.2, connectRetry: 1 }
  - { name: bird2, address: 10.0.2.1, asn: 65102, localAddress: 10.0.2.2, connectRetry: 1 }
  - { name: exa, address: "fd03::1", asn: 65103, localAddress: "fd03::2", families: [ipv6-unicast], passive: true }
  - { name: exa4, address: 10.0.3.1, asn: 65103, localAddress: 10.0.3.2, passive: true }
multipath: { maxPaths: 4, relaxAsPath: true }
${kernel}`;

type IpRoute = { dst?: string; gateway?: string; dev?: string; protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> };

describe('tortie-bgpd kernel section: reloads and link-local next hops', { skip, timeout: 150_000 }, () => {
  const topo = new Topology('kreload');
  let n: string, t: TortieBgpd;
  const routes = (family: '-4' | '-6', ...sel: string[]): IpRoute[] => {
    const r = trySh('ip', ['-n', n, family, '-j', 'route', 'show', ...sel]);
    // An IPv6 table that never had a route "does not exist": no routes.
    if (r.status !== 0 && /FIB table does not exist/.test(r.stderr)) return [];
    if (r.status !== 0) throw new Error(`ip route show ${sel.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as IpRoute[];
  };
  const hops = (r: IpRoute | undefined): string[] =>
    r === undefined ? [] : (r.nexthops ?? [r]).map((h) => `${h.gateway ?? ''}@${h.dev ?? ''}`).sort();
  const v4 = (table: number, proto: number) => hops(routes('-4', '198.51.100.0/24', 'table', String(table), 'proto', String(proto))[0]);
  const v6 = (table: number, proto: number) => hops(routes('-6', 'fd99::/64', 'table', String(table), 'proto', String(proto))[0]);
  const reload = async (kernel: string): Promise<unknown> => {
    t.writeConfig(config(kernel));
    return ((await t.request({ cmd: 'reload' })) as { kernel?: unknown }).kernel;
  };
  const BOTH = ['10.0.1.1@eth1', '10.0.2.1@eth2'];

  before(async () => {
    n = topo.ns('n');
    const b1 = topo.ns('b1'), b2 = topo.ns('b2'), x = topo.ns('x');
    topo.link(n, 'eth1', '10.0.1.2/24', b1, 'eth0', '10.0.1.1/24');
    topo.link(n, 'eth2', '10.0.2.2/24', b2, 'eth0', '10.0.2.1/24');
    topo.link(n, 'eth3', ['fd03::2/64', '10.0.3.2/24'], x, 'eth0', ['fd03::1/64', 'fe80::99/64', '10.0.3.1/24']);
    for (const a of ['fd99::1/128', '10.8.0.1/32', '203.0.113.1/32']) topo.exec(x, 'ip', ['addr', 'add', a, 'dev', 'lo']);
    // A default route never resolves a BGP next hop (FRR's default, `ip nht resolve-via-default` off).
    topo.exec(n, 'ip', ['route', 'add', 'default', 'via', '10.0.1.1']);
    topo.exec(n, 'ip', ['route', 'add', '100.64.0.0/24', 'table', '100', 'dev', 'eth1', 'proto', 'static']); // table 100 exists, not ours
    await Promise.all([BirdPeer.start(topo, b1, bird(1)), BirdPeer.start(topo, b2, bird(2))]);
    t = await TortieBgpd.start(topo, n, { yaml: config('kernel: { table: 254, protocol: 186, mergePaths: false, families: [ipv4] }\n') });
    await ExabgpPeer.start(topo, x, EXA);
  });
  after(async () => { await topo.cleanup(); });

  it('starts with the best path only and no IPv6 route', async () => {
    await pollUntil(async () => ((await t.routes('198.51.100.0/24')).length === 2 && v4(254, 186).length === 1) || undefined,
      { what: 'both paths learned, one next hop installed', timeoutMs: 30_000 });
    await pollUntil(async () => (await t.routes('fd99::/64')).length === 1 || undefined, { what: 'fd99::/64 from ExaBGP', timeoutMs: 30_000 });
    assert.deepEqual(v6(254, 186), [], 'IPv6 is not in the section yet');
  });

  it('configure: merge paths on replays the table into the same table and protocol', async () => {
    assert.equal(await reload('kernel: { table: 254, protocol: 186, mergePaths: true, families: [ipv4] }\n'), 'replayed');
    await pollUntil(() => v4(254, 186).length === 2 || undefined, { what: 'both next hops after merge paths on', timeoutMs: 10_000 });
    assert.deepEqual(v4(254, 186), BOTH);
  });

  it('show route marks the paths of the installed equal-cost set: best `*`, the other members `=`', async () => {
    const text = t.ctl('show', 'route', '198.51.100.0/24');
    assert.match(text, /^198\.51\.100\.0\/24 +unicast \[bird\d [^\]]*\] \* \(100\)/m, text);
    assert.match(text, /^ +unicast \[bird\d [^\]]*\] = \(100\)/m, text);
    const all = t.ctl('show', 'route', 'all', '198.51.100.0/24');
    assert.equal(all.match(/\tMultipath: yes/g)?.length, 2, all);
    const json = await t.routes('198.51.100.0/24') as unknown as Array<{ best: boolean; multipath?: true }>;
    assert.deepEqual(json.map((r) => [r.best, r.multipath === true]), [[true, true], [false, true]]);
    // A single path is no set: no mark.
    assert.doesNotMatch(t.ctl('show', 'route', 'all', 'fd99::/64'), /Multipath|\] =/);
  });

  it('configure: adding IPv6 installs the link-local next hop on the session\'s interface, and traffic flows', async () => {
    assert.equal(await reload('kernel: { table: 254, protocol: 186, mergePaths: true, families: [ipv4, ipv6] }\n'), 'restarted');
    await pollUntil(() => v6(254, 186).length === 1 || undefined, { what: 'fd99::/64 installed', timeoutMs: 10_000 });
    assert.deepEqual(v6(254, 186), ['fe80::99@eth3']);
    assert.deepEqual(v4(254, 186), BOTH);
    await pollUntil(() => trySh('ip', ['netns', 'exec', n, 'ping', '-6', '-c', '1', '-W', '1', 'fd99::1']).status === 0 || undefined,
      { what: 'ping fd99::1 through the link-local next hop', timeoutMs: 10_000 });
  });

  it('configure: another table and protocol moves the routes and removes the old ones', async () => {
    assert.equal(await reload('kernel: { table: 100, protocol: 187, mergePaths: true, families: [ipv4, ipv6] }\n'), 'restarted');
    await pollUntil(() => (v4(100, 187).length === 2 && v6(100, 187).length === 1) || undefined, { what: 'routes in table 100, protocol 187', timeoutMs: 10_000 });
    assert.deepEqual(v4(254, 186), [], 'the old IPv4 route is gone');
    assert.deepEqual(v6(254, 186), [], 'the old IPv6 route is gone');
    assert.equal(routes('-4', '100.64.0.0/24', 'table', '100').length, 1, 'the static route in table 100 stays');
  });

  it('SIGHUP without the section removes its routes; configure with it adds them back', async () => {
    t.writeConfig(config(''));
    t.signal('SIGHUP');
    await pollUntil(() => (v4(100, 187).length === 0 && v6(100, 187).length === 0) || undefined, { what: 'routes removed with the section', timeoutMs: 10_000 });
    assert.equal(await reload('kernel: { families: [ipv4] }\n'), 'added');
    await pollUntil(() => v4(254, 186).length === 2 || undefined, { what: 'route back in the main table', timeoutMs: 10_000 });
    assert.deepEqual(v4(254, 186), BOTH);
  });

  it('resolves a next hop on no connected subnet through the kernel\'s route to it, and follows that route', async () => {
    const v4of = (dst: string) => hops(routes('-4', dst, 'table', '254', 'proto', '186')[0]);
    await pollUntil(async () => (await t.routes('203.0.113.0/24')).length === 1 || undefined, { what: '203.0.113.0/24 from ExaBGP', timeoutMs: 30_000 });
    assert.deepEqual(v4of('203.0.113.0/24'), [], 'not through the default route');
    topo.exec(n, 'ip', ['route', 'add', '10.8.0.0/24', 'via', '10.0.3.1', 'proto', 'static']);
    await pollUntil(() => v4of('203.0.113.0/24').length === 1 || undefined, { what: '203.0.113.0/24 installed through 10.8.0.0/24', timeoutMs: 10_000 });
    assert.deepEqual(v4of('203.0.113.0/24'), ['10.0.3.1@eth3']);
    await pollUntil(() => trySh('ip', ['netns', 'exec', n, 'ping', '-c', '1', '-W', '1', '203.0.113.1']).status === 0 || undefined,
      { what: 'ping 203.0.113.1 through the resolved next hop', timeoutMs: 10_000 });
    topo.exec(n, 'ip', ['route', 'del', '10.8.0.0/24', 'proto', 'static']);
    await pollUntil(() => v4of('203.0.113.0/24').length === 0 || undefined, { what: '203.0.113.0/24 removed with the route to its next hop', timeoutMs: 10_000 });
  });
});
