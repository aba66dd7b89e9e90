/** The calculation layer: unit tests of Calico's rules and fast-check properties. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { bgpSpeakerConfig, peerName } from '../../../agent/calc/bgp-peers.js';
import { originatedPrefixes } from '../../../agent/calc/advertise.js';
import { kernelRoutes, resolveNextHop, type LocalFacts } from '../../../agent/calc/kernel-routes.js';
import { rulesConfig } from '../../../agent/calc/rules-inputs.js';
import { filterRules, linearize, type FilterRule } from '../../../agent/calc/bgp-filter-rules.js';
import type { BlockSnapshot, NodeInfo, PeerInfo, PoolInfo, Snapshot } from '../../../agent/calc/snapshot.js';
import type { BGPConfigurationSpec } from '../../../agent/resources/bgp-configuration.js';
import type { BGPFilterSpec } from '../../../agent/resources/bgp-filter.js';
import type { PolicyConfig } from '../../../bgp/speaker/peer-config.js';
import { compilePeerPolicy } from '../../../bgp/speaker/policy-config.js';
import type { PathAttributes } from '../../../bgp/wire/types.js';
import { formatPrefix, parsePrefix, prefixContains, parseAddress } from '../../../common/prefix.js';
import { validateDesiredRoute } from '../../../felix/routes/route.js';

const pool = (cidr: string, extra: Partial<PoolInfo> = {}): PoolInfo => ({
  name: `pool-${cidr}`, cidr, blockSize: 26, vxlanMode: 'Never', ipipMode: 'Never', natOutgoing: true, disabled: false, disableBGPExport: false, ...extra,
});
const node = (name: string, cidr: string, extra: Partial<NodeInfo> = {}): NodeInfo => ({
  name, ipv4: cidr.split('/')[0] ?? '', ipv4Cidr: cidr, labels: {}, ...extra,
});

function snap(local: string, nodes: NodeInfo[], o: { pools?: PoolInfo[]; peers?: PeerInfo[]; configs?: Record<string, BGPConfigurationSpec>;
  filters?: Record<string, BGPFilterSpec>; blocks?: BlockSnapshot[] } = {}): Snapshot {
  return {
    localNode: local, nodes: new Map(nodes.map((n) => [n.name, n])), pools: o.pools ?? [pool('10.244.0.0/16')],
    peers: o.peers ?? [], bgpConfigs: new Map(Object.entries(o.configs ?? {})), filters: new Map(Object.entries(o.filters ?? {})), blocks: o.blocks ?? [],
  };
}

/** Evaluate a speaker PolicyConfig on a prefix (first match wins), for assertions. */
function decide(p: PolicyConfig | undefined, prefix: string, communities: number[] = []): 'accept' | 'reject' {
  if (p === undefined) return 'accept';
  const pr = parsePrefix(prefix);
  for (const r of p.rules) {
    const m = r.match;
    const pm = m?.prefixes === undefined || m.prefixes.some((x) => prefixContains(x.prefix, pr) && pr.length >= (x.ge ?? x.prefix.length) && pr.length <= (x.le ?? x.prefix.length));
    const cm = m?.communities === undefined || m.communities.every((c) => communities.includes(c));
    if (pm && cm) return r.action;
  }
  return p.default;
}

const three = [node('a', '10.0.0.9/24'), node('b', '10.0.0.10/24'), node('c', '10.0.0.2/24')];

test('mesh: one session per other node, named like Calico, passive when the peer IP string sorts higher', () => {
  const r = bgpSpeakerConfig(snap('a', three));
  assert.deepEqual(r.problems, []);
  assert.equal(r.speaker?.routerId, '10.0.0.9');
  assert.equal(r.speaker?.asn, 64512);
  assert.deepEqual(r.speaker?.listen, { address: '0.0.0.0', port: 179 });
  const peers = r.speaker?.peers ?? [];
  assert.deepEqual(peers.map((p) => [p.name, p.address, p.passive, p.asn, p.localAddress]).sort(), [
    ['Mesh_10_0_0_10', '10.0.0.10', false, 64512, '10.0.0.9'], // "10.0.0.10" < "10.0.0.9" as strings: we dial
    ['Mesh_10_0_0_2', '10.0.0.2', false, 64512, '10.0.0.9'],
  ]);
  const c = bgpSpeakerConfig(snap('c', three)).speaker?.peers ?? [];
  assert.deepEqual(c.map((p) => [p.address, p.passive]).sort(), [['10.0.0.10', false], ['10.0.0.9', true]],
    'node c (10.0.0.2): "10.0.0.10" sorts below "10.0.0.2" (dial it), "10.0.0.9" above (wait for it)');
});

test('property: for every pair of nodes exactly one side dials', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 })), { minLength: 2, maxLength: 8, selector: (t) => t.join('.') }), (addrs) => {
    const nodes = addrs.map(([x, y], i) => node(`n${i}`, `10.${x}.${y}.1/16`));
    const views = new Map(nodes.map((n) => [n.name, bgpSpeakerConfig(snap(n.name, nodes)).speaker?.peers ?? []]));
    for (const a of nodes) for (const b of nodes) {
      if (a === b) continue;
      const ab = views.get(a.name)?.find((p) => p.address === b.ipv4);
      const ba = views.get(b.name)?.find((p) => p.address === a.ipv4);
      assert.ok(ab && ba, 'both sides configured');
      assert.notEqual(ab.passive, ba.passive);
    }
  }));
});

test('mesh off, per-node AS and listenPort, bindMode NodeIP', () => {
  const nodes = [node('a', '10.0.0.1/24', { asNumber: 65001 }), node('b', '10.0.0.2/24')];
  assert.equal(bgpSpeakerConfig(snap('a', nodes, { configs: { default: { nodeToNodeMeshEnabled: false } } })).speaker?.peers.length, 0);
  const r = bgpSpeakerConfig(snap('a', nodes, { configs: { default: { asNumber: 65000, bindMode: 'NodeIP' }, 'node.b': { listenPort: 1790 } } }));
  assert.equal(r.speaker?.asn, 65001);
  assert.deepEqual(r.speaker?.listen, { address: '10.0.0.1', port: 179 });
  assert.deepEqual(r.speaker?.peers.map((p) => [p.asn, p.port]), [[65000, 1790]]);
});

test('a node without an address runs no BGP and says why', () => {
  const r = bgpSpeakerConfig(snap('a', [{ name: 'a', labels: {} }]));
  assert.equal(r.speaker, undefined);
  assert.match(r.problems[0] ?? '', /Node a: spec\.bgp\.ipv4Address is not set/);
});

test('BGPPeers: global, node, nodeSelector; external import refuses our pools; export is Calico\'s', () => {
  const nodes = [node('a', '10.0.0.1/24', { labels: { rack: 'r1' } }), node('b', '10.0.0.2/24')];
  const peers: PeerInfo[] = [
    { name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100 } },
    { name: 'only-b', spec: { node: 'b', peerIP: '10.0.0.253', asNumber: 65100 } },
    { name: 'rack1', spec: { nodeSelector: "rack == 'r1'", peerIP: '10.0.0.252:1790', asNumber: 65101 } },
  ];
  const r = bgpSpeakerConfig(snap('a', nodes, { peers, pools: [pool('10.244.0.0/16'), pool('10.245.0.0/16', { disableBGPExport: true })],
    configs: { default: { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] } } }));
  const byName = new Map((r.speaker?.peers ?? []).map((p) => [p.name, p]));
  assert.deepEqual([...byName.keys()].sort(), ['Global_10_0_0_254', 'Mesh_10_0_0_2', 'Node_10_0_0_252_port_1790']);
  const tor = byName.get('Global_10_0_0_254');
  assert.equal(tor?.passive, false);
  assert.equal(tor?.asn, 65100);
  assert.equal(byName.get('Node_10_0_0_252_port_1790')?.port, 1790);
  assert.equal(decide(tor?.import, '10.244.3.0/26'), 'reject', 'external peer: nothing inside our pools');
  assert.equal(decide(tor?.import, '0.0.0.0/0'), 'accept');
  assert.equal(decide(byName.get('Mesh_10_0_0_2')?.import, '10.244.3.0/26'), 'accept', 'mesh peers may send pool routes');
  for (const [prefix, want] of [['10.244.0.0/26', 'accept'], ['10.244.0.7/32', 'accept'], ['10.245.0.0/26', 'reject'], ['10.96.0.0/12', 'accept'], ['0.0.0.0/0', 'reject'], ['192.0.2.0/24', 'reject']] as const) {
    assert.equal(decide(tor?.export, prefix), want, `export ${prefix}`);
  }
});

