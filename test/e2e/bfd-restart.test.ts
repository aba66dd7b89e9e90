/**
 * With BFD on (100 ms x 3), a crash of tortie-node loses nothing, and a node's death is still
 * seen at once. The lab with BFD on the mesh and towards the FRR ToR (bgpd + bfdd); each
 * node's BFD runs in tortie-bfd, which the agent started.
 *
 *   tor (FRR bgpd + bfdd) ── br1 ─┬─ node1 (tortie-node killed; tortie-bfd keeps BFD Up, C = 1)
 *                                 └─ node2        br2 ── node3
 *
 * 1. kill -9 of node1's agent, started again: FRR's own view, polled every ~50 ms throughout,
 *    never loses node1's block and its BFD session with node1 never leaves Up (same remote
 *    discriminator); no route deleted from the ToR's or the other nodes' kernels, no ping lost.
 * 2. kill -9 of the agent, then node1 dies (its tortie-bfd frozen) while the others keep its
 *    routes stale for its graceful restart: BFD Down with node1's C bit set means its forwarding
 *    died, so node2 and node3 end the restart and drop node1's routes within 1 s (RFC 5882
 *    §4.3.2). FRR 8.4 keeps them stale until the restart time (printed, not asserted: its GR
 *    helper does not end a restart on BFD Down).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '../helpers/poll.js';
import { downChecked, labNode, labSkipReason, torVtysh, upConverged } from './lab-fixture.js';
import { type LabState, startNode, torDir, waitNodeReady } from '../../agent/lab/lab.js';
import { alive, readPid } from '../../agent/lab/lab-host.js';
import { formatRestart, restartNode } from '../../agent/lab/lab-restart.js';
import { agentRoutes } from '../../agent/lab/lab-watch.js';
import type { NodePlan } from '../../agent/lab/lab-plan.js';
import { queryNodeCtl } from '../../agent/ctl/node-status.js';

const skip = labSkipReason(['etcd', 'vtysh', 'ping']);
const run = promisify(execFile);

interface FrrBfdPeer { peer: string; status: string; 'remote-id'?: number }

/** FRR's view, without blocking the event loop (the pingers and route monitors read meanwhile). */
async function torView(lab: LabState, block: string, address: string): Promise<{ bfd: FrrBfdPeer | undefined; hasBlock: boolean }> {
  const vtysh = async (c: string): Promise<string> =>
    (await run('ip', ['netns', 'exec', lab.plan.torNetns, 'vtysh', '--vty_socket', torDir(lab.plan), '-c', c])).stdout;
  const [bfd, rib] = await Promise.all([vtysh('show bfd peers json'), vtysh(`show ip bgp ${block} json`)]);
  const paths = (JSON.parse(rib || '{}') as { paths?: Array<{ nexthops?: Array<{ ip: string }> }> }).paths ?? [];
  return {
    bfd: (JSON.parse(bfd) as FrrBfdPeer[]).find((p) => p.peer === address),
    hasBlock: paths.some((p) => p.nexthops?.some((h) => h.ip === address) === true),
  };
}

/** The routes node `n`'s speaker holds (node.ctl bgp-routes). */
async function bgpRoutes(n: NodePlan): Promise<Array<{ prefix: string; fromAddress?: string; stale?: boolean }>> {
  const r = await queryNodeCtl(`${n.runDir}/node.ctl`, 'bgp-routes', 5000);
  if (r === 'not-running') throw new Error(`${n.name}: nothing listens on node.ctl`);
  return (r as { routes?: Array<{ prefix: string; fromAddress?: string; stale?: boolean }> }).routes ?? [];
}

function bfdPid(n: NodePlan): number | undefined {
  const pid = readPid(`${n.runDir}/bfd.pid`);
  return pid !== undefined && alive(pid) ? pid : undefined;
}

