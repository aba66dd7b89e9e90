/** RouteTable against FakeNetlink: example tests and a model-based (fast-check commands) test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RouteTable } from '../../../felix/routes/route-table.js';
import { blackholeRoute, ecmpRoute, resolveRoute, routeSignature, sameSubnetRoute, vxlanRoute, workloadRoute,
  type DesiredRoute } from '../../../felix/routes/route.js';
import { kernelRouteKey, type KernelRoute } from '../../../felix/netlink/types.js';
import { systemClock, type Clock, type TimerHandle } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import { FakeNetlink } from '../../fakes/netlink-fake.js';
import { pollUntil } from '../../helpers/poll.js';

/** A clock whose timers never fire by themselves (the model test drives apply() directly). */
const stillClock: Clock = { now: () => 0, wallNow: () => 0, setTimeout: (): TimerHandle => ({ cancel: () => undefined }) };

function setup(clock: Clock = stillClock, repairDelayMs = 20): { nl: FakeNetlink; rt: RouteTable } {
  const nl = new FakeNetlink();
  for (const n of ['eth0', 'cali1', 'cali2', 'vxlan.calico']) nl.externalAddLink(n);
  const rt = new RouteTable({ netlink: nl, clock, logger: silentLogger() }, { repairDelayMs, cleanupGraceMs: 0 });
  return { nl, rt };
}

function expectedSignatures(nl: FakeNetlink, desired: Iterable<DesiredRoute>): string[] {
  const idx = (n: string): number | undefined => [...nl.links.values()].find((l) => l.name === n)?.index;
  const out: string[] = [];
  for (const d of desired) {
    const r = resolveRoute(d, 254, 80, idx);
    if (r !== undefined) out.push(routeSignature(r));
  }
  return out.sort();
}
const kernelSignatures = (nl: FakeNetlink): string[] => nl.routesOfProtocol(80).map(routeSignature).sort();

const foreign: KernelRoute = { family: 4, dst: '10.0.1.0/24', table: 254, protocol: 4, type: 'unicast', scope: 'link', metric: 100, onlink: false, ifindex: 2 };

test('every route kind is programmed and read back; foreign routes untouched', async () => {
  const { nl, rt } = setup();
  nl.externalReplaceRoute(foreign);
  const desired = [
    workloadRoute('10.0.0.5', 'cali1'), workloadRoute('fd00::5', 'cali2'), blackholeRoute('10.0.1.0/26'),
    sameSubnetRoute('10.0.2.0/26', '192.168.1.2', 'eth0'), vxlanRoute('10.0.3.0/26', '10.0.3.0'),
    ecmpRoute('10.0.4.0/26', [{ iface: 'eth0', gateway: '192.168.1.2', onlink: true }, { iface: 'eth0', gateway: '192.168.1.3', onlink: true }]),
    blackholeRoute('fd00:1::/122'),
  ];
  rt.setDesiredRoutes(desired);
  const res = await rt.apply();
  assert.equal(res.failed, 0);
  assert.equal(res.updated, desired.length);
  assert.deepEqual(kernelSignatures(nl), expectedSignatures(nl, desired));
  assert.deepEqual(nl.routes.get(kernelRouteKey(foreign)), foreign);
  // A no-op resync reads the kernel and writes nothing.
  const before = nl.calls.length;
  rt.queueResync();
  const again = await rt.apply();
  assert.equal(again.resynced, true);
  assert.equal(nl.calls.length, before);
});

test('a route waits for its interface, then appears when the link does', async () => {
  const { nl, rt } = setup(systemClock);
  rt.setRoute(workloadRoute('10.0.9.9', 'cali9'));
  const r1 = await rt.apply();
  assert.equal(r1.pending, 1);
  assert.equal(nl.routesOfProtocol(80).length, 0);
  rt.start();
  nl.externalAddLink('cali9');
  await pollUntil(() => nl.routesOfProtocol(80).length === 1, { timeoutMs: 1000, what: 'route on cali9' });
  rt.stop();
});

