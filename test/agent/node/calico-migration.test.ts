/**
 * A cluster half on Calico, half on Tortie: tortie-node meshes with two calico-node stand-ins,
 * BIRD 1.6 configured as confd renders it for them (test/helpers/calico-bird.ts), all three in
 * etcd as Nodes. Checked on each side's own view: sessions, who dials, routes, next hops,
 * communities, LOCAL_PREF, and the kernels.
 *
 *   db(etcd) ─mgmt─ tortie1 10.77.0.5 (router id 10.77.0.200) ─┐
 *                   calico-a 10.77.0.3 (BIRD 1.6) ─────────────┼─ br0 (ns sw)
 *                   calico-b 10.77.0.7 (BIRD 1.6) ─────────────┘
 *
 * Mesh: "10.77.0.3" < "10.77.0.5" < "10.77.0.7" as strings, so tortie1 dials calico-a and waits
 * for calico-b; the same over IPv6 (fd77::3/5/7) with bird6 as confd renders bird6.cfg. Then mesh off and a BGPPeer { nodeSelector: !has(calico), peerSelector: calico ==
 * 'true' }: confd renders Node_ peerings that dial from both ends, so tortie1 must dial calico-b
 * too (an nftables counter of tortie1's SYNs towards each peer tells). Then a VM live migration
 * (calico-a advertises a tortie1 pod's /32 at priority 512), a BGPFilter setPriority on export,
 * calico-a as route reflector (peerSelector has(rr)) between tortie1 and calico-b, and a BGPPeer
 * on the Calico nodes with peerIP tortie1 (tortie1 must peer back, as confd's reverse peering).
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh } from '../../helpers/sh.js';
import { BirdPeer } from '../../helpers/bgp-peers.js';
import { bird16Binaries, calicoBirdConfig, parseBird16Routes, type CalicoBirdNode, type CalicoBirdPeer } from '../../helpers/calico-bird.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const bin = bird16Binaries();
const skip = nodeLabSkipReason('nft', 'ss') ?? (bin === undefined ? 'BIRD 1.6 not found (scripts/setup.sh unpacks Debian\'s bird into /opt/bird16; or set TORTIE_BIRD16_DIR)' : undefined);
const v3 = 'projectcalico.org/v3';
const POOLS = [{ cidr: '10.246.0.0/16' }, { cidr: '10.247.0.0/16' }, { cidr: 'fd00:246::/48' }, { cidr: 'fd00:247::/48' }];
const ADVERTS = [{ cidr: '10.246.0.0/16', communities: ['65000:100', '65000:1:2'] }, { cidr: '10.247.0.0/16', communities: ['65000:200'] },
  { cidr: 'fd00:246::/48', communities: ['65000:600'] }, { cidr: 'fd00:247::/48', communities: ['65000:700'] }];
const LP = String(2147483647 - 1024);
const T_IP = '10.77.0.5';
const T_IP6 = 'fd77::5';
const CALICO = { a: { name: 'calico-a', ip: '10.77.0.3', block: '10.247.1.0/26', ip6: 'fd77::3', block6: 'fd00:247::40/122' },
  b: { name: 'calico-b', ip: '10.77.0.7', block: '10.247.2.0/26', ip6: 'fd77::7', block6: 'fd00:247::80/122' } } as const;

let lab: NodeLab;
let t: LabNode;
const birds: Record<'a' | 'b', BirdPeer | undefined> = { a: undefined, b: undefined };
/** bird6 of each calico node (IPv6 mesh, checked in the first test). */
const birds6: Record<'a' | 'b', BirdPeer | undefined> = { a: undefined, b: undefined };
const ns: Record<'a' | 'b', string> = { a: '', b: '' };

