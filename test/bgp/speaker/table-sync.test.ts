/**
 * A peer that comes up next to a large table gets it in slices (bgp/speaker/table-sync.ts), one
 * event-loop turn each, not in one synchronous pass that holds the loop (and every other
 * session's keepalives). Structure, not timing: a setImmediate probe that re-arms itself runs
 * between the slices and sees the monitor's advertised count part-way (a single pass would show
 * it at 0, then at the whole table). Routes that change while the table is being sent (withdrawn
 * before and after the walk passed them, new ones, new attributes) end up right on the peer,
 * and the advertised count is what the peer holds.
 *
 *   raw tester ──▶ BgpSpeaker (loopback) ──▶ raw monitor (connects once the table is loaded)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatPrefix, type Prefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, startLoopbackSpeaker } from '../../helpers/bgp-session-peers.js';
import type { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import { SYNC_SLICE } from '../../../bgp/speaker/table-sync.js';
import type { BgpMessage, PathAttributes } from '../../../bgp/wire/types.js';

const ROUTES = 100_000;
const p24 = (i: number): Prefix => ({ family: 4, bytes: Uint8Array.of(20 + (i >>> 16), (i >>> 8) & 255, i & 255, 0), length: 24 });
const ATTRS: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65101] }], nextHop: Uint8Array.of(192, 0, 2, 1) };

/** Prefixes a raw peer holds after the UPDATEs it decoded, with the first community each came with. */
function held(messages: readonly BgpMessage[]): Map<string, number | undefined> {
  const s = new Map<string, number | undefined>();
  for (const m of messages) {
    if (m.type !== 'update') continue;
    for (const w of m.withdrawn) s.delete(formatPrefix(w.prefix));
    for (const n of m.nlri) s.set(formatPrefix(n.prefix), m.attributes.communities?.[0]);
  }
  return s;
}

describe('BgpSpeaker: the table for a joining peer', () => {
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  let probing = false;
  after(async () => { probing = false; for (const r of raws) r.destroy(); await sp?.stop(); });

  it('goes out in slices with the event loop running between them, and stays right while routes change', async () => {
    const port = 32000 + (process.pid % 20000);
    const { speaker, status } = await startLoopbackSpeaker(port, [
      passivePeerConfig('tester', '127.0.5.1', 65101, { holdTime: 0 }), passivePeerConfig('monitor', '127.0.5.2', 65003, { holdTime: 0 }),
    ]);
    sp = speaker;
    const tester = await openRawPeer(port, '127.0.5.1', 65101, 0x0a000501);
    raws.push(tester);
    await pollUntil(() => status('tester')?.state === 'Established', { what: 'tester Established' });
    const announce = (from: number, to: number, attrs: PathAttributes): void => {
      for (let k = from; k < to; k += 1000) {
        tester.send({ type: 'update', withdrawn: [], nlri: Array.from({ length: Math.min(1000, to - k) }, (_, j) => ({ prefix: p24(k + j) })), attributes: attrs });
      }
    };
    announce(0, ROUTES, ATTRS);
    await pollUntil(() => speaker.bestRoutes().length === ROUTES, { what: `the speaker holds ${ROUTES} routes`, timeoutMs: 60_000 });

    // The probe: every event-loop turn, the count advertised to the monitor. The first time it is
    // part-way, the tester changes routes at both ends of the table and adds new ones.
    const seen: number[] = [];
    let changedAt: number | undefined;
    probing = true;
    const probe = (): void => {
      const n = status('monitor')?.prefixes.advertised ?? 0;
      if (seen.at(-1) !== n) seen.push(n);
      if (changedAt === undefined && n > 0 && n < ROUTES) {
        changedAt = n;
        tester.send({ type: 'update', withdrawn: [0, 1, 2, ROUTES - 3, ROUTES - 2, ROUTES - 1].map((i) => ({ prefix: p24(i) })), nlri: [], attributes: { origin: 0, asPath: [] } });
        announce(ROUTES, ROUTES + 10, ATTRS);
        tester.send({ type: 'update', withdrawn: [], nlri: [10, 11, ROUTES - 10, ROUTES - 11].map((i) => ({ prefix: p24(i) })), attributes: { ...ATTRS, communities: [(65101 << 16) | 7] } });
      }
      if (probing) setImmediate(probe);
    };
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const monitor = await openRawPeer(port, '127.0.5.2', 65003, 0x0a000502);
    raws.push(monitor);
    setImmediate(probe);
    await pollUntil(() => changedAt !== undefined || status('monitor')?.prefixes.advertised === ROUTES, { what: 'the table sent to the monitor', timeoutMs: 60_000 });
    assert.ok(changedAt !== undefined, `the probe saw the count part-way (saw ${JSON.stringify(seen.slice(0, 40))}): the table went out in one pass`);
    const want = ROUTES - 6 + 10;
    await pollUntil(() => held(monitor.received).size === want && status('monitor')?.prefixes.advertised === want,
      { what: () => `monitor holds ${want} routes (holds ${held(monitor.received).size}, advertised ${status('monitor')?.prefixes.advertised})`, timeoutMs: 60_000 });
    probing = false;
    loop.disable();

    const partway = seen.filter((n) => n > 0 && n < ROUTES);
    assert.ok(partway.length >= ROUTES / SYNC_SLICE / 2,
      `the probe ran between the slices and saw the count part-way at least ${ROUTES / SYNC_SLICE / 2} times (saw ${JSON.stringify(seen.slice(0, 40))})`);
    // what the monitor holds is the speaker's table, with the new attributes where they changed
    const got = held(monitor.received);
    const best = new Set(speaker.bestRoutes().map((r) => r.prefix));
    assert.deepEqual(new Set(got.keys()), best);
    for (const i of [10, 11, ROUTES - 10, ROUTES - 11]) assert.equal(got.get(formatPrefix(p24(i))), ((65101 << 16) | 7) >>> 0, `new attributes of ${formatPrefix(p24(i))}`);
    for (const i of [0, ROUTES - 1]) assert.equal(got.has(formatPrefix(p24(i))), false, `${formatPrefix(p24(i))} withdrawn`);
    assert.equal(status('monitor')?.prefixes.advertised, got.size);
    // printed, not asserted: a timing on a shared machine
    console.log(`# longest event-loop delay while the table was sent: ${(loop.max / 1e6).toFixed(1)} ms (${partway.length} part-way counts seen)`);
  });
});