test('peerSelector peers with the selected nodes and the reverse side peers back', () => {
  const nodes = [node('rr1', '10.0.0.100/24', { labels: { rr: 'true' }, rrClusterId: '244.0.0.1' }), node('a', '10.0.0.1/24'), node('b', '10.0.0.2/24')];
  const peers: PeerInfo[] = [{ name: 'to-rr', spec: { peerSelector: 'has(rr)' } }];
  const a = bgpSpeakerConfig(snap('a', nodes, { peers }));
  assert.deepEqual(a.speaker?.peers.map((p) => [p.name, p.routeReflectorClient]).sort(), [['Global_10_0_0_100', false], ['Mesh_10_0_0_2', false]]);
  const rr = bgpSpeakerConfig(snap('rr1', nodes, { peers }));
  assert.deepEqual(rr.speaker?.peers.map((p) => [p.address, p.routeReflectorClient]).sort(), [['10.0.0.1', true], ['10.0.0.2', true]],
    'the reflector is out of the mesh and its iBGP peers without a cluster ID are its clients');
  assert.equal(rr.speaker?.clusterId, '244.0.0.1', 'the node\'s routeReflectorClusterID is the speaker\'s cluster id (CLUSTER_LIST, loop check)');
  assert.equal(a.speaker?.clusterId, undefined);
});

test('BGPFilter rules become speaker rules; unsupported ones are reported with their path', () => {
  const filters: Record<string, BGPFilterSpec> = { f: {
    exportV4: [{ action: 'Reject', cidr: '10.244.9.0/24', matchOperator: 'In' }, { action: 'Accept', cidr: '10.244.0.0/16', matchOperator: 'In', operations: [{ addCommunity: { value: '65000:7' } }] }],
    importV4: [{ action: 'Reject', cidr: '192.0.2.0/24', matchOperator: 'Equal' }, { action: 'Reject', cidr: '198.51.100.0/24', matchOperator: 'NotIn' }, { action: 'Accept', peerType: 'eBGP', prefixLength: { min: 8, max: 24 } }],
  } };
  const s = snap('a', [node('a', '10.0.0.1/24')], { filters });
  const fr = filterRules(s, ['f', 'missing'], true, 'Global_x');
  assert.equal(fr.exportRules.length, 2);
  assert.deepEqual(fr.exportRules[1]?.set, { addCommunities: [65000 * 65536 + 7] });
  assert.equal(fr.importRules.length, 2, 'eBGP-only rule dropped for an iBGP peer');
  assert.deepEqual(fr.problems, ['Global_x: BGPFilter missing does not exist; ignored']);
  const peer = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { filters, peers: [{ name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100, filters: ['f'] } }] })).speaker?.peers[0];
  assert.equal(decide(peer?.export, '10.244.9.0/26'), 'reject');
  assert.equal(decide(peer?.export, '10.244.1.0/26'), 'accept');
  assert.equal(decide(peer?.import, '192.0.2.0/24'), 'reject');
  // NotIn 198.51.100.0/24 → Reject: everything outside it is rejected (after the pool rule and the Equal rule).
  assert.equal(decide(peer?.import, '198.51.100.128/25'), 'accept');
  assert.equal(decide(peer?.import, '203.0.113.0/24'), 'reject');
  assert.equal(decide(peer?.import, '10.244.1.0/26'), 'reject', 'external: pool routes refused first');
});

test('BGPFilter source RemotePeers, asPathPrefix and interface reach the speaker policy', () => {
  const filters: Record<string, BGPFilterSpec> = { g: {
    exportV4: [{ action: 'Reject', source: 'RemotePeers' }],
    importV4: [{ action: 'Reject', asPathPrefix: [65100, 65200] }, { action: 'Accept', interface: '*.calico' }],
  } };
  const peer = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { filters, peers: [{ name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100, filters: ['g'] } }] }));
  const tor = peer.speaker?.peers[0];
  assert.deepEqual(peer.problems, []);
  // Evaluated by the speaker's own compiled policy, as the update groups and Adj-RIB-In do.
  const exp = compilePeerPolicy(tor?.export, 'export');
  const imp = compilePeerPolicy(tor?.import, 'import');
  const attrs = (asPath: number[]): PathAttributes => ({ origin: 0, asPath: asPath.length === 0 ? [] : [{ type: 2, asns: asPath }] });
  const block = parsePrefix('10.244.0.0/26');
  assert.equal(exp?.evaluate(block, attrs([]), { sourceKind: 'local', sourcePeer: '', localAs: 64512 }).type, 'accept', 'our own block is exported');
  assert.equal(exp?.evaluate(block, attrs([]), { sourceKind: 'ibgp', sourcePeer: 'Mesh_10_0_0_2', localAs: 64512 }).type, 'reject', 'a block learned in the mesh is not');
  const ext = parsePrefix('198.51.100.0/24');
  assert.equal(imp?.evaluate(ext, attrs([65100, 65200, 65300]), { sourceKind: 'ebgp', sourcePeer: 'tor', localAs: 64512 }).type, 'reject');
  assert.equal(imp?.evaluate(ext, attrs([65100, 65300]), { sourceKind: 'ebgp', sourcePeer: 'tor', localAs: 64512 }).type, 'accept');
  assert.deepEqual(tor?.import?.rules.find((r) => r.match?.interface !== undefined)?.match, { interface: '*.calico' });
});

test('BGPPeer keepOriginalNextHop / nextHopMode and numAllowedLocalASNumbers reach the speaker config, without problems', () => {
  const peers: PeerInfo[] = [
    { name: 'keep', spec: { peerIP: '10.0.0.250', asNumber: 65100, keepOriginalNextHop: true, numAllowedLocalASNumbers: 2 } },
    { name: 'mode', spec: { peerIP: '10.0.0.251', asNumber: 65100, nextHopMode: 'Keep' } },
    { name: 'self', spec: { peerIP: '10.0.0.252', asNumber: 65100, nextHopMode: 'Self', keepOriginalNextHop: true } },
  ];
  const c = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { peers }));
  assert.deepEqual(c.speaker?.peers.map((p) => [p.address, p.nextHopKeep ?? false, p.nextHopSelf, p.allowAsIn ?? 0]),
    [['10.0.0.250', true, false, 2], ['10.0.0.251', true, false, 0], ['10.0.0.252', false, true, 0]]);
  assert.deepEqual(c.problems.filter((p) => /next hop|numAllowed/.test(p)), []);
  // localASNumber: our AS on that session, and it decides iBGP/eBGP (here: iBGP with 65100).
  const l = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { peers: [{ name: 'l', spec: { peerIP: '10.0.0.253', asNumber: 65100, localASNumber: 65100 } }] }));
  assert.deepEqual(l.speaker?.peers.map((p) => [p.address, p.localAs]), [['10.0.0.253', 65100]]);
  assert.deepEqual(l.problems.filter((p) => /localASNumber/.test(p)), []);
});

