/**
 * Dual-ToR ECMP in the lab (`tortie-lab up --tors 2`): every node installs the outside network
 * 10.200.0.0/24 with both ToRs as next hops (one RTA_MULTIPATH route, the agent's proto 80), and
 * a pod reaches 10.200.0.1 behind both; `fail-tor 2` (every link of tor2 down) leaves one next
 * hop, via tor1, on every node, and the pods still reach it; `heal-tor 2` brings both back.
 * Each node's own kernel is read (`ip -j route`); FRR's own view shows both ToRs' sessions.
 *
 *   tor  (FRR) br1/br2 10.100.S.1 ── eth0 node1, node2 ── eth1 ── 10.101.S.1 br1/br2 (FRR) tor2
 *     └── ext0 10.199.1.1 ── ext 10.200.0.1 ── 10.199.2.1 ext0 ──┘
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../helpers/poll.js';
import { sh, trySh } from '../helpers/sh.js';
import { downChecked, labPod, labSkipReason, upConverged } from './lab-fixture.js';
import { failTor, healTor } from '../../agent/lab/lab-fail.js';
import { EXTERNAL_ADDRESS, EXTERNAL_CIDR } from '../../agent/lab/lab-plan.js';
import { torDir } from '../../agent/lab/lab.js';

const skip = labSkipReason(['etcd', 'vtysh']);

type IpRoute = { gateway?: string; dev?: string; protocol?: string; nexthops?: Array<{ gateway?: string; dev?: string }> };

test('dual ToR: both next hops on every node, one left when tor2 fails, traffic flows throughout; both again after heal', { skip, timeout: 240_000 }, async () => {
  const prefix = `dt${process.pid % 100000}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'tortie-e2e-dualtor-'));
  const say = (l: string): void => { if (process.env['TORTIE_TEST_VERBOSE'] === '1') process.stderr.write(`${l}\n`); };
  try {
    const lab = await upConverged({ prefix, stateDir, nodes: 2, podsPerNode: 1, tor: 'frr', bfd: true, tors: 2 }, say);
    const hops = (netns: string): string[] => {
      const r = (JSON.parse(sh('ip', ['-n', netns, '-j', 'route', 'show', EXTERNAL_CIDR])) as IpRoute[])[0];
      if (r === undefined || r.protocol !== '80') return [];
      return (r.nexthops ?? [r]).map((h) => `${h.gateway ?? ''}@${h.dev ?? ''}`).sort();
    };
    const both = (n: { subnet: number }) => [`10.100.${n.subnet}.1@eth0`, `10.101.${n.subnet}.1@eth1`];
    const pods = lab.plan.pods.map((p) => labPod(lab, p.name));
    const reach = (): boolean => pods.every((p) => trySh('ip', ['netns', 'exec', p.netns, 'ping', '-c', '1', '-W', '1', EXTERNAL_ADDRESS]).status === 0);

    for (const n of lab.plan.nodes) {
      await pollUntil(() => JSON.stringify(hops(n.netns)) === JSON.stringify(both(n)) || undefined,
        { what: `${n.name}: ${EXTERNAL_CIDR} through both ToRs`, timeoutMs: 30_000 });
    }
    // tor2's own view: a session with every node's second uplink.
    const sum = JSON.parse(sh('ip', ['netns', 'exec', lab.plan.tor2Netns!, 'vtysh', '--vty_socket', torDir(lab.plan, 2), '-c', 'show bgp summary json'])) as
      { ipv4Unicast?: { peers?: Record<string, { state?: string }> } };
    assert.deepEqual(Object.entries(sum.ipv4Unicast?.peers ?? {}).filter(([, p]) => p.state === 'Established').map(([a]) => a).sort(),
      lab.plan.nodes.map((n) => n.uplink2!.address).sort());
    // ... and single-hop BFD Up with each of them: the node's profile names no hop count, and the
    // second uplink's subnet is connected, so the agent runs single-hop as FRR does.
    const bfdUp = (): string[] => (JSON.parse(sh('ip', ['netns', 'exec', lab.plan.tor2Netns!, 'vtysh', '--vty_socket', torDir(lab.plan, 2), '-c', 'show bfd peers json'])) as
      Array<{ peer?: string; multihop?: boolean; status?: string }>).filter((p) => p.status === 'up' && p.multihop === false).map((p) => p.peer ?? '').sort();
    await pollUntil(() => JSON.stringify(bfdUp()) === JSON.stringify(lab.plan.nodes.map((n) => n.uplink2!.address).sort()) || undefined,
      { what: () => `tor2: single-hop BFD Up with every node (${JSON.stringify(bfdUp())})`, timeoutMs: 10_000 });
    await pollUntil(() => reach() || undefined, { what: `every pod reaches ${EXTERNAL_ADDRESS}`, timeoutMs: 10_000 });

    failTor(lab, 2);
    for (const n of lab.plan.nodes) {
      await pollUntil(() => JSON.stringify(hops(n.netns)) === JSON.stringify([`10.100.${n.subnet}.1@eth0`]) || undefined,
        { what: `${n.name}: only tor1 left (BFD 100 ms x 3)`, timeoutMs: 10_000 });
    }
    await pollUntil(() => reach() || undefined, { what: `every pod reaches ${EXTERNAL_ADDRESS} through tor1 alone`, timeoutMs: 5000 });

    healTor(lab, 2);
    for (const n of lab.plan.nodes) {
      await pollUntil(() => JSON.stringify(hops(n.netns)) === JSON.stringify(both(n)) || undefined,
        { what: `${n.name}: both ToRs again`, timeoutMs: 30_000 });
    }
    // tor2 relearns the pod blocks a moment after its session is back: poll, not a single ping.
    await pollUntil(() => reach() || undefined, { what: `every pod reaches ${EXTERNAL_ADDRESS} with both ToRs back`, timeoutMs: 10_000 });
  } finally {
    await downChecked(stateDir, prefix, say);
  }
});
