/**
 * Borrowed addresses over BGP, and the BGP-less VXLAN backend, with real tortie-node processes
 * and a real etcd.
 *
 *   BGP:   node1 10.98.0.1/24 ══ node2 10.98.0.2/24        pool 10.245.0.0/29, blocks /30 (4 addresses)
 *   VXLAN: node3 10.3.0.2 ── router 10.3.0.1 | 10.4.0.1 ── node4 10.4.0.2   (CALICO_NETWORKING_BACKEND=vxlan)
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { httpGetIn, Proc, sh, trySh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';
import { IPIP_UNSUPPORTED_MESSAGE } from '../../../ipip/ipip-manager.js';

const skip = nodeLabSkipReason();

describe('borrowed addresses over BGP', () => {
  let lab: NodeLab;
  let n1: LabNode, n2: LabNode;
  before(async () => {
    if (skip) return;
    lab = new NodeLab('borrow');
    await lab.startEtcd();
    const env = { CALICO_IPV4POOL_CIDR: '10.245.0.0/29', CALICO_IPV4POOL_BLOCK_SIZE: '30' };
    [n1, n2] = lab.pair('10.98.0', env);
    lab.start(n1);
    await pollUntil(() => lab.routes(n1).some((r) => r.type === 'blackhole'), { timeoutMs: 20_000, what: `node1 block\n${lab.logs()}` });
    lab.start(n2);
    await pollUntil(() => lab.routes(n2).some((r) => r.type === 'blackhole'), { timeoutMs: 20_000, what: `node2 block\n${lab.logs()}` });
  });
  after(async () => { if (lab) await lab.cleanup(); });

  test('a pod whose address is borrowed from the other node\'s block is advertised as a /32 and reachable', { skip }, async () => {
    const b1 = lab.routes(n1).find((r) => r.type === 'blackhole')?.dst ?? '';
    const b2 = lab.routes(n2).find((r) => r.type === 'blackhole')?.dst ?? '';
    assert.notEqual(b1, b2);
    const remote = lab.addPod(n2, 'far');
    const pods = [1, 2, 3, 4, 5].map((i) => lab.addPod(n1, `p${i}`));
    const borrowed = pods.filter((p) => !p.address.startsWith(b1.slice(0, b1.lastIndexOf('.'))) || !sameBlock(p.address, b1));
    assert.equal(borrowed.length, 1, `exactly one of ${pods.map((p) => p.address).join(', ')} is outside node1's block ${b1}`);
    const addr = borrowed[0]?.address ?? '';
    assert.ok(sameBlock(addr, b2), `${addr} comes from node2's block ${b2}`);
    // node2 routes the borrowed /32 to node1, more specific than its own blackhole.
    await pollUntil(() => lab.routes(n2).some((r) => r.dst === addr && r.gateway === '10.98.0.1'), { timeoutMs: 10_000, what: `node2 /32 route to ${addr}: ${JSON.stringify(lab.routes(n2))}\n${lab.logs()}` });
    await pollUntil(() => lab.ping(remote.ns, addr), { timeoutMs: 10_000, what: `ping borrowed ${addr}` });
    assert.ok(lab.ping(borrowed[0]?.ns ?? '', remote.address));
    // Deleting the pod releases the address and withdraws the /32 everywhere.
    const del = lab.cni(n1, 'DEL', `p${pods.indexOf(borrowed[0] as never) + 1}`, `/var/run/netns/${borrowed[0]?.ns ?? ''}`);
    assert.equal(del.status, 0, del.stdout + del.stderr);
    await pollUntil(() => !lab.routes(n2).some((r) => r.dst === addr), { timeoutMs: 10_000, what: 'borrowed /32 withdrawn' });
    assert.ok(!lab.routes(n1).some((r) => r.dst === addr), 'workload route removed on node1');
  });

  test('a VXLAN pool created at run time gives each node a VTEP and lowers the pod MTU', { skip }, async () => {
    lab.putResource('ippools', { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'vx' }, spec: { cidr: '10.251.0.0/16', vxlanMode: 'Always' } });
    const vtep = await pollUntil(() => {
      const doc = JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/v3/projectcalico.org/nodes/node1'])) as { spec: { ipv4VXLANTunnelAddr?: string } };
      return doc.spec.ipv4VXLANTunnelAddr;
    }, { timeoutMs: 20_000, intervalMs: 200, what: `node1 VTEP address\n${lab.logs()}` });
    assert.match(vtep, /^10\.251\./);
    await pollUntil(() => sh('cat', [`${n1.dir}/mtu`]).trim() === '1450', { timeoutMs: 10_000, what: 'pod MTU 1450' });
  });

  test('cni.sock check and gc', { skip }, async () => {
    const pod = lab.addPod(n1, 'chk');
    const ok = await lab.call(n1, 'cni.sock', { type: 'check', containerId: 'ctr-chk', ifname: 'eth0', hostIfname: hostIf(n1, pod.address), addresses: [`${pod.address}/32`] });
    assert.deepEqual(ok, { type: 'ok' });
    const wrong = await lab.call(n1, 'cni.sock', { type: 'check', containerId: 'ctr-chk', ifname: 'eth0', hostIfname: hostIf(n1, pod.address), addresses: ['10.245.0.99/32'] });
    assert.equal(wrong['type'], 'error');
    assert.equal(wrong['code'], 'ipam-missing');
    // GC with a valid list that omits "chk": its allocation and route go.
    const gc = await lab.call(n1, 'cni.sock', { type: 'gc', valid: [{ containerId: 'ctr-p1', ifname: 'eth0' }, { containerId: 'ctr-p2', ifname: 'eth0' }, { containerId: 'ctr-p3', ifname: 'eth0' }, { containerId: 'ctr-p4', ifname: 'eth0' }] });
    assert.equal(gc['type'], 'ok');
    assert.ok((gc['released'] as string[]).some((a) => a.startsWith(pod.address)), JSON.stringify(gc));
    assert.ok(!lab.routes(n1).some((r) => r.dst === pod.address), 'route of the collected pod removed');
    const vtep = (JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/v3/projectcalico.org/nodes/node1'])) as { spec: { ipv4VXLANTunnelAddr?: string } }).spec.ipv4VXLANTunnelAddr ?? '';
    assert.ok(vtep !== '' && !(gc['released'] as string[]).some((a) => a.split('/')[0] === vtep), `the VTEP address ${vtep} is not a CNI attachment: ${JSON.stringify(gc)}`);
    const st = await lab.call(n1, 'cni.sock', { type: 'status' });
    assert.deepEqual(st, { type: 'ok' });
  });
});

function sameBlock(addr: string, block: string): boolean {
  const [base, len] = block.split('/');
  const toInt = (a: string): number => a.split('.').reduce((v, x) => v * 256 + Number(x), 0);
  const size = 2 ** (32 - Number(len));
  return Math.floor(toInt(addr) / size) === Math.floor(toInt(base ?? '') / size);
}

function hostIf(n: LabNode, addr: string): string {
  const r = JSON.parse(sh('ip', ['-n', n.ns, '-j', 'route', 'show', `${addr}/32`])) as Array<{ dev: string }>;
  return r[0]?.dev ?? '';
}

describe('CALICO_NETWORKING_BACKEND=vxlan: no BGP, remote blocks from the datastore', () => {
  let lab: NodeLab;
  let n3: LabNode, n4: LabNode;
  before(async () => {
    if (skip) return;
    lab = new NodeLab('vxbe');
    await lab.startEtcd();
    const router = lab.topo.ns('router');
    sh('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const env = { CALICO_NETWORKING_BACKEND: 'vxlan', CALICO_IPV4POOL_CIDR: '10.246.0.0/16', CALICO_IPV4POOL_VXLAN: 'Always' };
    n3 = lab.node('node3', { IP: '10.3.0.2/24', ...env });
    n4 = lab.node('node4', { IP: '10.4.0.2/24', ...env });
    lab.topo.link(n3.ns, 'eth0', '10.3.0.2/24', router, 'r3', '10.3.0.1/24');
    lab.topo.link(n4.ns, 'eth0', '10.4.0.2/24', router, 'r4', '10.4.0.1/24');
    sh('ip', ['-n', n3.ns, 'route', 'add', 'default', 'via', '10.3.0.1']);
    sh('ip', ['-n', n4.ns, 'route', 'add', 'default', 'via', '10.4.0.1']);
    lab.start(n3);
    lab.start(n4);
  });
  after(async () => { if (lab) await lab.cleanup(); });

  test('pods on the two subnets talk over vxlan.calico; no BGP listener', { skip }, async () => {
    const b4 = await pollUntil(() => lab.routes(n4).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 20_000, what: `node4 block\n${lab.logs()}` });
    await pollUntil(() => lab.routes(n3).some((r) => r.dst === b4 && r.dev === 'vxlan.calico'), { timeoutMs: 20_000, what: `node3 VXLAN route to ${b4}\n${lab.logs()}` });
    const a = lab.addPod(n3, 'va');
    const b = lab.addPod(n4, 'vb');
    await pollUntil(() => lab.ping(a.ns, b.address), { timeoutMs: 10_000, what: `ping ${a.address} -> ${b.address}: ${JSON.stringify(lab.routes(n3))}` });
    assert.ok(lab.ping(b.ns, a.address));
    const st = await lab.call(n3, 'node.ctl', { command: 'bgp-status' });
    assert.deepEqual(st, { ok: true, processRunning: false, peers: [] });
    assert.equal(trySh('ip', ['netns', 'exec', n3.ns, 'ss', '-Hltn', 'sport = :179']).stdout.trim(), '', 'nothing listens on 179');
  });
});

/** The kernel here lacks ipip; where it has it, this test does not apply. */
function ipipSupported(): boolean {
  const ns = `ipipprobe${process.pid}`;
  trySh('ip', ['netns', 'add', ns]);
  const ok = trySh('ip', ['-n', ns, 'link', 'add', 'tunl9', 'type', 'ipip']).status === 0;
  trySh('ip', ['netns', 'del', ns]);
  return ok;
}

