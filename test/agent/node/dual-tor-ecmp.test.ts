/**
 * tortie-node with two ToRs (FRR, global BGPPeers, no mesh) that both advertise 198.51.100.0/24:
 * the node installs one kernel route with both ToRs as next hops (RTA_MULTIPATH, proto 80,
 * metric 1024 as for any prefix outside the pools); traffic to the server flows; when one ToR's
 * session goes down the route narrows to the other and traffic still flows; when it comes back
 * the route widens again. Checked in the node's kernel and on the ToRs' own view.
 *
 *   a 10.96.0.10 ─┐                 ┌─ tor1 AS65101 10.96.0.1 ── 10.9.1.1 ─┐
 *                 └─ bridge (ns sw) ┤                                     srv 198.51.100.1
 *                                   └─ tor2 AS65102 10.96.0.2 ── 10.9.2.1 ─┘
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { FrrPeer } from '../../helpers/bgp-peers.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason('vtysh', '/usr/lib/frr/bgpd');
let lab: NodeLab;
let a: LabNode;
let tor1: FrrPeer, tor2: FrrPeer;

const torConf = (n: 1 | 2): string => `frr defaults datacenter
hostname tor${n}
router bgp 6510${n}
 bgp router-id 10.96.0.${n}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.96.0.10 remote-as 64512
 neighbor 10.96.0.10 timers connect 1
 address-family ipv4 unicast
  network 198.51.100.0/24
  neighbor 10.96.0.10 activate
 exit-address-family
`;

before(async () => {
  if (skip) return;
  lab = new NodeLab('ecmp');
  await lab.startEtcd();
  const v3 = 'projectcalico.org/v3';
  lab.putResource('bgpconfigurations', { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, asNumber: 64512 } });
  for (const n of [1, 2]) {
    lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: `tor${n}` }, spec: { peerIP: `10.96.0.${n}`, asNumber: 65100 + n } });
  }
  const topo = lab.topo;
  const sw = topo.ns('sw');
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  a = lab.node('a', { IP: '10.96.0.10/24', CALICO_IPV4POOL_CIDR: '10.248.0.0/16' });
  topo.link(a.ns, 'eth0', '10.96.0.10/24', sw, 'p-a', []);
  sh('ip', ['-n', sw, 'link', 'set', 'p-a', 'master', 'br0']);
  const srv = topo.ns('srv');
  topo.exec(srv, 'ip', ['addr', 'add', '198.51.100.1/32', 'dev', 'lo']);
  const tors: FrrPeer[] = [];
  for (const n of [1, 2] as const) {
    const r = topo.ns(`tor${n}`);
    topo.link(r, 'eth0', `10.96.0.${n}/24`, sw, `p-t${n}`, []);
    sh('ip', ['-n', sw, 'link', 'set', `p-t${n}`, 'master', 'br0']);
    topo.link(r, 'srv', `10.9.${n}.1/24`, srv, `s${n}`, `10.9.${n}.2/24`);
    topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    topo.exec(r, 'ip', ['route', 'add', '198.51.100.0/24', 'via', `10.9.${n}.2`]);
    tors.push(await FrrPeer.start(topo, r, torConf(n)));
  }
  [tor1, tor2] = tors as [FrrPeer, FrrPeer];
  topo.exec(srv, 'ip', ['route', 'add', '10.96.0.0/24', 'nexthop', 'via', '10.9.1.1', 'nexthop', 'via', '10.9.2.1']);
  lab.start(a);
});

after(async () => { if (lab) await lab.cleanup(); });

type IpRoute = { gateway?: string; dev?: string; metric?: number; protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> };
const route = (): IpRoute | undefined => (JSON.parse(sh('ip', ['-n', a.ns, '-j', 'route', 'show', '198.51.100.0/24', 'proto', '80']) || '[]') as IpRoute[])[0];
const hops = (): string[] => { const r = route(); return r === undefined ? [] : (r.nexthops ?? [r]).map((h) => `${h.gateway ?? ''}@${h.dev ?? ''}`).sort(); };
const ping = (): boolean => trySh('ip', ['netns', 'exec', a.ns, 'ping', '-c', '1', '-W', '1', '198.51.100.1']).status === 0;
const established = (f: FrrPeer): boolean => {
  const s = f.json('show bgp neighbors 10.96.0.10 json') as Record<string, { bgpState?: string }>;
  return s['10.96.0.10']?.bgpState === 'Established';
};

test('two ToRs advertising one prefix: an ECMP kernel route through both; one ToR down narrows it, traffic flows throughout', { skip, timeout: 120_000 }, async () => {
  await pollUntil(() => (established(tor1) && established(tor2)) || undefined, { timeoutMs: 30_000, what: `both ToR sessions Established\n${lab.logs()}` });
  await pollUntil(() => hops().length === 2 || undefined, { timeoutMs: 20_000, what: `ECMP route: ${JSON.stringify(route())}` });
  assert.deepEqual(hops(), ['10.96.0.1@eth0', '10.96.0.2@eth0']);
  assert.equal(route()?.metric, 1024, 'outside every pool: above routes other daemons own');
  await pollUntil(() => ping() || undefined, { timeoutMs: 10_000, what: 'ping through the ToRs' });

  tor1.configure('router bgp 65101', 'neighbor 10.96.0.10 shutdown');
  await pollUntil(() => (hops().join() === '10.96.0.2@eth0') || undefined, { timeoutMs: 15_000, what: `route through tor2 only: ${JSON.stringify(route())}` });
  assert.ok(ping(), 'traffic flows through tor2 alone');

  tor1.configure('router bgp 65101', 'no neighbor 10.96.0.10 shutdown');
  await pollUntil(() => hops().length === 2 || undefined, { timeoutMs: 30_000, what: 'both ToRs again' });
  assert.ok(ping());
});
