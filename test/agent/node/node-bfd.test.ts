/**
 * Where tortie-node's BFD runs when nothing serves tortie-bfd's socket (agent/node/node-bfd.ts):
 * it starts tortie-bfd itself, detached, so a kill -9 of the agent leaves the session Up; and
 * if tortie-bfd cannot be started it says so and runs BFD in its own worker thread. Checked on
 * BIRD's own view.
 *
 *   ns b: BIRD 2 protocol bfd, neighbor 10.0.0.2, 100 ms x 3  ── veth ──  ns t: node-bfd-main.js (NodeBfd)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import type { BirdPeer } from '../../helpers/bgp-peers.js';
import { birdBfdPair, birdBfdState } from '../../helpers/bird-bfd-pair.js';
import { Proc } from '../../helpers/sh.js';

const skip = topologySkipReason('bird', 'birdc');

describe('tortie-node BFD without a tortie-bfd serving its socket', { skip, timeout: 90_000 }, () => {
  const topo = new Topology('nbfd');
  let b: BirdPeer;
  let nsT: string;
  let dir: string;
  const main = fileURLToPath(new URL('./node-bfd-main.js', import.meta.url));
  before(async () => {
    ({ bird: b, nsT } = await birdBfdPair(topo));
    dir = mkdtempSync(join(tmpdir(), 'tortie-node-bfd-'));
    topo.defer(() => rmSync(dir, { recursive: true, force: true }));
  });
  after(async () => { await topo.cleanup(); });

  it('starts tortie-bfd, detached: the agent killed (SIGKILL), BIRD keeps seeing the session Up', async () => {
    const socket = join(dir, 'bfd.sock');
    const agent = new Proc('ip', ['netns', 'exec', nsT, process.execPath, main, '10.0.0.1', '10.0.0.2', socket, 'start']);
    topo.defer(() => agent.stop('SIGKILL'));
    topo.defer(() => { const pid = Number(readFileSync(join(dir, 'bfd.pid'), 'utf8')); try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
    await pollUntil(() => agent.output.includes('UP p\n'), { what: () => `NodeBfd reports Up: ${agent.output}`, timeoutMs: 20_000 });
    assert.match(agent.output, /started tortie-bfd \(detached, it outlives this process\)/);
    assert.ok(existsSync(join(dir, 'bfd.pid')), 'tortie-bfd wrote bfd.pid beside the socket');
    await birdBfdState(b, 'Up', 5000);
    await agent.stop('SIGKILL');
    const seen = new Set<string>();
    const t0 = Date.now();
    await pollUntil(() => { seen.add(b.bfdSessions()[0]?.state ?? 'missing'); return Date.now() - t0 > 1000; }, { what: 'a second', timeoutMs: 5000, intervalMs: 50 });
    assert.deepEqual([...seen], ['Up'], 'BIRD saw only Up after the agent was killed');
    // Nobody claims it within the 2 s grace period: AdminDown (BIRD shows Down), and tortie-bfd exits.
    await birdBfdState(b, 'Down', 10_000);
    await pollUntil(() => !existsSync(join(dir, 'bfd.pid')), { what: 'tortie-bfd exited (bfd.pid removed)', timeoutMs: 5000 });
  });

  it('tortie-bfd cannot be started: says so and runs BFD in a worker thread', async () => {
    const agent = new Proc('ip', ['netns', 'exec', nsT, process.execPath, main, '10.0.0.1', '10.0.0.2', join(dir, 'none', 'bfd.sock'), 'missing']);
    topo.defer(() => agent.stop('SIGKILL'));
    await pollUntil(() => agent.output.includes('UP p\n'), { what: () => `NodeBfd reports Up: ${agent.output}`, timeoutMs: 20_000 });
    assert.match(agent.output, /tortie-bfd is not available: BFD runs in a worker thread of tortie-node \(C bit clear\)/);
    await birdBfdState(b, 'Up', 5000);
    await agent.stop('SIGKILL');
  });
});
