/**
 * Two real tortie-node processes against a real etcd, on one L2 subnet:
 *
 *   db(etcd) ─mgmt─ node1 10.99.0.1/24 ══ eth0 veth ══ node2 10.99.0.2/24 ─mgmt─ db
 *                     └─ pod-a (CNI)                       └─ pod-b (CNI)
 *
 * Each node registers itself, gets a block (blackhole proto 80) before any pod, meshes over
 * iBGP (node1 dials: its IP string sorts lower), installs the other's block via the peer;
 * pods made by the CNI plugin ping each other; node.ctl reports the mesh; SIGTERM is a graceful
 * restart (the peer keeps the routes stale) and, with TORTIE_WITHDRAW_ON_STOP, sends Cease (the
 * peer sees Administrative shutdown and withdraws); either way kernel routes stay and a restart
 * converges without removing them.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil } from '../../helpers/poll.js';
import { httpGetIn, Proc, sh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';

const CTL_MAIN = fileURLToPath(new URL('../../../agent/ctl/main.js', import.meta.url));

const skip = nodeLabSkipReason();
let lab: NodeLab;
let n1: LabNode, n2: LabNode;
let podB = '';

before(async () => {
  if (skip) return;
  lab = new NodeLab('node2');
  await lab.startEtcd();
  const pool = { CALICO_IPV4POOL_CIDR: '10.244.0.0/16', CALICO_IPV4POOL_BLOCK_SIZE: '26' };
  [n1, n2] = lab.pair('10.99.0', pool);
  lab.start(n1);
  lab.start(n2);
});

after(async () => { if (lab) await lab.cleanup(); });

const blackhole = (n: LabNode): string | undefined => lab.routes(n).find((r) => r.type === 'blackhole')?.dst;

test('each node registers, claims a block and installs the other block via its peer', { skip }, async () => {
  const b1 = await pollUntil(() => blackhole(n1), { timeoutMs: 20_000, what: `node1 blackhole\n${lab.logs()}` });
  const b2 = await pollUntil(() => blackhole(n2), { timeoutMs: 20_000, what: `node2 blackhole\n${lab.logs()}` });
  assert.notEqual(b1, b2);
  assert.match(b1, /^10\.244\.\d+\.\d+\/26$/);
  await pollUntil(() => lab.routes(n1).some((r) => r.dst === b2 && r.gateway === '10.99.0.2' && r.dev === 'eth0'),
    { timeoutMs: 20_000, what: `node1 route to ${b2} via 10.99.0.2\n${lab.logs()}` });
  await pollUntil(() => lab.routes(n2).some((r) => r.dst === b1 && r.gateway === '10.99.0.1' && r.dev === 'eth0'),
    { timeoutMs: 20_000, what: `node2 route to ${b1} via 10.99.0.1` });
  const nodeDoc = JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/v3/projectcalico.org/nodes/node1'])) as { spec: { bgp: { ipv4Address: string } } };
  assert.equal(nodeDoc.spec.bgp.ipv4Address, '10.99.0.1/24');
  assert.equal(readFileSync(join(n1.dir, 'mtu'), 'utf8').trim(), '1500');
});

test('node.ctl reports the mesh session as calicoctl node status does', { skip }, async () => {
  const st = await pollUntil(async () => {
    const r = await lab.call(n1, 'node.ctl', { command: 'bgp-status' });
    const peers = r['peers'] as Array<Record<string, unknown>> | undefined;
    return peers?.[0]?.['info'] === 'Established' ? r : undefined;
  }, { timeoutMs: 20_000, what: 'node1 mesh Established' });
  assert.deepEqual((st['peers'] as Array<Record<string, unknown>>).map((p) => ({ peerIP: p['peerIP'], type: p['type'], state: p['state'] })),
    [{ peerIP: '10.99.0.2', type: 'node-to-node mesh', state: 'up' }]);
  const bad = await lab.call(n1, 'node.ctl', { command: 'nope' });
  assert.equal(bad['ok'], false);
  // The real CLI against this socket prints calicoctl's table.
  const out = execFileSync(process.execPath, [CTL_MAIN, 'node', 'status'], { encoding: 'utf8', env: { ...process.env, TORTIE_NODE_CTL: join(n1.dir, 'node.ctl') } });
  assert.match(out, /Calico process is running\./);
  assert.match(out, /\|\s*10\.99\.0\.2\s*\|\s*node-to-node mesh\s*\|\s*up\s*\|\s*\d\d:\d\d:\d\d\s*\|\s*Established\s*\|/);
});

test('pods on the two nodes ping each other (workload routes proto 80)', { skip }, async () => {
  const a = lab.addPod(n1, 'pod-a');
  const b = lab.addPod(n2, 'pod-b');
  podB = b.address;
  assert.ok(lab.routes(n1).some((r) => r.dst === a.address && r.dev?.startsWith('cali') === true), 'workload route on node1');
  await pollUntil(() => lab.ping(a.ns, b.address), { timeoutMs: 10_000,
    what: `ping ${a.address} -> ${b.address}\nnode1 ${JSON.stringify(lab.routes(n1))}\nnode2 ${JSON.stringify(lab.routes(n2))}\npod-a ${sh('ip', ['-n', a.ns, 'route'])}\n${sh('ip', ['-n', a.ns, 'addr'])}` });
  assert.ok(lab.ping(b.ns, a.address));
});

test('a route of ours deleted by someone else is repaired within a second', { skip }, async () => {
  const b2 = blackhole(n2) ?? '';
  sh('ip', ['-n', n1.ns, 'route', 'del', b2]);
  const t0 = Date.now();
  await pollUntil(() => lab.routes(n1).some((r) => r.dst === b2 && r.gateway === '10.99.0.2'), { timeoutMs: 1000, intervalMs: 10, what: `repair of ${b2}` });
  assert.ok(Date.now() - t0 < 1000);
});

test('cni.sock answers bad requests with an error and release is idempotent', { skip }, async () => {
  const bad = await lab.call(n1, 'cni.sock', { type: 'frobnicate' });
  assert.equal(bad['type'], 'error');
  const badAddr = await lab.call(n1, 'cni.sock', { type: 'endpoint-up', containerId: 'x', ifname: 'eth0', hostIfname: 'cali0', addresses: ['not-an-ip'] });
  assert.deepEqual(badAddr, { type: 'error', code: 'bad-request', message: 'endpoint-up: address "not-an-ip" is not an IP address (optionally /32 or /128)' });
  const notJson = await new Promise<string>((resolve, reject) => {
    const c = createConnection(join(n1.dir, 'cni.sock'));
    let buf = '';
    c.on('connect', () => c.write('{oops\n'));
    c.on('data', (d) => { buf += d.toString(); });
    c.on('close', () => resolve(buf));
    c.on('error', reject);
  });
  assert.equal(notJson, '{"type":"error","code":"bad-request","message":"request is not JSON"}\n');
  const r1 = await lab.call(n1, 'cni.sock', { type: 'release', containerId: 'never-existed', ifname: 'eth0' });
  assert.deepEqual(r1, { type: 'ok', released: [] });
  // A runtime retrying an ADD (same container id) gets the address it was given, not a second one.
  const a1 = await lab.call(n1, 'cni.sock', { type: 'assign', containerId: 'retried', ifname: 'eth0' });
  const a2 = await lab.call(n1, 'cni.sock', { type: 'assign', containerId: 'retried', ifname: 'eth0' });
  assert.equal(a1['type'], 'assigned', JSON.stringify(a1));
  assert.deepEqual(a2['addresses'], a1['addresses']);
  assert.deepEqual(await lab.call(n1, 'cni.sock', { type: 'release', containerId: 'retried', ifname: 'eth0' }),
    { type: 'ok', released: (a1['addresses'] as string[]).map((a) => a.split('/')[0]) });
});

test('concurrent CNI ADD and DEL on both nodes: every pod gets its route, nothing leaks', { skip }, async () => {
  const names = [1, 2, 3, 4, 5, 6, 7, 8];
  const pods = [n1, n2].flatMap((n) => names.map((i) => ({ n, pod: `c${n.name}-${i}`, ns: lab.topo.ns(`c${n.name.slice(-1)}${i}`) })));
  const adds = await Promise.all(pods.map((p) => lab.cniAsync(p.n, 'ADD', p.pod, `/var/run/netns/${p.ns}`)));
  adds.forEach((r, i) => assert.equal(r.status, 0, `ADD ${pods[i]?.pod}: ${r.stdout} ${r.stderr}`));
  const addrs = adds.map((r) => (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0] ?? '');
  assert.equal(new Set(addrs).size, addrs.length, 'no address handed out twice');
  pods.forEach((p, i) => assert.ok(lab.routes(p.n).some((r) => r.dst === addrs[i] && r.dev?.startsWith('cali') === true), `route for ${p.pod} ${addrs[i]}`));
  // Cross-node reachability for one pair, then delete everything concurrently.
  await pollUntil(() => lab.ping(pods[0]?.ns ?? '', addrs[8] ?? ''), { timeoutMs: 10_000, what: 'ping across nodes' });
  const dels = await Promise.all(pods.map((p) => lab.cniAsync(p.n, 'DEL', p.pod, `/var/run/netns/${p.ns}`)));
  dels.forEach((r, i) => assert.equal(r.status, 0, `DEL ${pods[i]?.pod}: ${r.stdout} ${r.stderr}`));
  for (const [i, p] of pods.entries()) assert.ok(!lab.routes(p.n).some((r) => r.dst === addrs[i]), `route for ${p.pod} removed`);
  const handles = lab.etcdctl(['get', '--prefix', '--keys-only', '/tortie/ipam/v2/handle/']).split('\n').filter((k) => k.includes('ctr-c'));
  assert.deepEqual(handles, [], 'no handle left behind');
});

test('BGPConfiguration nodeToNodeMeshEnabled: false at run time drops the mesh and its routes; true brings them back', { skip }, async () => {
  const b2 = blackhole(n2) ?? '';
  const put = (mesh: boolean): void => lab.putResource('bgpconfigurations', { apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: mesh } });
  put(false);
  await pollUntil(async () => ((await lab.call(n1, 'node.ctl', { command: 'bgp-status' }))['peers'] as unknown[]).length === 0, { timeoutMs: 10_000, what: 'mesh session removed' });
  await pollUntil(() => !lab.routes(n1).some((r) => r.dst === b2), { timeoutMs: 10_000, what: `route to ${b2} withdrawn` });
  put(true);
  await pollUntil(() => lab.routes(n1).some((r) => r.dst === b2 && r.gateway === '10.99.0.2'), { timeoutMs: 20_000, what: `route to ${b2} back` });
});

test('garbage written over a good IPPool changes nothing: the last good version is kept', { skip }, async () => {
  const key = '/tortie/v3/projectcalico.org/ippools/default-ipv4-ippool';
  const good = lab.etcdctl(['get', '--print-value-only', key]).trim();
  const before1 = lab.routes(n1).map((r) => r.dst).sort();
  lab.etcdctl(['put', key, '{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"default-ipv4-ippool"},"spec":{"cidr":"not a cidr"}}']);
  try {
    await pollUntil(() => /invalid IPPool in the datastore: keeping the last good version/.test(n1.proc?.output ?? ''), { timeoutMs: 5000, what: 'error logged' });
    // A marker change after the garbage (a peer to a dummy address on node1) proves the agent synced past it.
    lab.putResource('bgppeers', { apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: { name: 'marker' }, spec: { node: 'node1', peerIP: '192.0.2.99', asNumber: 65099 } });
    const st = await pollUntil(async () => {
      const r = await lab.call(n1, 'node.ctl', { command: 'bgp-status' });
      const peers = r['peers'] as Array<{ peerIP: string; state: string }>;
      return peers.some((p) => p.peerIP === '192.0.2.99') ? peers : undefined;
    }, { timeoutMs: 5000, what: 'marker peer configured' });
    assert.deepEqual(lab.routes(n1).map((r) => r.dst).sort(), before1, 'no route withdrawn');
    assert.equal(st.find((p) => p.peerIP === '10.99.0.2')?.state, 'up', 'the mesh session was not reset');
  } finally {
    lab.etcdctl(['put', key, good]);
    lab.etcdctl(['del', '/tortie/v3/projectcalico.org/bgppeers/marker']);
    await pollUntil(async () => !((await lab.call(n1, 'node.ctl', { command: 'bgp-status' }))['peers'] as Array<{ peerIP: string }>).some((p) => p.peerIP === '192.0.2.99'),
      { timeoutMs: 5000, what: 'marker peer removed' });
  }
});

test('an etcd outage leaves routes and BGP alone, CNI ADD fails with a retryable error, and all recovers', { skip }, async () => {
  const before1 = lab.routes(n1).map((r) => r.dst).sort();
  await lab.stopEtcd();
  try {
    const pod = lab.topo.ns('out-a');
    const r = await lab.cniAsync(n1, 'ADD', 'out-a', `/var/run/netns/${pod}`);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /"code":11|try again|unavailable/i, r.stdout);
    assert.deepEqual(lab.routes(n1).map((x) => x.dst).sort(), before1, 'routes untouched during the outage');
    const st = await lab.call(n1, 'node.ctl', { command: 'bgp-status' });
    assert.equal((st['peers'] as Array<{ state: string }>)[0]?.state, 'up');
    // /readiness names the trouble (and stays ready, like calico-node: it keeps routing).
    const ready = await pollUntil(() => {
      const r = httpGetIn(n1.ns, 9099, '/readiness');
      return r.includes('etcd unreachable since') ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'readiness detail names etcd' });
    assert.match(ready, /^200 /);
  } finally {
    await lab.resumeEtcd();
  }
  const pod = await pollUntil(() => { try { return lab.addPod(n1, 'out-b'); } catch { return undefined; } }, { timeoutMs: 30_000, intervalMs: 500, what: 'ADD after etcd is back' });
  assert.ok(lab.routes(n1).some((r) => r.dst === pod.address));
});

/** node1's view of its mesh session with node2 (node.ctl). */
async function meshPeer(): Promise<Record<string, unknown> | undefined> {
  const r = await lab.call(n1, 'node.ctl', { command: 'bgp-status' }).catch(() => undefined);
  return (r?.['peers'] as Array<Record<string, unknown>> | undefined)?.[0];
}

