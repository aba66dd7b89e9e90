/**
 * Manifests as Calico's client reads them (go-yaml v2 + ghodss/yaml + encoding/json), and the
 * bounds on hostile input (document size against etcd's request limit, problem count, memory).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DocumentSplitter, loadManifest, ManifestError, MAX_PROBLEMS, ETCD_DEFAULT_MAX_REQUEST_BYTES } from '../../../agent/resources/manifest.js';
import { formatFloat32 } from '../../../agent/resources/go-yaml.js';
import { ManifestSpool } from '../../../agent/ctl/manifest-spool.js';
import type { CalicoNode, IPPool, BGPPeer, Resource } from '../../../agent/resources/kinds.js';

describe('manifests Calico\'s client accepts', () => {
  it('YAML booleans and numbers as label values become the strings calicoctl stores', async () => {
    // Calico's route-reflector docs and fixtures label nodes with `routeReflector: true`.
    const [n] = await loadManifest(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: rr1
  labels:
    routeReflector: true
    rack: 42
    weight: 1.5
    legacy: yes
    off-switch: off
    date: 2024-01-02
    octal: 0755
    quoted: "true"
  annotations:
    projectcalico.org/RouteReflectorClusterID: 244.0.0.1
    build: 7
    big: 1234567.5
spec:
  bgp:
    ipv4Address: 10.0.0.1/24
    routeReflectorClusterID: 244.0.0.1
`, 'rr.yaml') as CalicoNode[];
    assert.deepEqual(n?.metadata.labels, { routeReflector: 'true', rack: '42', weight: '1.5', legacy: 'true',
      'off-switch': 'false', date: '2024-01-02', octal: '493', quoted: 'true' });
    assert.deepEqual(n?.metadata.annotations, { 'projectcalico.org/RouteReflectorClusterID': '244.0.0.1', build: '7', big: '1.2345675e+06' });
  });

  it('YAML 1.1 booleans on boolean fields, numbers on string fields, null as absent', async () => {
    const [p, peer] = await loadManifest(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: p, labels: null}
spec: {cidr: 10.7.0.0/16, natOutgoing: yes, disabled: off, disableBGPExport: null}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: by-node}
spec: {node: 7, peerIP: 10.0.0.9, asNumber: 64512, filters: [12]}
`, 'mixed.yaml') as [IPPool, BGPPeer];
    assert.equal(p.spec.natOutgoing, true);
    assert.equal(p.spec.disabled, false);
    assert.equal('disableBGPExport' in p.spec, false);
    assert.equal(p.metadata.labels, undefined);
    assert.equal(peer.spec.node, '7');
    assert.deepEqual(peer.spec.filters, ['12']);
    assert.equal(peer.spec.asNumber, 64512);
  });

  it('field names match regardless of case, as encoding/json matches them; an exact name wins', async () => {
    const [p] = await loadManifest('APIVersion: projectcalico.org/v3\nKind: IPPool\nMetadata: {Name: p}\nSpec: {CIDR: 10.8.0.0/16, NatOutgoing: true, IPIPMode: Always, BlockSize: 24}\n', 'case.yaml') as IPPool[];
    assert.equal(p?.metadata.name, 'p');
    assert.deepEqual([p?.spec.cidr, p?.spec.natOutgoing, p?.spec.ipipMode, p?.spec.blockSize], ['10.8.0.0/16', true, 'Always', 24]);
    await assert.rejects(loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: q}\nspec: {cidr: 10.9.0.0/16, CIDR: 10.10.0.0/16}\n', 'dup.yaml'),
      (e: unknown) => e instanceof ManifestError && /spec\.CIDR: unknown field/.test(e.message));
  });

  it('what calicoctl refuses stays refused: a map where a string goes, a string where a number goes', async () => {
    await assert.rejects(loadManifest('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n, labels: {a: {b: c}}}\nspec: {}\n', 'm.yaml'),
      (e: unknown) => e instanceof ManifestError && /metadata\.labels\.a/.test(e.message));
    await assert.rejects(loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.7.0.0/16, blockSize: "26"}\n', 'b.yaml'),
      (e: unknown) => e instanceof ManifestError && /spec\.blockSize/.test(e.message));
  });

  it('floats print as Go\'s FormatFloat(v, \'g\', -1, 32)', () => {
    const cases: Array<[number, string]> = [[1.5, '1.5'], [0.1, '0.1'], [1e6, '1e+06'], [123456, '123456'], [123456789, '1.2345679e+08'],
      [1e-5, '1e-05'], [0.0001, '0.0001'], [NaN, 'NaN'], [Infinity, '+Inf']];
    for (const [v, want] of cases) assert.equal(formatFloat32(v), want, String(v));
  });
});

describe('hostile manifests', () => {
  const limits = { maxRequestBytes: 64 * 1024 };
  const pool = (name: string, extra = ''): string => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\n${extra}spec: {cidr: 10.1.0.0/16}\n`;

  it('a document larger than etcd takes is refused while it streams in, naming it', () => {
    const s = new DocumentSplitter('big.yaml', limits);
    assert.equal(s.push(`${pool('small')}---\n`).length, 1);
    s.push(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: huge\n  annotations:\n    blob: `);
    // The refusal comes on the chunk that crosses the limit: nothing after it is read or kept.
    assert.throws(() => { for (let i = 0; i < 100; i++) s.push('x'.repeat(4096)); },
      (e: unknown) => e instanceof ManifestError && e.problems[0]?.document === 1
        && /line 7 \(IPPool\(huge\)\): larger than 64 KiB, etcd's request size limit/.test(e.message));
  });

  it('the default limit is etcd\'s --max-request-bytes default', () => assert.equal(ETCD_DEFAULT_MAX_REQUEST_BYTES, 1572864));

  it('a List may exceed one value; each item is held to the limit, by name', async () => {
    const item = (i: number, pad: number): unknown => ({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool',
      metadata: { name: `p${i}`, annotations: { pad: 'x'.repeat(pad) } }, spec: { cidr: `10.${i}.0.0/16` } });
    const ok = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPoolList', items: Array.from({ length: 10 }, (_, i) => item(i, 20_000)) });
    assert.ok(ok.length > limits.maxRequestBytes);
    assert.equal((await loadManifest(ok, 'list.json', limits)).length, 10);
    const yamlList = `apiVersion: projectcalico.org/v3\nkind: IPPoolList\nitems:\n${Array.from({ length: 10 }, (_, i) => `- apiVersion: projectcalico.org/v3\n  kind: IPPool\n  metadata: {name: y${i}, annotations: {pad: ${'y'.repeat(20_000)}}}\n  spec: {cidr: 10.${i}.0.0/16}\n`).join('')}`;
    assert.equal((await loadManifest(yamlList, 'list.yaml', limits)).length, 10);
    const tooBig = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPoolList', items: [item(1, 100), item(2, 70_000)] });
    await assert.rejects(loadManifest(tooBig, 'list.json', limits), (e: unknown) => e instanceof ManifestError && e.problems.length === 1
      && /document 0 items\[1\]: IPPool\(p2\): stored it would be about \d+ bytes, over etcd's request size limit of 65536 bytes/.test(e.message));
  });

  it('reading stops after a bounded number of problems', async () => {
    const bad = Array.from({ length: MAX_PROBLEMS * 3 }, (_, i) => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: b${i}}\nspec: {cidr: 10.1.0.1/16}\n`).join('---\n');
    await assert.rejects(loadManifest(bad, 'bad.yaml'), (e: unknown) => e instanceof ManifestError && e.problems.length === MAX_PROBLEMS
      && /stopped after 100 problems/.test(e.message));
  });

  it('documents split only at --- and ... lines; separators with inline content and comments', async () => {
    const rs = await loadManifest(`# leading comment\n${pool('a')}--- # comment\n${pool('b')}...\n---\n${pool('c', '  annotations: {x: "---"}\n')}`, 's.yaml');
    assert.deepEqual(rs.map((r) => r.metadata.name), ['a', 'b', 'c']);
  });

  it('the spool keeps resources in file order and removes its file', () => {
    const spool = new ManifestSpool();
    const mk = (i: number): Resource => ({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: `p${i}` },
      spec: { cidr: '10.1.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', nodeSelector: 'all()', allowedUses: ['Workload'], assignmentMode: 'Automatic' } }) as Resource;
    for (let i = 0; i < 2500; i++) spool.add(mk(i));
    const names = [...spool].map((r) => r.metadata.name);
    assert.equal(names.length, 2500);
    assert.deepEqual(names.slice(998, 1002), ['p998', 'p999', 'p1000', 'p1001']);
    assert.equal(names[2499], 'p2499');
    const dir = (spool as unknown as { dir: string }).dir;
    assert.ok(existsSync(dir), 'spilled past the in-memory part');
    spool.close();
    assert.ok(!existsSync(dir));
  });
});