test('BGPFilter large communities (a:b:c): matched and added; prefixAdvertisements carry them', () => {
  const filters: Record<string, BGPFilterSpec> = { l: {
    importV4: [{ action: 'Reject', communities: { values: ['65000:1:2'] } }, { action: 'Accept', operations: [{ addCommunity: { value: '65000:9:9' } }] }],
  } };
  const cfg = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { filters, peers: [{ name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100, filters: ['l'] } }] }));
  assert.deepEqual(cfg.problems.filter((p) => /BGPFilter/.test(p)), []);
  const imp = compilePeerPolicy(cfg.speaker?.peers[0]?.import, 'import');
  const ext = parsePrefix('198.51.100.0/24');
  const subject = { sourceKind: 'ebgp' as const, sourcePeer: 'tor', localAs: 64512 };
  assert.equal(imp?.evaluate(ext, { origin: 0, largeCommunities: [{ globalAdmin: 65000, localData1: 1, localData2: 2 }] }, subject).type, 'reject');
  const ok = imp?.evaluate(ext, { origin: 0 }, subject);
  assert.deepEqual(ok?.type === 'accept' ? ok.attrs.largeCommunities : undefined, [{ globalAdmin: 65000, localData1: 9, localData2: 9 }]);
  const s = snap('a', [node('a', '10.0.0.1/24')], {
    blocks: [{ cidr: '10.244.0.0/26', node: 'a', allocations: [] }],
    configs: { default: { communities: [{ name: 'big', value: '64512:1:2' }], prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['big', '64512:5'] }] } },
  });
  const o = originatedPrefixes(s);
  assert.deepEqual(o.routes.map((r) => [r.prefix, r.communities, r.largeCommunities]), [['10.244.0.0/26', [64512 * 65536 + 5], [{ globalAdmin: 64512, localData1: 1, localData2: 2 }]]]);
});

test('originated: local blocks, borrowed /32s, service CIDRs with prefixAdvertisement communities; disableBGPExport respected', () => {
  const blocks: BlockSnapshot[] = [
    { cidr: '10.244.0.0/26', node: 'a', allocations: [{ address: '10.244.0.1', node: 'a' }] },
    { cidr: '10.244.0.64/26', node: 'b', allocations: [{ address: '10.244.0.65', node: 'b' }, { address: '10.244.0.66', node: 'a' }] },
    { cidr: '10.245.0.0/26', node: 'a', allocations: [] },
  ];
  const s = snap('a', [node('a', '10.0.0.1/24'), node('b', '10.0.0.2/24')], { blocks, pools: [pool('10.244.0.0/16'), pool('10.245.0.0/16', { disableBGPExport: true })],
    configs: { default: { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }], communities: [{ name: 'svc', value: '65000:100' }],
      prefixAdvertisements: [{ cidr: '10.96.0.0/12', communities: ['svc', '65000:200'] }] } } });
  const o = originatedPrefixes(s);
  assert.deepEqual(o.routes.map((r) => [r.prefix, r.kind, r.communities]), [
    ['10.244.0.0/26', 'block', []], ['10.244.0.66/32', 'borrowed', []], ['10.96.0.0/12', 'service', [65000 * 65536 + 100, 65000 * 65536 + 200]],
  ]);
});

const facts = (cidr: string, extra: Partial<LocalFacts> = {}): LocalFacts => ({ cidr, parentIface: 'eth0', backend: 'bird', underlay: [], ...extra });

test('kernel routes: blackhole, workloads, same subnet direct, VXLAN CrossSubnet across subnets, recursive next hop', () => {
  const nodes = [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24', { vxlanTunnelAddr: '10.244.9.1', vxlanMac: '66:00:00:00:00:01' }),
    node('c', '10.0.2.2/24', { vxlanTunnelAddr: '10.244.9.2' })];
  const s = snap('a', nodes, { pools: [pool('10.244.0.0/16', { vxlanMode: 'CrossSubnet' }), pool('10.250.0.0/16')],
    blocks: [{ cidr: '10.244.0.0/26', node: 'a', allocations: [] }] });
  const learned = [
    { prefix: '10.244.1.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3' },
    { prefix: '10.244.2.0/26', nextHop: '10.0.2.2', peer: 'Mesh_10_0_2_2' },
    { prefix: '10.250.2.0/26', nextHop: '10.0.2.2', peer: 'Mesh_10_0_2_2' },
    { prefix: '10.244.0.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3' },
    { prefix: '0.0.0.0/0', nextHop: '10.0.1.1', peer: 'Global_10_0_1_1' },
  ];
  const r = kernelRoutes(s, learned, [{ address: '10.244.0.5', iface: 'cali123' }],
    facts('10.0.1.2/24', { underlay: [{ dst: 'default', gateway: '10.0.1.1', iface: 'eth0' }, { dst: '10.0.1.0/24', iface: 'eth0' }] }));
  assert.deepEqual(r.routes, [
    { dst: '0.0.0.0/0', type: 'unicast', iface: 'eth0', gateway: '10.0.1.1', onlink: true, metric: 1024 },
    { dst: '10.244.0.0/26', type: 'blackhole' },
    { dst: '10.244.0.5/32', type: 'unicast', iface: 'cali123', scope: 'link' },
    { dst: '10.244.1.0/26', type: 'unicast', iface: 'eth0', gateway: '10.0.1.3', onlink: true },
    { dst: '10.250.2.0/26', type: 'unicast', iface: 'eth0', gateway: '10.0.1.1', onlink: true },
  ]);
  assert.deepEqual(r.vxlanBlocks, [{ cidr: '10.244.2.0/26', nodeName: 'c' }]);
  assert.deepEqual(r.vteps.map((v) => [v.nodeName, v.tunnelIp, v.mac]), [['b', '10.244.9.1', '66:00:00:00:00:01'], ['c', '10.244.9.2', undefined]]);
  assert.deepEqual(r.skipped, [{ prefix: '10.244.0.0/26', reason: 'our own block' }]);
});

test('kernel routes with backend vxlan come from IPAM blocks, not BGP', () => {
  const nodes = [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24', { vxlanTunnelAddr: '10.244.9.1' }), node('c', '10.0.2.2/24', { vxlanTunnelAddr: '10.244.9.2' })];
  const s = snap('a', nodes, { pools: [pool('10.244.0.0/16', { vxlanMode: 'CrossSubnet' })], blocks: [
    { cidr: '10.244.0.0/26', node: 'a', allocations: [] }, { cidr: '10.244.1.0/26', node: 'b', allocations: [] }, { cidr: '10.244.2.0/26', node: 'c', allocations: [] }] });
  const r = kernelRoutes(s, [{ prefix: '10.9.9.0/24', nextHop: '10.0.1.3', peer: 'x' }], [], facts('10.0.1.2/24', { backend: 'vxlan' }));
  assert.deepEqual(r.routes.map((x) => [x.dst, x.type, x.gateway]), [['10.244.0.0/26', 'blackhole', undefined], ['10.244.1.0/26', 'unicast', '10.0.1.3']]);
  assert.deepEqual(r.vxlanBlocks, [{ cidr: '10.244.2.0/26', nodeName: 'c' }]);
});

test('kernel routes: a pool annotated for the UDP backend goes direct within the subnet and over tortie-udp across, in both backends', () => {
  const nodes = [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24', { vxlanTunnelAddr: '10.244.9.1' }), node('c', '10.0.2.2/24', { vxlanTunnelAddr: '10.244.9.2' })];
  for (const mode of [{ vxlanMode: 'CrossSubnet' as const }, { ipipMode: 'CrossSubnet' as const }]) {
    const pools = [pool('10.244.0.0/16', { ...mode, encapsulation: 'udp' })];
    const bird = kernelRoutes(snap('a', nodes, { pools }), [
      { prefix: '10.244.1.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3' },
      { prefix: '10.244.2.0/26', nextHop: '10.0.2.2', peer: 'Mesh_10_0_2_2' },
    ], [], facts('10.0.1.2/24'));
    assert.deepEqual(bird.routes, [{ dst: '10.244.1.0/26', type: 'unicast', iface: 'eth0', gateway: '10.0.1.3', onlink: true }], JSON.stringify(mode));
    assert.deepEqual(bird.udpBlocks, [{ cidr: '10.244.2.0/26', nodeName: 'c', nodeIp: '10.0.2.2' }]);
    assert.deepEqual([bird.vxlanBlocks, bird.udpPeers], [[], ['10.0.1.3', '10.0.2.2']]);
    const vx = kernelRoutes(snap('a', nodes, { pools, blocks: [{ cidr: '10.244.1.0/26', node: 'b', allocations: [] }, { cidr: '10.244.2.0/26', node: 'c', allocations: [] }] }),
      [], [], facts('10.0.1.2/24', { backend: 'vxlan' }));
    assert.deepEqual(vx.routes.map((x) => [x.dst, x.gateway]), [['10.244.1.0/26', '10.0.1.3']]);
    assert.deepEqual(vx.udpBlocks, [{ cidr: '10.244.2.0/26', nodeName: 'c', nodeIp: '10.0.2.2' }]);
  }
  // Always: every other node's block over UDP, also within the subnet.
  const always = kernelRoutes(snap('a', nodes, { pools: [pool('10.244.0.0/16', { vxlanMode: 'Always', encapsulation: 'udp' })] }),
    [{ prefix: '10.244.1.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3' }], [], facts('10.0.1.2/24'));
  assert.deepEqual([always.routes, always.udpBlocks], [[], [{ cidr: '10.244.1.0/26', nodeName: 'b', nodeIp: '10.0.1.3' }]]);
});

test('resolveNextHop: longest prefix, then lowest metric', () => {
  const u = [{ dst: 'default', gateway: '10.0.0.1', iface: 'eth0', metric: 100 }, { dst: '0.0.0.0/0', gateway: '10.0.0.2', iface: 'eth0', metric: 10 },
    { dst: '10.5.0.0/16', gateway: '10.0.0.3', iface: 'eth1' }];
  assert.equal(resolveNextHop(u, '10.5.1.1')?.gateway, '10.0.0.3');
  assert.equal(resolveNextHop(u, '8.8.8.8')?.gateway, '10.0.0.2');
  assert.equal(resolveNextHop([], '8.8.8.8'), undefined);
});

test('rules inputs: enabled pools with natOutgoing, every node address, tunnels in use', () => {
  const s = snap('a', [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24')], { pools: [pool('10.244.0.0/16', { vxlanMode: 'Always' }), pool('10.9.0.0/16', { disabled: true })] });
  assert.deepEqual(rulesConfig(s), { pools: [{ cidr: '10.244.0.0/16', natOutgoing: true }], nodeAddresses: ['10.0.1.2', '10.0.1.3'], ipipEnabled: false, vxlanEnabled: true });
});

// ---- properties over random clusters ----

const arbCluster = fc.record({
  n: fc.integer({ min: 1, max: 6 }),
  mode: fc.constantFrom('Never', 'Always', 'CrossSubnet') as fc.Arbitrary<'Never' | 'Always' | 'CrossSubnet'>,
  subnets: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }),
  owners: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 20 }),
  learnedFrom: fc.array(fc.tuple(fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 5 })), { maxLength: 30 }),
  backend: fc.constantFrom('bird', 'vxlan') as fc.Arbitrary<'bird' | 'vxlan'>,
});

