/**
 * VXLAN (udp 4789) is accepted only from known node addresses, with real datagrams:
 *
 *   [known 192.168.1.2]──n0 192.168.1.1 ┐
 *                                        [node]  UDP listener on :4789 prints each sender
 *   [rogue 192.168.2.2]──n1 192.168.2.1 ┘
 *
 * Both families (v6 addresses fd00:1::2 known, fd00:2::2 rogue on the same links).
 * The rogue's datagrams are sent first, then the known node's; once the known node's arrive and
 * the drop rule counted the rogue's, the listener must have seen none of the rogue's. Adding the
 * rogue to the node set (an incremental set change) lets it through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { Proc } from '../../helpers/sh.js';
import { pollUntil } from '../../helpers/poll.js';
import { programmerIn, type BackendKind } from '../../helpers/rules.js';
import type { RulesConfig } from '../../../felix/rules/desired-rules.js';

const LISTENER = `const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => console.log('from ' + r.address));
const s6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
s6.on('message', (m, r) => console.log('from ' + r.address));
s.bind(4789, () => s6.bind(4789, '::', () => console.log('ready')));`;

function send(topo: Topology, ns: string, dst: string, n: number): void {
  topo.exec(ns, process.execPath, ['-e', `const s = require('node:dgram').createSocket('${dst.includes(':') ? 'udp6' : 'udp4'}');
let left = ${n}; const go = () => s.send(Buffer.from('vxlan?'), 4789, '${dst}', () => { if (--left > 0) go(); else s.close(); }); go();`]);
}

function dropCount(topo: Topology, ns: string, kind: BackendKind, family: 4 | 6 = 4): number {
  if (kind === 'nft') {
    const j = JSON.parse(topo.exec(ns, 'nft', ['-j', 'list', 'chain', family === 4 ? 'ip' : 'ip6', 'tortie', 'INPUT'])) as
      { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number }; drop?: null }> } }> };
    const rule = j.nftables.find((x) => x.rule?.expr.some((e) => 'drop' in e) === true && JSON.stringify(x.rule).includes('4789'));
    return rule?.rule?.expr.find((e) => e.counter !== undefined)?.counter?.packets ?? -1;
  }
  const text = topo.exec(ns, family === 4 ? 'iptables' : 'ip6tables', ['-L', 'tortie-INPUT', '-v', '-x', '-n']);
  const line = text.split('\n').find((l) => /\sDROP\s/.test(l) && l.includes('4789'));
  return Number(line?.trim().split(/\s+/)[0] ?? -1);
}

const skip = topologySkipReason('nft', 'iptables-restore', 'ipset');

for (const kind of ['nft', 'iptables'] as const satisfies readonly BackendKind[]) {
  test(`${kind}: VXLAN from an unknown host is dropped, from a known node accepted`, { skip }, async () => {
    const topo = new Topology(`v${kind.slice(0, 2)}`);
    let listener: Proc | undefined;
    try {
      const node = topo.ns('nd');
      const known = topo.ns('kn');
      const rogue = topo.ns('rg');
      topo.link(known, 'eth0', ['192.168.1.2/24', 'fd00:1::2/64'], node, 'n0', ['192.168.1.1/24', 'fd00:1::1/64']);
      topo.link(rogue, 'eth0', ['192.168.2.2/24', 'fd00:2::2/64'], node, 'n1', ['192.168.2.1/24', 'fd00:2::1/64']);
      const config: RulesConfig = { pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }],
        nodeAddresses: ['192.168.1.2', '10.0.0.99', 'fd00:1::2'], ipipEnabled: true, vxlanEnabled: true };
      const p = programmerIn(node, kind, { families: [4, 6] });
      p.setDesired(config);
      await p.apply();

      listener = new Proc('ip', ['netns', 'exec', node, process.execPath, '-e', LISTENER]);
      const l = listener;
      await pollUntil(() => l.output.includes('ready'), { what: 'UDP listener', timeoutMs: 10_000 });
      send(topo, rogue, '192.168.2.1', 5);
      send(topo, known, '192.168.1.1', 5);
      await pollUntil(() => (l.output.match(/from 192\.168\.1\.2/g) ?? []).length === 5 && dropCount(topo, node, kind) >= 5,
        { what: 'known datagrams delivered and rogue ones counted as dropped', timeoutMs: 10_000 });
      assert.doesNotMatch(l.output, /192\.168\.2\.2/, 'no datagram from the unknown host reached the socket');
      assert.equal(dropCount(topo, node, kind), 5);

      // IPv6 (VXLAN over v6): the same, through the ip6 table / ip6tables.
      send(topo, rogue, 'fd00:2::1', 4);
      send(topo, known, 'fd00:1::1', 4);
      await pollUntil(() => (l.output.match(/from fd00:1::2/g) ?? []).length === 4 && dropCount(topo, node, kind, 6) >= 4,
        { what: 'IPv6: known datagrams delivered and rogue ones dropped', timeoutMs: 10_000 });
      assert.doesNotMatch(l.output, /fd00:2::2/);
      assert.equal(dropCount(topo, node, kind, 6), 4);

      p.setDesired({ ...config, nodeAddresses: [...config.nodeAddresses, '192.168.2.2'] });
      const r = await p.apply();
      assert.deepEqual(r.families[0]?.chainsWritten, [], 'a node joining is a set element, not a rule change');
      send(topo, rogue, '192.168.2.1', 3);
      await pollUntil(() => (l.output.match(/from 192\.168\.2\.2/g) ?? []).length === 3, { what: 'newly known node accepted' });
      assert.equal(dropCount(topo, node, kind), 5);
    } finally {
      await listener?.stop();
      await topo.cleanup();
    }
  });
}
