/** WorkloadReaper against fakes: two looks a grace apart before a vanished workload is reaped. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Clock, TimerHandle } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import type { NetlinkEvent } from '../../../felix/netlink/types.js';
import { WorkloadReaper } from '../../../agent/node/workload-reaper.js';

class StepClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number { return this.t; }
  wallNow(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const e = { at: this.t + ms, fn, live: true };
    this.timers.push(e);
    return { cancel: () => { e.live = false; } };
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= this.t);
      if (due.length === 0) break;
      for (const d of due) { d.live = false; d.fn(); }
      await new Promise((r) => setImmediate(r));
    }
    this.timers = this.timers.filter((x) => x.live);
    await new Promise((r) => setImmediate(r));
  }
}

function setup() {
  const clock = new StepClock();
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
  await clock.advance(0); // the first look
  await clock.advance(500);
  assert.deepEqual(released, [], 'not before the grace');
  await clock.advance(600);
  assert.deepEqual(released, ['ctr-a']);
  assert.ok(!endpoints.has('ctr-a') && endpoints.has('ctr-b') && endpoints.has('adopted:caliZ:10.0.0.9/32'));
  reaper.stop();
});

test('a host side re-created within the grace (a re-ADD of the same pod) is not reaped', async () => {
  const { clock, links, endpoints, released, reaper, del } = setup();
  links.delete('caliB');
  del('caliB');
  await clock.advance(200);
  links.add('caliB');
  await clock.advance(2000);
  assert.deepEqual(released, []);
  assert.ok(endpoints.has('ctr-b'));
  reaper.stop();
});

test('a deletion whose notification was lost is found by the periodic sweep', async () => {
  const { clock, links, released, reaper } = setup();
  links.delete('caliB');
  await clock.advance(30_000);
  assert.deepEqual(released, []);
  await clock.advance(1100);
  assert.deepEqual(released, ['ctr-b']);
  reaper.stop();
});
