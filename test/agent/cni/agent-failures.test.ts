/**
 * The CNI plugin and a real tortie-node on their failure paths, driven as a container runtime
 * drives them (the bundled plugin under `ip netns exec`, CNI_* environment, config on stdin):
 *
 *   db (etcd) ──mgmt── node1 10.97.0.1/24 ── eth0 ══ up (10.97.0.254, the default route)
 *                        ├─ cali… ══ pod namespaces (CNI ADD)
 *                        └─ tortie-node (cni.sock)
 *
 * - a second ADD for a running container leaves the pod as it was;
 * - a pod whose namespace vanished without DEL does not block later ADDs, and is cleaned up.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from '../node/node-lab.js';
import { hostInterfaceName } from '../../../agent/cni/workload-interface.js';

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode;

before(async () => {
  if (skip) return;
  lab = new NodeLab('cnifail');
  await lab.startEtcd();
  n1 = await lab.startNodeWithUplink('10.97.0', { CALICO_IPV4POOL_CIDR: '10.246.0.0/16', CALICO_IPV4POOL_BLOCK_SIZE: '26' });
});

after(async () => { if (lab) await lab.cleanup(); });

const hostIf = (pod: string): string => hostInterfaceName({ namespace: 'default', pod, containerId: `ctr-${pod}` });
const ifindex = (n: LabNode, dev: string): number | undefined =>
  (JSON.parse(trySh('ip', ['-n', n.ns, '-j', 'link', 'show', 'dev', dev]).stdout || '[]') as Array<{ ifindex: number }>)[0]?.ifindex;
const ipamCheck = (n: LabNode, pod: string, address: string): Promise<Record<string, unknown>> =>
  lab.call(n, 'cni.sock', { type: 'check', containerId: `ctr-${pod}`, ifname: 'eth0', hostIfname: hostIf(pod), addresses: [`${address}/32`] });

test('a second ADD for a running container leaves its veth, route and address untouched', { skip }, async () => {
  const pod = lab.addPod(n1, 'run1');
  const dev = hostIf('run1');
  const before = ifindex(n1, dev);
  assert.ok(before !== undefined, `host side ${dev} exists`);
  assert.ok(lab.ping(n1.ns, pod.address), 'pod answers before the second ADD');

  const again = await lab.cniAsync(n1, 'ADD', 'run1', `/var/run/netns/${pod.ns}`);
  // CNI 1.0/1.1: an ADD for an attachment that exists returns its result (or an error, never
  // damaging it). Intact as it is here, Tortie answers with its result.
  assert.equal(again.status, 0, again.stdout);
  {
    const res = JSON.parse(again.stdout) as { ips: Array<{ address: string }>; interfaces: Array<{ name: string }> };
    assert.deepEqual(res.ips.map((i) => i.address), [`${pod.address}/32`], 'the existing result');
    assert.equal(res.interfaces[0]?.name, dev);
  }
  assert.equal(ifindex(n1, dev), before, `host side ${dev} is the same link (not re-created)`);
  assert.ok(lab.routes(n1).some((r) => r.dst === pod.address && r.dev === dev), `route to ${pod.address} via ${dev}: ${JSON.stringify(lab.routes(n1))}`);
  assert.deepEqual(await ipamCheck(n1, 'run1', pod.address), { type: 'ok' }, 'IPAM still holds the address and the agent the endpoint');
  assert.ok(lab.ping(n1.ns, pod.address), 'pod answers after the second ADD');
  // The workload record `tortiectl ipam check` counts as "in use" exists while the pod runs, not after DEL.
  const record = await pollUntil(() => { const v = lab.etcdctl(['get', '/tortie/workloads/v1/ctr-run1', '--print-value-only']).trim(); return v === '' ? undefined : JSON.parse(v) as Record<string, unknown>; },
    { timeoutMs: 5000, what: 'the workload record of run1' });
  assert.deepEqual(record, { handle: 'ctr-run1', node: 'node1', iface: dev, addresses: [`${pod.address}/32`], pod: 'run1', namespace: 'default' });
  assert.equal(lab.cni(n1, 'DEL', 'run1', `/var/run/netns/${pod.ns}`).status, 0);
  assert.equal(lab.etcdctl(['get', '/tortie/workloads/v1/ctr-run1', '--print-value-only']).trim(), '', 'record deleted with the pod');
});

test('a pod whose namespace vanished without DEL blocks no ADD and is cleaned up', { skip }, async () => {
  const gone = lab.addPod(n1, 'gone1');
  const goneDev = hostIf('gone1');
  sh('ip', ['netns', 'del', gone.ns]);
  await pollUntil(() => ifindex(n1, goneDev) === undefined, { timeoutMs: 10_000, what: `${goneDev} gone with its namespace` });

  // Another pod on the same node is wired at once (its ADD must not wait for gone1's route).
  const ns = lab.topo.ns('next1');
  const r = await lab.cniAsync(n1, 'ADD', 'next1', `/var/run/netns/${ns}`);
  assert.equal(r.status, 0, `ADD next1 after gone1 vanished: ${r.stdout}${r.stderr}\n${lab.logs()}`);
  const next = (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0] ?? '';
  assert.ok(lab.ping(n1.ns, next), `next1 ${next} answers`);

  // The vanished workload: its address released, the agent forgot the endpoint, no route left.
  await pollUntil(async () => (await ipamCheck(n1, 'gone1', gone.address))['code'] === 'ipam-missing',
    { timeoutMs: 10_000, what: () => `gone1's address ${gone.address} released\n${lab.logs()}` });
  assert.ok(!lab.routes(n1).some((x) => x.dst === gone.address), 'no route to the vanished pod');
  assert.equal(lab.etcdctl(['get', '/tortie/workloads/v1/ctr-gone1', '--print-value-only']).trim(), '', 'its workload record deleted');
  // A later DEL from the runtime is still a success (idempotent).
  assert.equal(lab.cni(n1, 'DEL', 'gone1', `/var/run/netns/${gone.ns}`).status, 0);
});

test('with tortie-node down, DEL removes the veth and releases the address in etcd; an ADD waits for the restart', { skip }, async () => {
  lab.cniConfigExtra = { etcd_endpoints: lab.etcdEndpoint, agent_wait_ms: 30_000 };
  try {
    const pod = lab.addPod(n1, 'del1');
    const dev = hostIf('del1');
    const handleKey = '/tortie/ipam/v2/handle/ctr-del1';
    assert.notEqual(lab.etcdctl(['get', handleKey, '--print-value-only']).trim(), '', 'the handle exists while the pod runs');
    await lab.stop(n1, 'SIGKILL'); // a crash: the socket file stays, nothing listens

    const del = lab.cni(n1, 'DEL', 'del1', `/var/run/netns/${pod.ns}`);
    assert.equal(del.status, 0, `DEL with the agent down: ${del.stdout}${del.stderr}`);
    assert.equal(ifindex(n1, dev), undefined, `host side ${dev} removed`);
    assert.equal(lab.etcdctl(['get', handleKey, '--print-value-only']).trim(), '', 'handle released in etcd');
    assert.equal(lab.etcdctl(['get', '/tortie/workloads/v1/ctr-del1', '--print-value-only']).trim(), '', 'workload record deleted in etcd');
    const blocks = lab.etcdctl(['get', '--prefix', '/tortie/ipam/v2/assignment/ipv4/block/', '--print-value-only']);
    const ordinal = Number(pod.address.split('.')[3]);
    assert.ok(blocks.split('\n').filter((l) => l.startsWith('{')).every((l) => {
      const b = JSON.parse(l) as { cidr: string; allocations: Array<number | null> };
      return !b.cidr.startsWith('10.246.0.') || b.allocations[ordinal] === null;
    }), `${pod.address} is free in its block`);

    // An ADD while the agent is down waits for it (agent_wait_ms) and succeeds once it is back.
    const ns = lab.topo.ns('after1');
    const pending = lab.cniAsync(n1, 'ADD', 'after1', `/var/run/netns/${ns}`);
    await pollUntil(() => trySh('grep', ['-q', 'waiting for it', `${n1.dir}/cni.log`]).status === 0, { timeoutMs: 10_000, what: 'the plugin waiting for tortie-node' });
    lab.start(n1);
    const r = await pending;
    assert.equal(r.status, 0, `ADD across the restart: ${r.stdout}${r.stderr}\n${lab.logs()}`);
    const addr = (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0] ?? '';
    await pollUntil(() => lab.ping(n1.ns, addr), { timeoutMs: 10_000, what: `after1 ${addr} answers` });
  } finally {
    lab.cniConfigExtra = {};
  }
});