/** `ip monitor route` in each node's namespace, with a marker route proving it saw everything up to now. */
async function deletedProto80(monitors: ReadonlyArray<readonly [LabNode, Proc]>, marker: string): Promise<string[]> {
  const out: string[] = [];
  for (const [n, m] of monitors) {
    sh('ip', ['-n', n.ns, 'route', 'add', marker, 'dev', 'lo', 'proto', 'static']);
    await pollUntil(() => m.output.includes(marker.replace('/32', '')), { timeoutMs: 5000, what: `monitor marker in ${n.ns}` });
    sh('ip', ['-n', n.ns, 'route', 'del', marker, 'dev', 'lo', 'proto', 'static']);
    out.push(...m.output.split('\n').filter((l) => l.startsWith('Deleted') && l.includes('proto 80')).map((l) => `${n.ns}: ${l}`));
  }
  return out;
}

test('SIGTERM is a graceful restart: node1 keeps node2\'s block (stale, no NOTIFICATION), nothing is deleted on either node', { skip }, async () => {
  const b2 = blackhole(n2) ?? '';
  const before1 = lab.routes(n1).map((r) => r.dst).sort();
  const before2 = lab.routes(n2).map((r) => r.dst).sort();
  assert.ok(before1.includes(b2));
  const monitors = [n1, n2].map((n) => [n, new Proc('ip', ['-n', n.ns, 'monitor', 'route'])] as const);
  for (const [, m] of monitors) { lab.topo.defer(() => m.stop()); await pollUntil(() => m.pid !== undefined, { timeoutMs: 2000 }); }
  const code = await lab.stop(n2);
  assert.equal(code, 0, 'tortie-node exits 0 on SIGTERM');
  // The connection closed without a NOTIFICATION: node1's graceful-restart helper keeps the block.
  const down = await pollUntil(async () => { const p = await meshPeer(); return p !== undefined && p['state'] !== 'up' ? p : undefined; },
    { timeoutMs: 10_000, what: 'node1 sees the session down' });
  assert.doesNotMatch(String(down['info']), /administrative shutdown|hard reset/i, 'no Cease on a restart');
  assert.ok(lab.routes(n1).some((r) => r.dst === b2), `node1 keeps ${b2} while node2 restarts`);
  assert.deepEqual(lab.routes(n2).map((r) => r.dst).sort(), before2, 'routes stay in node2 kernel after SIGTERM');
  lab.start(n2);
  await pollUntil(async () => (await meshPeer())?.['info'] === 'Established', { timeoutMs: 20_000, intervalMs: 20, what: 'node2 back in the mesh' });
  await pollUntil(() => JSON.stringify(lab.routes(n2).map((r) => r.dst).sort()) === JSON.stringify(before2), { timeoutMs: 10_000, what: 'node2\'s routes as before' });
  assert.deepEqual(await deletedProto80(monitors, '192.0.2.1/32'), [], 'no route of either node deleted during the restart');
  assert.deepEqual(lab.routes(n1).map((r) => r.dst).sort(), before1);
});