test('property: kernel routes are valid, one per destination, own blocks are blackholes, nothing routes our block away', () => {
  fc.assert(fc.property(arbCluster, ({ n, mode, subnets, owners, learnedFrom, backend }) => {
    const nodes = Array.from({ length: n }, (_, i) => node(`n${i}`, `10.0.${subnets[i] ?? 0}.${i + 10}/24`, { vxlanTunnelAddr: `10.244.255.${i + 1}` }));
    const blocks: BlockSnapshot[] = owners.map((o, i) => ({ cidr: `10.244.${i}.0/26`, node: `n${o % n}`, allocations: [] }));
    const s = snap('n0', nodes, { pools: [pool('10.244.0.0/16', { vxlanMode: mode })], blocks });
    const learned = learnedFrom.map(([b, o]) => ({ prefix: `10.244.${b}.0/26`, nextHop: nodes[o % n]?.ipv4 ?? '10.0.0.10', peer: 'p' }));
    const r = kernelRoutes(s, learned, [], facts(nodes[0]?.ipv4Cidr ?? '', { backend, underlay: [{ dst: 'default', gateway: '10.0.0.1', iface: 'eth0' }] }));
    const dsts = r.routes.map((x) => x.dst);
    assert.equal(new Set(dsts).size, dsts.length, 'one route per destination');
    for (const x of r.routes) validateDesiredRoute(x);
    for (const b of blocks.filter((b) => b.node === 'n0')) {
      assert.equal(r.routes.find((x) => x.dst === b.cidr)?.type, 'blackhole');
      assert.ok(!r.vxlanBlocks.some((v) => v.cidr === b.cidr));
    }
    for (const v of r.vxlanBlocks) {
      assert.notEqual(v.nodeName, 'n0');
      assert.ok(!dsts.includes(v.cidr), 'a VXLAN block has no second route');
      const owner = nodes.find((x) => x.name === v.nodeName);
      if (mode === 'CrossSubnet') assert.notEqual(owner?.ipv4Cidr?.split('.')[2], nodes[0]?.ipv4Cidr?.split('.')[2]);
      assert.notEqual(mode, 'Never');
    }
  }), { numRuns: 300 });
});

test('property: originated prefixes are ours only: local blocks and addresses of our workloads', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 })), { maxLength: 10 }), (spec) => {
    const blocks: BlockSnapshot[] = spec.map(([owner, users], i) => ({ cidr: `10.244.${i}.0/26`, node: `n${owner}`,
      allocations: users.map((u, j) => ({ address: `10.244.${i}.${j + 1}`, node: `n${u}` })) }));
    const s = snap('n0', [node('n0', '10.0.0.1/24')], { blocks });
    for (const r of originatedPrefixes(s).routes) {
      const p = parsePrefix(r.prefix);
      if (r.kind === 'block') assert.ok(blocks.some((b) => b.cidr === r.prefix && b.node === 'n0'));
      else {
        assert.equal(p.length, 32);
        const addr = formatPrefix(p).split('/')[0] ?? '';
        const b = blocks.find((x) => prefixContains(parsePrefix(x.cidr), parseAddress(addr)));
        assert.ok(b !== undefined && b.node !== 'n0' && b.allocations.some((a) => a.address === addr && a.node === 'n0'));
      }
    }
  }), { numRuns: 200 });
});

test('peer names follow Calico', () => {
  assert.equal(peerName('global', '10.0.0.1', 1790), 'Global_10_0_0_1_port_1790');
  assert.equal(peerName('node-to-node mesh', '10.0.3.8', undefined), 'Mesh_10_0_3_8');
});

test('backend vxlan: an address borrowed from a block gets a /32 to the node running it', () => {
  const nodes = [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24', { vxlanTunnelAddr: '10.244.9.1' }), node('c', '10.0.2.2/24', { vxlanTunnelAddr: '10.244.9.2' })];
  const s = snap('a', nodes, { pools: [pool('10.244.0.0/16', { vxlanMode: 'CrossSubnet' })], blocks: [
    { cidr: '10.244.0.0/26', node: 'a', allocations: [{ address: '10.244.0.9', node: 'c' }] },
    { cidr: '10.244.1.0/26', node: 'b', allocations: [{ address: '10.244.1.7', node: 'a' }, { address: '10.244.1.8', node: 'c' }] }] });
  const r = kernelRoutes(s, [], [{ address: '10.244.1.7', iface: 'caliX' }], facts('10.0.1.2/24', { backend: 'vxlan' }));
  assert.deepEqual(r.routes.map((x) => [x.dst, x.iface ?? x.type]), [['10.244.0.0/26', 'blackhole'], ['10.244.1.0/26', 'eth0'], ['10.244.1.7/32', 'caliX']]);
  assert.deepEqual(r.vxlanBlocks.map((v) => [v.cidr, v.nodeName]).sort(), [['10.244.0.9/32', 'c'], ['10.244.1.8/32', 'c']]);
});

/** Reference semantics of FilterRules: first match wins, a notIn range excludes routes inside it. */
function refDecide(rules: readonly FilterRule[], dflt: 'accept' | 'reject', prefix: string): 'accept' | 'reject' {
  const pr = parsePrefix(prefix);
  const inRange = (x: { prefix: ReturnType<typeof parsePrefix>; ge?: number; le?: number }): boolean =>
    prefixContains(x.prefix, pr) && pr.length >= (x.ge ?? x.prefix.length) && pr.length <= (x.le ?? x.prefix.length);
  for (const r of rules) {
    if (r.notIn !== undefined && inRange(r.notIn)) continue;
    if (r.match?.prefixes !== undefined && !r.match.prefixes.some(inRange)) continue;
    return r.action;
  }
  return dflt;
}

test('property: linearize() decides exactly like the NotIn/NotEqual semantics it replaces', () => {
  const arbRange = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 8, max: 12 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }))
    .map(([n, len, geExtra, span]) => {
      const prefix = parsePrefix(`10.${n * 16}.0.0/${len}`, { allowHostBits: true });
      const ge = len + geExtra;
      return { prefix: { ...prefix, bytes: prefix.bytes }, ge, le: Math.min(32, ge + span) };
    });
  const arbRule = fc.record({ action: fc.constantFrom('accept', 'reject') as fc.Arbitrary<'accept' | 'reject'>,
    p: fc.option(arbRange, { nil: undefined }), n: fc.option(arbRange, { nil: undefined }) })
    .map(({ action, p, n }): FilterRule => ({ action, ...(p === undefined ? {} : { match: { prefixes: [p] } }), ...(n === undefined ? {} : { notIn: n }) }));
  const arbRoute = fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 24 }))
    .map(([a, b, len]) => formatPrefix(parsePrefix(`10.${a}.${b}.0/${len}`, { allowHostBits: true })));
  fc.assert(fc.property(fc.array(arbRule, { maxLength: 6 }), fc.constantFrom('accept', 'reject') as fc.Arbitrary<'accept' | 'reject'>, fc.array(arbRoute, { minLength: 1, maxLength: 20 }),
    (rules, dflt, routes) => {
      const lin = { rules: linearize(rules, dflt), default: dflt };
      for (const r of routes) assert.equal(decide(lin, r), refDecide(rules, dflt, r), `route ${r}`);
    }), { numRuns: 500 });
});

