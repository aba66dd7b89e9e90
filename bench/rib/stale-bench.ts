/**
 * Graceful-restart work over one peer's 1M routes, as one pass versus in the speaker's slices
 * (4096 prefixes per event-loop turn, bgp/speaker/stale-routes.ts): the longest event-loop turn
 * (ms) is what other sessions' keepalives wait for (target < 50 ms), plus the total wall time.
 *   node --expose-gc dist/bench/rib/stale-bench.js [routes]
 * Phases: mark (session down: every route marked stale), long-lived (RFC 9494: LLGR_STALE
 * added to each), sweep (End-of-RIB: the stale ones withdrawn). "once" runs markStale() in one
 * call, the pre-slicing behaviour.
 */
import { intToIpv4 } from '../../common/prefix.js';
import { LocRib } from '../../bgp/rib/loc-rib.js';
import type { AdjRibIn } from '../../bgp/rib/adj-rib-in.js';
import type { Nlri, PathAttributes } from '../../bgp/wire/types.js';

const SLICE = 4096;
const N = Number(process.argv[2] ?? 1_000_000);

function load(): { rib: LocRib; a: AdjRibIn } {
  const rib = new LocRib({ localAs: 65000, routerId: 0x0a000001 });
  let changes = 0;
  rib.onBestChange((c) => { changes += c.length; });
  const a = rib.addPeer({ id: 'a', kind: 'ebgp', asn: 65001, routerId: 0x0a000002, address: Uint8Array.of(10, 0, 0, 2) });
  const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001, 64512] }], nextHop: Uint8Array.of(10, 0, 0, 2) };
  for (let i = 0; i < N; i += 1000) {
    const nlri: Nlri[] = [];
    for (let k = i; k < Math.min(N, i + 1000); k++) nlri.push({ prefix: { family: 4, bytes: intToIpv4(((11 << 24) + k * 256) >>> 0), length: 24 } });
    a.update(nlri, attrs);
  }
  return { rib, a };
}

/** Run `slice` once per setImmediate until it says done; the longest turn and the total, ms. */
async function sliced(slice: () => boolean): Promise<{ maxTurnMs: number; totalMs: number; turns: number }> {
  const t0 = performance.now();
  let max = 0, turns = 0;
  for (;;) {
    const s = performance.now();
    const done = slice();
    max = Math.max(max, performance.now() - s);
    turns++;
    if (done) break;
    await new Promise<void>((r) => setImmediate(r));
  }
  return { maxTurnMs: +max.toFixed(1), totalMs: +(performance.now() - t0).toFixed(0), turns };
}

/** The table is loaded long before a session drops: its garbage is collected by then. */
function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  g(); g();
}

async function main(): Promise<void> {
  const once = load();
  gc();
  const t0 = performance.now();
  once.a.markStale(new Set([4]));
  const markOnceMs = +(performance.now() - t0).toFixed(1);
  once.rib.removePeer('a');

  const { a } = load();
  gc();
  a.beginMarkStale(new Set([4]), true);
  const mark = await sliced(() => a.markStaleSome(SLICE));
  let cursor = 0;
  const longLived = await sliced(() => (cursor = a.longLivedStaleSome(4, cursor, SLICE).cursor) === -1);
  cursor = 0;
  const sweep = await sliced(() => (cursor = a.sweepStaleSome(4, cursor, SLICE).cursor) === -1);
  process.stdout.write(`${JSON.stringify({ routes: N, slice: SLICE, markOnceMs, mark, longLived, sweep })}\n`);
}

void main();