test('BFD on: kill -9 of tortie-node loses nothing (BFD stays Up in tortie-bfd); a node dying while its agent is down is dropped by the other nodes within 1 s', { skip, timeout: 300_000 }, async (t) => {
  const prefix = `bk${process.pid % 100000}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'tortie-e2e-bfd-restart-'));
  const say = (l: string): void => { if (process.env['TORTIE_TEST_VERBOSE'] === '1') process.stderr.write(`${l}\n`); };
  try {
    const lab = await upConverged({ prefix, stateDir, nodes: 3, podsPerNode: 1, tor: 'frr', bfd: true }, say);
    const n1 = labNode(lab, 1);
    const block = agentRoutes(n1.netns).find((r) => r.type === 'blackhole')?.dst;
    assert.ok(block !== undefined, 'node1 has a block');
    await pollUntil(async () => {
      const v = await torView(lab, block, n1.address);
      return v.bfd?.status === 'up' && v.hasBlock;
    }, { what: () => `FRR: BFD Up with node1 and its block ${block}: ${torVtysh(lab, 'show bfd peers json')}`, timeoutMs: 30_000 });
    const bfd1 = bfdPid(n1);
    assert.ok(bfd1 !== undefined, 'node1\'s agent started tortie-bfd (bfd.pid)');
    const remoteId = (await torView(lab, block, n1.address)).bfd?.['remote-id'];

    // 1. kill -9 and start again, FRR's view polled throughout.
    const samples: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const v = await torView(lab, block, n1.address).catch((err: unknown) => ({ bfd: undefined, hasBlock: false, err }));
        samples.push(`${v.bfd?.status ?? 'missing'}/${v.bfd?.['remote-id'] ?? '-'}/${v.hasBlock ? 'block' : 'NO BLOCK'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const r = await restartNode(lab, n1, { mode: 'kill', timeoutMs: 60_000 }, say);
    polling = false;
    await poller;
    t.diagnostic(formatRestart(r));
    t.diagnostic(`FRR sampled ${samples.length} times during the restart`);
    const expected = `up/${remoteId}/block`;
    assert.ok(samples.length >= 10, `sampled FRR ${samples.length} times`);
    assert.deepEqual([...new Set(samples)], [expected], 'FRR: BFD with node1 always Up (same session), node1\'s block always in its RIB');
    assert.equal(bfdPid(n1), bfd1, 'the same tortie-bfd runs');
    assert.equal(r.withdrawnOnTor, 0, 'no route deleted from the ToR\'s FIB');
    assert.deepEqual(Object.values(r.withdrawnOnNodes), [0, 0], 'no route deleted on the other nodes');
    assert.equal(r.lostPackets, 0, 'no ping lost between pods');

    // 2. The agent crashes, then the node dies (tortie-bfd frozen) while BGP is in graceful restart.
    const others = [labNode(lab, 2), labNode(lab, 3)];
    const meshStale = async (n: NodePlan): Promise<number> =>
      (await bgpRoutes(n)).filter((x) => x.prefix === block && x.fromAddress === n1.address).length;
    const agent = readPid(n1.pidFile);
    assert.ok(agent !== undefined);
    process.kill(agent, 'SIGKILL');
    await pollUntil(() => !alive(agent), { what: 'the agent gone' });
    await pollUntil(async () => (await Promise.all(others.map(async (n) => (await bgpRoutes(n)).some((x) => x.prefix === block && x.fromAddress === n1.address && x.stale === true)))).every(Boolean),
      { what: 'node2 and node3 keep node1\'s block stale (graceful restart)', timeoutMs: 5000, intervalMs: 20 });
    const frozen = bfdPid(n1);
    assert.ok(frozen !== undefined);
    const t0 = performance.now();
    process.kill(frozen, 'SIGSTOP');
    try {
      await pollUntil(async () => (await Promise.all(others.map(meshStale))).every((c) => c === 0),
        { what: 'node2 and node3 to drop node1\'s stale routes', timeoutMs: 10_000, intervalMs: 20 });
      const ms = Math.round(performance.now() - t0);
      t.diagnostic(`node2 and node3 dropped node1's stale routes ${ms} ms after its tortie-bfd froze (agent already down); FRR still has its block: ${(await torView(lab, block, n1.address)).hasBlock}`);
      assert.ok(ms < 1000, `dropped within 1 s: ${ms} ms`);
    } finally {
      process.kill(frozen, 'SIGCONT');
    }
    startNode(n1);
    await waitNodeReady(n1, 60_000);
    await pollUntil(async () => (await torView(lab, block, n1.address)).hasBlock, { what: 'node1 back on the ToR', timeoutMs: 60_000 });
  } finally {
    await downChecked(stateDir, prefix, say);
  }
});