test('BGPPeer keepaliveTime, sourceAddress None, reachableBy; unsupported fields are reported', () => {
  const nodes = [node('a', '10.0.0.1/24')];
  const peers: PeerInfo[] = [
    { name: 'far', spec: { peerIP: '192.0.2.7', asNumber: 65100, keepaliveTime: '10s', sourceAddress: 'None', reachableBy: '10.0.0.254' } },
    { name: 'md5', spec: { peerIP: '10.0.0.9', asNumber: 65100, password: { secretKeyRef: { name: 's', key: 'k' } }, ttlSecurity: 1 } },
    { name: 'other-node', spec: { node: 'zz', peerIP: '10.0.0.8', asNumber: 65100, password: { secretKeyRef: { name: 's', key: 'k' } } } },
  ];
  const s = snap('a', nodes, { peers });
  const r = bgpSpeakerConfig(s, (name, key) => (name === 's' && key === 'k' ? 'md5-key' : assert.fail(`read ${name}/${key}`)));
  const far = r.speaker?.peers.find((p) => p.address === '192.0.2.7');
  assert.equal(far?.keepalive, 10);
  assert.equal(far?.holdTime, 30);
  assert.equal(far?.localAddress, undefined);
  assert.equal(r.speaker?.peers.find((p) => p.address === '10.0.0.9')?.localAddress, '10.0.0.1');
  assert.deepEqual(r.problems, []);
  const md5 = r.speaker?.peers.find((p) => p.address === '10.0.0.9');
  assert.equal(md5?.password, 'md5-key');
  assert.equal(md5?.ttlSecurity, 1);
  assert.equal(md5?.multihop, undefined, 'GTSM replaces multihop (TTL 255 sent)');
  assert.equal(far?.multihop, 64, 'eBGP without ttlSecurity: Calico\'s multihop');
  assert.equal(far?.password, undefined);
  const k = kernelRoutes(s, [], [], facts('10.0.0.1/24'));
  assert.deepEqual(k.routes.find((x) => x.dst === '192.0.2.7/32'), { dst: '192.0.2.7/32', type: 'unicast', iface: 'eth0', gateway: '10.0.0.254', onlink: true, metric: 1024 });
});

test('a bad workload address is skipped, never fatal for the other routes', () => {
  const s = snap('a', [node('a', '10.0.0.1/24')], { blocks: [{ cidr: '10.244.0.0/26', node: 'a', allocations: [] }] });
  const r = kernelRoutes(s, [], [{ address: 'nonsense', iface: 'cali1' }, { address: '10.244.0.3', iface: 'cali2' }], facts('10.0.0.1/24'));
  assert.deepEqual(r.routes.map((x) => x.dst), ['10.244.0.0/26', '10.244.0.3/32']);
  assert.deepEqual(r.skipped, [{ prefix: 'nonsense', reason: 'workload on cali1: not an IP address' }]);
});

test('learned routes inside service ranges are never installed (Calico rejectcidrs)', () => {
  const s = snap('a', [node('a', '10.0.0.1/24'), node('b', '10.0.0.2/24')], { configs: { default: { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }] } } });
  const r = kernelRoutes(s, [{ prefix: '10.96.0.0/12', nextHop: '10.0.0.2', peer: 'Mesh_10_0_0_2' }, { prefix: '10.100.0.10/32', nextHop: '10.0.0.2', peer: 'Mesh_10_0_0_2' }], [], facts('10.0.0.1/24'));
  assert.deepEqual(r.routes, []);
  assert.deepEqual(r.skipped.map((x) => x.prefix), ['10.100.0.10/32', '10.96.0.0/12']);
});

test('dual stack: one session per family between nodes that have both, v6 next hops, v6 blocks originated', () => {
  const nodes = [node('a', '10.0.0.1/24', { ipv6: 'fd00::1', ipv6Cidr: 'fd00::1/64' }), node('b', '10.0.0.2/24', { ipv6: 'fd00::2', ipv6Cidr: 'fd00::2/64' }), node('c', '10.0.0.3/24')];
  const s = snap('a', nodes, { pools: [pool('10.244.0.0/16'), pool('fd00:244::/48', { blockSize: 122 })],
    blocks: [{ cidr: '10.244.0.0/26', node: 'a', allocations: [] }, { cidr: 'fd00:244::/122', node: 'a', allocations: [] }] });
  const r = bgpSpeakerConfig(s);
  assert.deepEqual(r.speaker?.listen, { address: '::', port: 179 });
  assert.deepEqual(r.speaker?.peers.map((p) => [p.name, p.families, p.localAddress, p.passive]).sort(), [
    ['Mesh_10_0_0_2', ['ipv4-unicast'], '10.0.0.1', true], ['Mesh_10_0_0_3', ['ipv4-unicast'], '10.0.0.1', true], ['Mesh_fd00__2', ['ipv6-unicast'], 'fd00::1', true]]);
  const exp = r.speaker?.peers.find((p) => p.name === 'Mesh_fd00__2')?.export;
  assert.equal(decide(exp, 'fd00:244::40/122'), 'accept');
  assert.deepEqual(originatedPrefixes(s).routes.map((o) => o.prefix), ['10.244.0.0/26', 'fd00:244::/122']);
  const k = kernelRoutes(s, [{ prefix: 'fd00:244::80/122', nextHop: 'fd00::2', peer: 'Mesh_fd00__2' }, { prefix: '2001:db8::/32', nextHop: 'fd00::2', peer: 'Mesh_fd00__2' }],
    [{ address: 'fd00:244::5', iface: 'cali9' }], facts('10.0.0.1/24', { cidr6: 'fd00::1/64' }));
  assert.deepEqual(k.routes.filter((x) => x.dst.includes(':')), [
    { dst: '2001:db8::/32', type: 'unicast', iface: 'eth0', gateway: 'fd00::2', onlink: true, metric: 2048 },
    { dst: 'fd00:244::/122', type: 'blackhole' },
    { dst: 'fd00:244::5/128', type: 'unicast', iface: 'cali9', scope: 'link' },
    { dst: 'fd00:244::80/122', type: 'unicast', iface: 'eth0', gateway: 'fd00::2', onlink: true },
  ]);
});

// ---- IPv6 over VXLAN (vxlan-v6.calico) ----

/** Dual-stack nodes: a on fd00:1::/64, b on the same IPv6 subnet, c on another; b and c have IPv6 VTEPs (c also an IPv4 one). */
const v6Nodes = (): NodeInfo[] => [
  node('a', '10.0.1.2/24', { ipv6: 'fd00:1::2', ipv6Cidr: 'fd00:1::2/64' }),
  node('b', '10.0.1.3/24', { ipv6: 'fd00:1::3', ipv6Cidr: 'fd00:1::3/64', vxlanTunnelAddrV6: 'fd00:244:0:9::1', vxlanMacV6: '66:00:00:00:06:01' }),
  node('c', '10.0.2.2/24', { ipv6: 'fd00:2::2', ipv6Cidr: 'fd00:2::2/64', vxlanTunnelAddr: '10.244.9.2', vxlanTunnelAddrV6: 'fd00:244:0:9::2' }),
];
const v6Facts = (backend: LocalFacts['backend']): LocalFacts => facts('10.0.1.2/24', { cidr6: 'fd00:1::2/64', backend,
  underlay: [{ dst: 'default', gateway: 'fd00:1::fe', iface: 'eth0' }, { dst: 'fd00:1::/64', iface: 'eth0' }] });