describe('an IPIP pool on a kernel without ipip', () => {
  const why = skip ?? (ipipSupported() ? 'this kernel supports IPIP (the test is about kernels without it)' : undefined);
  let lab: NodeLab;
  let n: LabNode;
  before(async () => {
    if (why) return;
    lab = new NodeLab('ipip');
    await lab.startEtcd();
    n = lab.node('node5', { IP: '10.5.0.2/24', CALICO_IPV4POOL_CIDR: '10.249.0.0/16', CALICO_IPV4POOL_IPIP: 'Always', FELIX_HEALTHHOST: '127.0.0.1' });
    lab.topo.link(n.ns, 'eth0', '10.5.0.2/24', lab.db, 'x5', '10.5.0.1/24');
    lab.start(n);
  });
  after(async () => { if (lab) await lab.cleanup(); });

  test('is reported with the fixed message, the node stays up and is not ready', { skip: why }, async () => {
    await pollUntil(() => (n.proc?.output ?? '').includes(IPIP_UNSUPPORTED_MESSAGE),
      { timeoutMs: 20_000, what: `IPIP message in the log\n${lab.logs()}` });
    const get = (path: string): string => httpGetIn(n.ns, 9099, path);
    const ready = await pollUntil(() => { const r = get('/readiness'); return r.startsWith('503') && r.includes('CONFIG_NET_IPIP') ? r : undefined; },
      { timeoutMs: 10_000, what: `readiness: ${get('/readiness')}` });
    assert.match(ready, /IPIP pool: kernel lacks IPIP support/);
    assert.ok(get('/liveness').startsWith('200'), 'still live');
    assert.equal(n.proc?.exited, false);
  });
});

