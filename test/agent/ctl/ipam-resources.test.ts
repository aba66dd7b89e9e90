/** `tortiectl get ipamblocks|blockaffinities|ipamhandles|ipamconfig`: IPAM's records as Calico's v3 kinds. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { MemoryKvStore } from '../../../agent/datastore/memory-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { updateIpamConfig } from '../../../agent/ipam/ipam-config.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { getIpamCmd, resolveIpamKind } from '../../../agent/ctl/ipam-resources.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

it('IPAM records read back as IPAMBlock, BlockAffinity, IPAMHandle and IPAMConfiguration, named as libcalico-go names them', async () => {
  const store = new MemoryKvStore();
  const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
  for (const r of await loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.20.0.0/24, blockSize: 29}\n---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n1}\nspec: {}\n', 's.yaml')) await datastore.apply(r);
  await new Ipam({ store, datastore, logger: silentLogger() }).autoAssign({ handle: 'k8s-pod-network.abc', attrs: { pod: 'a', namespace: 'default' }, node: 'n1', num4: 3, num6: 0 });
  await updateIpamConfig(store, { strictAffinity: true });
  const get = async (kind: string, names: string[], output: string): Promise<string> => {
    let out = '';
    const info = resolveIpamKind(kind);
    assert.ok(info, kind);
    await getIpamCmd(store, info, names, output, { out: (t) => { out += t; }, err: () => undefined, stdinFd: 0 });
    return out;
  };
  assert.equal(await get('ipamblocks', [], 'ps'), 'NAME           CIDR           AFFINITY   \n10-20-0-0-29   10.20.0.0/29   host:n1    \n');
  assert.match(await get('ipamblock', [], 'wide'), /10-20-0-0-29\s+10\.20\.0\.0\/29\s+host:n1\s+3\s+5/);
  assert.match(await get('blockaffinities', [], 'ps'), /^NAME\s+NODE\s+CIDR\s+STATE\s*\nn1-10-20-0-0-29\s+n1\s+10\.20\.0\.0\/29\s+confirmed\s*\n$/);
  assert.match(await get('ipamhandles', [], 'wide'), /k8s-pod-network\.abc\s+3\s+10\.20\.0\.0\/29/);
  assert.match(await get('ipamconfig', [], 'ps'), /^NAME\s+STRICTAFFINITY\s+AUTOALLOCATEBLOCKS\s*\ndefault\s+true\s+true\s*\n$/);
  assert.match(await get('ipamconfigs', [], 'wide'), /MAXBLOCKSPERHOST\s*\ndefault\s+true\s+true\s+0\s*\n$/);
  const block = parse(await get('IPAMBlock', ['10-20-0-0-29'], 'yaml')) as { kind: string; spec: { cidr: string; affinity: string; allocations: unknown[]; attributes: Array<{ handle_id: string }> } };
  assert.equal(block.kind, 'IPAMBlock');
  assert.equal(block.spec.affinity, 'host:n1');
  assert.deepEqual(block.spec.allocations, [0, 0, 0, null, null, null, null, null]);
  assert.equal(block.spec.attributes[0]?.handle_id, 'k8s-pod-network.abc');
  const list = JSON.parse(await get('blockaffinity', [], 'json')) as { kind: string; items: Array<{ spec: unknown }> };
  assert.equal(list.kind, 'BlockAffinityList');
  assert.deepEqual(list.items[0]?.spec, { state: 'confirmed', node: 'n1', cidr: '10.20.0.0/29', deleted: 'false' });
  await assert.rejects(get('ipamhandle', ['nope'], 'ps'), /resource does not exist: IPAMHandle\(nope\)/);
});

it('get workloadendpoints: pods from IPAM as calicoctl lists them (-n default, -A adds NAMESPACE)', async () => {
  const store = new MemoryKvStore();
  const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
  for (const r of await loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.20.0.0/24, blockSize: 29}\n---\napiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: node-1}\nspec: {}\n', 's.yaml')) await datastore.apply(r);
  const ipam = new Ipam({ store, datastore, logger: silentLogger() });
  await ipam.autoAssign({ handle: 'c1', attrs: { pod: 'web-0', namespace: 'default' }, node: 'node-1', num4: 1, num6: 0 });
  await ipam.autoAssign({ handle: 'c2', attrs: { pod: 'dns', namespace: 'kube-system' }, node: 'node-1', num4: 1, num6: 0 });
  await ipam.autoAssign({ handle: 'vxlan-tunnel-addr-node-1', attrs: { type: 'vxlanTunnelAddress' }, node: 'node-1', num4: 1, num6: 0 });
  const get = async (names: string[], output: string, ns?: string): Promise<string> => {
    let out = '';
    const info = resolveIpamKind('weps');
    assert.ok(info);
    await getIpamCmd(store, info, names, output, { out: (t) => { out += t; }, err: () => undefined, stdinFd: 0 }, ns);
    return out;
  };
  // "cali" + sha1("default.web-0")[0:11], as Calico's CNI plugin names the host side.
  const { createHash } = await import('node:crypto');
  const iface = `cali${createHash('sha1').update('default.web-0').digest('hex').slice(0, 11)}`;
  assert.equal(await get([], 'ps', 'default'), `WORKLOAD   NODE     NETWORKS       INTERFACE         \nweb-0      node-1   10.20.0.0/32   ${iface}   \n`);
  assert.match(await get([], 'wide', 'default'), /^NAME\s+WORKLOAD\s+NODE\s+NETWORKS\s+INTERFACE\s+PROFILES\s+NATS\s*\nnode--1-k8s-web--0-eth0\s+web-0\s+node-1\s+10\.20\.0\.0\/32\s+cali\w{11}\s+kns\.default\s*\n$/);
  const all = await get([], 'ps');
  assert.match(all, /^NAMESPACE\s+WORKLOAD/);
  assert.match(all, /kube-system\s+dns\s+node-1\s+10\.20\.0\.1\/32/);
  assert.doesNotMatch(all, /tunnel|10\.20\.0\.2/, 'tunnel addresses are not workloads');
  const wep = parse(await get(['node--1-k8s-web--0-eth0'], 'yaml', 'default')) as { metadata: { namespace: string }; spec: { ipNetworks: string[]; profiles: string[] } };
  assert.deepEqual([wep.metadata.namespace, wep.spec.ipNetworks, wep.spec.profiles], ['default', ['10.20.0.0/32'], ['kns.default']]);
});
