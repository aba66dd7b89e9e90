/** WatchBackoff: the etcd watch re-open delay grows from ~100 ms and never exceeds its cap. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchBackoff, WATCH_RETRY_MAX_MS } from '../../../agent/datastore/etcd-kv-store.js';

test('WatchBackoff: ~100 ms first, then doubling with jitter, capped', () => {
  // etcd3's WatchManager takes initial.next() for the first retry, then .next() after each failure.
  let b = new WatchBackoff(WATCH_RETRY_MAX_MS);
  const seen: number[] = [];
  for (let i = 0; i < 30; i++) { b = b.next(); seen.push(b.duration); }
  assert.ok(seen[0]! >= 80 && seen[0]! <= 120, `first retry ~100 ms, got ${seen[0]}`);
  assert.ok(seen[1]! >= 160 && seen[1]! <= 240, `second retry ~200 ms, got ${seen[1]}`);
  assert.ok(seen.every((d) => d <= WATCH_RETRY_MAX_MS * 1.2), `never above the cap (+20 % jitter): ${seen.join(',')}`);
  assert.ok(seen.slice(-5).every((d) => d >= WATCH_RETRY_MAX_MS * 0.8), 'settles at the cap');
});
