/**
 * What a CNI call asks of IPAM (Calico's CNI IPAM plugin): the network configuration's
 * `ipam.ipv4_pools` (names or CIDRs) and CNI_ARGS `IP=`, through the real plugin bundle and a
 * real tortie-node on real etcd:
 *
 *   db (etcd) ──mgmt── node1 10.98.0.1/24 ── eth0 ══ up (10.98.0.254, the default route)
 *                        ├─ cali… ══ pod namespaces (CNI ADD)
 *                        └─ tortie-node (cni.sock)
 *
 * Pools: `auto` 10.246.0.0/16 (the node's default pool), `manual` 10.247.0.0/24 (assignmentMode
 * Manual), `closed` 10.248.0.0/24 (disabled).
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { NodeLab, nodeLabSkipReason, type LabNode } from '../node/node-lab.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode;
const v3 = 'projectcalico.org/v3';

before(async () => {
  if (skip) return;
  lab = new NodeLab('cnipool');
  await lab.startEtcd();
  n1 = await lab.startNodeWithUplink('10.98.0', { CALICO_IPV4POOL_CIDR: '10.246.0.0/16', CALICO_IPV4POOL_BLOCK_SIZE: '26' });
  // After the default pool exists (tortie-node makes it only when there is no pool, as calico-node).
  lab.putResource('ippools', { apiVersion: v3, kind: 'IPPool', metadata: { name: 'manual' }, spec: { cidr: '10.247.0.0/24', blockSize: 28, assignmentMode: 'Manual' } });
  lab.putResource('ippools', { apiVersion: v3, kind: 'IPPool', metadata: { name: 'closed' }, spec: { cidr: '10.248.0.0/24', disabled: true } });
});

after(async () => { if (lab) await lab.cleanup(); });

/** ADD a pod with this network configuration and CNI_ARGS; the plugin's exit status and stdout (result or CNI error). */
async function add(pod: string, config: Record<string, unknown>, args: string[] = []): Promise<{ status: number; out: Record<string, unknown> }> {
  lab.cniConfigExtra = config;
  lab.cniArgsExtra = args;
  try {
    const ns = lab.topo.ns(pod);
    const r = await lab.cniAsync(n1, 'ADD', pod, `/var/run/netns/${ns}`);
    return { status: r.status, out: JSON.parse(r.stdout || '{}') as Record<string, unknown> };
  } finally { lab.cniConfigExtra = {}; lab.cniArgsExtra = []; }
}
const addresses = (out: Record<string, unknown>): string[] => ((out['ips'] ?? []) as Array<{ address: string }>).map((i) => i.address);

test('a Manual pool serves only pods whose network configuration names it (ipam.ipv4_pools, by name or CIDR)', { skip }, async () => {
  const plain = await add('plain1', {});
  assert.equal(plain.status, 0, JSON.stringify(plain.out));
  assert.match(addresses(plain.out)[0] ?? '', /^10\.246\./, 'no request: the Automatic pool');
  const byName = await add('named1', { ipam: { type: 'tortie-ipam', ipv4_pools: ['manual'] } });
  assert.equal(byName.status, 0, `${JSON.stringify(byName.out)}\n${lab.logs()}`);
  const [addr] = addresses(byName.out);
  assert.match(addr ?? '', /^10\.247\.0\.\d+\/32$/, 'ipv4_pools: [manual]');
  const byCidr = await add('cidr1', { ipam: { type: 'tortie-ipam', ipv4_pools: ['10.247.0.0/24'] } });
  assert.match(addresses(byCidr.out)[0] ?? '', /^10\.247\.0\./, 'ipv4_pools: [10.247.0.0/24]');
  // The pod's route is in the kernel and its block is the node's.
  const ip = (addr ?? '').split('/')[0] ?? '';
  assert.ok(lab.routes(n1).some((r) => r.dst === ip), `route to ${ip}: ${JSON.stringify(lab.routes(n1))}`);
  assert.ok(lab.routes(n1).some((r) => r.type === 'blackhole' && r.dst === '10.247.0.0/28'), 'the Manual pool\'s block is claimed for node1');
});

test('a request for an unknown or disabled pool is refused with a CNI error naming the pool; nothing is left behind', { skip }, async () => {
  for (const [pool, why] of [['blue', /requested IPv4 pool "blue" does not exist/], ['closed', /requested IPv4 pool "closed" \(10\.248\.0\.0\/24\) is disabled/]] as const) {
    const r = await add(`bad-${pool}`, { ipam: { type: 'tortie-ipam', ipv4_pools: [pool] } });
    assert.notEqual(r.status, 0);
    assert.equal(r.out['code'], 101, `IPAM error code: ${JSON.stringify(r.out)}`);
    assert.match(String(r.out['msg']), why);
    assert.equal(lab.etcdctl(['get', `/tortie/ipam/v2/handle/ctr-bad-${pool}`, '--print-value-only']).trim(), '', 'no allocation');
  }
  const malformed = await add('bad-type', { ipam: { type: 'tortie-ipam', ipv4_pools: 'manual' } });
  assert.equal(malformed.out['code'], 7, JSON.stringify(malformed.out));
  assert.match(String(malformed.out['msg']), /"ipam\.ipv4_pools" must be a list/);
});

test('CNI_ARGS IP= assigns exactly that address, from a Manual pool too; a taken or pool-less address is refused', { skip }, async () => {
  const fixed = await add('fixed1', {}, ['IP=10.247.0.200']);
  assert.equal(fixed.status, 0, `${JSON.stringify(fixed.out)}\n${lab.logs()}`);
  assert.deepEqual(addresses(fixed.out), ['10.247.0.200/32']);
  assert.ok(lab.routes(n1).some((r) => r.dst === '10.247.0.200'), 'route to the requested address');
  const again = await add('fixed2', {}, ['IP=10.247.0.200']);
  assert.equal(again.out['code'], 101, JSON.stringify(again.out));
  assert.match(String(again.out['msg']), /10\.247\.0\.200 is already assigned \(handle ctr-fixed1\)/);
  const outside = await add('fixed3', {}, ['IP=192.0.2.7']);
  assert.match(String(outside.out['msg']), /192\.0\.2\.7 is not in any enabled IP pool/);
  const bad = await add('fixed4', {}, ['IP=10.247.0.300']);
  assert.equal(bad.out['code'], 4, JSON.stringify(bad.out));
});