test('TORTIE_WITHDRAW_ON_STOP: SIGTERM sends Cease and node1 drops node2\'s block; a restart converges without removing node2\'s routes', { skip }, async () => {
  const b2 = blackhole(n2) ?? '';
  const before2 = lab.routes(n2).map((r) => r.dst).sort();
  // The setting is read at start: restart node2 with it (gracefully), then stop it.
  n2.env['TORTIE_WITHDRAW_ON_STOP'] = 'true';
  try {
    assert.equal(await lab.stop(n2), 0);
    lab.start(n2);
    await pollUntil(async () => (await meshPeer())?.['info'] === 'Established', { timeoutMs: 20_000, intervalMs: 20, what: 'node2 back in the mesh' });
    assert.equal(await lab.stop(n2), 0);
  } finally { delete n2.env['TORTIE_WITHDRAW_ON_STOP']; }
  await pollUntil(async () => { const p = await meshPeer(); return p !== undefined && p['state'] !== 'up' && /administrative shutdown/i.test(String(p['info'])) ? true : JSON.stringify(p); },
    { timeoutMs: 10_000, what: 'node1 sees Cease/administrative shutdown' });
  await pollUntil(() => !lab.routes(n1).some((r) => r.dst === b2), { timeoutMs: 5000, what: () => `node1 drops the route to ${b2}\n${lab.logs(8000)}` });
  assert.deepEqual(lab.routes(n2).map((r) => r.dst).sort(), before2, 'kernel routes stay in node2');
  const monitor = new Proc('ip', ['-n', n2.ns, 'monitor', 'route']);
  lab.topo.defer(() => monitor.stop());
  await pollUntil(() => monitor.pid !== undefined, { timeoutMs: 2000 });
  lab.start(n2);
  await pollUntil(async () => (await meshPeer())?.['info'] === 'Established', { timeoutMs: 20_000, intervalMs: 20, what: 'node2 back in the mesh' });
  await pollUntil(() => lab.routes(n1).some((r) => r.dst === b2 && r.gateway === '10.99.0.2'), { timeoutMs: 10_000, what: `node1 has ${b2} again` });
  assert.deepEqual(await deletedProto80([[n2, monitor]], '192.0.2.2/32'), [], 'no route of node2 deleted during the restart');
  assert.deepEqual(lab.routes(n2).map((r) => r.dst).sort(), before2);
  // node1 counted the session flaps in its metrics.
  await pollUntil(() => {
    const m = httpGetIn(n1.ns, 9091, '/metrics');
    return /tortie_bgp_session_flaps_total\{peer="Mesh_10_99_0_2"\} [1-9]/.test(m) && /tortie_bgp_session_state\{peer="Mesh_10_99_0_2"\} 6/.test(m) ? m : undefined;
  }, { timeoutMs: 5000, what: 'flaps counted' });
  // The restarted agent re-adopted pod-b's endpoint from the kernel + IPAM: CNI CHECK passes.
  const dev = lab.routes(n2).find((r) => r.dst === podB)?.dev ?? '';
  assert.match(dev, /^cali/);
  const chk = await lab.call(n2, 'cni.sock', { type: 'check', containerId: 'ctr-pod-b', ifname: 'eth0', hostIfname: dev, addresses: [`${podB}/32`] });
  assert.deepEqual(chk, { type: 'ok' });
});
