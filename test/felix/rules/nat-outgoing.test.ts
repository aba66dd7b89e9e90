/**
 * natOutgoing with real packets, for each backend:
 *
 *   [podA 10.65.0.2]──a0 10.65.0.1 ┐
 *                                  [node] o0 192.168.100.1 ──── [out 192.168.100.2]
 *   [podB 10.66.0.2]──b0 10.66.0.1 ┘        (out has NO route back to the pools)
 *
 * Pools: 10.65.0.0/16 natOutgoing, 10.66.0.0/16 not; interface filter `o+` (iptables wildcard syntax,
 * rendered as `oifname "o*"` for nft) so the masquerade rule is exercised with that match too. Observation counters (a foreign nft table in
 * the receiving namespace) show which source address arrived.
 *   podA → out: reply comes back (only possible when masqueraded), out sees 192.168.100.1,
 *               node's conntrack shows the reply going to 192.168.100.1;
 *   podB → out: out sees 10.66.0.2 (not masqueraded) and cannot answer;
 *   podA → podB: podB sees 10.65.0.2 (pool → pool is never masqueraded);
 *   with natOutgoingExclusions=IPPoolsAndHostIPs, podA → out (a node address) is not masqueraded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { trySh } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';
import { programmerIn, type BackendKind } from '../../helpers/rules.js';

const OBSERVE = `table ip obs {
  chain in {
    type filter hook input priority -10; policy accept;
    icmp type echo-request ip saddr 192.168.100.1 counter comment "from-node"
    icmp type echo-request ip saddr 10.65.0.2 counter comment "from-podA"
    icmp type echo-request ip saddr 10.66.0.2 counter comment "from-podB"
  }
}
`;

function counters(topo: Topology, ns: string): Record<string, number> {
  const j = JSON.parse(topo.exec(ns, 'nft', ['-j', 'list', 'chain', 'ip', 'obs', 'in'])) as
    { nftables: Array<{ rule?: { comment?: string; expr: Array<{ counter?: { packets: number } }> } }> };
  const out: Record<string, number> = {};
  for (const it of j.nftables) {
    if (it.rule?.comment === undefined) continue;
    out[it.rule.comment] = it.rule.expr.find((e) => e.counter !== undefined)?.counter?.packets ?? -1;
  }
  return out;
}

function ping(topo: Topology, ns: string, dst: string): boolean {
  return trySh('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', dst]).status === 0;
}

/** A ping that must succeed: retried (a loaded machine can lose the first one to ARP). */
async function reach(topo: Topology, ns: string, dst: string): Promise<boolean> {
  return pollUntil(() => ping(topo, ns, dst), { timeoutMs: 8000, intervalMs: 100, what: `ping ${ns} → ${dst}` });
}

const skip = topologySkipReason('nft', 'iptables-restore', 'ipset', 'ping', 'conntrack');

for (const kind of ['nft', 'iptables'] as const satisfies readonly BackendKind[]) {
  test(`${kind}: natOutgoing masquerades pool → outside only, never pool → pool or non-NAT pools`, { skip }, async () => {
    const topo = new Topology(`n${kind.slice(0, 2)}`);
    try {
      const podA = topo.ns('pa');
      const podB = topo.ns('pb');
      const node = topo.ns('nd');
      const out = topo.ns('out');
      topo.link(podA, 'eth0', '10.65.0.2/24', node, 'a0', '10.65.0.1/24');
      topo.link(podB, 'eth0', '10.66.0.2/24', node, 'b0', '10.66.0.1/24');
      topo.link(node, 'o0', '192.168.100.1/24', out, 'eth0', '192.168.100.2/24');
      topo.exec(podA, 'ip', ['route', 'add', 'default', 'via', '10.65.0.1']);
      topo.exec(podB, 'ip', ['route', 'add', 'default', 'via', '10.66.0.1']);
      topo.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      topo.exec(out, 'nft', ['-f', '-'], OBSERVE);
      topo.exec(podB, 'nft', ['-f', '-'], OBSERVE);

      // Without our rules nothing is masqueraded: podA cannot reach out (no return route).
      assert.equal(ping(topo, podA, '192.168.100.2'), false, 'control: no NAT, no reply');
      assert.equal(counters(topo, out)['from-podA'], 1);

      const p = programmerIn(node, kind, { families: [4] });
      p.setDesired({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: '10.66.0.0/16', natOutgoing: false }],
        nodeAddresses: ['192.168.100.2'], ipipEnabled: false, vxlanEnabled: true,
        natOutgoingExclusions: 'IPPoolsOnly', natOutgoingInterfaceFilter: 'o+' });
      await p.apply();

      assert.equal(await reach(topo, podA, '192.168.100.2'), true, 'natOutgoing pool reaches outside');
      const c1 = counters(topo, out);
      assert.ok((c1['from-node'] ?? 0) >= 1, JSON.stringify(c1));
      assert.deepEqual({ ...c1, 'from-node': 1 }, { 'from-node': 1, 'from-podA': 1, 'from-podB': 0 });
      const ct = topo.exec(node, 'conntrack', ['-L', '-p', 'icmp', '-s', '10.65.0.2', '-d', '192.168.100.2']);
      assert.match(ct, /src=10\.65\.0\.2 dst=192\.168\.100\.2 .* src=192\.168\.100\.2 dst=192\.168\.100\.1/, ct);

      assert.equal(ping(topo, podB, '192.168.100.2'), false, 'pool without natOutgoing is not masqueraded');
      assert.deepEqual(counters(topo, out), { ...c1, 'from-podB': 1 });

      assert.equal(await reach(topo, podA, '10.66.0.2'), true);
      assert.ok((counters(topo, podB)['from-podA'] ?? 0) >= 1, 'pool → pool keeps the pod source address');
      assert.equal(counters(topo, podB)['from-node'], 0);

      // Turning natOutgoing on for podB's pool is a set change; podB now gets out.
      p.setDesired({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: '10.66.0.0/16', natOutgoing: true }],
        nodeAddresses: ['192.168.100.2'], ipipEnabled: false, vxlanEnabled: true,
        natOutgoingExclusions: 'IPPoolsOnly', natOutgoingInterfaceFilter: 'o+' });
      const r = await p.apply();
      assert.deepEqual(r.families[0]?.chainsWritten, []);
      assert.equal(await reach(topo, podB, '192.168.100.2'), true);
      assert.ok((counters(topo, out)['from-node'] ?? 0) > (c1['from-node'] ?? 0));
      assert.equal(counters(topo, out)['from-podB'], 1, 'podB is masqueraded now');

      // natOutgoingExclusions=IPPoolsAndHostIPs: node addresses (out is one) are never masqueraded to.
      p.setDesired({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: '10.66.0.0/16', natOutgoing: true }],
        nodeAddresses: ['192.168.100.2'], ipipEnabled: false, vxlanEnabled: true,
        natOutgoingExclusions: 'IPPoolsAndHostIPs', natOutgoingInterfaceFilter: 'o+' });
      await p.apply();
      const before = counters(topo, out);
      assert.equal(ping(topo, podA, '192.168.100.2'), false, 'no masquerade towards a host IP');
      assert.deepEqual(counters(topo, out), { ...before, 'from-podA': (before['from-podA'] ?? 0) + 1 });
    } finally {
      await topo.cleanup();
    }
  });
}