test('repair from notifications within 1 s: deleted route restored, unwanted route of ours removed', async () => {
  const { nl, rt } = setup(systemClock, 20);
  rt.setDesiredRoutes([blackholeRoute('10.1.0.0/26'), workloadRoute('10.1.0.70', 'cali1')]);
  rt.start();
  await pollUntil(() => nl.routesOfProtocol(80).length === 2, { timeoutMs: 1000, what: 'initial routes' });
  const bh = nl.routesOfProtocol(80).find((r) => r.type === 'blackhole');
  assert.ok(bh);
  nl.externalDeleteRoute(kernelRouteKey(bh));
  nl.externalReplaceRoute({ family: 4, dst: '10.9.9.0/24', table: 254, protocol: 80, type: 'blackhole', scope: 'universe', metric: 0, onlink: false });
  nl.externalReplaceRoute({ ...foreign, dst: '10.9.8.0/24' });
  await pollUntil(() => {
    const ours = nl.routesOfProtocol(80).map((r) => r.dst).sort();
    return JSON.stringify(ours) === JSON.stringify(['10.1.0.0/26', '10.1.0.70/32']);
  }, { timeoutMs: 1000, what: 'repair' });
  assert.equal(nl.routesOfProtocol(4).length, 1, 'foreign route untouched');
  assert.ok(rt.stats.repairs >= 2);
  rt.stop();
});

test('ENOBUFS: lost notifications are recovered by a full resync', async () => {
  const { nl, rt } = setup(systemClock, 20);
  rt.setDesiredRoutes([blackholeRoute('10.2.0.0/26')]);
  rt.start();
  await pollUntil(() => nl.routesOfProtocol(80).length === 1, { timeoutMs: 1000 });
  const r = nl.routesOfProtocol(80)[0];
  assert.ok(r);
  nl.externalDeleteRoute(kernelRouteKey(r));
  nl.injectOverflow(); // the delete notification is lost
  await pollUntil(() => nl.routesOfProtocol(80).length === 1 && rt.stats.overflows === 1, { timeoutMs: 1000, what: 'resync after overflow' });
  assert.ok(rt.stats.resyncs >= 2);
  rt.stop();
});

test('a failed write stays pending and is retried; nothing is cleared on failure', async () => {
  const { nl, rt } = setup();
  nl.failNext('replaceRoute', 'EBUSY');
  rt.setDesiredRoutes([blackholeRoute('10.3.0.0/26'), blackholeRoute('10.3.1.0/26')]);
  const r1 = await rt.apply();
  assert.equal(r1.failed, 1);
  assert.equal(r1.updated, 1);
  assert.equal(rt.pendingCount, 1);
  const r2 = await rt.apply();
  assert.equal(r2.failed, 0);
  assert.equal(r2.resynced, true, 'an error triggers a full resync');
  assert.equal(nl.routesOfProtocol(80).length, 2);
});

test('cleanup grace: an unknown route on a new workload interface survives 10 s, then goes (D6)', async () => {
  let now = 1000;
  const timers: Array<{ at: number; fn: () => void }> = [];
  const clock: Clock = { now: () => now, wallNow: () => now, setTimeout: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return { cancel: () => { t.at = Infinity; } }; } };
  const nl = new FakeNetlink();
  const rt = new RouteTable({ netlink: nl, clock, logger: silentLogger() }, { repairDelayMs: 20 });
  rt.start();
  const cali = nl.externalAddLink('cali7');
  // The CNI plugin installs the route before we know the endpoint.
  nl.externalReplaceRoute({ family: 4, dst: '10.8.0.7/32', table: 254, protocol: 80, type: 'unicast', scope: 'link', metric: 0, onlink: false, ifindex: cali.index });
  await nl.flushEvents();
  const run = async (): Promise<void> => {
    for (const t of timers.splice(0).filter((x) => x.at <= now)) t.fn();
    await new Promise((r) => setImmediate(r));
    await rt.apply();
    await nl.flushEvents();
  };
  now += 5000;
  await run();
  assert.equal(nl.routesOfProtocol(80).length, 1, 'kept during the grace period');
  now += 6000;
  await run();
  assert.equal(nl.routesOfProtocol(80).length, 0, 'removed after the grace period');
  rt.stop();
});

test('periodic resync (90 s by default) repairs a change the kernel never told us about', async () => {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  const clock: Clock = { now: () => now, wallNow: () => now, setTimeout: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return { cancel: () => { t.at = Infinity; } }; } };
  const advance = async (ms: number): Promise<void> => {
    now += ms;
    for (;;) {
      const due = timers.filter((t) => t.at <= now);
      if (due.length === 0) break;
      for (const t of due) { t.at = Infinity; t.fn(); }
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
  };
  const nl = new FakeNetlink();
  nl.externalAddLink('eth0');
  const rt = new RouteTable({ netlink: nl, clock, logger: silentLogger() }, { cleanupGraceMs: 0 });
  rt.setDesiredRoutes([blackholeRoute('10.4.0.0/26')]);
  rt.start();
  await advance(0);
  await nl.flushEvents();
  assert.equal(nl.routesOfProtocol(80).length, 1);
  const r = nl.routesOfProtocol(80)[0];
  assert.ok(r);
  nl.routes.delete(kernelRouteKey(r)); // silently: no notification
  await advance(89_000);
  assert.equal(nl.routesOfProtocol(80).length, 0, 'not noticed before the refresh');
  await advance(1_000);
  await pollUntil(() => nl.routesOfProtocol(80).length === 1, { timeoutMs: 1000, what: 'restored by the 90 s resync' });
  rt.stop();
});

