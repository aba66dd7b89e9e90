/**
 * tortie-bfd (bgp/bfd/sidecar.ts): the BFD engine in its own process keeps a session Up while
 * the agent that asked for it is gone, hands it to the next agent without a flap, and ends what
 * nobody claims within the grace period with AdminDown. Checked on BIRD's own view.
 *
 *   ns b: BIRD 2 protocol bfd, neighbor 10.0.0.2, 100 ms x 3  ── veth ──  ns t: tortie-bfd
 *                                                                          ▲ bfd.sock (unix, 0600)
 *   this test process: BfdDriver over socketTransport (the agent) ─────────┘
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import type { BirdPeer } from '../../helpers/bgp-peers.js';
import { birdBfdPair, birdBfdState } from '../../helpers/bird-bfd-pair.js';
import { Proc } from '../../helpers/sh.js';
import { BfdDriver } from '../../../bgp/bfd/driver.js';
import { socketTransport } from '../../../bgp/bfd/socket-transport.js';
import type { BfdStateEvent } from '../../../bgp/bfd/engine.js';
import { silentLogger } from '../../../common/logger.js';

const skip = topologySkipReason('bird', 'birdc');
const GRACE_S = 3;
const spec = { peer: '10.0.0.1', local: '10.0.0.2', multihop: false, params: { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false } };

describe('tortie-bfd: BFD sessions outlive the agent', { skip, timeout: 90_000 }, () => {
  const topo = new Topology('bfds');
  let b: BirdPeer;
  let nsT: string;
  let dir: string;
  before(async () => {
    ({ bird: b, nsT } = await birdBfdPair(topo));
    dir = mkdtempSync(join(tmpdir(), 'tortie-bfd-sidecar-'));
    topo.defer(() => rmSync(dir, { recursive: true, force: true }));
  });
  after(async () => { await topo.cleanup(); });

  const agent = (events: BfdStateEvent[]): BfdDriver => {
    const d = new BfdDriver({ logger: silentLogger(), open: socketTransport({ path: join(dir, 'bfd.sock'), graceMs: GRACE_S * 1000 }), reopenMs: 100 });
    d.onState((e) => events.push(e));
    return d;
  };

  it('Up through an agent crash, claimed Up by the next agent (no flap), AdminDown when nobody claims it', async () => {
    const main = fileURLToPath(new URL('../../../bgp/bfd/sidecar-main.js', import.meta.url));
    const bfd = new Proc('ip', ['netns', 'exec', nsT, process.execPath, main, '--socket', join(dir, 'bfd.sock'),
      '--grace', String(GRACE_S), '--exit-when-idle', '--nice', '0']);
    topo.defer(() => bfd.stop('SIGKILL'));

    // Agent 1 asks for the session: Up on both sides.
    const ev1: BfdStateEvent[] = [];
    const a1 = agent(ev1);
    a1.set('tor', spec);
    await pollUntil(() => ev1.some((e) => e.to === 'Up'), { what: () => `our session Up: ${JSON.stringify(ev1)} ${bfd.output}`, timeoutMs: 20_000 });
    await birdBfdState(b, 'Up', 5000);
    assert.equal(statSync(join(dir, 'bfd.sock')).mode & 0o777, 0o600, 'the socket is 0600');
    const upSince = (await a1.sessions())[0]?.since;

    // Agent 1 goes away without a word (as kill -9 does: only the connection closes).
    await a1.stop({ detach: true });
    const seen = new Set<string>();
    const t0 = Date.now();
    await pollUntil(() => { seen.add(b.bfdSessions()[0]?.state ?? 'missing'); return Date.now() - t0 > (GRACE_S * 1000) / 2; },
      { what: 'half the grace period', timeoutMs: GRACE_S * 1000 + 5000, intervalMs: 50 });
    assert.deepEqual([...seen], ['Up'], 'BIRD saw only Up while no agent was connected');

    // Agent 2 claims it: reported Up at once, the same session (no state change since agent 1 saw it come Up).
    const ev2: BfdStateEvent[] = [];
    const a2 = agent(ev2);
    a2.set('tor', spec);
    await pollUntil(() => ev2.length > 0, { what: 'the claimed session\'s state', timeoutMs: 5000 });
    assert.deepEqual(ev2.map((e) => `${e.from}->${e.to}`), ['Up->Up'], 'claimed as it is');
    assert.equal((await a2.sessions())[0]?.since, upSince, 'no state change in tortie-bfd');
    assert.equal(b.bfdSessions()[0]?.state, 'Up');

    // Agent 2 goes away too and nobody claims the session: after the grace period BIRD is told
    // AdminDown (BIRD shows Down), and tortie-bfd, started --exit-when-idle, exits.
    await a2.stop({ detach: true });
    await birdBfdState(b, 'Down', GRACE_S * 1000 + 5000);
    await pollUntil(() => bfd.exited, { what: () => `tortie-bfd to exit: ${bfd.output}`, timeoutMs: 5000 });
    assert.match(bfd.output, /no tortie-node claimed this BFD session within the grace period/);
  });
});