function birdNode(k: 'a' | 'b', peers: CalicoBirdPeer[]): CalicoBirdNode {
  const c = CALICO[k];
  return { nodeName: c.name, ip: c.ip, asNumber: 64512, pools: POOLS, blocks: [c.block], prefixAdvertisements: ADVERTS, peers };
}
const meshPeers = (k: 'a' | 'b'): CalicoBirdPeer[] => [T_IP, CALICO[k === 'a' ? 'b' : 'a'].ip].map((ip) => ({ type: 'mesh', ip, asNumber: 64512, calicoNode: true }));
function bird6Node(k: 'a' | 'b'): CalicoBirdNode {
  const c = CALICO[k];
  const peers: CalicoBirdPeer[] = [T_IP6, CALICO[k === 'a' ? 'b' : 'a'].ip6].map((ip) => ({ type: 'mesh', ip, asNumber: 64512, calicoNode: true }));
  return { nodeName: c.name, ip: c.ip6, routerId: c.ip, asNumber: 64512, pools: POOLS, blocks: [c.block6], prefixAdvertisements: ADVERTS, peers };
}

/** tortie1's outgoing SYNs per destination (nftables counters in its namespace). */
function synsTo(ip: string): number {
  const out = sh('ip', ['netns', 'exec', t.ns, 'nft', 'list', 'chain', 'inet', 'ttsyn', 'out']);
  const m = new RegExp(`ip daddr ${ip.replace(/\./g, '\\.')} .*counter packets (\\d+)`).exec(out);
  return Number(m?.[1] ?? -1);
}

/** Established BGP connections in tortie1's namespace: peer address → did tortie1 dial (its local port is not 179). */
function tortieDialed(): Map<string, boolean> {
  const out = sh('ip', ['netns', 'exec', t.ns, 'ss', '-Htn', 'state', 'established']);
  const m = new Map<string, boolean>();
  for (const l of out.split('\n')) {
    const f = l.trim().split(/\s+/);
    const [local, peer] = [f[f.length - 2] ?? '', f[f.length - 1] ?? ''];
    const lp = local.slice(local.lastIndexOf(':') + 1), pp = peer.slice(peer.lastIndexOf(':') + 1);
    if (lp !== '179' && pp !== '179') continue;
    // The dual-stack listener shows IPv4 peers as [::ffff:a.b.c.d].
    m.set(peer.slice(0, peer.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/^::ffff:/, ''), lp !== '179');
  }
  return m;
}

async function tortieRoutes(): Promise<Array<{ prefix: string; nextHop: string; localPref?: number; communities: string[]; from: string }>> {
  const r = await lab.call(t, 'node.ctl', { command: 'bgp-routes' });
  return (r['routes'] ?? []) as Array<{ prefix: string; nextHop: string; localPref?: number; communities: string[]; from: string }>;
}

async function tortiePeers(): Promise<Array<{ peerIP: string; type: string; info: string }>> {
  const r = await lab.call(t, 'node.ctl', { command: 'bgp-status' });
  return (r['peers'] ?? []) as Array<{ peerIP: string; type: string; info: string }>;
}

