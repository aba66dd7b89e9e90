/** WorkloadReaper against fakes: two looks a grace apart before a vanished workload is reaped. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { silentLogger } from '../../../common/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import type { NetlinkEvent } from '../../../felix/netlink/types.js';
import { WorkloadReaper } from '../../../agent/node/workload-reaper.js';

function setup() {
  const clock = new FakeClock(0);
  const links = new Set(['caliA', 'caliB']);
  const endpoints = new Map([['ctr-a', { iface: 'caliA' }], ['ctr-b', { iface: 'caliB' }], ['adopted:caliZ:10.0.0.9/32', { iface: 'caliZ' }]]);
  const released: string[] = [];
  let handler: ((e: NetlinkEvent) => void) | undefined;
  const reaper = new WorkloadReaper({
    clock, logger: silentLogger(), subscribe: (h) => { handler = h; return () => { handler = undefined; }; },
    ifindexOf: (n) => (links.has(n) ? 7 : undefined), endpoints: () => endpoints.entries(),
    removeEndpoint: (id) => endpoints.delete(id), syncNow: async () => undefined,
    releaseByHandle: async (h) => { released.push(h); return ['10.0.0.1']; },
  }, { graceMs: 1000, sweepMs: 30_000 });
  reaper.start();
  const del = (name: string): void => handler?.({ type: 'link', action: 'del', link: { index: 7, name, kind: 'veth', mtu: 1500, up: false, operUp: false } });
  return { clock, links, endpoints, released, reaper, del };
}

test('an interface gone at two looks a grace apart: endpoint removed, handle released; others and adopted ones kept', async () => {
  const { clock, links, endpoints, released, reaper, del } = setup();
  links.delete('caliA');
  del('caliA');
  await clock.advanceAsync(0); // the first look
  await clock.advanceAsync(500);
  assert.deepEqual(released, [], 'not before the grace');
  await clock.advanceAsync(600);
  assert.deepEqual(released, ['ctr-a']);
  assert.ok(!endpoints.has('ctr-a') && endpoints.has('ctr-b') && endpoints.has('adopted:caliZ:10.0.0.9/32'));
  reaper.stop();
});

test('a host side re-created within the grace (a re-ADD of the same pod) is not reaped', async () => {
  const { clock, links, endpoints, released, reaper, del } = setup();
  links.delete('caliB');
  del('caliB');
  await clock.advanceAsync(200);
  links.add('caliB');
  await clock.advanceAsync(2000);
  assert.deepEqual(released, []);
  assert.ok(endpoints.has('ctr-b'));
  reaper.stop();
});

test('a deletion whose notification was lost is found by the periodic sweep', async () => {
  const { clock, links, released, reaper } = setup();
  links.delete('caliB');
  await clock.advanceAsync(30_000);
  assert.deepEqual(released, []);
  await clock.advanceAsync(1100);
  assert.deepEqual(released, ['ctr-b']);
  reaper.stop();
});
