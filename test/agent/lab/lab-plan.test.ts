/** The lab's pure plan: names, subnets, resources (checked by the real resource schemas), configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TortieError } from '../../../common/errors.js';
import { validateResource } from '../../../agent/resources/kinds.js';
import { birdConfig, frrBgpdConfig, labResources, planLab, type LabOptions } from '../../../agent/lab/lab-plan.js';

const base: LabOptions = { prefix: 'tortie', nodes: 3, podsPerNode: 2, tor: 'frr', stateDir: '/run/tortie-lab' };

test('three nodes: two on subnet 1, one on subnet 2; names carry "node"; per-node dirs', () => {
  const plan = planLab(base);
  assert.deepEqual(plan.nodes.map((n) => [n.name, n.subnet, n.address, n.gateway]), [
    ['tortie-node1', 1, '10.100.1.11', '10.100.1.1'],
    ['tortie-node2', 1, '10.100.1.12', '10.100.1.1'],
    ['tortie-node3', 2, '10.100.2.13', '10.100.2.1'],
  ]);
  assert.equal(new Set(plan.nodes.map((n) => n.runDir)).size, 3, 'no two nodes share a run dir (sockets)');
  assert.equal(plan.pods.length, 6);
  assert.deepEqual(plan.namespaces.slice(0, 5), ['tortie-tor', 'tortie-etcd', 'tortie-node1', 'tortie-node2', 'tortie-node3']);
  assert.equal(new Set(plan.namespaces).size, plan.namespaces.length, 'namespace names are unique');
  assert.ok(plan.pods.every((p) => !p.netns.includes('node')), 'only node namespaces contain "node"');
});

test('resources pass the real schemas: CrossSubnet VXLAN pool, one ToR BGPPeer per node', () => {
  const plan = planLab({ ...base, nodes: 4 });
  const docs = labResources(plan);
  for (const d of docs) {
    const v = validateResource(d);
    assert.ok(v.ok, `${String(d['kind'])}: ${v.ok ? '' : JSON.stringify(v.issues)}`);
  }
  const pool = docs.find((d) => d['kind'] === 'IPPool')?.['spec'] as Record<string, unknown>;
  assert.equal(pool['vxlanMode'], 'CrossSubnet');
  assert.equal(pool['blockSize'], 26);
  const peers = docs.filter((d) => d['kind'] === 'BGPPeer').map((d) => d['spec'] as Record<string, unknown>);
  assert.deepEqual(peers.map((p) => [p['node'], p['peerIP'], p['asNumber']]), [
    ['tortie-node1', '10.100.1.1', 65000], ['tortie-node2', '10.100.1.1', 65000],
    ['tortie-node3', '10.100.2.1', 65000], ['tortie-node4', '10.100.2.1', 65000],
  ]);
  const bench = labResources(planLab({ ...base, blockSize: 31 })).find((d) => d['kind'] === 'IPPool')?.['spec'] as Record<string, unknown>;
  assert.equal(bench['blockSize'], 31);
});

test('ToR configs name every node as a neighbour, with graceful restart on', () => {
  const plan = planLab(base);
  const frr = frrBgpdConfig(plan, '/tmp/bgpd.log');
  assert.match(frr, /^frr defaults datacenter\n/);
  for (const n of plan.nodes) assert.ok(frr.includes(` neighbor ${n.address} peer-group NODES`));
  const bird = birdConfig(plan);
  for (const n of plan.nodes) assert.ok(bird.includes(`neighbor ${n.address} as 64512;`));
  assert.match(frr, /^ bgp graceful-restart$/m);
  assert.match(bird, /^  graceful restart on;$/m);
});

test('bad options are refused with the option named', () => {
  const cases: Array<[Partial<LabOptions>, RegExp]> = [
    [{ nodes: 1 }, /--nodes: must be an integer 2\.\.60, got 1/],
    [{ podsPerNode: 0 }, /--pods: must be an integer 1\.\.200/],
    [{ prefix: 'Bad-Prefix' }, /--prefix: must be 1-12 lowercase/],
    [{ tor: 'gobgp' as LabOptions['tor'] }, /--tor: must be frr or bird, got "gobgp"/],
    [{ blockSize: 32 }, /blockSize: must be an integer 20\.\.31, got 32/],
  ];
  for (const [o, re] of cases) {
    assert.throws(() => planLab({ ...base, ...o }), (err: unknown) => err instanceof TortieError && re.test(err.message));
  }
});

test('bfd: a BFDProfile (100 ms x 3) named by the mesh and every ToR peer; the ToR runs BFD too; off by default', () => {
  const plan = planLab({ ...base, bfd: true });
  const docs = labResources(plan);
  for (const d of docs) { const v = validateResource(d); assert.ok(v.ok, `${String(d['kind'])}: ${v.ok ? '' : JSON.stringify(v.issues)}`); }
  assert.deepEqual(docs.find((d) => d['kind'] === 'BFDProfile'), { apiVersion: 'tortie.io/v1', kind: 'BFDProfile', metadata: { name: 'lab-bfd' },
    spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 } });
  const annotated = docs.filter((d) => (d['metadata'] as { annotations?: Record<string, string> }).annotations?.['tortie.io/bfd-profile'] === 'lab-bfd');
  assert.deepEqual(annotated.map((d) => d['kind']), ['BGPConfiguration', 'BGPPeer', 'BGPPeer', 'BGPPeer']);
  assert.match(frrBgpdConfig(plan, '/x'), /^ neighbor NODES bfd profile lab-bfd$/m);
  assert.match(birdConfig(plan), /protocol bfd \{ interface "\*" \{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; \}; \}/);
  assert.match(birdConfig(plan), /^ {2}bfd on;$/m);
  const off = planLab(base);
  assert.equal(labResources(off).some((d) => d['kind'] === 'BFDProfile'), false);
  assert.doesNotMatch(frrBgpdConfig(off, '/x'), /bfd/);
  assert.doesNotMatch(birdConfig(off), /bfd/);
});

test('two ToRs: a second uplink per node, a BGPPeer to tor2 from that uplink (single-hop BFD), tor2 and ext configured', () => {
  const plan = planLab({ ...base, tors: 2, bfd: true });
  assert.equal(plan.tor2Netns, 'tortie-tor2');
  assert.equal(plan.extNetns, 'tortie-ext');
  assert.deepEqual(plan.nodes.map((n) => [n.uplink2?.address, n.uplink2?.gateway]), [
    ['10.101.1.11', '10.101.1.1'], ['10.101.1.12', '10.101.1.1'], ['10.101.2.13', '10.101.2.1'],
  ]);
  const docs = labResources(plan);
  for (const d of docs) {
    const v = validateResource(d);
    assert.ok(v.ok, `${String(d['kind'])}: ${v.ok ? '' : JSON.stringify(v.issues)}`);
  }
  const tor2 = docs.filter((d) => d['kind'] === 'BGPPeer' && String((d['metadata'] as Record<string, unknown>)['name']).startsWith('tor2-'));
  assert.deepEqual(tor2.map((d) => (d['spec'] as Record<string, unknown>)['sourceAddress']), ['None', 'None', 'None']);
  // One profile for every session: the agent runs single-hop BFD to tor2 over the second uplink
  // because that subnet is connected to the host (calc/bfd-sessions.ts).
  const profiles = docs.filter((d) => d['kind'] === 'BFDProfile').map((d) => (d['metadata'] as Record<string, unknown>)['name']);
  assert.deepEqual(profiles, ['lab-bfd']);
  assert.deepEqual(tor2.map((d) => ((d['metadata'] as Record<string, unknown>)['annotations'] as Record<string, string>)['tortie.io/bfd-profile']), ['lab-bfd', 'lab-bfd', 'lab-bfd']);
  const frr2 = frrBgpdConfig(plan, '/tmp/bgpd.log', 2);
  assert.match(frr2, /bgp router-id 10\.101\.1\.1\n/);
  assert.match(frr2, /neighbor 10\.101\.2\.13 peer-group NODES\n/);
  assert.match(frr2, /network 10\.200\.0\.0\/24\n/);
  assert.doesNotMatch(frrBgpdConfig(planLab(base), '/tmp/bgpd.log'), /network 10\.200/, 'one ToR: no outside network');
  assert.match(birdConfig(plan, 2), /neighbor 10\.101\.1\.11 as 64512/);
  assert.throws(() => planLab({ ...base, tors: 3 as 2 }), TortieError);
});