test('IPv6 VTEPs come from ipv6Address + ipv6VXLANTunnelAddr (+ vxlanTunnelMACAddrV6), apart from the IPv4 ones', () => {
  const r = kernelRoutes(snap('a', v6Nodes()), [], [], v6Facts('bird'));
  assert.deepEqual(r.vteps6, [{ nodeName: 'b', nodeIp: 'fd00:1::3', tunnelIp: 'fd00:244:0:9::1', mac: '66:00:00:00:06:01' },
    { nodeName: 'c', nodeIp: 'fd00:2::2', tunnelIp: 'fd00:244:0:9::2' }]);
  assert.deepEqual(r.vteps, [{ nodeName: 'c', nodeIp: '10.0.2.2', tunnelIp: '10.244.9.2' }]);
});

test('BGP mode, IPv6 pool vxlanMode Always: every learned remote IPv6 block goes through vxlan-v6.calico', () => {
  const s = snap('a', v6Nodes(), { pools: [pool('10.244.0.0/16'), pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'Always' })] });
  const learned = [{ prefix: 'fd00:244::40/122', nextHop: 'fd00:1::3', peer: 'Mesh_fd00_1__3' }, { prefix: 'fd00:244::80/122', nextHop: 'fd00:2::2', peer: 'Mesh_fd00_2__2' },
    { prefix: '10.244.1.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3' }];
  const r = kernelRoutes(s, learned, [], v6Facts('bird'));
  assert.deepEqual(r.vxlanBlocks6, [{ cidr: 'fd00:244::40/122', nodeName: 'b' }, { cidr: 'fd00:244::80/122', nodeName: 'c' }]);
  assert.deepEqual(r.vxlanBlocks, [], 'the IPv4 pool is not VXLAN');
  assert.deepEqual(r.routes.map((x) => [x.dst, x.gateway, x.iface]), [['10.244.1.0/26', '10.0.1.3', 'eth0']]);
});

test('BGP mode, IPv6 pool CrossSubnet: direct on the same IPv6 subnet, vxlan-v6.calico across (decided by the IPv6 subnet, not the IPv4 one)', () => {
  // b shares a's IPv4 and IPv6 subnets; c shares neither. d: same IPv4 subnet as a, other IPv6 subnet.
  const nodes = [...v6Nodes(), node('d', '10.0.1.4/24', { ipv6: 'fd00:3::4', ipv6Cidr: 'fd00:3::4/64', vxlanTunnelAddrV6: 'fd00:244:0:9::4' })];
  const s = snap('a', nodes, { pools: [pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'CrossSubnet' })] });
  const learned = [{ prefix: 'fd00:244::40/122', nextHop: 'fd00:1::3', peer: 'b' }, { prefix: 'fd00:244::80/122', nextHop: 'fd00:2::2', peer: 'c' },
    { prefix: 'fd00:244::c0/122', nextHop: 'fd00:3::4', peer: 'd' }];
  const r = kernelRoutes(s, learned, [], v6Facts('bird'));
  assert.deepEqual(r.routes, [{ dst: 'fd00:244::40/122', type: 'unicast', iface: 'eth0', gateway: 'fd00:1::3', onlink: true }]);
  assert.deepEqual(r.vxlanBlocks6, [{ cidr: 'fd00:244::80/122', nodeName: 'c' }, { cidr: 'fd00:244::c0/122', nodeName: 'd' }]);
});

test('BGP mode: an IPv6 VXLAN block waits for its owner\'s IPv6 VTEP (an IPv4 VTEP is not enough), and needs an IPv6 node address', () => {
  const nodes = [v6Nodes()[0] as NodeInfo, node('e', '10.0.1.5/24', { ipv6: 'fd00:1::5', ipv6Cidr: 'fd00:1::5/64', vxlanTunnelAddr: '10.244.9.5' })];
  const s = snap('a', nodes, { pools: [pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'Always' })] });
  const learned = [{ prefix: 'fd00:244::40/122', nextHop: 'fd00:1::5', peer: 'e' }];
  const r = kernelRoutes(s, learned, [], v6Facts('bird'));
  assert.deepEqual([r.routes, r.vxlanBlocks6], [[], []]);
  assert.deepEqual(r.skipped, [{ prefix: 'fd00:244::40/122', reason: 'node e has no IPv6 VXLAN tunnel address yet' }]);
  const noV6 = kernelRoutes(s, learned, [], facts('10.0.1.2/24'));
  assert.deepEqual(noV6.skipped, [{ prefix: 'fd00:244::40/122', reason: 'IPv6 VXLAN pool: this node has no IPv6 address' }]);
});

test('backend vxlan: remote IPv6 blocks from IPAM through vxlan-v6.calico (Always), direct on the same IPv6 subnet (CrossSubnet), borrowed /128s likewise', () => {
  const blocks: BlockSnapshot[] = [
    { cidr: 'fd00:244::/122', node: 'a', allocations: [{ address: 'fd00:244::9', node: 'c' }] },
    { cidr: 'fd00:244::40/122', node: 'b', allocations: [{ address: 'fd00:244::47', node: 'a' }, { address: 'fd00:244::48', node: 'c' }] },
    { cidr: 'fd00:244::80/122', node: 'c', allocations: [] },
    { cidr: '10.244.1.0/26', node: 'b', allocations: [] },
  ];
  const always = kernelRoutes(snap('a', v6Nodes(), { blocks, pools: [pool('10.244.0.0/16'), pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'Always' })] }),
    [], [{ address: 'fd00:244::47', iface: 'caliX' }], v6Facts('vxlan'));
  assert.deepEqual(always.vxlanBlocks6.map((v) => [v.cidr, v.nodeName]).sort(), [
    ['fd00:244::40/122', 'b'], ['fd00:244::48/128', 'c'], ['fd00:244::80/122', 'c'], ['fd00:244::9/128', 'c']]);
  assert.deepEqual(always.vxlanBlocks, []);
  assert.deepEqual(always.routes.map((x) => [x.dst, x.iface ?? x.type, x.gateway]), [
    ['10.244.1.0/26', 'eth0', '10.0.1.3'], ['fd00:244::/122', 'blackhole', undefined], ['fd00:244::47/128', 'caliX', undefined]]);
  const cross = kernelRoutes(snap('a', v6Nodes(), { blocks, pools: [pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'CrossSubnet' })] }), [], [], v6Facts('vxlan'));
  assert.deepEqual(cross.routes.filter((x) => x.type !== 'blackhole').map((x) => [x.dst, x.iface, x.gateway]), [['fd00:244::40/122', 'eth0', 'fd00:1::3']]);
  assert.deepEqual(cross.vxlanBlocks6.map((v) => v.cidr).sort(), ['fd00:244::48/128', 'fd00:244::80/122', 'fd00:244::9/128']);
  // A node without an IPv6 address routes no IPv6 block (and says why).
  const v4only = kernelRoutes(snap('a', v6Nodes(), { blocks, pools: [pool('fd00:244::/48', { blockSize: 122, vxlanMode: 'Always' })] }), [], [], facts('10.0.1.2/24', { backend: 'vxlan' }));
  assert.deepEqual(v4only.vxlanBlocks6, []);
  assert.ok(v4only.skipped.some((x) => x.prefix === 'fd00:244::80/122' && x.reason === 'IPv6 block: this node has no IPv6 address'), JSON.stringify(v4only.skipped));
});

