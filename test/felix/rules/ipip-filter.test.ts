/**
 * IPIP (IP protocol 4) is accepted only from known nodes, with real packets. This kernel has no
 * ipip module, so no tunnel device can receive them, but netfilter sees every protocol-4 packet
 * on INPUT before the stack discards it: the packets are sent from raw sockets and counted on our
 * accept and drop rules.
 *
 *   [known 192.168.1.2]──n0 192.168.1.1 ┐
 *                                        [node]  tortie INPUT: proto 4 from all-hosts-net → accept, else drop
 *   [rogue 192.168.2.2]──n1 192.168.2.1 ┘
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { programmerIn, type BackendKind } from '../../helpers/rules.js';

/** n raw protocol-4 packets whose payload is a minimal inner IPv4 header. */
function sendIpip(topo: Topology, ns: string, dst: string, n: number): void {
  topo.exec(ns, 'python3', ['-c', `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
inner = bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 65, 0, 2, 10, 65, 1, 2])
for _ in range(${n}): s.sendto(inner, ('${dst}', 0))`]);
}

/** Packet counts of our INPUT rules matching protocol 4: [accept, drop]. */
function ipipCounts(topo: Topology, ns: string, kind: BackendKind): [number, number] {
  if (kind === 'nft') {
    const j = JSON.parse(topo.exec(ns, 'nft', ['-j', 'list', 'chain', 'ip', 'tortie', 'INPUT'])) as
      { nftables: Array<{ rule?: { expr: Array<Record<string, unknown>> } }> };
    const count = (verdict: string): number => {
      const rule = j.nftables.find((x) => x.rule !== undefined && JSON.stringify(x.rule).includes('ipencap')
        && x.rule.expr.some((e) => verdict in e));
      const c = rule?.rule?.expr.find((e) => 'counter' in e)?.['counter'] as { packets: number } | undefined;
      return c?.packets ?? -1;
    };
    return [count('accept'), count('drop')];
  }
  const lines = topo.exec(ns, 'iptables', ['-L', 'tortie-INPUT', '-v', '-x', '-n']).split('\n')
    .filter((l) => /\s(4|ipencap)\s/.test(l));
  const n = (target: string): number => Number(lines.find((l) => l.includes(` ${target} `))?.trim().split(/\s+/)[0] ?? -1);
  return [n('ACCEPT'), n('DROP')];
}

const skip = topologySkipReason('nft', 'iptables-restore', 'ipset', 'python3');

for (const kind of ['nft', 'iptables'] as const satisfies readonly BackendKind[]) {
  test(`${kind}: IPIP from an unknown host hits the drop rule, from a known node the accept rule`, { skip }, async () => {
    const topo = new Topology(`i${kind.slice(0, 2)}`);
    try {
      const node = topo.ns('nd');
      const known = topo.ns('kn');
      const rogue = topo.ns('rg');
      topo.link(known, 'eth0', '192.168.1.2/24', node, 'n0', '192.168.1.1/24');
      topo.link(rogue, 'eth0', '192.168.2.2/24', node, 'n1', '192.168.2.1/24');
      const p = programmerIn(node, kind, { families: [4] });
      p.setDesired({ pools: [{ cidr: '10.65.0.0/16', natOutgoing: false }], nodeAddresses: ['192.168.1.2'],
        ipipEnabled: true, vxlanEnabled: false });
      await p.apply();
      assert.deepEqual(ipipCounts(topo, node, kind), [0, 0]);
      sendIpip(topo, known, '192.168.1.1', 3);
      sendIpip(topo, rogue, '192.168.2.1', 5);
      const counts = await pollUntil(() => {
        const c = ipipCounts(topo, node, kind);
        return c[0] >= 3 && c[1] >= 5 ? c : false;
      }, { what: 'IPIP packets counted', timeoutMs: 10_000 });
      assert.deepEqual(counts, [3, 5]);
    } finally {
      await topo.cleanup();
    }
  });
}