before(async () => {
  if (skip !== undefined || bin === undefined) return;
  lab = new NodeLab('calmig');
  await lab.startEtcd();
  t = lab.node('tortie1', { IP: `${T_IP}/24`, IP6: `${T_IP6}/64`, CALICO_ROUTER_ID: '10.77.0.200', TORTIE_LOG_LEVEL: 'info' });
  const sw = lab.topo.ns('sw');
  sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
  sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
  lab.topo.link(t.ns, 'eth0', [`${T_IP}/24`, `${T_IP6}/64`], sw, 'pt', []);
  sh('ip', ['-n', sw, 'link', 'set', 'pt', 'master', 'br0']);
  for (const k of ['a', 'b'] as const) {
    ns[k] = lab.topo.ns(k === 'a' ? 'cala' : 'calb');
    lab.topo.link(ns[k], 'eth0', [`${CALICO[k].ip}/24`, `${CALICO[k].ip6}/64`], sw, `p${k}`, []);
    sh('ip', ['-n', sw, 'link', 'set', `p${k}`, 'master', 'br0']);
    lab.putResource('nodes', { apiVersion: v3, kind: 'Node', metadata: { name: CALICO[k].name, labels: { calico: 'true' } }, spec: { bgp: { ipv4Address: `${CALICO[k].ip}/24`, ipv6Address: `${CALICO[k].ip6}/64` } } });
  }
  // One pool per side (a Calico node's block must not be claimed by tortie1's IPAM, which knows nothing of BIRD's static routes).
  for (const [name, cidr, nodeSelector] of [['tortie-pool', '10.246.0.0/16', '!has(calico)'], ['calico-pool', '10.247.0.0/16', "calico == 'true'"],
    ['tortie-pool6', 'fd00:246::/48', '!has(calico)'], ['calico-pool6', 'fd00:247::/48', "calico == 'true'"]] as const) {
    lab.putResource('ippools', { apiVersion: v3, kind: 'IPPool', metadata: { name },
      spec: { cidr, blockSize: cidr.includes(':') ? 122 : 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true, nodeSelector } });
  }
  lab.putResource('bgpconfigurations', { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { prefixAdvertisements: ADVERTS } });
  sh('ip', ['netns', 'exec', t.ns, 'nft', '-f', '-'], `table inet ttsyn {
  chain out { type filter hook output priority 0;
    ip daddr ${CALICO.a.ip} tcp dport 179 tcp flags & (syn | ack) == syn counter
    ip daddr ${CALICO.b.ip} tcp dport 179 tcp flags & (syn | ack) == syn counter
  }
}
`);
  for (const k of ['a', 'b'] as const) {
    birds[k] = await BirdPeer.start(lab.topo, ns[k], calicoBirdConfig(birdNode(k, meshPeers(k))), bin.v4);
    birds6[k] = await BirdPeer.start(lab.topo, ns[k], calicoBirdConfig(bird6Node(k)), bin.v6);
  }
  lab.start(t);
});

after(async () => { if (lab) await lab.cleanup(); });

const diag = (): string => `${(['a', 'b'] as const).map((k) => birds[k]?.cmd('show', 'protocols')).join('\n')}\n${lab.logs(2000)}`;

async function allUp(prefix: 'Mesh' | 'Node'): Promise<void> {
  const tName = (ip: string): string => `${prefix}_${ip.replace(/\./g, '_')}`;
  for (const k of ['a', 'b'] as const) {
    await pollUntil(() => birds[k]?.protocol(tName(T_IP)).bgpState === 'Established', { timeoutMs: 45_000, what: `calico-${k} ${tName(T_IP)} Established\n${diag()}` });
  }
  await pollUntil(async () => {
    const p = await tortiePeers();
    return [CALICO.a.ip, CALICO.b.ip].every((ip) => p.some((x) => x.peerIP === ip && x.info === 'Established'));
  }, { timeoutMs: 30_000, what: `tortie1 sees both sessions Established\n${diag()}` });
}