test('bad desired routes are refused up front with the route and field named', () => {
  const { rt } = setup();
  const cases: Array<[DesiredRoute, RegExp]> = [
    [{ dst: '10.0.0.1/24', type: 'blackhole' }, /route 10\.0\.0\.1\/24: dst: .*not a valid prefix/],
    [{ dst: '10.0.0.0/24', type: 'unicast', iface: 'eth0', gateway: 'fd00::1' }, /route 10\.0\.0\.0\/24: gateway: fd00::1 is not IPv4/],
    [{ dst: '10.0.0.0/24', type: 'unicast', iface: 'eth0', gateway: 'nope' }, /gateway: "nope" is not an IP address/],
    [{ dst: '10.0.0.0/24', type: 'unicast' }, /iface: a unicast route needs an interface name/],
    [{ dst: '10.0.0.0/24', type: 'unicast', iface: 'a-very-long-interface-name' }, /iface/],
    [{ dst: '10.0.0.0/24', type: 'blackhole', metric: -1 }, /metric: must be an integer/],
    [{ dst: '10.0.0.0/24', type: 'unicast', nexthops: [{ iface: 'eth0', gateway: '10.1.1.1', weight: 0 }, { iface: 'eth0' }] }, /nexthops\[0\]\.weight/],
  ];
  for (const [r, re] of cases) {
    assert.throws(() => rt.setRoute(r), re, JSON.stringify(r));
    assert.throws(() => rt.setDesiredRoutes([blackholeRoute('10.9.0.0/24'), r]), re);
  }
  assert.equal(rt.desiredRoutes().length, 0, 'nothing accepted from a refused set');
});

// ----- model-based -----

const DSTS = ['10.5.0.0/26', '10.5.0.64/26', '10.5.1.5/32', '10.5.2.0/24', 'fd00:5::/122', 'fd00:5::9/128'];
const IFACES = ['eth0', 'cali1', 'cali2', 'vxlan.calico'];

const arbDesired = (dst: string): fc.Arbitrary<DesiredRoute> => fc.oneof(
  fc.constant(blackholeRoute(dst)),
  fc.constantFrom(...IFACES).map((i): DesiredRoute => ({ dst, type: 'unicast', iface: i, scope: 'link' })),
  fc.integer({ min: 2, max: 9 }).map((n): DesiredRoute => ({ dst, type: 'unicast', iface: 'eth0',
    gateway: dst.includes(':') ? `fd00:ffff::${n}` : `192.168.1.${n}`, onlink: true })),
  fc.constant(ecmpRoute(dst, dst.includes(':')
    ? [{ iface: 'eth0', gateway: 'fd00:ffff::2', onlink: true }, { iface: 'cali1', gateway: 'fd00:ffff::3', onlink: true }]
    : [{ iface: 'eth0', gateway: '192.168.1.2', onlink: true }, { iface: 'cali1', gateway: '192.168.1.3', onlink: true }])),
);

type Step =
  | { t: 'set'; route: DesiredRoute } | { t: 'unset'; dst: string } | { t: 'extDel'; dst: string }
  | { t: 'extAdd'; route: DesiredRoute; metric: number } | { t: 'foreign'; dst: string } | { t: 'overflow' }
  | { t: 'fail'; op: 'replaceRoute' | 'deleteRoute' } | { t: 'linkFlap'; iface: string } | { t: 'apply' };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constantFrom(...DSTS).chain((d) => arbDesired(d)).map((route): Step => ({ t: 'set', route })), weight: 4 },
  { arbitrary: fc.constantFrom(...DSTS).map((dst): Step => ({ t: 'unset', dst })), weight: 2 },
  { arbitrary: fc.constantFrom(...DSTS).map((dst): Step => ({ t: 'extDel', dst })), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom(...DSTS).chain((d) => arbDesired(d)), fc.constantFrom(0, 7)).map(([route, metric]): Step => ({ t: 'extAdd', route, metric })), weight: 2 },
  { arbitrary: fc.constantFrom(...DSTS).map((dst): Step => ({ t: 'foreign', dst })), weight: 1 },
  { arbitrary: fc.constant<Step>({ t: 'overflow' }), weight: 1 },
  { arbitrary: fc.constantFrom('replaceRoute' as const, 'deleteRoute' as const).map((op): Step => ({ t: 'fail', op })), weight: 1 },
  { arbitrary: fc.constantFrom('cali1', 'cali2').map((iface): Step => ({ t: 'linkFlap', iface })), weight: 1 },
  { arbitrary: fc.constant<Step>({ t: 'apply' }), weight: 3 },
);

