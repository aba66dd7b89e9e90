/**
 * tortie-node with a TCP-MD5 password from a mounted Secret and GTSM (BGPPeer ttlSecurity) against
 * an FRR ToR (`password`, `ttl-security hops 1`), checked on FRR's own view and its kernel counters:
 *
 *   db(etcd) ─mgmt─ node1 10.3.0.2/24 ══ eth0 veth ══ tor 10.3.0.1/24 [FRR AS 65000]
 *
 * The Secret is a directory as a secret volume lays it out ($TORTIE_SECRETS_DIR/tor-md5/password).
 * First it holds a wrong key: FRR counts MD5 failures and stays down. Rewriting the file brings
 * the session up at the agent's next sync, without a datastore change. No key in the logs.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { FrrPeer } from '../../helpers/bgp-peers.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason('vtysh', 'nstat');
let lab: NodeLab;
let tor: FrrPeer;
let n1: LabNode;
let torNs = '';
let secretDir = '';

const RIGHT = 'md5-right-key';
const WRONG = 'md5-wrong-key';

function counter(ns: string, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(trySh('ip', ['netns', 'exec', ns, 'nstat', '-az', name]).stdout);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  if (skip) return;
  lab = new NodeLab('md5n');
  await lab.startEtcd();
  torNs = lab.topo.ns('tor');
  n1 = lab.node('node1', { IP: '10.3.0.2/24', CALICO_IPV4POOL_CIDR: '10.246.0.0/16' });
  secretDir = join(n1.dir, 'secrets');
  n1.env['TORTIE_SECRETS_DIR'] = secretDir;
  mkdirSync(join(secretDir, 'tor-md5'), { recursive: true });
  writeFileSync(join(secretDir, 'tor-md5', 'password'), WRONG);
  lab.topo.link(n1.ns, 'eth0', '10.3.0.2/24', torNs, 'p1', '10.3.0.1/24');
  sh('ip', ['-n', n1.ns, 'route', 'add', 'default', 'via', '10.3.0.1']);
  tor = await FrrPeer.start(lab.topo, torNs, [
    'frr defaults datacenter', 'router bgp 65000', ' bgp router-id 10.3.0.1', ' no bgp ebgp-requires-policy',
    ' neighbor 10.3.0.2 remote-as 64512', ' neighbor 10.3.0.2 timers connect 1', ` neighbor 10.3.0.2 password ${RIGHT}`,
    ' neighbor 10.3.0.2 ttl-security hops 1', '',
  ].join('\n'));
  lab.putResource('bgppeers', { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'tor' },
    spec: { peerIP: '10.3.0.1', asNumber: 65000, ttlSecurity: 1, password: { secretKeyRef: { name: 'tor-md5', key: 'password' } } } });
  lab.start(n1);
});

after(async () => { if (lab) await lab.cleanup(); });

const neighbor = (): { bgpState?: string } => (tor.json('show bgp neighbors 10.3.0.2 json') as Record<string, { bgpState?: string }>)['10.3.0.2'] ?? {};

test('a wrong key from the Secret: FRR\'s kernel counts MD5 failures, no session', { skip }, async () => {
  await pollUntil(() => counter(torNs, 'TcpExtTCPMD5Failure') > 0, { timeoutMs: 30_000, what: () => `TcpExtTCPMD5Failure at the ToR\n${lab.logs()}` });
  assert.notEqual(neighbor().bgpState, 'Established');
});

test('the Secret file rewritten with the right key: FRR Established (MD5 + GTSM) and learns the node\'s block; no key logged', { skip }, async () => {
  writeFileSync(join(secretDir, 'tor-md5', 'password'), RIGHT);
  // picked up by the agent's periodic sync (30 s), no datastore change needed
  await pollUntil(() => neighbor().bgpState === 'Established', { timeoutMs: 45_000, what: () => `FRR Established with node1: ${JSON.stringify(neighbor())}` });
  const block = await pollUntil(() => lab.routes(n1).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 20_000, what: 'node1 block' });
  await pollUntil(() => ((tor.json(`show bgp ipv4 unicast ${block} json`) as { paths?: unknown[] }).paths ?? []).length === 1, { what: `FRR has ${block}` });
  const logs = lab.logs();
  assert.ok(!logs.includes(RIGHT) && !logs.includes(WRONG), 'a key appeared in the logs');
});
