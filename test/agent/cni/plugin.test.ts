/**
 * The CNI plugin driven as a container runtime drives it (CNI_* environment, configuration on
 * stdin, the compiled binary) against real network namespaces:
 *
 *   [pod a]──veth──┐                  the "host" is namespace `node` (default route to `up`);
 *   [pod b]──veth──┤ node ── up       the plugin runs there (ip netns exec), the pods are
 *                   agent             namespaces of their own.
 *
 * The agent side here is a small in-test server speaking the agent protocol (allocating from
 * 10.77.0.0/24 and installing the /32 route in the node namespace); the real tortie-node serves
 * the same protocol in the end-to-end tests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { sh, trySh } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';
import type { AgentRequest, AgentResponse } from '../../../agent/cni/agent-protocol.js';
import { hostInterfaceName } from '../../../agent/cni/workload-interface.js';

const skip = topologySkipReason('ip', 'nsenter');
const plugin = new URL('../../../agent/cni/tortie-cni.cjs', import.meta.url).pathname;

let topo: Topology;
let node = '';
let dir = '';
let server: Server | undefined;
const calls: AgentRequest[] = [];
const allocations = new Map<string, string>();
let nextHost = 10;
let failEndpointUp = false;

function serveAgent(socketPath: string): Promise<Server> {
  const srv = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as AgentRequest;
      calls.push(req);
      let res: AgentResponse = { type: 'ok' };
      if (req.type === 'assign') {
        const addr = allocations.get(req.containerId) ?? `10.77.0.${nextHost++}/32`;
        allocations.set(req.containerId, addr);
        res = { type: 'assigned', addresses: [addr], mtu: 1450 };
      } else if (req.type === 'endpoint-up') {
        if (failEndpointUp) {
          res = { type: 'error', code: 'dataplane', message: 'route programming failed (test)' };
        } else {
          for (const a of req.addresses) trySh('ip', ['-n', node, 'route', 'replace', a, 'dev', req.hostIfname, 'scope', 'link']);
        }
      } else if (req.type === 'release') {
        const addr = allocations.get(req.containerId);
        allocations.delete(req.containerId);
        res = { type: 'ok', released: addr === undefined ? [] : [addr] };
      } else if (req.type === 'check') {
        res = req.addresses.every((a) => [...allocations.values()].includes(a))
          ? { type: 'ok' } : { type: 'error', code: 'ipam-missing', message: 'allocation missing' };
      }
      conn.end(`${JSON.stringify(res)}\n`);
    });
  });
  return new Promise((resolve) => srv.listen(socketPath, () => resolve(srv)));
}

interface RunResult { status: number; json: Record<string, unknown> | undefined; stdout: string }

/**
 * Run the compiled plugin in the node namespace. Asynchronous on purpose: the in-test agent
 * answers on this process's event loop, which a synchronous spawn would block.
 */
function cni(command: string, containerId: string, opts: { netns?: string; pod?: string; config?: Record<string, unknown>; socket?: string } = {}): Promise<RunResult> {
  const config = {
    cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', mtu: 0,
    agent_socket: opts.socket ?? join(dir, 'cni.sock'), mtu_file: join(dir, 'mtu'), ...opts.config,
  };
  const env = [
    `CNI_COMMAND=${command}`, `CNI_CONTAINERID=${containerId}`, `CNI_IFNAME=eth0`, `CNI_PATH=/opt/cni/bin`,
    `CNI_NETNS=${opts.netns ?? ''}`, `TORTIE_CNI_LOG=${join(dir, 'cni.log')}`,
    `CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${opts.pod ?? containerId}`,
  ];
  const child = spawn('ip', ['netns', 'exec', node, 'env', ...env, process.execPath, plugin], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.end(JSON.stringify(config));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ status: code ?? -1, stdout: stdout + stderr, json: stdout.trim() ? JSON.parse(stdout) as Record<string, unknown> : undefined });
      } catch (err) {
        reject(new Error(`plugin printed non-JSON on stdout: ${stdout}${stderr} (${String(err)})`));
      }
    });
  });
}

function podNetns(name: string): string {
  return `/var/run/netns/${topo.ns(name)}`;
}

before(async () => {
  if (skip) return;
  topo = new Topology('cni');
  node = topo.ns('node');
  // A real host has a default route; proxy ARP answers for 169.254.1.1 only when the host has a
  // route to it through another interface, exactly as on a Calico node.
  const uplink = topo.ns('up');
  topo.link(node, 'up0', '192.0.2.1/24', uplink, 'eth0', '192.0.2.2/24');
  topo.exec(node, 'ip', ['route', 'add', 'default', 'via', '192.0.2.2']);
  dir = mkdtempSync(join(tmpdir(), 'tortie-cni-'));
  server = await serveAgent(join(dir, 'cni.sock'));
});

