/**
 * Calico v3.32's route priority on the wire: tortie-node exports to an iBGP peer with
 * LOCAL_PREF = 2147483647 - 1024 (confd's mesh/iBGP export filter), so a calico-node computes
 * the normal kernel metric 1024 for our routes; an eBGP peer gets no LOCAL_PREF. Checked on the
 * peers' own view (BIRD's `show route all`).
 *
 *   db(etcd) ─mgmt─ node1 10.98.0.1/24 ══ eth0 ══ ibgp (BIRD, AS 64512) 10.98.0.2
 *                     └─ eth1 10.98.1.1/24 ══ ebgp (BIRD, AS 65010) 10.98.1.2 (multihop to 10.98.0.1)
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh } from '../../helpers/sh.js';
import { BirdPeer } from '../../helpers/bgp-peers.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason('bird', 'birdc');
let lab: NodeLab;
let n1: LabNode;
let ibgp: BirdPeer, ebgp: BirdPeer;

// tortie-node sources every session from its node IP (Calico's sourceAddress: UseNodeIP), so the
// eBGP peer on the second link sees 10.98.0.1, one hop away.
const birdConf = (id: string, localAs: number, multihop = false): string => `router id ${id};
protocol device {}
protocol bgp tortie {
  local ${id} as ${localAs};
  neighbor 10.98.0.1 as 64512;${multihop ? '\n  multihop;' : ''}
  ipv4 { import all; export none; };
}
`;

before(async () => {
  if (skip) return;
  lab = new NodeLab('prio');
  await lab.startEtcd();
  n1 = lab.node('node1', { IP: '10.98.0.1/24', CALICO_IPV4POOL_CIDR: '10.245.0.0/16', TORTIE_LOG_LEVEL: 'info' });
  const ib = lab.topo.ns('ibgp'), eb = lab.topo.ns('ebgp');
  lab.topo.link(n1.ns, 'eth0', '10.98.0.1/24', ib, 'eth0', '10.98.0.2/24');
  lab.topo.link(n1.ns, 'eth1', '10.98.1.1/24', eb, 'eth0', '10.98.1.2/24');
  sh('ip', ['-n', n1.ns, 'route', 'add', 'default', 'via', '10.98.0.2']);
  // Calico-shaped peers: one in our AS (iBGP), one external (eBGP).
  for (const [name, ip, asn] of [['tor-ibgp', '10.98.0.2', 64512], ['tor-ebgp', '10.98.1.2', 65010]] as const) {
    lab.putResource('bgppeers', { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name }, spec: { peerIP: ip, asNumber: asn } });
  }
  sh('ip', ['-n', eb, 'route', 'add', '10.98.0.0/24', 'via', '10.98.1.1']);
  ibgp = await BirdPeer.start(lab.topo, ib, birdConf('10.98.0.2', 64512));
  ebgp = await BirdPeer.start(lab.topo, eb, birdConf('10.98.1.2', 65010, true));
  lab.start(n1);
});

after(async () => { if (lab) await lab.cleanup(); });

test('iBGP: our block arrives with LOCAL_PREF 2147482623 (2147483647 - 1024); eBGP: none sent', { skip }, async () => {
  const block = await pollUntil(() => lab.routes(n1).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 30_000, what: `node1 block\n${lab.logs(1500)}` });
  const seen = await pollUntil(() => ibgp.routes().find((r) => r.prefix === block), { timeoutMs: 30_000, what: `iBGP peer has ${block}\n${lab.logs(1500)}` });
  assert.equal(seen.attrs['BGP.local_pref'], '2147482623', JSON.stringify(seen.attrs));
  const ext = await pollUntil(() => ebgp.routes().find((r) => r.prefix === block), { timeoutMs: 30_000, what: `eBGP peer has ${block}: ${JSON.stringify(ebgp.protocol('tortie'))} ${JSON.stringify(ebgp.routes())}\n${lab.logs(1500)}` });
  // No LOCAL_PREF is sent over eBGP (RFC 4271 §5.1.5): BIRD shows its own default for eBGP routes, 100.
  assert.equal(ext.attrs['BGP.local_pref'], '100', JSON.stringify(ext.attrs));
  assert.equal(ext.attrs['BGP.as_path'], '64512');
});
