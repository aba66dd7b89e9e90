/**
 * A failing part of the dataplane must not hold back the others: with an IPIP pool on a kernel
 * without the ipip module (the tunnel cannot be made; its retry is 30 s away), routes learned
 * from an explicit peer for other prefixes, IPv4 and IPv6, still reach the kernel at once.
 *
 *   db(etcd) ─mgmt─ node1 10.93.0.1/24 fd93::1/64 ══ eth0 ══ tor (BIRD 2, AS 65093) 10.93.0.2 fd93::2
 *
 * Each route is announced after the node settled (its sessions up, the IPIP problem reported),
 * so it arrives while the 30 s IPIP retry is pending; three in a row each within 8 s.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { BirdPeer } from '../../helpers/bgp-peers.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

function ipipSkipReason(): string | undefined {
  const probe = `ttipip${process.pid % 100000}`;
  trySh('ip', ['netns', 'add', probe]);
  const r = trySh('ip', ['-n', probe, 'link', 'add', 'tq0', 'type', 'ipip', 'local', '10.1.1.1']);
  trySh('ip', ['netns', 'del', probe]);
  return r.status === 0 ? `this kernel (${sh('uname', ['-r']).trim()}) has ipip: the tunnel failure this test needs does not happen` : undefined;
}

const skip = nodeLabSkipReason('bird', 'birdc') ?? ipipSkipReason();
let lab: NodeLab;
let n1: LabNode;
let tor: BirdPeer;
const v3 = 'projectcalico.org/v3';
const ROUNDS = [['s4', '192.0.2.0/24', 4], ['s6a', '2001:db8:93:1::/64', 6], ['s6b', '2001:db8:93:2::/64', 6]] as const;

const birdConf = `router id 10.93.0.2;
protocol device {}
${ROUNDS.map(([name, prefix, f]) => `protocol static ${name} { disabled; ipv${f}; route ${prefix} blackhole; }`).join('\n')}
protocol bgp tortie4 { local 10.93.0.2 as 65093; neighbor 10.93.0.1 as 64512; connect retry time 1; ipv4 { import none; export all; }; }
protocol bgp tortie6 { local fd93::2 as 65093; neighbor fd93::1 as 64512; connect retry time 1; ipv6 { import none; export all; }; }
`;

before(async () => {
  if (skip) return;
  lab = new NodeLab('isol');
  await lab.startEtcd();
  n1 = lab.node('node1', { IP: '10.93.0.1/24', IP6: 'fd93::1/64', CALICO_IPV4POOL_CIDR: '10.252.0.0/16', CALICO_IPV4POOL_IPIP: 'Always',
    CALICO_IPV6POOL_CIDR: 'fd00:93::/48', TORTIE_LOG_LEVEL: 'info' });
  const t = lab.topo.ns('tor');
  lab.topo.link(n1.ns, 'eth0', ['10.93.0.1/24', 'fd93::1/64'], t, 'eth0', ['10.93.0.2/24', 'fd93::2/64']);
  for (const [name, ip] of [['tor4', '10.93.0.2'], ['tor6', 'fd93::2']] as const) {
    lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name }, spec: { peerIP: ip, asNumber: 65093 } });
  }
  tor = await BirdPeer.start(lab.topo, t, birdConf);
  lab.start(n1);
});

after(async () => { if (lab) await lab.cleanup(); });

const kernelHas = (prefix: string, family: 4 | 6): boolean =>
  sh('ip', ['-n', n1.ns, `-${family}`, 'route', 'show', 'proto', '80', prefix]).includes('via');

test('IPIP unavailable: learned IPv4 and IPv6 routes for other prefixes reach the kernel at once', { skip }, async () => {
  for (const p of ['tortie4', 'tortie6']) {
    await pollUntil(() => tor.protocol(p).bgpState === 'Established', { timeoutMs: 30_000, what: `${p} Established\n${lab.logs()}` });
  }
  await pollUntil(() => /ipip|IPIP|tunl0/.test(lab.logs(20_000)) && lab.routes(n1).some((r) => r.type === 'blackhole'),
    { timeoutMs: 30_000, what: `node1 settled with its IPIP problem reported\n${lab.logs()}` });
  for (const [name, prefix, family] of ROUNDS) {
    tor.cmd('enable', name);
    const t0 = Date.now();
    await pollUntil(() => kernelHas(prefix, family), { timeoutMs: 8_000, what: `${prefix} in node1's kernel while the IPIP retry is pending\n${lab.logs(3000)}` });
    assert.ok(Date.now() - t0 < 8_000);
  }
});