test('BGP passwords: BGPPeer secretKeyRef, nodeMeshPassword on mesh sessions only, unreadable Secrets, never the key in a problem', () => {
  const nodes = [node('a', '10.0.0.1/24'), node('b', '10.0.0.2/24')];
  const ref = (name: string, key: string, optional?: boolean) => ({ secretKeyRef: { name, key, ...(optional === undefined ? {} : { optional }) } });
  const peers: PeerInfo[] = [
    { name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100, password: ref('tor', 'pw') } },
    { name: 'gone', spec: { peerIP: '10.0.0.253', asNumber: 65100, password: ref('missing', 'pw') } },
    { name: 'opt', spec: { peerIP: '10.0.0.252', asNumber: 65100, password: ref('missing', 'pw', true) } },
    { name: 'long', spec: { peerIP: '10.0.0.251', asNumber: 65100, password: ref('long', 'pw') } },
    { name: 'ibgp', spec: { peerIP: '10.0.0.250', asNumber: 64512, ttlSecurity: 0 } },
  ];
  const values: Record<string, string> = { 'tor/pw': 'tor-secret', 'mesh/pw': 'mesh-secret', 'long/pw': 'x'.repeat(81) };
  const reads: string[] = [];
  const reader = (name: string, key: string): string => {
    reads.push(`${name}/${key}`);
    const v = values[`${name}/${key}`];
    if (v === undefined) throw new Error(`/etc/tortie/secrets/${name}/${key} does not exist`);
    return v;
  };
  const r = bgpSpeakerConfig(snap('a', nodes, { peers, configs: { default: { nodeMeshPassword: ref('mesh', 'pw') } } }), reader);
  const by = new Map((r.speaker?.peers ?? []).map((p) => [p.address, p]));
  assert.equal(by.get('10.0.0.254')?.password, 'tor-secret');
  assert.equal(by.get('10.0.0.2')?.password, 'mesh-secret', 'mesh session: nodeMeshPassword');
  assert.equal(by.has('10.0.0.253'), false, 'unreadable Secret: the peer is not configured without its password');
  assert.equal(by.get('10.0.0.252')?.password, undefined, 'optional: configured without a password');
  assert.ok(by.has('10.0.0.252'));
  assert.equal(by.has('10.0.0.251'), false, 'an 81-byte password is refused');
  assert.equal(by.get('10.0.0.250')?.ttlSecurity, undefined, 'ttlSecurity 0: off');
  assert.equal(by.get('10.0.0.250')?.multihop, undefined, 'iBGP keeps the kernel default TTL');
  assert.equal(r.problems.length, 3, r.problems.join('; '));
  assert.match(r.problems.join('\n'), /BGPPeer gone spec\.password: Secret missing key pw: .*does not exist; session not configured/);
  assert.match(r.problems.join('\n'), /BGPPeer opt spec\.password: Secret missing key pw \(optional\)/);
  assert.match(r.problems.join('\n'), /BGPPeer long spec\.password: Secret long key pw: the password must be 1\.\.80 bytes/);
  assert.doesNotMatch(r.problems.join('\n'), /secret-|xxxx/, 'no key in any problem');
  // Without a reader (no mounted Secrets configured): reported, not configured.
  const none = bgpSpeakerConfig(snap('a', nodes, { peers: [peers[0] as PeerInfo] }));
  assert.equal(none.speaker?.peers.some((p) => p.address === '10.0.0.254'), false);
  assert.match(none.problems.join('\n'), /BGPPeer tor spec\.password: Secret tor key pw: no Secret reader configured/);
});

test('graceful restart time: BGPPeer maxRestartTime, BGPConfiguration nodeMeshMaxRestartTime, else the speaker default (120 s)', () => {
  const nodes = [node('a', '10.0.0.1/24'), node('b', '10.0.0.2/24')];
  const peers: PeerInfo[] = [
    { name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65100, maxRestartTime: '2m' } },
    { name: 'slow', spec: { peerIP: '10.0.0.253', asNumber: 65100, maxRestartTime: '2h' } },
    { name: 'plain', spec: { peerIP: '10.0.0.252', asNumber: 65100 } },
  ];
  const at = (r: ReturnType<typeof bgpSpeakerConfig>, ip: string) => r.speaker?.peers.find((p) => p.address === ip)?.gracefulRestartTime;
  let r = bgpSpeakerConfig(snap('a', nodes, { peers }));
  assert.equal(at(r, '10.0.0.254'), 120);
  assert.equal(at(r, '10.0.0.253'), 4095);
  assert.equal(at(r, '10.0.0.252'), undefined, 'the speaker default');
  assert.equal(at(r, '10.0.0.2'), undefined, 'mesh without nodeMeshMaxRestartTime: the speaker default');
  assert.ok(r.problems.some((p) => /BGPPeer slow: spec\.maxRestartTime 2h is above the 4095 s/.test(p)), r.problems.join('; '));
  assert.ok(!r.problems.some((p) => /maxRestartTime is not supported/.test(p)));
  r = bgpSpeakerConfig(snap('a', nodes, { peers, configs: { default: { nodeMeshMaxRestartTime: '30s' } } }));
  assert.equal(at(r, '10.0.0.2'), 30);
});

test('passive side per peering kind as confd renders `passive on`', () => {
  // a = 10.0.0.1 (lowest string), c = 10.0.0.3, tor = 10.0.0.254 (not a node).
  const nodes = [node('a', '10.0.0.1/24', { labels: { role: 'w' } }), node('b', '10.0.0.2/24', { labels: { role: 'x' } }), node('c', '10.0.0.3/24', { labels: { role: 'w' } })];
  const cfgNoMesh = { default: { nodeToNodeMeshEnabled: false } };
  const view = (local: string, peers: PeerInfo[], mesh = false) =>
    new Map((bgpSpeakerConfig(snap(local, nodes, { peers, ...(mesh ? {} : { configs: cfgNoMesh }) })).speaker?.peers ?? []).map((p) => [p.address, p]));
  // Mesh: wait for peers whose IP string sorts above ours.
  assert.equal(view('a', [], true).get('10.0.0.3')?.passive, true);
  assert.equal(view('c', [], true).get('10.0.0.1')?.passive, false);
  // Global peerIP BGPPeer naming a node: the same rule (confd: type global, CalicoNode).
  const glob: PeerInfo[] = [{ name: 'to-c', spec: { peerIP: '10.0.0.3', asNumber: 64512 } }];
  assert.equal(view('a', glob).get('10.0.0.3')?.passive, true);
  // Global peerIP BGPPeer to a router: we dial.
  assert.equal(view('a', [{ name: 'tor', spec: { peerIP: '10.0.0.254', asNumber: 65000 } }]).get('10.0.0.254')?.passive, false);
  // Node-specific peerIP BGPPeer naming a node: confd never waits (Node_ type), even towards a higher IP.
  const nodeSpecific: PeerInfo[] = [{ name: 'a-to-c', spec: { node: 'a', peerIP: '10.0.0.3', asNumber: 64512 } }];
  assert.equal(view('a', nodeSpecific).get('10.0.0.3')?.passive, false);
  const nodeSel: PeerInfo[] = [{ name: 'w-to-c', spec: { nodeSelector: "role == 'w'", peerIP: '10.0.0.3', asNumber: 64512 } }];
  assert.equal(view('a', nodeSel).get('10.0.0.3')?.passive, false);
  // peerSelector (global and node-specific), forward and reverse: both sides dial.
  for (const spec of [{ peerSelector: "role == 'w'" }, { nodeSelector: "role == 'x'", peerSelector: "role == 'w'" }]) {
    const peers: PeerInfo[] = [{ name: 'sel', spec }];
    const fwd = view('b', peers).get('10.0.0.3');
    assert.equal(fwd?.passive, false, `forward ${JSON.stringify(spec)}`);
    const rev = view('c', peers).get('10.0.0.2');
    assert.equal(rev?.passive, false, `reverse ${JSON.stringify(spec)}`);
    assert.equal(rev?.name, 'Node_10_0_0_2', 'confd names the reverse side node-specific');
  }
});

