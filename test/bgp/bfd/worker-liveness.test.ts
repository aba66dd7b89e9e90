/**
 * The BFD engine runs where the main event loop cannot delay it: with the main thread of the
 * process spinning for 3 s (10 x BIRD's 300 ms detection time), BIRD, the peer, never sees the
 * session leave Up, and the worker reports no state change. Checked on BIRD's own view.
 *
 *   ns b: BIRD 2 protocol bfd, neighbor 10.0.0.2, 100 ms x 3  ── veth ──  ns t: busy-main.js (BfdDriver)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import type { BirdPeer } from '../../helpers/bgp-peers.js';
import { birdBfdPair, birdBfdState } from '../../helpers/bird-bfd-pair.js';
import { Proc } from '../../helpers/sh.js';

const skip = topologySkipReason('bird', 'birdc');
const BUSY_MS = 3000;

describe('BFD worker liveness: a blocked main thread does not delay BFD', { skip, timeout: 60_000 }, () => {
  const topo = new Topology('bfdl');
  let b: BirdPeer, nsT: string;
  before(async () => {
    ({ bird: b, nsT } = await birdBfdPair(topo));
  });
  after(async () => { await topo.cleanup(); });

  it(`BIRD's session stays Up while our main thread spins for ${BUSY_MS} ms`, async () => {
    const script = fileURLToPath(new URL('./busy-main.js', import.meta.url));
    const p = new Proc('ip', ['netns', 'exec', nsT, process.execPath, script, '10.0.0.1', '10.0.0.2', String(BUSY_MS)]);
    topo.defer(() => p.stop('SIGKILL'));
    await pollUntil(() => p.output.includes('UP\n') || p.exited, { what: () => `session Up: ${p.output}`, timeoutMs: 20_000 });
    assert.ok(!p.exited, p.output);
    await birdBfdState(b, 'Up', 3000);
    const seen = new Set<string>();
    let polls = 0;
    // BIRD's view while the main thread spins: every sample must be Up.
    await pollUntil(() => {
      const s = b.bfdSessions()[0];
      seen.add(s?.state ?? 'missing');
      polls++;
      return /\{.*\}/.test(p.output) || p.exited;
    }, { what: () => `the spin to end: ${p.output}`, timeoutMs: BUSY_MS + 10_000, intervalMs: 20 });
    const result = JSON.parse(/\{.*\}/.exec(p.output)?.[0] ?? '{}') as { spins: number; eventsDuringBusy: unknown[]; session?: { state: string; packetsOut: number } };
    // Each sample is a birdc run: a loaded machine takes fewer, but a handful across the spin suffices.
    assert.ok(polls >= 5, `sampled BIRD ${polls} times during the spin`);
    assert.deepEqual([...seen], ['Up'], 'BIRD saw only Up');
    assert.deepEqual(result.eventsDuringBusy, [], 'no state change in the worker');
    assert.equal(result.session?.state, 'Up');
    assert.equal(b.bfdSessions()[0]?.state, 'Up');
  });
});