async function routesMatch(mesh: boolean): Promise<string> {
  const block = await pollUntil(() => lab.routes(t).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 30_000, what: `tortie1 block\n${lab.logs()}` });
  // calico-node's view of tortie1's block: next hop tortie1, LOCAL_PREF 2147483647 - 1024, the prefixAdvertisements communities.
  for (const k of ['a', 'b'] as const) {
    const seen = await pollUntil(() => parseBird16Routes(birds[k]?.cmd('show', 'route', block, 'all') ?? '').find((r) => r.proto.endsWith(T_IP.replace(/\./g, '_'))),
      { timeoutMs: 30_000, what: `calico-${k} has ${block}\n${diag()}` });
    assert.equal(seen.via, T_IP);
    assert.equal(seen.attrs['BGP.next_hop'], T_IP);
    assert.equal(seen.attrs['BGP.local_pref'], LP, JSON.stringify(seen.attrs));
    assert.equal(seen.attrs['BGP.community'], '(65000,100)');
    assert.equal(seen.attrs['BGP.large_community'], '(65000, 1, 2)');
    // And its kernel: confd's kernel filter turns LOCAL_PREF back into metric 1024.
    await pollUntil(() => sh('ip', ['-n', ns[k], 'route', 'show', block]).includes(`via ${T_IP} dev eth0 proto bird metric 1024`),
      { timeoutMs: 15_000, what: `calico-${k} kernel route ${block}: ${sh('ip', ['-n', ns[k], 'route'])}` });
  }
  // tortie1's view of the calico nodes' blocks: the same attributes, and its kernel routes.
  for (const k of ['a', 'b'] as const) {
    const c = CALICO[k];
    const r = await pollUntil(async () => (await tortieRoutes()).find((x) => x.prefix === c.block && x.nextHop === c.ip),
      { timeoutMs: 30_000, what: `tortie1 has ${c.block}\n${diag()}` });
    assert.equal(String(r.localPref), LP);
    assert.deepEqual(r.communities, ['65000:200']);
    await pollUntil(() => lab.routes(t).some((x) => x.dst === c.block && x.gateway === c.ip && x.dev === 'eth0'),
      { timeoutMs: 15_000, what: `tortie1 kernel route ${c.block} via ${c.ip}: ${JSON.stringify(lab.routes(t))}` });
  }
  if (mesh) {
    // A Calico node sees the other Calico node's block the same way (the oracle: BIRD to BIRD).
    const ab = parseBird16Routes(birds.a?.cmd('show', 'route', CALICO.b.block, 'all') ?? '').find((r) => r.via === CALICO.b.ip);
    assert.equal(ab?.attrs['BGP.local_pref'], LP);
    assert.equal(ab?.attrs['BGP.community'], '(65000,200)');
  }
  return block;
}

test('mesh with BIRD 1.6 as confd renders it: sessions, dial side, routes, communities, LOCAL_PREF, kernels', { skip }, async () => {
  await allUp('Mesh');
  // "10.77.0.3" sorts below "10.77.0.5": tortie1 dials calico-a; calico-b ("10.77.0.7") dials tortie1.
  const dialed = tortieDialed();
  assert.equal(dialed.get(CALICO.a.ip), true, `ss: ${JSON.stringify([...dialed])}`);
  assert.equal(dialed.get(CALICO.b.ip), false, `ss: ${JSON.stringify([...dialed])}`);
  assert.ok(synsTo(CALICO.a.ip) > 0);
  assert.equal(synsTo(CALICO.b.ip), 0, 'tortie1 waits for calico-b as calico-node would (passive on)');
  await routesMatch(true);
  // IPv6: bird6 as confd renders bird6.cfg; "fd77::3" < "fd77::5" < "fd77::7" as strings, the same dial sides.
  const mesh6 = (ip: string): string => `Mesh_${ip.replace(/:/g, '_')}`;
  for (const k of ['a', 'b'] as const) {
    await pollUntil(() => birds6[k]?.protocol(mesh6(T_IP6)).bgpState === 'Established', { timeoutMs: 45_000, what: `calico-${k} bird6 ${mesh6(T_IP6)}\n${birds6[k]?.cmd('show', 'protocols', 'all')}` });
  }
  const dialed6 = tortieDialed();
  assert.equal(dialed6.get(CALICO.a.ip6), true, JSON.stringify([...dialed6]));
  assert.equal(dialed6.get(CALICO.b.ip6), false, JSON.stringify([...dialed6]));
  const block6 = await pollUntil(() => (JSON.parse(sh('ip', ['-n', t.ns, '-6', '-j', 'route', 'show', 'proto', '80'])) as Array<{ dst: string; type?: string }>)
    .find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 30_000, what: 'tortie1 IPv6 block' });
  for (const k of ['a', 'b'] as const) {
    const seen = await pollUntil(() => parseBird16Routes(birds6[k]?.cmd('show', 'route', block6, 'all') ?? '').find((r) => r.proto === mesh6(T_IP6)),
      { timeoutMs: 30_000, what: `calico-${k} bird6 has ${block6}: ${birds6[k]?.cmd('show', 'route', 'all')}` });
    assert.equal(seen.via, T_IP6);
    assert.equal(seen.attrs['BGP.local_pref'], LP);
    assert.equal(seen.attrs['BGP.community'], '(65000,600)');
    await pollUntil(() => sh('ip', ['-n', ns[k], '-6', 'route', 'show', block6]).includes(`via ${T_IP6} dev eth0 proto bird metric 1024`),
      { timeoutMs: 15_000, what: `calico-${k} kernel IPv6 route ${block6}: ${sh('ip', ['-n', ns[k], '-6', 'route'])}` });
    const c = CALICO[k];
    const r = await pollUntil(async () => (await tortieRoutes()).find((x) => x.prefix === c.block6 && x.nextHop === c.ip6),
      { timeoutMs: 30_000, what: `tortie1 has ${c.block6}: ${JSON.stringify(await tortieRoutes())}` });
    assert.equal(String(r.localPref), LP);
    assert.deepEqual(r.communities, ['65000:700']);
    await pollUntil(() => sh('ip', ['-n', t.ns, '-6', 'route', 'show', 'proto', '80', c.block6]).includes(`via ${c.ip6} dev eth0`),
      { timeoutMs: 15_000, what: `tortie1 kernel IPv6 route ${c.block6}: ${sh('ip', ['-n', t.ns, '-6', 'route'])}` });
  }
});