test('kernel routes: a learned route with LOCAL_PREF above 2147483647 - normal priority is elevated (confd import/kernel filters)', () => {
  const nodes = [node('a', '10.0.1.2/24'), node('b', '10.0.1.3/24')];
  const s = snap('a', nodes, { blocks: [{ cidr: '10.244.0.0/26', node: 'a', allocations: [] }] });
  const wl = [{ address: '10.244.0.5', iface: 'cali123' }, { address: '10.244.0.6', iface: 'cali456' }];
  const learned = [
    // A VM migrating from this node to b: b advertises its /32 with priority 512.
    { prefix: '10.244.0.5/32', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3', localPref: 2147483647 - 512 },
    // Normal priority (2147483647 - 1024): the local workload route stays.
    { prefix: '10.244.0.6/32', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3', localPref: 2147483647 - 1024 },
    { prefix: '10.244.1.0/26', nextHop: '10.0.1.3', peer: 'Mesh_10_0_1_3', localPref: 100 },
  ];
  const byDst = new Map(kernelRoutes(s, learned, wl, facts('10.0.1.2/24')).routes.map((r) => [r.dst, r]));
  assert.deepEqual(byDst.get('10.244.0.5/32'), { dst: '10.244.0.5/32', type: 'unicast', iface: 'eth0', gateway: '10.0.1.3', onlink: true, metric: 512 });
  assert.deepEqual(byDst.get('10.244.0.6/32'), { dst: '10.244.0.6/32', type: 'unicast', iface: 'cali456', scope: 'link' });
  assert.equal(byDst.get('10.244.1.0/26')?.metric, undefined);
  // ipv4NormalRoutePriority moves the threshold with it.
  const s2 = snap('a', nodes, { configs: { default: { ipv4NormalRoutePriority: 256 } } });
  assert.equal(new Map(kernelRoutes(s2, learned, wl, facts('10.0.1.2/24')).routes.map((r) => [r.dst, r])).get('10.244.0.5/32')?.iface, 'cali123');
});

test('kernel routes: a multipath set (two ToRs) becomes one route with a next hop each; unusable hops are left out', () => {
  const s = snap('a', [node('a', '10.0.1.2/24')], { pools: [pool('10.244.0.0/16')] });
  const underlay = [{ dst: '10.0.1.0/24', iface: 'eth0' }, { dst: '10.0.9.0/24', iface: 'eth1' }];
  const r = kernelRoutes(s, [
    { prefix: '0.0.0.0/0', nextHop: '10.0.1.1', peer: 'tor1', nextHops: ['10.0.1.1', 'fd00::1', '10.0.9.1', '192.0.2.1'] },
    { prefix: '10.244.7.0/26', nextHop: '10.0.1.1', peer: 'tor1', nextHops: ['10.0.1.1', '10.0.9.1'] },
    { prefix: '198.51.100.0/24', nextHop: '192.0.2.1', peer: 'tor1', nextHops: ['192.0.2.1', '192.0.2.2'] },
  ], [], facts('10.0.1.2/24', { underlay }));
  assert.deepEqual(r.routes, [
    { dst: '0.0.0.0/0', type: 'unicast', metric: 1024, nexthops: [{ iface: 'eth0', gateway: '10.0.1.1', onlink: true }, { iface: 'eth1', gateway: '10.0.9.1', onlink: true }] },
    { dst: '10.244.7.0/26', type: 'unicast', nexthops: [{ iface: 'eth0', gateway: '10.0.1.1', onlink: true }, { iface: 'eth1', gateway: '10.0.9.1', onlink: true }] },
  ]);
  assert.deepEqual(r.skipped, [{ prefix: '198.51.100.0/24', reason: 'next hop 192.0.2.1 is not reachable (no route to it)' }]);
});

test('BGPFilter operations.setPriority sets LOCAL_PREF 2147483647 - value; priority matches LOCAL_PREF 2147483647 - priority', () => {
  const filters: Record<string, BGPFilterSpec> = { p: {
    exportV4: [{ action: 'Accept', cidr: '10.244.0.0/16', matchOperator: 'In', operations: [{ setPriority: { value: 512 } }] }],
    importV4: [{ action: 'Reject', priority: 512 }, { action: 'Accept', operations: [{ setPriority: { value: 300 } }] }],
  } };
  const fr = filterRules(snap('a', [node('a', '10.0.0.1/24')], { filters }), ['p'], true, 'Mesh_x');
  assert.deepEqual(fr.exportRules[0]?.set, { localPref: 2147483647 - 512 });
  assert.deepEqual(fr.importRules.map((r) => [r.action, r.match?.localPref, r.set]), [['reject', 2147483647 - 512, undefined], ['accept', undefined, { localPref: 2147483647 - 300 }]]);
  assert.deepEqual(fr.problems, []);
  // Export: our own routes carry the normal priority (1024), learned ones their LOCAL_PREF.
  const ex = (priority: number) => filterRules(snap('a', [node('a', '10.0.0.1/24')], { filters: { q: { exportV4: [{ action: 'Reject', priority }] } } }), ['q'], true, 'Mesh_x').exportRules
    .map((r) => [r.match?.source, r.match?.localPref]);
  assert.deepEqual(ex(1024), [['local', undefined], ['peers', 2147483647 - 1024]]);
  assert.deepEqual(ex(512), [['peers', 2147483647 - 512]]);
  // On an iBGP peer the filter's LOCAL_PREF wins over the normal route priority for our routes.
  const peer = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], { filters, peers: [{ name: 'rr', spec: { peerIP: '10.0.0.254', asNumber: 64512, filters: ['p'] } }] })).speaker?.peers[0];
  assert.equal(peer?.export?.rules.find((r) => r.match?.prefixes?.[0]?.prefix.length === 16)?.set?.localPref, 2147483647 - 512);
});

test('fields that need the Kubernetes API are reported naming resource and field (localWorkloadSelector, localWorkloadPeeringIPV4, serviceLoadBalancerAggregation)', () => {
  const r = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24')], {
    peers: [{ name: 'vms', spec: { localWorkloadSelector: "app == 'bgp'", asNumber: 65100 } }],
    configs: { default: { localWorkloadPeeringIPV4: '169.254.0.179', serviceLoadBalancerAggregation: 'Disabled', serviceLoadBalancerIPs: [{ cidr: '192.0.2.0/24' }] } },
  }));
  assert.deepEqual(r.problems.map((p) => p.split(':').slice(0, 2).join(':')), [
    'BGPConfiguration(default): spec.localWorkloadPeeringIPV4',
    'BGPConfiguration(default): spec.serviceLoadBalancerAggregation',
    'BGPPeer(vms): spec.localWorkloadSelector',
  ]);
  const dual = bgpSpeakerConfig(snap('a', [node('a', '10.0.0.1/24', { ipv6: 'fd00::1', ipv6Cidr: 'fd00::1/64' })], { configs: { default: { bindMode: 'NodeIP' } } }));
  assert.match(dual.problems.join('\n'), /spec\.bindMode NodeIP on a dual-stack node/);
});

test('a peerIP BGPPeer naming this node: we peer back with the nodes it applies to (confd reverse peering), unless reversePeering Manual', () => {
  const nodes = [node('a', '10.0.0.1/24', { labels: { r: 'x' } }), node('b', '10.0.0.2/24', { labels: { r: 'x' } }), node('t', '10.0.0.5/24')];
  const cfg = { default: { nodeToNodeMeshEnabled: false } };
  const peer = (extra: Partial<PeerInfo['spec']> = {}): PeerInfo[] => [{ name: 'to-t', spec: { nodeSelector: "r == 'x'", peerIP: '10.0.0.5', asNumber: 64512, ...extra } }];
  const t = bgpSpeakerConfig(snap('t', nodes, { peers: peer(), configs: cfg })).speaker?.peers ?? [];
  assert.deepEqual(t.map((p) => [p.name, p.passive]).sort(), [['Node_10_0_0_1', false], ['Node_10_0_0_2', false]]);
  const a = bgpSpeakerConfig(snap('a', nodes, { peers: peer(), configs: cfg })).speaker?.peers ?? [];
  assert.deepEqual(a.map((p) => [p.name, p.passive]), [['Node_10_0_0_5', false]]);
  assert.equal(bgpSpeakerConfig(snap('t', nodes, { peers: peer({ reversePeering: 'Manual' }), configs: cfg })).speaker?.peers.length, 0);
  assert.equal(bgpSpeakerConfig(snap('t', nodes, { peers: peer({ asNumber: 65009 }), configs: cfg })).speaker?.peers.length, 0, 'another AS: not this node');
});
