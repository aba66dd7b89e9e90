/** tortiectl label: calicoctl's verb and messages, validated, CAS-written. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryKvStore } from '../../../agent/datastore/memory-kv-store.js';
import { KvDatastore } from '../../../agent/datastore/datastore.js';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { labelCmd } from '../../../agent/ctl/resource-commands.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

it('label sets, refuses to change without --overwrite, overwrites, removes, and validates the key and value', async () => {
  const ds = new KvDatastore({ store: new MemoryKvStore(), clock: systemClock, logger: silentLogger() });
  for (const r of await loadManifest('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: k8s-m, labels: {zone: a}}\nspec: {}\n', 'n.yaml')) await ds.apply(r);
  let out = '';
  const io = { out: (t: string) => { out += t; }, err: () => undefined, stdinFd: 0 };
  await labelCmd(ds, 'nodes', 'k8s-m', 'rack=rack1', {}, io);
  assert.equal(out, 'Successfully set label rack on nodes k8s-m\n');
  assert.deepEqual((await ds.get('Node', 'k8s-m'))?.metadata.labels, { zone: 'a', rack: 'rack1' });
  await assert.rejects(labelCmd(ds, 'nodes', 'k8s-m', 'rack=rack2', {}, io), /key rack is already present, please use '--overwrite'/);
  await labelCmd(ds, 'node', 'k8s-m', 'rack=rack2', { overwrite: true }, io);
  assert.equal((await ds.get('Node', 'k8s-m'))?.metadata.labels?.['rack'], 'rack2');
  out = '';
  await labelCmd(ds, 'nodes', 'k8s-m', 'zone', { remove: true }, io);
  assert.equal(out, 'Successfully removed label zone from nodes k8s-m\n');
  assert.deepEqual((await ds.get('Node', 'k8s-m'))?.metadata.labels, { rack: 'rack2' });
  await assert.rejects(labelCmd(ds, 'nodes', 'k8s-m', 'zone', { remove: true }, io), /label key zone is not found/);
  await assert.rejects(labelCmd(ds, 'nodes', 'k8s-m', 'bad=has space', {}, io), /metadata\.labels\.bad: invalid label value/);
  await assert.rejects(labelCmd(ds, 'nodes', 'nope', 'a=b', {}, io), /resource does not exist: Node\(nope\)/);
});