test('peerSelector peering (confd: Node_, both ends dial): tortie1 dials calico-b too; routes as before', { skip }, async () => {
  lab.putResource('bgpconfigurations', { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: false, prefixAdvertisements: ADVERTS } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-calico' }, spec: { nodeSelector: '!has(calico)', peerSelector: "calico == 'true'" } });
  // confd on each calico node: the reverse side of the peering, a node-specific peer (not a Calico node by peerIP).
  for (const k of ['a', 'b'] as const) birds[k]?.reconfigure(calicoBirdConfig(birdNode(k, [{ type: 'node', ip: T_IP, asNumber: 64512, calicoNode: false }])));
  await pollUntil(async () => (await tortiePeers()).some((p) => p.peerIP === CALICO.b.ip && p.type === 'node specific'), { timeoutMs: 20_000, what: `tortie1 Node_ peers\n${diag()}` });
  await allUp('Node');
  await pollUntil(() => synsTo(CALICO.b.ip) > 0, { timeoutMs: 20_000, what: 'tortie1 dials calico-b (confd never makes a Node_ peering passive)' });
  await routesMatch(false);
});

test('live migration: calico-a advertises a tortie1 pod\'s /32 at priority 512; tortie1 routes it there (metric 512), then back', { skip }, async () => {
  const pod = lab.addPod(t, 'vm1');
  const host = `${pod.address}/32`;
  const local = (): boolean => lab.routes(t).some((r) => r.dst === pod.address && (r.dev ?? '').startsWith('cali'));
  await pollUntil(local, { timeoutMs: 15_000, what: `tortie1 workload route ${host}: ${JSON.stringify(lab.routes(t))}` });
  // Felix on the VM's new node programs the /32 with the elevated priority; BIRD learns it from the kernel.
  sh('ip', ['-n', ns.a, 'route', 'add', host, 'dev', 'eth0', 'metric', '512']);
  const seen = await pollUntil(async () => (await tortieRoutes()).find((x) => x.prefix === host), { timeoutMs: 20_000, what: `tortie1 learns ${host}\n${diag()}` });
  assert.equal(seen.localPref, 2147483647 - 512);
  await pollUntil(() => sh('ip', ['-n', t.ns, 'route', 'show', 'proto', '80', host]).includes(`via ${CALICO.a.ip} dev eth0 metric 512`),
    { timeoutMs: 15_000, what: `tortie1 kernel: ${host} via calico-a metric 512: ${sh('ip', ['-n', t.ns, 'route', 'show', host])}` });
  sh('ip', ['-n', ns.a, 'route', 'del', host, 'dev', 'eth0', 'metric', '512']);
  await pollUntil(local, { timeoutMs: 20_000, what: `tortie1 workload route back: ${sh('ip', ['-n', t.ns, 'route', 'show', host])}` });
});

test('BGPFilter setPriority on export: calico-a sees LOCAL_PREF 2147483647 - 512 and programs metric 512', { skip }, async () => {
  const block = await pollUntil(() => lab.routes(t).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 10_000, what: 'tortie1 block' });
  lab.putResource('bgpfilters', { apiVersion: v3, kind: 'BGPFilter', metadata: { name: 'prio' },
    spec: { exportV4: [{ action: 'Accept', cidr: '10.246.0.0/16', matchOperator: 'In', operations: [{ setPriority: { value: 512 } }] }] } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-calico' },
    spec: { nodeSelector: '!has(calico)', peerSelector: "calico == 'true'", filters: ['prio'] } });
  await pollUntil(() => parseBird16Routes(birds.a?.cmd('show', 'route', block, 'all') ?? '').find((r) => r.via === T_IP)?.attrs['BGP.local_pref'] === String(2147483647 - 512),
    { timeoutMs: 30_000, what: `calico-a sees ${block} with LOCAL_PREF ${2147483647 - 512}: ${birds.a?.cmd('show', 'route', block, 'all')}\n${lab.logs(2000)}` });
  await pollUntil(() => sh('ip', ['-n', ns.a, 'route', 'show', block]).includes(`via ${T_IP} dev eth0 proto bird metric 512`),
    { timeoutMs: 15_000, what: `calico-a kernel route ${block} metric 512: ${sh('ip', ['-n', ns.a, 'route'])}` });
});

