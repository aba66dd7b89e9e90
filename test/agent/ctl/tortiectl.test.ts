/**
 * The real tortiectl binary (node dist/agent/ctl/main.js) against a real etcd 3.4: every kind
 * round-trips (apply, then `get -o yaml` = input + defaults), invalid manifests are refused
 * with file / document / field path and nothing is written, patch, delete, tables, ipam
 * commands, and `node status` against a tiny fake control-socket server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { EtcdServer, etcdSkipReason } from '../../helpers/etcd.js';
import { matchesSubset } from '../../helpers/poll.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { Ipam } from '../../../agent/ipam/ipam.js';
import { deleteWorkloadRecord, putWorkloadRecord } from '../../../agent/ipam/workload-records.js';
import type { IpamReport } from '../../../agent/ipam/ipam-check.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const MAIN = new URL('../../../agent/ctl/main.js', import.meta.url).pathname;
const skip = etcdSkipReason();

interface Run { code: number; stdout: string; stderr: string }

const MANIFESTS: Record<string, string> = {
  IPPool: `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-a
spec:
  cidr: 10.244.0.0/16
  ipipMode: CrossSubnet
  natOutgoing: true
  nodeSelector: "!has(edge)"
`,
  BGPPeer: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor-1
spec:
  peerIP: 10.0.0.1:1179
  asNumber: 65001
  nodeSelector: rack == 'r1'
  keepaliveTime: 30s
  password:
    secretKeyRef: {name: bgp-secrets, key: tor1}
`,
  BGPConfiguration: `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: true
  asNumber: 64512
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
`,
  Node: `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node-1
  labels: {rack: r1}
spec:
  bgp:
    ipv4Address: 10.0.3.7/24
    ipv6Address: fd00::7/64
`,
  FelixConfiguration: `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  ipipEnabled: true
  ipipMTU: 1480
  vxlanVNI: 4096
  routeRefreshInterval: 90s
  natOutgoingExclusions: IPPoolsAndHostIPs
  bpfEnabled: false
`,
  BGPFilter: `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: only-pods
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 10.244.0.0/16
  - action: Reject
  importV6:
  - action: Reject
    matchOperator: NotIn
    cidr: fd00::/8
    prefixLength: {min: 48, max: 64}
`,
  BFDProfile: `apiVersion: tortie.io/v1
kind: BFDProfile
metadata:
  name: fast
spec:
  receiveInterval: 100
  transmitInterval: 100
  detectMultiplier: 3
`,
};

describe('tortiectl against real etcd', { skip }, () => {
  let etcd: EtcdServer;
  let dir: string;
  const run = (args: readonly string[], stdin?: string, env: NodeJS.ProcessEnv = {}): Promise<Run> => new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ETCD_ENDPOINTS: etcd.endpoint, ...env }, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }));
    if (stdin !== undefined) child.stdin?.end(stdin); else child.stdin?.end();
  });
  const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const ok = (r: Run): Run => { assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`); assert.equal(r.stderr, ''); return r; };

  before(async () => {
    etcd = await EtcdServer.start();
    dir = mkdtempSync(join(tmpdir(), 'tortiectl-test-'));
  });
  after(async () => {
    await etcd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  for (const [kind, text] of Object.entries(MANIFESTS)) {
    it(`${kind}: apply, then get -o yaml gives the input plus defaults`, async () => {
      const r = ok(await run(['apply', '-f', file(`${kind}.yaml`, text)]));
      assert.equal(r.stdout, `Successfully applied 1 '${kind}' resource(s)\n`);
      const input = parse(text) as { metadata: { name: string } };
      const got = parse(ok(await run(['get', kind.toLowerCase(), input.metadata.name, '-o', 'yaml'])).stdout) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
      assert.ok(matchesSubset(got, input), `got ${JSON.stringify(got)}`);
      assert.match(String(got.metadata['resourceVersion']), /^\d+$/);
      assert.match(String(got.metadata['creationTimestamp']), /^\d{4}-\d\d-\d\dT/);
      if (kind === 'IPPool') {
        assert.deepEqual({ blockSize: got.spec['blockSize'], vxlanMode: got.spec['vxlanMode'], allowedUses: got.spec['allowedUses'], assignmentMode: got.spec['assignmentMode'] },
          { blockSize: 26, vxlanMode: 'Never', allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' });
      }
      // The YAML that get prints is accepted back by apply (calicoctl's round trip).
      ok(await run(['apply', '-f', '-'], ok(await run(['get', kind, '-o', 'yaml'])).stdout));
    });
  }

  it('BFDProfile (tortie.io/v1): table, errors naming the field, the annotation checked, delete', async () => {
    ok(await run(['apply', '-f', '-'], 'apiVersion: tortie.io/v1\nkind: BFDProfile\nmetadata: {name: slow}\nspec: {multihop: true}\n'));
    assert.equal(ok(await run(['get', 'bfdprofiles'])).stdout,
      'NAME   RXINTERVAL   TXINTERVAL   MULTIPLIER   MULTIHOP   PASSIVE   \nfast   100ms        100ms        3            auto       false     \nslow   300ms        300ms        3            true       false     \n');
    const bad = await run(['apply', '-f', '-'], 'apiVersion: tortie.io/v1\nkind: BFDProfile\nmetadata: {name: bad}\nspec: {receiveInterval: 5, detectMultiplier: 1, echo: true}\n');
    assert.equal(bad.code, 1);
    for (const path of ['spec.receiveInterval', 'spec.detectMultiplier', 'spec.echo']) assert.match(bad.stderr, new RegExp(path.replace('.', '\\.')), bad.stderr);
    const wrongGroup = await run(['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BFDProfile\nmetadata: {name: g}\nspec: {}\n');
    assert.match(wrongGroup.stderr, /apiVersion: must be tortie\.io\/v1 for a BFDProfile/);
    const badRef = await run(['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: node.x, annotations: {tortie.io/bfd-profile: fast}}\nspec: {}\n');
    assert.match(badRef.stderr, /metadata\.annotations\.tortie\.io\/bfd-profile: only BGPConfiguration "default"/);
    ok(await run(['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: tor-bfd, annotations: {tortie.io/bfd-profile: fast}}\nspec: {peerIP: 10.0.0.1, asNumber: 65000}\n'));
    ok(await run(['delete', 'bfdprofile', 'slow']));
    assert.equal(ok(await run(['get', 'bfd', '-o', 'json'])).stdout.includes('"slow"'), false);
    ok(await run(['delete', 'bgppeer', 'tor-bfd']));
  });

  it('tables: get default and -o wide columns', async () => {
    assert.equal(ok(await run(['get', 'ippools'])).stdout,
      'NAME     CIDR            SELECTOR     \npool-a   10.244.0.0/16   !has(edge)   \n');
    assert.equal(ok(await run(['get', 'ipp', '-o', 'wide'])).stdout.split('\n')[1],
      'pool-a   10.244.0.0/16   true   CrossSubnet   Never       false      false              !has(edge)   Automatic        ');
    assert.equal(ok(await run(['get', 'bgppeer'])).stdout,
      "NAME    PEERIP          NODE           ASN     \ntor-1   10.0.0.1:1179   rack == 'r1'   65001   \n");
    assert.equal(ok(await run(['get', 'nodes', '-o', 'wide'])).stdout,
      'NAME     ASN       IPV4          IPV6         \nnode-1   (64512)   10.0.3.7/24   fd00::7/64   \n');
    assert.equal(ok(await run(['get', 'bgpconfig'])).stdout,
      'NAME      LOGSEVERITY   MESHENABLED   ASNUMBER   \ndefault   Info          true          64512      \n');
    const list = JSON.parse(ok(await run(['get', 'felixconfigs', '-o', 'json'])).stdout) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'FelixConfigurationList');
    assert.equal(list.items.length, 1);
  });

  it('an invalid manifest is refused with file, document, path and reason, and nothing from it is written', async () => {
    const p = file('mixed.yaml', `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: good-pool}
spec: {cidr: 10.50.0.0/16}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: bad-peer}
spec: {peerIP: 10.0.0.300, asNumber: 65000, keepaliveTme: 10s}
`);
    const r = await run(['apply', '-f', p]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${p}: document 1: spec\\.peerIP: .*"10\\.0\\.0\\.300"`));
    assert.match(r.stderr, new RegExp(`${p}: document 1: spec\\.keepaliveTme: unknown field`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const pools = await run(['get', 'ippool', 'good-pool']);
    assert.equal(pools.code, 1);
    assert.match(pools.stderr, /resource does not exist: IPPool\(good-pool\)/);
  });

  it('validate checks a manifest offline', async () => {
    assert.equal(ok(await run(['validate', '-f', '-'], Object.values(MANIFESTS).join('---\n'), { ETCD_ENDPOINTS: 'http://127.0.0.1:1' })).stdout,
      'Successfully validated 7 resource(s)\n');
    const bad = await run(['validate', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: 10.0.0.0/8, blockSize: 40}\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /<stdin>: document 0: spec\.blockSize: must be 20-32 for an IPv4 pool/);
  });

  it('create refuses duplicates (unless --skip-exists); JSON from stdin works', async () => {
    const r = await run(['create', '-f', file('dup.yaml', MANIFESTS['IPPool'] ?? '')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /IPPool\(pool-a\).*already exists/);
    ok(await run(['create', '--skip-exists', '-f', join(dir, 'dup.yaml')]));
    const json = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'pool-json' }, spec: { cidr: 'fd00:244::/64' } });
    assert.equal(ok(await run(['create', '-f', '-'], json)).stdout, "Successfully created 1 'IPPool' resource(s)\n");
    assert.equal((parse(ok(await run(['get', 'pool', 'pool-json', '-o', 'yaml'])).stdout) as { spec: { blockSize: number } }).spec.blockSize, 122);
  });

  it('replace needs an existing resource and honours a stale resourceVersion as a conflict', async () => {
    const missing = await run(['replace', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPFilter\nmetadata: {name: nobody}\nspec: {}\n');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Failed to replace any resources: resource BGPFilter\(nobody\): BGPFilter "nobody" does not exist/);
    const current = ok(await run(['get', 'felixconfig', 'default', '-o', 'yaml'])).stdout;
    const changed = current.replace('ipipMTU: 1480', 'ipipMTU: 1400');
    assert.equal(ok(await run(['replace', '-f', '-'], changed)).stdout, "Successfully replaced 1 'FelixConfiguration' resource(s)\n");
    const stale = await run(['replace', '-f', '-'], current);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /FelixConfiguration "default" was changed by someone else \(resourceVersion \d+ is stale\)/);
    assert.match(ok(await run(['get', 'felixconfig', 'default', '-o', 'yaml'])).stdout, /ipipMTU: 1400/);
  });

  it('patch merges and validates; an invalid patch writes nothing', async () => {
    assert.equal(ok(await run(['patch', 'bgpconfiguration', 'default', '-p', '{"spec": {"nodeToNodeMeshEnabled": false}}'])).stdout,
      "Successfully patched 1 'BGPConfiguration' resource\n");
    const got = parse(ok(await run(['get', 'bgpconfig', 'default', '-o', 'yaml'])).stdout) as { spec: Record<string, unknown> };
    assert.equal(got.spec['nodeToNodeMeshEnabled'], false);
    assert.equal(got.spec['asNumber'], 64512);
    const bad = await run(['patch', 'bgpconfig', 'default', '-p', '{"spec": {"listenPort": 70000}}']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /spec\.listenPort: port must be 1-65535/);
    const imm = await run(['patch', 'ippool', 'pool-a', '-p', '{"spec": {"cidr": "10.245.0.0/16"}}']);
    assert.equal(imm.code, 1);
    assert.match(imm.stderr, /spec\.cidr is immutable/);
    const notJson = await run(['patch', 'ippool', 'pool-a', '-p', '{spec']);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /--patch is not valid JSON/);
  });

  it('delete by name and by file; missing resources are errors unless --skip-not-exists', async () => {
    assert.equal(ok(await run(['delete', 'bgpfilter', 'only-pods'])).stdout, "Successfully deleted 1 'BGPFilter' resource(s)\n");
    const again = await run(['delete', 'bgpfilter', 'only-pods']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /resource does not exist: BGPFilter\(only-pods\)/);
    ok(await run(['delete', '-s', 'bgpfilter', 'only-pods']));
    ok(await run(['delete', '-f', join(dir, 'BGPPeer.yaml')]));
    assert.equal(ok(await run(['get', 'bgppeers'])).stdout, 'NAME   PEERIP   NODE   ASN   \n');
  });

  it('user errors: unknown kind, bad output format, missing file, unreachable etcd', async () => {
    const r1 = await run(['get', 'networkpolicy']);
    assert.equal(r1.code, 1); assert.match(r1.stderr, /resource type 'networkpolicy' is not supported/);
    const r2 = await run(['get', 'ippool', '-o', 'xml']);
    assert.equal(r2.code, 1); assert.match(r2.stderr, /unrecognized output format 'xml'/);
    const r3 = await run(['apply', '-f', join(dir, 'nope.yaml')]);
    assert.equal(r3.code, 1); assert.match(r3.stderr, /cannot read .*nope\.yaml: no such file/);
    const r4 = await run(['get', 'ippool'], undefined, { DATASTORE_TYPE: 'kubernetes' });
    assert.equal(r4.code, 1); assert.match(r4.stderr, /datastore type "kubernetes" is not supported/);
  });

  it('--config takes a CalicoAPIConfig file', async () => {
    const cfg = file('calicoctl.cfg', `apiVersion: projectcalico.org/v3\nkind: CalicoAPIConfig\nmetadata: {}\nspec:\n  datastoreType: etcdv3\n  etcdEndpoints: ${etcd.endpoint}\n`);
    const r = ok(await run(['get', 'ippool', '-c', cfg], undefined, { ETCD_ENDPOINTS: 'http://127.0.0.1:1' }));
    assert.match(r.stdout, /pool-a/);
  });

  it('ipam show / show-blocks / --ip, release --ip, check', async () => {
    const store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger: silentLogger() });
    try {
      const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
      const ipam = new Ipam({ store, datastore, logger: silentLogger() });
      const a = await ipam.autoAssign({ handle: 'k8s-pod-network.abc', attrs: { pod: 'web-0', namespace: 'shop' }, node: 'node-1', num4: 9, num6: 0 });
      const first = a.ipv4[0]?.address ?? '';
      assert.equal(ok(await run(['ipam', 'show', '--show-blocks'])).stdout, [
        '+----------+---------------+------------+------------+-------------------+',
        '| GROUPING |     CIDR      | IPS TOTAL  | IPS IN USE |     IPS FREE      |',
        '+----------+---------------+------------+------------+-------------------+',
        '| IP Pool  | 10.244.0.0/16 |      65536 | 9 (0%)     | 65527 (100%)      |',
        '| Block    | 10.244.0.0/26 |         64 | 9 (14%)    | 55 (86%)          |',
        '| IP Pool  | fd00:244::/64 | 1.8447e+19 | 0 (0%)     | 1.8447e+19 (100%) |',
        '+----------+---------------+------------+------------+-------------------+', ''].join('\n'));
      assert.doesNotMatch(ok(await run(['ipam', 'show'])).stdout, /Block/);
      // An address in node-1's block used by node-2, which is what borrowing leaves behind (the pool is too big to exhaust here).
      const borrowed = await ipam.autoAssign({ handle: 'k8s-pod-network.b1', attrs: { pod: 'b-0', namespace: 'x', node: 'node-2' }, node: 'node-1', num4: 1, num6: 0 });
      assert.equal(ok(await run(['ipam', 'show', '--show-borrowed'])).stdout, [
        '+------------+----------------+---------------+-------------+------+--------------+',
        '|     IP     | BORROWING-NODE |     BLOCK     | BLOCK OWNER | TYPE | ALLOCATED-TO |',
        '+------------+----------------+---------------+-------------+------+--------------+',
        '| 10.244.0.9 | node-2         | 10.244.0.0/26 | node-1      | pod  | x/b-0        |',
        '+------------+----------------+---------------+-------------+------+--------------+', ''].join('\n'));
      assert.equal(borrowed.ipv4[0]?.address, '10.244.0.9', 'FIFO reuse: the released first address goes to the back of the queue');
      await ipam.releaseByHandle('k8s-pod-network.b1');
      const conf = (): Promise<Run> => run(['ipam', 'show', '--show-configuration']);
      assert.match(ok(await conf()).stdout, /\| StrictAffinity     \| false \|\n\| AutoAllocateBlocks \| true  \|/);
      assert.equal(ok(await run(['ipam', 'configure', '--strictaffinity=true'])).stdout, 'Successfully set IPAM configuration\n');
      assert.match(ok(await conf()).stdout, /\| StrictAffinity     \| true  \|\n\| AutoAllocateBlocks \| true  \|/);
      const badConf = await run(['ipam', 'configure', '--strictaffinity=yes']);
      assert.equal(badConf.code, 1); assert.match(badConf.stderr, /--strictaffinity must be true or false, got "yes"/);
      ok(await run(['ipam', 'configure', '--strictaffinity=false']));
      assert.equal(ok(await run(['ipam', 'show', '--ip', first])).stdout,
        `IP ${first} is in use\nAttributes:\n  pod: web-0\n  namespace: shop\n  node: node-1\n  handle: k8s-pod-network.abc\n`);
      assert.equal(ok(await run(['ipam', 'release', '--ip', first])).stdout, `Successfully released IP address ${first}\n`);
      assert.equal(ok(await run(['ipam', 'show', '--ip', first])).stdout, `IP ${first} is not currently assigned\n`);
      const rel = await run(['ipam', 'release', '--ip', first]);
      assert.equal(rel.code, 1); assert.match(rel.stderr, /is not assigned/);
      // web-0 runs: tortie-node wrote its workload record (ipam check counts it as in use).
      await putWorkloadRecord(store, { handle: 'k8s-pod-network.abc', node: 'node-1', iface: 'cali0', addresses: (await ipam.addressesForHandle('k8s-pod-network.abc')).map((x) => `${x}/32`), pod: 'web-0', namespace: 'shop' });
      const check = ok(await run(['ipam', 'check'])).stdout;
      assert.match(check, /Found 1 IPAM blocks\.\nFound 8 allocated IPs\.\nFound 1 handles\.\nFound 0 IPs that are allocated in IPAM but not actually in use\.\nFound 0 problems\./);
      await ipam.autoAssign({ handle: 'orphan', attrs: { pod: 'ghost' }, node: 'node-gone', num4: 1, num6: 0 });
      const check2 = ok(await run(['ipam', 'check'])).stdout;
      assert.match(check2, /Found 1 problems\.\n  IP 10\.244\.\d+\.\d+ \(handle orphan\) is allocated to node node-gone, which does not exist/);
      await ipam.releaseByHandle('orphan');
      await deleteWorkloadRecord(store, 'k8s-pod-network.abc');
      await ipam.releaseByHandle('k8s-pod-network.abc');
    } finally { await store.close(); }
  });

  it('ipam check reports allocations whose workload is gone; -o writes calicoctl\'s report; release --from-report releases exactly those', async () => {
    const store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger: silentLogger() });
    try {
      const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
      const ipam = new Ipam({ store, datastore, logger: silentLogger() });
      const one = async (handle: string, pod: string): Promise<string> =>
        (await ipam.autoAssign({ handle, attrs: { pod, namespace: 'rep', node: 'node-1' }, node: 'node-1', num4: 1, num6: 0 })).ipv4[0]?.address ?? '';
      const live = await one('rep-live', 'live-0');
      await putWorkloadRecord(store, { handle: 'rep-live', node: 'node-1', iface: 'cali1', addresses: [`${live}/32`], pod: 'live-0', namespace: 'rep' });
      const gone = await one('rep-gone', 'gone-0');       // its pod went away without CNI DEL reaching IPAM
      const racing = await one('rep-racing', 'race-0');   // an ADD in progress when the report is taken
      await store.create('/tortie/ipam/v2/handle/rep-empty', JSON.stringify({ handleID: 'rep-empty', block: {} }));
      const reportFile = join(dir, 'report.json');
      const check = ok(await run(['ipam', 'check', '-o', reportFile])).stdout;
      assert.match(check, new RegExp(`IP ${gone.replace(/\./g, '\\.')} \\(handle rep-gone, workload rep/gone-0 on node node-1\\) is allocated but no running workload or node uses it`));
      assert.match(check, /handle rep-empty holds no address \(leaked handle\)/);
      assert.match(check, new RegExp(`Report written to ${reportFile.replace(/[./]/g, (c) => `\\${c}`)}`));
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as IpamReport;
      assert.match(report.clusterGUID, /^[0-9a-f-]{36}$/);
      assert.equal(report.datastoreLocked, false);
      assert.ok(matchesSubset(report.allocations[live]?.[0], { ip: live, handle: 'rep-live', pod: 'live-0', namespace: 'rep', node: 'node-1', inUse: true, owners: ['Workload(rep/live-0)'] }));
      assert.ok(matchesSubset(report.allocations[gone]?.[0], { ip: gone, handle: 'rep-gone', inUse: false, owners: [] }));
      assert.equal(typeof report.allocations[gone]?.[0]?.sequenceNumber, 'number');
      assert.deepEqual(report.leakedHandles?.map((h) => h.ID), ['rep-empty']);

      // Refused: a report of another cluster; a report of another version without --force.
      const other = file('other.json', JSON.stringify({ ...report, clusterGUID: '00000000-0000-0000-0000-000000000000' }));
      const bad = await run(['ipam', 'release', '--from-report', other]);
      assert.equal(bad.code, 1); assert.match(bad.stderr, /mismatched cluster GUID\. Refusing to release/);
      const old = file('old.json', JSON.stringify({ ...report, version: 'v0.0.1' }));
      const badV = await run(['ipam', 'release', '--from-report', old]);
      assert.equal(badV.code, 1); assert.match(badV.stderr, /different version \(v0\.0\.1\) of tortiectl\. Refusing to release/);

      // The racing ADD finished after the report: its record now exists, so it is left alone.
      await putWorkloadRecord(store, { handle: 'rep-racing', node: 'node-1', iface: 'cali2', addresses: [`${racing}/32`], pod: 'race-0', namespace: 'rep' });
      const rel = ok(await run(['ipam', 'release', '--from-report', reportFile])).stdout;
      assert.match(rel, /Releasing 2 old IPs\.\.\.\n  [\d.]+ changed since the report \(re-assigned or now in use\): skipped\nReleased 1 IPs successfully\n/);
      assert.match(rel, /Released 1 handles; 0 skipped; 0 errors\./);
      assert.equal(await ipam.addressInfo(gone), undefined, 'the leaked address is free');
      assert.equal((await ipam.addressInfo(live))?.handle, 'rep-live', 'the live one stays');
      assert.equal((await ipam.addressInfo(racing))?.handle, 'rep-racing', 'the one in use since the report stays');
      assert.equal(await store.get('/tortie/ipam/v2/handle/rep-empty'), undefined);
      // Idempotent: a second run finds everything already cleaned up.
      const again = ok(await run(['ipam', 'release', '--from-report', reportFile])).stdout;
      assert.match(again, /1 addresses marked as leaked in the report had already been cleaned up\./);
      for (const h of ['rep-live', 'rep-racing']) { await deleteWorkloadRecord(store, h); await ipam.releaseByHandle(h); }
    } finally { await store.close(); }
  });

  it('delete ippool releases its block affinities as calicoctl does: empty blocks deleted, used ones kept without affinity', async () => {
    const store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger: silentLogger() });
    try {
      const datastore = new KvDatastore({ store, clock: systemClock, logger: silentLogger() });
      const ipam = new Ipam({ store, datastore, logger: silentLogger() });
      ok(await run(['apply', '-f', file('gc-pool.yaml', 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: gc-pool}\nspec: {cidr: 10.239.0.0/24, blockSize: 28}\n')]));
      const used = await ipam.autoAssign({ handle: 'gc-used', attrs: { pod: 'p' }, node: 'gc-node-a', num4: 1, num6: 0, ipv4Pools: ['gc-pool'] });
      const usedBlock = used.ipv4[0]?.block ?? '';
      // Node b claims a block in the pool and gives its address back: an empty affine block.
      const emptyBlock = (await ipam.autoAssign({ handle: 'gc-tmp', attrs: {}, node: 'gc-node-b', num4: 1, num6: 0, ipv4Pools: ['gc-pool'] })).ipv4[0]?.block ?? '';
      await ipam.releaseByHandle('gc-tmp');
      assert.match(emptyBlock, /^10\.239\.0\.\d+\/28$/);
      const aff = async (node: string): Promise<number> => (await store.list(`/tortie/ipam/v2/host/${node}/`)).entries.length;
      assert.equal(await aff('gc-node-a'), 1);
      assert.equal(ok(await run(['delete', 'ippool', 'gc-pool'])).stdout, "Successfully deleted 1 'IPPool' resource(s)\n");
      assert.equal(await aff('gc-node-a'), 0, 'affinity released');
      assert.equal(await aff('gc-node-b'), 0, 'affinity released');
      assert.equal(await store.get(`/tortie/ipam/v2/assignment/ipv4/block/${emptyBlock.replace('/', '-')}`), undefined, 'the empty block is deleted');
      const b = await store.get(`/tortie/ipam/v2/assignment/ipv4/block/${usedBlock.replace('/', '-')}`);
      assert.ok(b !== undefined, 'the block holding an address stays');
      assert.equal((JSON.parse(b.value) as { affinity: unknown }).affinity, null, 'without affinity');
      assert.equal((await ipam.addressInfo(used.ipv4[0]?.address ?? ''))?.handle, 'gc-used', 'the address stays allocated');
      assert.equal(await datastore.get('IPPool', 'gc-pool'), undefined);
      await ipam.releaseByHandle('gc-used');
    } finally { await store.close(); }
  });

  it('node status renders the agent\'s answer like calicoctl, then its BFD sessions; no agent → not running', async () => {
    const sock = join(dir, 'node.ctl');
    const requests: string[] = [];
    const server = createServer((c) => {
      c.on('data', (d: Buffer) => {
        requests.push(d.toString());
        if (d.toString().includes('bfd-status')) {
          c.end(`${JSON.stringify({ ok: true, sessions: [{ peerIP: '10.0.0.1', multihop: false, state: 'Up', remoteState: 'Up', txIntervalMs: 100, detectTimeMs: 300, diag: 'No Diagnostic' }] })}\n`);
          return;
        }
        c.end(`${JSON.stringify({ ok: true, processRunning: true, peers: [
          { peerIP: '10.0.3.8', family: 4, type: 'node-to-node mesh', state: 'up', since: '08:15:42', info: 'Established' },
          { peerIP: '10.0.0.1', family: 4, type: 'global', state: 'start', since: '2024-03-01', info: 'Connect' }] })}\n`);
      });
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      const r = ok(await run(['node', 'status'], undefined, { TORTIE_NODE_CTL: sock }));
      assert.equal(r.stdout, `Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+------------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |    INFO     |
+--------------+-------------------+-------+------------+-------------+
| 10.0.3.8     | node-to-node mesh | up    | 08:15:42   | Established |
| 10.0.0.1     | global            | start | 2024-03-01 | Connect     |
+--------------+-------------------+-------+------------+-------------+

IPv6 BGP status
No IPv6 peers found.

BFD sessions
+--------------+------------+-------+--------+-------+-----------+---------------+
| PEER ADDRESS |    TYPE    | STATE | REMOTE | TX MS | DETECT MS |  DIAGNOSTIC   |
+--------------+------------+-------+--------+-------+-----------+---------------+
| 10.0.0.1     | single-hop | Up    | Up     |   100 |       300 | No Diagnostic |
+--------------+------------+-------+--------+-------+-----------+---------------+
`);
      assert.deepEqual(requests.map((q) => JSON.parse(q) as unknown), [{ command: 'bgp-status' }, { command: 'bfd-status' }]);
    } finally { await new Promise<void>((r) => server.close(() => r())); }
    const gone = await run(['node', 'status'], undefined, { TORTIE_NODE_CTL: join(dir, 'absent.ctl') });
    assert.equal(gone.code, 1);
    assert.equal(gone.stdout, 'Calico process is not running.\n');
  });

  it('version', async () => {
    assert.match(ok(await run(['version'])).stdout, /^Client Version:\s+v\d+\.\d+\.\d+\n/);
  });

  it('multi-document apply reports the count; the List from get -o yaml re-applies', async () => {
    const text = Object.values(MANIFESTS).join('---\n');
    assert.equal(ok(await run(['apply', '-f', file('all.yaml', text)])).stdout, 'Successfully applied 7 resource(s)\n');
    assert.equal(parseAllDocuments(text).length, 7);
  });

  it('Calico\'s route-reflector fixture (label routeReflector: true) applies; the stored label is "true"', async () => {
    const node = 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: rr-1\n  labels:\n    routeReflector: true\n    rack: 7\nspec:\n  bgp:\n    ipv4Address: 10.0.9.1/24\n    routeReflectorClusterID: 244.0.0.1\n';
    ok(await run(['apply', '-f', '-'], node));
    const got = parse(ok(await run(['get', 'node', 'rr-1', '-o', 'yaml'])).stdout) as { metadata: { labels: Record<string, unknown> } };
    assert.deepEqual(got.metadata.labels, { routeReflector: 'true', rack: '7' });
    const sel = 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: to-rr}\nspec: {nodeSelector: "!has(routeReflector)", peerSelector: routeReflector == \'true\'}\n';
    ok(await run(['apply', '-f', '-'], sel));
  });

  it('a document larger than etcd takes is refused before it is read in full, naming it; nothing is written', async () => {
    const big = `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: fine}\nspec: {cidr: 10.61.0.0/16}\n---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: huge\n  annotations:\n    blob: ${'x'.repeat(3 << 20)}\nspec: {cidr: 10.62.0.0/16}\n`;
    const r = await run(['apply', '-f', file('big.yaml', big)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /big\.yaml: document 1: line 6 \(IPPool\(huge\)\): larger than 1\.5 MiB, etcd's request size limit/);
    assert.equal((await run(['get', 'ippool', 'fine'])).code, 1, 'nothing written');
    // TORTIE_MAX_REQUEST_BYTES follows an etcd started with a larger --max-request-bytes.
    assert.match((await run(['validate', '-f', file('big.yaml', big)], undefined, { TORTIE_MAX_REQUEST_BYTES: String(8 << 20) })).stdout, /validated 2/);
  });

  it('overlapping IPPools are refused as calicoctl refuses them, in the datastore and within one manifest', async () => {
    const pool = (name: string, cidr: string): string => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ${name}}\nspec: {cidr: ${cidr}}\n`;
    ok(await run(['create', '-f', '-'], pool('ov-a', '10.70.0.0/16')));
    const r = await run(['apply', '-f', '-'], pool('ov-b', '10.70.8.0/24'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /IPPool\(ov-b\) CIDR overlaps with IPPool\(ov-a\) CIDR 10\.70\.0\.0\/16/);
    ok(await run(['apply', '-f', '-'], pool('ov-a', '10.70.0.0/16'))); // re-applying the same pool is no overlap
    const both = await run(['apply', '-f', '-'], `${pool('ov-c', '10.71.0.0/24')}---\n${pool('ov-d', '10.71.0.128/25')}`);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /nothing was written:\n<stdin>: IPPool\(ov-d\) CIDR overlaps with IPPool\(ov-c\) CIDR 10\.71\.0\.0\/24/);
    assert.equal((await run(['get', 'ippool', 'ov-c'])).code, 1, 'the first pool was not written either');
  });

  it('ipam split: a pool becomes N equal pools named split-<name>-<i>, fields kept, the old one gone (calicoctl ipam split)', async () => {
    ok(await run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: sp}\nspec: {cidr: 10.74.0.0/24, blockSize: 28, natOutgoing: true, vxlanMode: CrossSubnet, nodeSelector: "rack == \'a\'"}\n'));
    assert.match((await run(['ipam', 'split', '3', '--name', 'sp'])).stderr, /not a valid power of 2: 3/);
    assert.match((await run(['ipam', 'split', '32', '--name', 'sp'])).stderr, /spec\.blockSize|prefix|would be invalid/, 'a /29 pool cannot hold a /28 block');
    assert.match((await run(['ipam', 'split', '512', '--cidr', '10.74.0.0/24'])).stderr, /not large enough to be split into 512 parts/);
    assert.match((await run(['ipam', 'split', '4'])).stderr, /no name or CIDR provided/);
    const r = ok(await run(['ipam', 'split', '4', '--cidr', '10.74.0.0/24']));
    assert.equal(r.stdout, 'IP Pool sp was successfully split into 4 smaller pools.\n'
      + [0, 1, 2, 3].map((i) => `Created split-sp-${i} with CIDR 10.74.0.${i * 64}/26.\n`).join(''));
    assert.equal((await run(['get', 'ippool', 'sp'])).code, 1, 'the old pool is gone');
    const got = JSON.parse(ok(await run(['get', 'ippool', 'split-sp-2', '-o', 'json'])).stdout) as { spec: Record<string, unknown> };
    assert.deepEqual({ cidr: got.spec['cidr'], blockSize: got.spec['blockSize'], natOutgoing: got.spec['natOutgoing'], vxlanMode: got.spec['vxlanMode'], nodeSelector: got.spec['nodeSelector'], disabled: got.spec['disabled'] },
      { cidr: '10.74.0.128/26', blockSize: 28, natOutgoing: true, vxlanMode: 'CrossSubnet', nodeSelector: "rack == 'a'", disabled: false });
    for (let i = 0; i < 4; i++) ok(await run(['delete', 'ippool', `split-sp-${i}`]));
  });

  it('a field Tortie cannot act on as Calico does is applied and reported, naming resource and field', async () => {
    const r = await run(['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: ns-team}\nspec: {cidr: 10.72.0.0/24, namespaceSelector: "team == \'x\'"}\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Warning: IPPool\(ns-team\): spec\.namespaceSelector: Tortie has no Kubernetes API/);
    assert.match(r.stdout, /Successfully applied 1 'IPPool'/);
    const bgp = await run(['apply', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: vm-peers}\nspec: {localWorkloadSelector: "app == \'bgp\'", asNumber: 65100}\n'
      + '---\napiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {localWorkloadPeeringIPV4: 169.254.0.179, serviceLoadBalancerAggregation: Disabled}\n');
    assert.equal(bgp.code, 0, bgp.stderr);
    assert.match(bgp.stderr, /Warning: BGPPeer\(vm-peers\): spec\.localWorkloadSelector: Tortie has no Kubernetes API/);
    assert.match(bgp.stderr, /Warning: BGPConfiguration\(default\): spec\.localWorkloadPeeringIPV4: /);
    assert.match(bgp.stderr, /Warning: BGPConfiguration\(default\): spec\.serviceLoadBalancerAggregation: Disabled: /);
  });
});
