/**
 * A node's death seen in under a second with BFD (100 ms x 3): the lab with BFD on the mesh and
 * towards the FRR ToR, node1's link cut at the ToR bridge (`tortie-lab fail node1 link`); node2,
 * node3 and the ToR each delete node1's block routes within 1 s (their kernels' own view, `ip -ts
 * monitor route`), and after `heal` the routes come back. BFD Up is checked on FRR bfdd's own view.
 * After `heal`, BGP comes back as soon as BFD does (the speaker reconnects on BFD Up), not after
 * the idle-hold back-off that followed the Cease/10: every session Established on node1's and on
 * FRR's own view within 5 s of the heal, in two rounds back to back (the back-off doubles).
 *
 *   tor (FRR bgpd + bfdd) ── br1 ─┬─ node1 (cut here)     br2 ── node3
 *                                 └─ node2
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../helpers/poll.js';
import { downChecked, labNode, labSkipReason, torVtysh, upConverged } from './lab-fixture.js';
import { measureFailure } from '../../agent/lab/lab-fail.js';
import { nodeStatus } from '../../agent/lab/lab-report.js';

const skip = labSkipReason(['etcd', 'vtysh', 'nft']);

test('BFD: node1 cut off at the ToR bridge; every other node and the ToR withdraw its routes within 1 s; heal brings them back', { skip, timeout: 240_000 }, async (t) => {
  const prefix = `fo${process.pid % 100000}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'tortie-e2e-failover-'));
  const say = (l: string): void => { if (process.env['TORTIE_TEST_VERBOSE'] === '1') process.stderr.write(`${l}\n`); };
  try {
    const lab = await upConverged({ prefix, stateDir, nodes: 3, podsPerNode: 1, tor: 'frr', bfd: true }, say);
    const addresses = lab.plan.nodes.map((n) => n.address).sort();
    await pollUntil(() => {
      const peers = JSON.parse(torVtysh(lab, 'show bfd peers json')) as Array<{ peer: string; status: string; 'receive-interval': number; 'transmit-interval': number }>;
      const up = peers.filter((p) => p.status === 'up' && p['receive-interval'] === 100 && p['transmit-interval'] === 100).map((p) => p.peer).sort();
      return JSON.stringify(up) === JSON.stringify(addresses);
    }, { what: 'FRR bfdd: a session Up at 100 ms with every node', timeoutMs: 20_000 });
    const n1 = labNode(lab, 1);
    const meshUp = async (): Promise<boolean> => {
      const st = await nodeStatus(`${n1.runDir}/node.ctl`, 1000);
      const mesh = st.ok ? st.peers.filter((p) => p.type === 'node-to-node mesh') : [];
      return mesh.length === 2 && mesh.every((p) => p.info === 'Established');
    };
    const torUp = (): boolean => (JSON.parse(torVtysh(lab, 'show bgp neighbors json')) as Record<string, { bgpState?: string }>)[n1.address]?.bgpState === 'Established';
    // Twice in a row: each Cease/10 doubles our idle-hold back-off (5 s, then 10 s) until a session
    // stays up for a minute; BFD Up must cut it short both times. The mesh sessions are Tortie at both
    // ends; FRR applies its own back-off to the ToR session (it doubles its start timer for each
    // NOTIFICATION it sends, here its Cease/10 on BFD Down, and refuses connections while Idle).
    for (const round of [1, 2]) {
      const r = await measureFailure(lab, n1, 'link', say, 60_000);
      assert.deepEqual(Object.keys(r.withdrawnMs).sort(), [labNode(lab, 2).name, labNode(lab, 3).name, 'tor'].sort());
      assert.ok(r.allWithdrawnMs < 1000, `round ${round}: every observer withdrew node1's routes within 1 s: ${JSON.stringify(r.withdrawnMs)}`);
      // measureFailure returned once every observer routes node1 again, so BGP may already be back.
      await pollUntil(meshUp, { what: () => `round ${round}: node1's mesh sessions Established`, timeoutMs: 30_000, intervalMs: 100 });
      const meshMs = Math.round(performance.now() - r.healedAt);
      await pollUntil(torUp, { what: () => `round ${round}: node1 Established on FRR's view`, timeoutMs: 30_000, intervalMs: 100 });
      const torMs = Math.round(performance.now() - r.healedAt);
      t.diagnostic(`round ${round}: routes back ${r.healedMs} ms; node1's mesh sessions Established ${meshMs} ms, the ToR's ${torMs} ms after the heal`);
      assert.ok(meshMs < 5000, `round ${round}: node1's mesh sessions Established within 5 s of the heal, not after the idle-hold back-off: ${meshMs} ms`);
      assert.ok(torMs < (round === 1 ? 5000 : 10_000), `round ${round}: the ToR's session back within FRR's own back-off: ${torMs} ms`);
    }
  } finally {
    await downChecked(stateDir, prefix, say);
  }
});