test('route reflector: calico-a reflects (confd rr client towards tortie1 and calico-b); each side gets the other\'s routes through it', { skip }, async () => {
  const rrId = '244.0.0.1';
  lab.etcdctl(['del', '/tortie/v3/projectcalico.org/bgppeers/to-calico']);
  lab.putResource('nodes', { apiVersion: v3, kind: 'Node', metadata: { name: CALICO.a.name, labels: { calico: 'true', rr: 'true' } },
    spec: { bgp: { ipv4Address: `${CALICO.a.ip}/24`, routeReflectorClusterID: rrId } } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-rr' }, spec: { peerSelector: 'has(rr)' } });
  // confd on calico-a (the reflector): reverse peerings to every node, rr clients; on calico-b: Global_ to the reflector.
  birds.a?.reconfigure(calicoBirdConfig({ ...birdNode('a', [T_IP, CALICO.b.ip].map((ip) => ({ type: 'node' as const, ip, asNumber: 64512, calicoNode: false }))), rrClusterId: rrId }));
  birds.b?.reconfigure(calicoBirdConfig(birdNode('b', [{ type: 'global', ip: CALICO.a.ip, asNumber: 64512, calicoNode: false, rrClusterId: rrId }])));
  const block = await pollUntil(() => lab.routes(t).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 10_000, what: 'tortie1 block' });
  await pollUntil(async () => (await tortiePeers()).some((p) => p.peerIP === CALICO.a.ip && p.type === 'global' && p.info === 'Established')
    && !(await tortiePeers()).some((p) => p.peerIP === CALICO.b.ip),
  { timeoutMs: 30_000, what: `tortie1: Global_ to the reflector only\n${JSON.stringify(await tortiePeers())}\n${diag()}` });
  // calico-b gets tortie1's block from the reflector: next hop still tortie1, LOCAL_PREF kept, originator tortie1.
  const seen = await pollUntil(() => parseBird16Routes(birds.b?.cmd('show', 'route', block, 'all') ?? '').find((r) => r.proto === `Global_${CALICO.a.ip.replace(/\./g, '_')}`),
    { timeoutMs: 30_000, what: `calico-b has ${block} via the reflector\n${diag()}` });
  assert.equal(seen.via, T_IP);
  assert.equal(seen.attrs['BGP.local_pref'], LP);
  assert.equal(seen.attrs['BGP.originator_id'], '10.77.0.200');
  assert.equal(seen.attrs['BGP.cluster_list'], rrId);
  assert.equal(seen.attrs['BGP.community'], '(65000,100)');
  // tortie1 gets calico-b's block from the reflector with calico-b as next hop, and routes it there.
  const r = await pollUntil(async () => (await tortieRoutes()).find((x) => x.prefix === CALICO.b.block && x.from === `Global_${CALICO.a.ip.replace(/\./g, '_')}`),
    { timeoutMs: 30_000, what: `tortie1 has ${CALICO.b.block} via the reflector\n${diag()}` });
  assert.equal(r.nextHop, CALICO.b.ip);
  assert.equal(String(r.localPref), LP);
  await pollUntil(() => lab.routes(t).some((x) => x.dst === CALICO.b.block && x.gateway === CALICO.b.ip),
    { timeoutMs: 15_000, what: `tortie1 kernel route ${CALICO.b.block} via ${CALICO.b.ip}: ${JSON.stringify(lab.routes(t))}` });
});

test('a BGPPeer on the Calico nodes with peerIP tortie1: tortie1 peers back (confd reverse peering); both ends dial', { skip }, async () => {
  lab.etcdctl(['del', '/tortie/v3/projectcalico.org/bgppeers/to-rr']);
  lab.putResource('nodes', { apiVersion: v3, kind: 'Node', metadata: { name: CALICO.a.name, labels: { calico: 'true' } }, spec: { bgp: { ipv4Address: `${CALICO.a.ip}/24`, ipv6Address: `${CALICO.a.ip6}/64` } } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-tortie' }, spec: { nodeSelector: "calico == 'true'", peerIP: T_IP, asNumber: 64512 } });
  // confd on the calico nodes: Node_10_77_0_5, a node-specific peer that is a Calico node by its IP.
  for (const k of ['a', 'b'] as const) birds[k]?.reconfigure(calicoBirdConfig(birdNode(k, [{ type: 'node', ip: T_IP, asNumber: 64512, calicoNode: true }])));
  await allUp('Node');
  const block = await routesMatch(false);
  assert.match(block, /^10\.246\./);
});

test('BGPFilter priority match on import: tortie1 refuses calico-a\'s priority-512 route, keeps the normal ones', { skip }, async () => {
  lab.putResource('bgpfilters', { apiVersion: v3, kind: 'BGPFilter', metadata: { name: 'no-elevated' }, spec: { importV4: [{ action: 'Reject', priority: 512 }] } });
  lab.putResource('bgppeers', { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'to-tortie' },
    spec: { nodeSelector: "calico == 'true'", peerIP: T_IP, asNumber: 64512, filters: ['no-elevated'] } });
  const host = '10.247.9.9/32';
  const fromA = `Node_${CALICO.a.ip.replace(/\./g, '_')}`;
  // A filter change reaches the session (route refresh or reset); wait until calico-a's block is back as before.
  await pollUntil(async () => (await tortieRoutes()).some((x) => x.prefix === CALICO.a.block && x.from === fromA), { timeoutMs: 30_000, what: `${CALICO.a.block} from ${fromA}` });
  sh('ip', ['-n', ns.a, 'route', 'add', host, 'dev', 'eth0', 'metric', '512']);
  sh('ip', ['-n', ns.a, 'route', 'add', '10.247.9.10/32', 'dev', 'eth0', 'metric', '1024']);
  // The normal-priority route arrives (so the elevated one was sent too: calico-a exports both in its scan).
  await pollUntil(async () => (await tortieRoutes()).some((x) => x.prefix === '10.247.9.10/32'), { timeoutMs: 20_000, what: `tortie1 learns 10.247.9.10/32\n${diag()}` });
  await pollUntil(() => parseBird16Routes(birds.a?.cmd('show', 'route', 'export', `Node_${T_IP.replace(/\./g, '_')}`, host, 'all') ?? '').some((r) => r.prefix === host),
    { timeoutMs: 20_000, what: `calico-a exports ${host}` });
  assert.equal((await tortieRoutes()).some((x) => x.prefix === host), false, `${host} (priority 512) was refused on import`);
  assert.equal(sh('ip', ['-n', t.ns, 'route', 'show', host]), '');
});