after(async () => {
  server?.close();
  await topo?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('ADD wires two pods that reach each other through the host side, Calico-style', { skip }, async () => {
  const nsA = podNetns('pa');
  const nsB = podNetns('pb');
  const a = await cni('ADD', 'ctr-a', { netns: nsA, pod: 'pod-a' });
  const b = await cni('ADD', 'ctr-b', { netns: nsB, pod: 'pod-b' });
  assert.equal(a.status, 0, a.stdout);
  assert.equal(b.status, 0, b.stdout);
  const ips = a.json?.['ips'] as Array<{ address: string; gateway: string; interface: number }>;
  assert.equal(ips[0]?.gateway, '169.254.1.1');
  assert.equal(ips[0]?.interface, 1);
  const ifaces = a.json?.['interfaces'] as Array<{ name: string; sandbox?: string }>;
  assert.equal(ifaces[0]?.name, hostInterfaceName({ namespace: 'default', pod: 'pod-a', containerId: 'ctr-a' }));
  assert.equal(ifaces[1]?.sandbox, nsA);
  // The MTU the agent computed reached the pod.
  const link = JSON.parse(trySh('nsenter', [`--net=${nsA}`, 'ip', '-j', 'link', 'show', 'eth0']).stdout) as Array<{ mtu: number }>;
  assert.equal(link[0]?.mtu, 1450);
  // Real packets: a → b through the node's proxy ARP and /32 routes.
  const addrB = String((b.json?.['ips'] as Array<{ address: string }>)[0]?.address).split('/')[0] ?? '';
  const ping = trySh('nsenter', [`--net=${nsA}`, 'ping', '-c', '1', '-W', '2', addrB]);
  assert.equal(ping.status, 0, `ping a→b failed: ${ping.stdout}${ping.stderr}`);
});

test('CHECK passes after ADD and fails with the spec error when the pod address is gone', { skip }, async () => {
  const ns = podNetns('pc');
  const added = await cni('ADD', 'ctr-c', { netns: ns, pod: 'pod-c' });
  assert.equal(added.status, 0, added.stdout);
  const ok = await cni('CHECK', 'ctr-c', { netns: ns, pod: 'pod-c', config: { prevResult: added.json } });
  assert.equal(ok.status, 0, ok.stdout);
  const addr = String((added.json?.['ips'] as Array<{ address: string }>)[0]?.address);
  trySh('nsenter', [`--net=${ns}`, 'ip', 'addr', 'del', addr, 'dev', 'eth0']);
  const bad = await cni('CHECK', 'ctr-c', { netns: ns, pod: 'pod-c', config: { prevResult: added.json } });
  assert.equal(bad.status, 1);
  assert.equal(bad.json?.['code'], 103);
  assert.match(String(bad.json?.['msg']), /address 10\.77\.0\.\d+\/32 is missing from eth0/);
});

test('DEL is idempotent: twice, and without a namespace, all succeed and remove the host side', { skip }, async () => {
  const ns = podNetns('pd');
  assert.equal((await cni('ADD', 'ctr-d', { netns: ns, pod: 'pod-d' })).status, 0);
  const host = hostInterfaceName({ namespace: 'default', pod: 'pod-d', containerId: 'ctr-d' });
  assert.equal(trySh('ip', ['-n', node, 'link', 'show', host]).status, 0);
  assert.equal((await cni('DEL', 'ctr-d', { netns: ns, pod: 'pod-d' })).status, 0);
  assert.notEqual(trySh('ip', ['-n', node, 'link', 'show', host]).status, 0, 'host side removed');
  assert.equal((await cni('DEL', 'ctr-d', { netns: ns, pod: 'pod-d' })).status, 0);
  assert.equal((await cni('DEL', 'ctr-d', { pod: 'pod-d' })).status, 0);
  assert.equal((await cni('DEL', 'never-added', {})).status, 0);
  assert.ok(!allocations.has('ctr-d'), 'address released');
});

test('a second ADD for the same container and interface is refused and keeps the first', { skip }, async () => {
  const ns = podNetns('pe');
  const first = await cni('ADD', 'ctr-e', { netns: ns, pod: 'pod-e' });
  assert.equal(first.status, 0);
  const again = await cni('ADD', 'ctr-e2', { netns: ns, pod: 'pod-e2' });
  assert.equal(again.status, 1);
  assert.match(String(again.json?.['msg']), /interface eth0 already exists/);
  assert.ok(allocations.has('ctr-e'), 'original allocation intact');
  assert.ok(!allocations.has('ctr-e2'), 'refused ADD released what it was given');
});

test('a host side left by an earlier sandbox of the same pod is replaced', { skip }, async () => {
  const host = hostInterfaceName({ namespace: 'default', pod: 'pod-g', containerId: 'ctr-g' });
  sh('ip', ['-n', node, 'link', 'add', host, 'type', 'bridge']);
  const r = await cni('ADD', 'ctr-g', { netns: podNetns('pg'), pod: 'pod-g' });
  assert.equal(r.status, 0, r.stdout);
  const link = JSON.parse(sh('ip', ['-n', node, '-j', '-d', 'link', 'show', host])) as Array<{ linkinfo?: { info_kind?: string }; operstate?: string }>;
  assert.equal(link[0]?.linkinfo?.info_kind, 'veth', 'the leftover (a bridge here) was replaced by the new veth');
  assert.equal((await cni('DEL', 'ctr-g', { netns: podNetns('pg'), pod: 'pod-g' })).status, 0);
});

test('a failure after assignment rolls back: no interface, no allocation', { skip }, async () => {
  const ns = podNetns('pf');
  failEndpointUp = true;
  try {
    const r = await cni('ADD', 'ctr-f', { netns: ns, pod: 'pod-f' });
    assert.equal(r.status, 1);
    assert.match(String(r.json?.['msg']), /route programming failed/);
  } finally {
    failEndpointUp = false;
  }
  const host = hostInterfaceName({ namespace: 'default', pod: 'pod-f', containerId: 'ctr-f' });
  assert.notEqual(trySh('ip', ['-n', node, 'link', 'show', host]).status, 0, 'veth removed');
  assert.ok(!allocations.has('ctr-f'), 'allocation released');
  assert.ok(calls.some((c) => c.type === 'release' && c.containerId === 'ctr-f'));
});

test('ADD with no agent running waits agent_wait_ms, then fails with code 11 (try again later) and leaves nothing', { skip }, async () => {
  const ns = podNetns('pg');
  const r = await cni('ADD', 'ctr-g', { netns: ns, pod: 'pod-g', socket: join(dir, 'absent.sock'), config: { agent_wait_ms: 300 } });
  assert.equal(r.status, 1);
  assert.equal(r.json?.['code'], 11);
  assert.match(String(r.json?.['msg']), /tortie-node is not running on this host \(no listener on .*absent\.sock after waiting \d+ ms\)/);
  const host = hostInterfaceName({ namespace: 'default', pod: 'pod-g', containerId: 'ctr-g' });
  assert.notEqual(trySh('ip', ['-n', node, 'link', 'show', host]).status, 0);
});

test('STATUS with no agent running answers code 50 (CNI 1.1: plugin not available)', { skip }, async () => {
  const r = await cni('STATUS', '', { socket: join(dir, 'absent.sock'), config: { cniVersion: '1.1.0' } });
  assert.equal(r.status, 1);
  assert.equal(r.json?.['code'], 50);
  assert.match(String(r.json?.['msg']), /tortie-node is not running on this host/);
});

test('ADD while the agent is (re)starting waits for it and succeeds', { skip }, async () => {
  const late = join(dir, 'late.sock');
  const pending = cni('ADD', 'ctr-late', { netns: podNetns('pl'), pod: 'pod-late', socket: late, config: { agent_wait_ms: 10_000 } });
  // The agent's socket appears only once the plugin is already waiting for it.
  await pollUntil(() => existsSync(join(dir, 'cni.log')) && readFileSync(join(dir, 'cni.log'), 'utf8').includes(`"socket":"${late}"`),
    { timeoutMs: 5000, what: 'the plugin logging that it waits for the agent' });
  const srv = await serveAgent(late);
  try {
    const r = await pending;
    assert.equal(r.status, 0, r.stdout);
    assert.ok(calls.some((c) => c.type === 'endpoint-up' && c.containerId === 'ctr-late'));
  } finally { srv.close(); }
});

test('VERSION and malformed input answer in the spec\'s JSON', { skip }, async () => {
  const v = await cni('VERSION', '');
  assert.equal(v.status, 0);
  assert.ok((v.json?.['supportedVersions'] as string[]).includes('1.0.0'));
  const badMtu = await cni('ADD', 'ctr-h', { netns: podNetns('ph'), config: { mtu: 12 } });
  assert.equal(badMtu.json?.['code'], 7);
  assert.match(String(badMtu.json?.['msg']), /"mtu" must be 0 \(auto\) or 576\.\.65535/);
  const badVersion = await cni('ADD', 'ctr-h', { netns: '/var/run/netns/x', config: { cniVersion: '9.9.9' } });
  assert.equal(badVersion.json?.['code'], 1);
});
