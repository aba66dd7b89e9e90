/** tortie-node configuration from the environment and address autodetection (pure parts). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { nodeConfigFromEnv, NodeConfigError } from '../../../agent/node/config.js';
import { autodetectAddress, type InterfaceAddress } from '../../../agent/node/autodetect.js';
import { bgpStatus, peerStatusRow } from '../../../agent/node/ctl-server.js';
import { parseNodeStatusResponse } from '../../../agent/ctl/node-status-protocol.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Proc } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';

test('defaults follow the contract', () => {
  const c = nodeConfigFromEnv({ NODENAME: 'n1' });
  assert.equal(c.nodeName, 'n1');
  assert.deepEqual(c.ip, { type: 'autodetect', method: { type: 'first-found' } });
  assert.equal(c.backend, 'bird');
  assert.deepEqual(c.defaultPool, { cidr: '192.168.0.0/16', blockSize: 26, vxlanMode: 'Never', ipipMode: 'Never', natOutgoing: true, nodeSelector: 'all()', disableBGPExport: false });
  assert.equal(c.cniSocket, '/var/run/tortie/cni.sock');
  assert.equal(c.ctlSocket, '/var/run/tortie/node.ctl');
  assert.equal(c.mtuFile, '/var/lib/calico/mtu');
  assert.deepEqual(c.health, { enabled: true, host: '0.0.0.0', port: 9099 });
  assert.deepEqual(c.metrics, { enabled: true, port: 9091, perPeer: true, processMetrics: true });
  assert.equal(c.rulesBackend, 'nft');
  assert.deepEqual(c.etcd.endpoints, ['http://127.0.0.1:2379']);
  assert.equal(c.bgpReadyThresholdSeconds, 30);
  assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_BGP_READY_THRESHOLD_SECONDS: '0', TORTIE_BGP_METRICS_PER_PEER: 'false' }).bgpReadyThresholdSeconds, 0);
  assert.equal(c.withdrawOnStop, false, 'SIGTERM is a graceful restart by default');
  assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_WITHDRAW_ON_STOP: 'true' }).withdrawOnStop, true);
  assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_BGP_METRICS_PER_PEER: 'false' }).metrics.perPeer, false);
  assert.deepEqual(c.bfd, { engine: 'process', socket: '/var/run/tortie/bfd.sock' });
  assert.deepEqual(nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_BFD_ENGINE: 'Sidecar', TORTIE_BFD_SOCKET: '/run/x.sock' }).bfd, { engine: 'sidecar', socket: '/run/x.sock' });
  assert.throws(() => nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_BFD_ENGINE: 'worker' }), /TORTIE_BFD_ENGINE.*process, sidecar or thread/);
});

test('explicit values are parsed', () => {
  const c = nodeConfigFromEnv({ NODENAME: 'n1', IP: '10.0.0.5/24', AS: '1.10', CALICO_NETWORKING_BACKEND: 'vxlan', CALICO_IPV4POOL_CIDR: '10.244.0.0/16',
    CALICO_IPV4POOL_VXLAN: 'CrossSubnet', CALICO_IPV4POOL_BLOCK_SIZE: '28', CALICO_IPV4POOL_NAT_OUTGOING: 'false', TORTIE_RUN_DIR: '/r', TORTIE_STATE_DIR: '/s',
    FELIX_HEALTHPORT: '19099', ETCD_ENDPOINTS: 'http://10.0.0.1:2379,http://10.0.0.2:2379' });
  assert.deepEqual(c.ip, { type: 'explicit', address: '10.0.0.5', length: 24 });
  assert.equal(c.asNumber, 65546);
  assert.equal(c.backend, 'vxlan');
  assert.equal(c.defaultPool?.vxlanMode, 'CrossSubnet');
  assert.equal(c.defaultPool?.blockSize, 28);
  assert.equal(c.defaultPool?.natOutgoing, false);
  assert.equal(c.cniSocket, '/r/cni.sock');
  assert.equal(c.mtuFile, '/s/mtu');
  assert.equal(c.health.port, 19099);
  assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', NO_DEFAULT_POOLS: 'true' }).defaultPool, undefined);
  assert.deepEqual(nodeConfigFromEnv({ NODENAME: 'n', IP: 'none' }).ip, { type: 'none' });
  assert.deepEqual(nodeConfigFromEnv({ NODENAME: 'n', IP_AUTODETECTION_METHOD: 'can-reach=8.8.8.8' }).ip, { type: 'autodetect', method: { type: 'can-reach', destination: '8.8.8.8' } });
});

test('bad values are refused naming the variable', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ IP: '10.0.0.300' }, /^IP: must be autodetect, none or an IPv4 address/],
    [{ IP: '10.0.0.3/40' }, /^IP: prefix length must be 0-32/],
    [{ AS: 'sixty' }, /^AS: must be an AS number/],
    [{ CALICO_NETWORKING_BACKEND: 'gobgp' }, /^CALICO_NETWORKING_BACKEND: must be bird, vxlan or none/],
    [{ CALICO_IPV4POOL_CIDR: '10.0.0.1/8' }, /^CALICO_IPV4POOL_CIDR: must be an IPv4 CIDR with no host bits/],
    [{ CALICO_IPV4POOL_VXLAN: 'sometimes' }, /^CALICO_IPV4POOL_VXLAN: must be Never, Always or CrossSubnet/],
    [{ CALICO_IPV4POOL_VXLAN: 'Always', CALICO_IPV4POOL_IPIP: 'Always' }, /^CALICO_IPV4POOL_IPIP: cannot be enabled together/],
    [{ IP_AUTODETECTION_METHOD: 'interface=(' }, /^IP_AUTODETECTION_METHOD: invalid regular expression/],
    [{ IP_AUTODETECTION_METHOD: 'magic' }, /^IP_AUTODETECTION_METHOD: unknown method "magic"/],
    [{ FELIX_HEALTHPORT: '70000' }, /^FELIX_HEALTHPORT: must be an integer 0-65535/],
    [{ DATASTORE_TYPE: 'kubernetes' }, /^DATASTORE_TYPE: only etcdv3/],
    [{ NODENAME: 'Bad_Name' }, /^NODENAME: "Bad_Name" is not a valid node name/],
    [{ NO_DEFAULT_POOLS: 'maybe' }, /^NO_DEFAULT_POOLS: must be true or false/],
  ];
  for (const [env, re] of bad) {
    assert.throws(() => nodeConfigFromEnv({ NODENAME: 'n1', ...env }), (err: unknown) => err instanceof NodeConfigError && re.test(err.message), JSON.stringify(env));
  }
});

const addrs: InterfaceAddress[] = [
  { iface: 'lo', address: '127.0.0.1', prefixLength: 8 },
  { iface: 'docker0', address: '172.17.0.1', prefixLength: 16 },
  { iface: 'mgmt0', address: '10.250.1.2', prefixLength: 30 },
  { iface: 'eth0', address: '10.99.0.1', prefixLength: 24 },
];

test('autodetection methods', async () => {
  assert.equal((await autodetectAddress({ type: 'first-found' }, addrs)).iface, 'mgmt0');
  assert.equal((await autodetectAddress({ type: 'interface', regex: /^eth/ }, addrs)).address, '10.99.0.1');
  assert.equal((await autodetectAddress({ type: 'skip-interface', regex: /^mgmt/ }, addrs)).address, '10.99.0.1');
  assert.equal((await autodetectAddress({ type: 'cidr', cidrs: ['10.99.0.0/16'] }, addrs)).prefixLength, 24);
  assert.equal((await autodetectAddress({ type: 'can-reach', destination: '10.99.0.2' }, addrs, async () => '10.99.0.1')).iface, 'eth0');
  await assert.rejects(autodetectAddress({ type: 'interface', regex: /^wlan/ }, addrs), /IP_AUTODETECTION_METHOD: interface=\^wlan: no interface matching it has an IPv4 address; set IP/);
  await assert.rejects(autodetectAddress({ type: 'can-reach', destination: '10.1.1.1' }, addrs, async () => { throw new Error('ENETUNREACH'); }), /can-reach=10\.1\.1\.1: ENETUNREACH/);
  // The real kernel lookup: towards loopback the source is 127.0.0.1, which is not a usable node address.
  await assert.rejects(autodetectAddress({ type: 'can-reach', destination: '127.0.0.1' }, addrs), /source address 127\.0\.0\.1 is on no interface/);
});

test('node.ctl answers are valid for tortiectl', () => {
  const row = peerStatusRow({ name: 'Mesh_10_0_0_2', address: '10.0.0.2', asn: 64512, localAsn: 64512, state: 'Active', enabled: true, since: Date.UTC(2026, 0, 1, 8, 15, 42),
    uptimeSeconds: 0, lastError: 'Connection refused', configuredHoldTime: 90, capabilities: [], families: [], prefixes: { received: 0, accepted: 0, advertised: 0 },
    establishedTransitions: 0, messages: {} as never } as never);
  assert.equal(row.type, 'node-to-node mesh');
  assert.equal(row.state, 'start');
  assert.equal(row.info, 'Active Connection refused');
  const ok = parseNodeStatusResponse(JSON.parse(JSON.stringify(bgpStatus([]))));
  assert.deepEqual(ok, { ok: true, processRunning: true, peers: [] });
  assert.deepEqual(bgpStatus(undefined), { ok: true, processRunning: false, peers: [] });
});

const MAIN = fileURLToPath(new URL('../../../agent/node/main.js', import.meta.url));

test('tortie-node refuses a bad variable with one clear log line and exit 1', () => {
  const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, NODENAME: 'n1', IP: '10.0.0.300' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /"err":"IP: must be autodetect, none or an IPv4 address \(optionally \/len\), got \\"10\.0\.0\.300\\""/);
  assert.match(r.stderr, /"msg":"bad configuration"/);
});

test('tortie-node waits for an unreachable datastore instead of dying, and stops cleanly on SIGTERM', async () => {
  const p = new Proc(process.execPath, [MAIN], { env: { ...process.env, NODENAME: 'n1', IP: 'none', ETCD_ENDPOINTS: 'http://127.0.0.1:1',
    TORTIE_RUN_DIR: '/nonexistent-tortie-test', FELIX_HEALTHENABLED: 'false', FELIX_PROMETHEUSMETRICSENABLED: 'false' } });
  try {
    await pollUntil(() => /datastore unavailable; retrying/.test(p.output), { timeoutMs: 30_000, what: `retry log line: ${p.output.slice(-500)}` });
    assert.equal(p.exited, false);
    await p.stop('SIGTERM', 10_000);
    assert.equal(p.child.exitCode, 0);
  } finally { await p.stop('SIGKILL'); }
});

test('IP6: off by default; explicit or autodetect; a default IPv6 pool only when it is on', () => {
  const off = nodeConfigFromEnv({ NODENAME: 'n1' });
  assert.deepEqual(off.ip6, { type: 'none' });
  assert.equal(off.defaultPool6, undefined);
  const on = nodeConfigFromEnv({ NODENAME: 'n1', IP6: 'fd00::5/64', CALICO_IPV6POOL_CIDR: 'fd00:44::/48' });
  assert.deepEqual(on.ip6, { type: 'explicit', address: 'fd00::5', length: 64 });
  assert.equal(on.defaultPool6?.cidr, 'fd00:44::/48');
  assert.equal(on.defaultPool6?.blockSize, 122);
  assert.deepEqual(nodeConfigFromEnv({ NODENAME: 'n1', IP6: 'autodetect', IP6_AUTODETECTION_METHOD: 'interface=eth.*' }).ip6.type, 'autodetect');
  assert.throws(() => nodeConfigFromEnv({ NODENAME: 'n1', IP6: '10.0.0.1' }), /^TortieError: IP6: must be autodetect, none or an IPv6 address/);
  assert.throws(() => nodeConfigFromEnv({ NODENAME: 'n1', IP6: 'fd00::1', CALICO_IPV6POOL_CIDR: '10.0.0.0/8' }), /CALICO_IPV6POOL_CIDR: must be an IPv6 CIDR/);
});
