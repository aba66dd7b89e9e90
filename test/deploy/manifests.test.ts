/**
 * deploy/ is checked against the Kubernetes schemas (kubernetes-models ships the OpenAPI
 * validators offline), and install-cni.sh is run for real into temporary host directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { sh } from '../helpers/sh.js';

const root = new URL('../../../', import.meta.url).pathname;

interface Validatable { validate(): void }
type ModelCtor = new (data: unknown) => Validatable;

async function modelFor(apiVersion: string, kind: string): Promise<ModelCtor> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const modulePath = group === '' ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  const mod = (await import(modulePath)) as Record<string, unknown>;
  const ctor = mod[kind];
  assert.equal(typeof ctor, 'function', `no schema for ${apiVersion} ${kind}`);
  return ctor as ModelCtor;
}

function manifestDocs(): Array<Record<string, unknown>> {
  const docs = parseAllDocuments(readFileSync(join(root, 'deploy/tortie.yaml'), 'utf8'));
  return docs.map((d, i) => {
    assert.deepEqual(d.errors, [], `deploy/tortie.yaml document ${i} does not parse`);
    return d.toJS() as Record<string, unknown>;
  }).filter((d) => d !== null);
}

test('every document in deploy/tortie.yaml validates against its Kubernetes schema', async () => {
  const docs = manifestDocs();
  const kinds = docs.map((d) => d['kind']);
  assert.deepEqual(kinds.sort(), ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Secret', 'ServiceAccount']);
  for (const doc of docs) {
    const Model = await modelFor(String(doc['apiVersion']), String(doc['kind']));
    assert.doesNotThrow(() => new Model(doc).validate(), `${String(doc['kind'])} is invalid`);
  }
});

test('the schema check catches a broken manifest (the validator is not a no-op)', async () => {
  const ds = structuredClone(manifestDocs().find((d) => d['kind'] === 'DaemonSet'));
  assert.ok(ds);
  const spec = ((ds['spec'] as Record<string, unknown>)['template'] as Record<string, Record<string, unknown>>)['spec'];
  ((spec?.['containers'] as Array<Record<string, unknown>>)[0] as Record<string, unknown>)['image'] = 5;
  const Model = await modelFor('apps/v1', 'DaemonSet');
  assert.throws(() => new Model(ds).validate(), /image must be string/);
});

/** Walk a parsed YAML value by keys and array indexes; undefined when the path is absent. */
function dig(value: unknown, ...path: Array<string | number>): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