test('model: after apply the kernel equals desired for our protocol and nothing else changed', async () => {
  await fc.assert(fc.asyncProperty(fc.array(arbStep, { minLength: 1, maxLength: 30 }), async (steps) => {
    const { nl, rt } = setup();
    rt.start(); // subscribe; timers are inert with stillClock
    const model = new Map<string, DesiredRoute>();
    const foreignModel = new Map<string, KernelRoute>();
    const idx = (n: string): number | undefined => [...nl.links.values()].find((l) => l.name === n)?.index;
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        await nl.flushEvents();
        const res = await rt.apply();
        await nl.flushEvents();
        if (res.failed === 0 && rt.pendingCount === [...model.values()].filter((d) => resolveRoute(d, 254, 80, idx) === undefined).length) break;
      }
      assert.deepEqual(kernelSignatures(nl), expectedSignatures(nl, model.values()), 'kernel (proto 80) == desired');
      const foreignNow = [...nl.routes.values()].filter((r) => r.protocol !== 80);
      assert.deepEqual(new Map(foreignNow.map((r) => [kernelRouteKey(r), r])), foreignModel, 'foreign routes untouched');
    };
    for (const s of steps) {
      switch (s.t) {
        case 'set': model.set(s.route.dst, s.route); rt.setRoute(s.route); break;
        case 'unset': model.delete(s.dst); rt.deleteRoute(s.dst); break;
        case 'extDel':
          for (const r of nl.routesOfProtocol(80).filter((x) => x.dst === s.dst)) nl.externalDeleteRoute(kernelRouteKey(r));
          break;
        case 'extAdd': {
          const r = resolveRoute({ ...s.route, metric: s.metric + (s.route.dst.includes(':') ? 1024 : 0) }, 254, 80, idx);
          if (r !== undefined) nl.externalReplaceRoute(r);
          break;
        }
        case 'foreign': {
          const r: KernelRoute = { family: s.dst.includes(':') ? 6 : 4, dst: s.dst, table: 254, protocol: 4, type: 'blackhole',
            scope: 'universe', metric: 500, onlink: false };
          nl.externalReplaceRoute(r);
          foreignModel.set(kernelRouteKey(r), r);
          break;
        }
        case 'overflow': nl.injectOverflow(); break;
        case 'fail': nl.failNext(s.op, 'EBUSY'); break;
        case 'linkFlap': nl.externalDeleteLink(s.iface); nl.externalAddLink(s.iface); break;
        case 'apply': await settle(); break;
      }
    }
    await settle();
    rt.stop();
  }), { numRuns: 300, ...(process.env["TORTIE_FC_SEED"] ? { seed: Number(process.env["TORTIE_FC_SEED"]) } : {}) });
});

test('a resync compares only what changed, and still finds every silent change: a route deleted, altered, added', async () => {
  const { nl, rt } = setup();
  const eth0 = nl.externalAddLink('eth0').index;
  const routes = Array.from({ length: 300 }, (_, i) => workloadRoute(`10.5.${i >> 8}.${i & 0xff}`, 'eth0'));
  rt.setDesiredRoutes(routes);
  assert.equal((await rt.apply()).updated, 300);
  rt.queueResync();
  assert.deepEqual(await rt.apply(), { resynced: true, deleted: 0, updated: 0, failed: 0, pending: 0 }, 'a no-op resync writes nothing');
  // Behind our back, without notifications: one of ours deleted, one moved to another scope, one unwanted added.
  const key = (dst: string): string => kernelRouteKey({ table: 254, family: 4, dst, metric: 0 });
  nl.routes.delete(key('10.5.0.7/32'));
  const moved = nl.routes.get(key('10.5.1.3/32'));
  assert.ok(moved);
  nl.routes.set(key('10.5.1.3/32'), { ...moved, scope: 'universe' });
  nl.routes.set(key('10.9.9.9/32'), { ...moved, dst: '10.9.9.9/32' });
  rt.queueResync();
  const res = await rt.apply();
  assert.deepEqual([res.updated, res.deleted, res.failed], [2, 1, 0]);
  assert.equal(nl.routesOfProtocol(80).length, 300);
  assert.equal(nl.routes.get(key('10.5.1.3/32'))?.scope, 'link');
  assert.equal(nl.routes.has(key('10.9.9.9/32')), false);
  assert.equal(nl.routes.get(key('10.5.0.7/32'))?.ifindex, eth0);
});