describe('BGP port taken at start-up', () => {
  let lab: NodeLab;
  let n: LabNode;
  let squatter: Proc | undefined;
  before(async () => {
    if (skip) return;
    lab = new NodeLab('port');
    await lab.startEtcd();
    n = lab.node('node6', { IP: '10.6.0.2/24', CALICO_IPV4POOL_CIDR: '10.250.128.0/17', FELIX_HEALTHHOST: '127.0.0.1', TORTIE_RULES_BACKEND: 'iptables' });
    lab.topo.link(n.ns, 'eth0', '10.6.0.2/24', lab.db, 'x6', '10.6.0.1/24');
    squatter = new Proc('ip', ['netns', 'exec', n.ns, process.execPath, '-e', "require('net').createServer().listen(179, '0.0.0.0', () => console.log('listening'))"]);
    await pollUntil(() => squatter?.output.includes('listening'), { timeoutMs: 5000, what: 'port 179 taken' });
    lab.start(n);
  });
  after(async () => { await squatter?.stop('SIGKILL'); if (lab) await lab.cleanup(); });

  test('the dataplane still comes up, readiness says why, and BGP starts once the port is free', { skip }, async () => {
    await pollUntil(() => lab.routes(n).some((r) => r.type === 'blackhole'), { timeoutMs: 20_000, what: `block route without BGP\n${lab.logs()}` });
    const get = (path: string): string => httpGetIn(n.ns, 9099, path);
    await pollUntil(() => { const r = get('/readiness'); return r.startsWith('503') && /BGP speaker: cannot listen on 0\.0\.0\.0:179/.test(r); }, { timeoutMs: 10_000, what: `readiness ${get('/readiness')}` });
    assert.ok(get('/liveness').startsWith('200'));
    await squatter?.stop('SIGKILL');
    await pollUntil(async () => (await lab.call(n, 'node.ctl', { command: 'bgp-status' }))['processRunning'] === true, { timeoutMs: 15_000, what: 'speaker started after the port was freed' });
    await pollUntil(() => get('/readiness').startsWith('200'), { timeoutMs: 10_000, what: `ready ${get('/readiness')}` });
  });

  test('TORTIE_RULES_BACKEND=iptables: our chains and ipsets hold the pool and the node', { skip }, async () => {
    const nat = await pollUntil(() => { const t = trySh('ip', ['netns', 'exec', n.ns, 'iptables-save', '-t', 'nat']).stdout; return /MASQUERADE/.test(t) ? t : undefined; },
      { timeoutMs: 10_000, what: 'iptables nat rules' });
    assert.match(nat, /-A POSTROUTING .*-j tortie-/);
    const sets = sh('ip', ['netns', 'exec', n.ns, 'ipset', 'list']);
    assert.match(sets, /10\.250\.128\.0\/17/);
    assert.match(sets, /10\.6\.0\.2/);
  });
});