test('the agent runs with capabilities, not privilege, and probes Calico\'s health port', () => {
  const pod = dig(manifestDocs().find((d) => d['kind'] === 'DaemonSet'), 'spec', 'template', 'spec');
  assert.equal(dig(pod, 'hostNetwork'), true);
  const containers = dig(pod, 'containers') as unknown[];
  const agent = containers.find((c) => dig(c, 'name') === 'tortie-node');
  assert.equal(dig(agent, 'securityContext', 'privileged'), undefined);
  assert.deepEqual(dig(agent, 'securityContext', 'capabilities', 'add'), ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE']);
  assert.equal(dig(agent, 'livenessProbe', 'httpGet', 'port'), 9099);
  assert.equal(dig(agent, 'readinessProbe', 'httpGet', 'path'), '/readiness');
  const names = (dig(agent, 'env') as unknown[]).map((e) => dig(e, 'name'));
  for (const name of ['NODENAME', 'ETCD_ENDPOINTS', 'DATASTORE_TYPE', 'IP_AUTODETECTION_METHOD', 'CALICO_IPV4POOL_CIDR']) {
    assert.ok(names.includes(name), `calico-node environment variable ${name} is set`);
  }
});

test('install-cni.sh writes the plugin wrappers and a filled-in conflist atomically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-install-cni-'));
  try {
    const home = join(dir, 'opt-tortie');
    sh('mkdir', ['-p', join(home, 'dist/agent/cni'), join(home, 'node_modules')]);
    sh('cp', [join(root, 'package.json'), home]);
    const cm = manifestDocs().find((d) => d['kind'] === 'ConfigMap') as { data: Record<string, string> };
    const env = {
      ...process.env, CNI_BIN_DIR: join(dir, 'bin'), CNI_NET_DIR: join(dir, 'net.d'), TORTIE_HOME: home,
      CNI_NETWORK_CONFIG: cm.data['cni_network_config'] ?? '', ETCD_ENDPOINTS: 'http://10.0.0.1:2379', CNI_MTU: '1440',
    };
    const out = sh('env', [...Object.entries(env).map(([k, v]) => `${k}=${v ?? ''}`), 'sh', join(root, 'deploy/install-cni.sh')]);
    assert.match(out, /wrote/);
    const conf = JSON.parse(readFileSync(join(dir, 'net.d/10-tortie.conflist'), 'utf8')) as { cniVersion: string; plugins: Array<Record<string, unknown>> };
    assert.equal(conf.cniVersion, '1.0.0');
    assert.equal(conf.plugins[0]?.['etcd_endpoints'], 'http://10.0.0.1:2379');
    assert.equal(conf.plugins[0]?.['mtu'], 1440);
    assert.ok((statSync(join(dir, 'bin/tortie')).mode & 0o111) !== 0, 'wrapper is executable');
    assert.ok(existsSync(join(dir, 'bin/tortie.d/node')), 'Node.js runtime copied next to the plugin');
    assert.ok(!existsSync(join(dir, 'net.d/.10-tortie.conflist.tmp')), 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('install-cni.sh installs every chained plugin the conflist names, as Calico\'s install-cni does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-install-cni-'));
  try {
    const home = join(dir, 'opt-tortie');
    sh('mkdir', ['-p', join(home, 'dist/agent/cni'), join(home, 'node_modules'), join(home, 'cni')]);
    sh('cp', [join(root, 'package.json'), home]);
    const cm = manifestDocs().find((d) => d['kind'] === 'ConfigMap') as { data: Record<string, string> };
    const chained = (JSON.parse((cm.data['cni_network_config'] ?? '').replace('__CNI_MTU__', '0')) as { plugins: Array<{ type: string }> })
      .plugins.map((p) => p.type).filter((t) => t !== 'tortie');
    assert.deepEqual(chained, ['portmap'], 'hostPort support, as in Calico\'s conflist');
    // The image's cni/ holds Debian's plugin binaries (deploy/Dockerfile); a marker file stands in here,
    // since what is checked is where install-cni.sh puts them.
    for (const name of chained) writeFileSync(join(home, 'cni', name), `#!/bin/sh\necho ${name}-from-image\n`, { mode: 0o755 });
    const bin = join(dir, 'bin');
    const run = (extra: string[]): string => sh('env', [`CNI_BIN_DIR=${bin}`, `CNI_NET_DIR=${join(dir, 'net.d')}`, `TORTIE_HOME=${home}`,
      `CNI_NETWORK_CONFIG=${cm.data['cni_network_config'] ?? ''}`, ...extra, 'sh', join(root, 'deploy/install-cni.sh')]);
    run([]);
    for (const name of chained) {
      assert.ok((statSync(join(bin, name)).mode & 0o111) !== 0, `${name} installed, executable`);
      assert.equal(sh(join(bin, name), []).trim(), `${name}-from-image`);
      assert.ok(!existsSync(join(bin, `.${name}.tmp`)), 'no temporary file left');
    }
    // UPDATE_CNI_BINARIES=false keeps a host's own plugin; SKIP_CNI_BINARIES leaves one out.
    writeFileSync(join(bin, 'portmap'), '#!/bin/sh\necho host-portmap\n', { mode: 0o755 });
    run(['UPDATE_CNI_BINARIES=false']);
    assert.equal(sh(join(bin, 'portmap'), []).trim(), 'host-portmap');
    run([]);
    assert.equal(sh(join(bin, 'portmap'), []).trim(), 'portmap-from-image');
    rmSync(join(bin, 'portmap'));
    run(['SKIP_CNI_BINARIES=bandwidth,portmap']);
    assert.ok(!existsSync(join(bin, 'portmap')), 'skipped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the wrapper install-cni.sh writes runs the bundled plugin without NODE_EXTRA_CA_CERTS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-install-cni-'));
  try {
    const home = join(dir, 'opt-tortie');
    sh('mkdir', ['-p', join(home, 'dist/agent/cni'), join(home, 'node_modules')]);
    sh('cp', [join(root, 'package.json'), home]);
    sh('cp', [join(root, 'dist/agent/cni/tortie-cni.cjs'), join(home, 'dist/agent/cni/')]); // the build's bundle, as the image has it
    const bin = join(dir, 'bin');
    sh('env', [`CNI_BIN_DIR=${bin}`, `CNI_NET_DIR=${join(dir, 'net.d')}`, `TORTIE_HOME=${home}`, 'CNI_NETWORK_CONFIG={}', 'sh', join(root, 'deploy/install-cni.sh')]);
    // The wrapper names the host path /opt/cni/bin; point it at this temporary bin directory.
    const wrapper = readFileSync(join(bin, 'tortie'), 'utf8').replaceAll('/opt/cni/bin/', `${bin}/`);
    writeFileSync(join(dir, 'tortie'), wrapper, { mode: 0o755 });
    // Node warns on stderr when NODE_EXTRA_CA_CERTS names a missing file: silence proves the wrapper unset it.
    const r = spawnSync(join(dir, 'tortie'), [], {
      input: '{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"tortie"}', encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'VERSION', NODE_EXTRA_CA_CERTS: join(dir, 'no-such-ca.pem') },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { cniVersion: string }).cniVersion, '1.0.0');
    assert.equal(r.stderr, '', 'no NODE_EXTRA_CA_CERTS warning');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the standalone conflist is valid CNI 1.0 JSON', () => {
  const conf: unknown = JSON.parse(readFileSync(join(root, 'deploy/cni/10-tortie.conflist'), 'utf8'));
  assert.equal(dig(conf, 'cniVersion'), '1.0.0');
  assert.equal(dig(conf, 'plugins', 0, 'type'), 'tortie');
  assert.equal(dig(conf, 'plugins', 0, 'ipam', 'type'), 'tortie-ipam');
});
