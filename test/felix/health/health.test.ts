/**
 * Health aggregation (reporters, contributions, timeouts) with a fake clock, and the HTTP server
 * over a real loopback socket: 200 / 503 per Felix, JSON detail, /metrics hook, 404.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import { HealthAggregator } from '../../../felix/health/health-aggregator.js';
import { startHealthServer } from '../../../felix/health/health-server.js';

class FakeClock implements Clock {
  t = 1000;
  now(): number { return this.t; }
  wallNow(): number { return this.t; }
  setTimeout(): TimerHandle { return { cancel: () => undefined }; }
}

test('aggregation: unreported is unhealthy, readiness-only reporters do not affect liveness, timeouts', () => {
  const clock = new FakeClock();
  const h = new HealthAggregator({ clock });
  assert.deepEqual({ live: h.summary().live, ready: h.summary().ready }, { live: true, ready: true }, 'no reporters: healthy');
  const dp = h.register('dataplane', { live: true, ready: true, timeoutMs: 20_000 });
  const ds = h.register('datastore', { live: false, ready: true, timeoutMs: 0 });
  assert.deepEqual({ live: h.summary().live, ready: h.summary().ready }, { live: false, ready: false });
  dp.report({ live: true, ready: true });
  ds.report({ live: true, ready: false, detail: 'etcd unreachable' });
  let s = h.summary();
  assert.equal(s.live, true);
  assert.equal(s.ready, false);
  assert.deepEqual(s.reporters.find((r) => r.name === 'datastore'),
    { name: 'datastore', live: null, ready: false, timedOut: false, lastReportAgoMs: 0, detail: 'etcd unreachable' });
  ds.report({ live: true, ready: true });
  assert.equal(h.summary().ready, true);
  clock.t += 20_001;
  s = h.summary();
  assert.deepEqual({ live: s.live, ready: s.ready }, { live: false, ready: false }, 'dataplane stopped reporting');
  assert.equal(s.reporters.find((r) => r.name === 'dataplane')?.timedOut, true);
  assert.match(s.reporters.find((r) => r.name === 'dataplane')?.detail ?? '', /no report for 20001 ms \(timeout 20000 ms\)/);
  assert.equal(s.reporters.find((r) => r.name === 'datastore')?.ready, true, 'timeout 0 never goes stale');
  dp.report({ live: true, ready: true });
  assert.equal(h.summary().live, true);
  h.unregister('dataplane');
  assert.equal(h.summary().reporters.length, 1);
  assert.throws(() => h.register('x', { live: true, ready: true, timeoutMs: -1 }), RangeError);
});

test('HTTP: /liveness and /readiness 200 or 503 with JSON detail; /metrics hook; unknown paths 404', async () => {
  const clock = new FakeClock();
  const h = new HealthAggregator({ clock });
  const r = h.register('bgp', { live: true, ready: true, timeoutMs: 0 });
  r.report({ live: true, ready: false, detail: '0/2 peers Established' });
  const srv = await startHealthServer({ aggregator: h, logger: silentLogger(),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'tortie_up 1\n' }) }, { host: '127.0.0.1', port: 0 });
  try {
    const base = `http://127.0.0.1:${srv.port}`;
    const live = await fetch(`${base}/liveness`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${base}/readiness`);
    assert.equal(ready.status, 503);
    const body = await ready.json() as { ready: boolean; reporters: Array<{ detail: string }> };
    assert.equal(body.ready, false);
    assert.equal(body.reporters[0]?.detail, '0/2 peers Established');
    r.report({ live: true, ready: true });
    assert.equal((await fetch(`${base}/readiness?verbose=1`)).status, 200);
    r.report({ live: false, ready: false });
    assert.equal((await fetch(`${base}/liveness`)).status, 503);
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.equal(await m.text(), 'tortie_up 1\n');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/liveness`, { method: 'POST' })).status, 405);
  } finally {
    await srv.close();
  }
  // A port in use is a clear listen error, not a crash.
  const a = await startHealthServer({ logger: silentLogger() }, { host: '127.0.0.1', port: 0 });
  try {
    await assert.rejects(startHealthServer({ logger: silentLogger() }, { host: '127.0.0.1', port: a.port }), /EADDRINUSE/);
  } finally {
    await a.close();
  }
});
