/**
 * Two nodes whose pods talk only through the VXLAN tunnel our engine programs.
 *
 *   podA (10.244.0.5/32)                                   podB (10.244.1.5/32)
 *     eth0 ── caliA                                          caliB ── eth0
 *            nodeA: eth0 192.168.70.1/24 ══ veth ══ nodeB: eth0 192.168.70.2/24 (MTU 1400)
 *                   vxlan.calico 10.244.0.0/32            vxlan.calico 10.244.1.0/32
 *
 * Each node runs an ns-agent (RtNetlink + RouteTable + VxlanManager) in its namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topology, topologySkipReason } from '../helpers/netns.js';
import { sh, trySh } from '../helpers/sh.js';
import { pollUntil, matchesSubset } from '../helpers/poll.js';
import { NsAgent } from '../felix/routes/ns-agent-client.js';
import { blackholeRoute, workloadRoute } from '../../felix/routes/route.js';
import { vxlanMacForNode } from '../../ipip/vxlan-mac.js';

const skip = topologySkipReason('ip', 'ping', 'bridge');
const j = (args: string[]): Array<Record<string, unknown>> => JSON.parse(sh('ip', ['-j', ...args])) as Array<Record<string, unknown>>;

interface Side { node: string; pod: string; cali: string; nodeIp: string; tunnel: string; block: string; podIp: string; name: string }

test('VXLAN: pods on two nodes ping through vxlan.calico; VTEP entries come before routes and go after them', { skip, timeout: 60_000 }, async () => {
  const topo = new Topology('vxl');
  const agents: NsAgent[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tortie-mtu-'));
  try {
    const a: Side = { node: topo.ns('na'), pod: topo.ns('pa'), cali: 'caliA', nodeIp: '192.168.70.1', tunnel: '10.244.0.0', block: '10.244.0.0/26', podIp: '10.244.0.5', name: 'node-a' };
    const b: Side = { node: topo.ns('nb'), pod: topo.ns('pb'), cali: 'caliB', nodeIp: '192.168.70.2', tunnel: '10.244.1.0', block: '10.244.1.0/26', podIp: '10.244.1.5', name: 'node-b' };
    topo.link(a.node, 'eth0', `${a.nodeIp}/24`, b.node, 'eth0', `${b.nodeIp}/24`);
    for (const s of [a, b]) {
      sh('ip', ['-n', s.node, 'link', 'set', 'eth0', 'mtu', '1400']);
      topo.link(s.node, s.cali, [], s.pod, 'eth0', `${s.podIp}/32`);
      topo.exec(s.pod, 'ip', ['route', 'add', 'default', 'dev', 'eth0', 'scope', 'link']);
      topo.exec(s.node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', `net.ipv4.conf.${s.cali}.proxy_arp=1`,
        'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    }
    const [agentA, agentB] = [new NsAgent(a.node), new NsAgent(b.node)];
    agents.push(agentA, agentB);
    const program = async (agent: NsAgent, self: Side, peer: Side | undefined): Promise<void> => {
      await agent.call('vxlan.setRemote', {
        vteps: peer === undefined ? [] : [{ nodeName: peer.name, nodeIp: peer.nodeIp, tunnelIp: peer.tunnel }],
        blocks: peer === undefined ? [] : [{ cidr: peer.block, nodeName: peer.name }],
        local: [workloadRoute(self.podIp, self.cali), blackholeRoute(self.block)],
      });
      const res = await agent.call<{ failed: number }>('vxlan.apply');
      assert.equal(res.failed, 0, agent.stderr);
    };
    for (const [agent, self, peer] of [[agentA, a, b], [agentB, b, a]] as const) {
      await agent.call('vxlan.configure', { nodeName: self.name, nodeIp: self.nodeIp, tunnelAddress: self.tunnel });
      await program(agent, self, peer);
    }

    // The device as Calico builds it.
    const dev = j(['-n', a.node, '-d', 'link', 'show', 'vxlan.calico'])[0];
    assert.ok(matchesSubset(dev, { mtu: 1350, address: vxlanMacForNode('node-a'),
      linkinfo: { info_kind: 'vxlan', info_data: { id: 4096, port: 4789, local: a.nodeIp, link: 'eth0', learning: false } } }), JSON.stringify(dev));
    assert.ok(j(['-n', a.node, 'addr', 'show', 'dev', 'vxlan.calico']).some((l) => matchesSubset(l, { addr_info: [{ local: a.tunnel, prefixlen: 32 }] })));
    const fdb = JSON.parse(sh('bridge', ['-n', a.node, '-j', 'fdb', 'show', 'dev', 'vxlan.calico'])) as unknown[];
    assert.ok(fdb.some((f) => matchesSubset(f, { mac: vxlanMacForNode('node-b'), dst: b.nodeIp, state: 'permanent' })), JSON.stringify(fdb));
    const neigh = j(['-n', a.node, 'neigh', 'show', 'dev', 'vxlan.calico']);
    assert.ok(neigh.some((n) => matchesSubset(n, { dst: b.tunnel, lladdr: vxlanMacForNode('node-b'), state: ['PERMANENT'] })), JSON.stringify(neigh));
    assert.ok(j(['-n', a.node, 'route', 'show', 'proto', '80']).some((r) => matchesSubset(r, { dst: b.block, gateway: b.tunnel, dev: 'vxlan.calico', flags: ['onlink'] })));

    // Pods ping each other, full-size for the pod MTU (1350 − 28 bytes of IP+ICMP headers, DF set).
    await pollUntil(() => trySh('ip', ['netns', 'exec', a.pod, 'ping', '-c', '1', '-W', '1', b.podIp]).status === 0, { timeoutMs: 10_000, what: 'ping podA → podB' });
    const big = trySh('ip', ['netns', 'exec', b.pod, 'ping', '-c', '2', '-W', '1', '-M', 'do', '-s', '1322', a.podIp]);
    assert.equal(big.status, 0, big.stdout + big.stderr);
    const stats = j(['-n', a.node, '-s', 'link', 'show', 'vxlan.calico'])[0] as { stats64: { tx: { packets: number }; rx: { packets: number } } };
    assert.ok(stats.stats64.tx.packets >= 3 && stats.stats64.rx.packets >= 3, 'traffic went through the tunnel');

    // MTU detection and the CNI file.
    const mtuFile = join(dir, 'mtu');
    const mtu = await agentA.call<{ host: number; pod: number }>('mtu.detect', { nodeIp: a.nodeIp, encaps: ['vxlan'], file: mtuFile });
    assert.deepEqual(mtu, { host: 1400, pod: 1350 });
    assert.equal(readFileSync(mtuFile, 'utf8'), '1350\n');

    // Node B leaves: the route goes, then the VTEP entries; the device itself is kept as is.
    const ifindexBefore = j(['-n', a.node, 'link', 'show', 'vxlan.calico'])[0]?.['ifindex'];
    await program(agentA, a, undefined);
    assert.equal(j(['-n', a.node, 'link', 'show', 'vxlan.calico'])[0]?.['ifindex'], ifindexBefore, 'device not recreated');
    assert.ok(!j(['-n', a.node, 'route', 'show', 'proto', '80']).some((r) => r['dst'] === b.block));
    assert.equal((JSON.parse(sh('bridge', ['-n', a.node, '-j', 'fdb', 'show', 'dev', 'vxlan.calico'])) as Array<{ state?: string }>).filter((f) => f.state === 'permanent').length, 0);
    assert.equal(j(['-n', a.node, 'neigh', 'show', 'dev', 'vxlan.calico']).filter((n) => JSON.stringify(n['state']).includes('PERMANENT')).length, 0);
    assert.notEqual(trySh('ip', ['netns', 'exec', a.pod, 'ping', '-c', '1', '-W', '1', b.podIp]).status, 0, 'no path once the tunnel is gone');
  } finally {
    for (const ag of agents) await ag.stop();
    await topo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The same over IPv6: underlay fd00:70::/64, pods in fd00:244::/122 blocks, device
 * vxlan-v6.calico (MTU parent − 70), NDP instead of ARP; pods reach the node via fe80::1.
 */
test('VXLAN over IPv6: pods on two nodes ping through vxlan-v6.calico', { skip, timeout: 60_000 }, async () => {
  const topo = new Topology('vx6');
  const agents: NsAgent[] = [];
  try {
    const a = { node: topo.ns('na'), pod: topo.ns('pa'), cali: 'caliA', nodeIp: 'fd00:70::1', tunnel: 'fd00:244::', block: 'fd00:244::/122', podIp: 'fd00:244::5', name: 'node-a' };
    const b = { node: topo.ns('nb'), pod: topo.ns('pb'), cali: 'caliB', nodeIp: 'fd00:70::2', tunnel: 'fd00:244::40', block: 'fd00:244::40/122', podIp: 'fd00:244::45', name: 'node-b' };
    topo.link(a.node, 'eth0', `${a.nodeIp}/64`, b.node, 'eth0', `${b.nodeIp}/64`);
    for (const s of [a, b]) {
      topo.link(s.node, s.cali, [], s.pod, 'eth0', `${s.podIp}/128`);
      sh('ip', ['-n', s.node, 'addr', 'add', 'fe80::1/64', 'dev', s.cali, 'nodad']);
      topo.exec(s.pod, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
      topo.exec(s.node, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    }
    for (const [self, peer] of [[a, b], [b, a]] as const) {
      const agent = new NsAgent(self.node);
      agents.push(agent);
      await agent.call('vxlan.configure', { nodeName: self.name, nodeIp: self.nodeIp, tunnelAddress: self.tunnel });
      await agent.call('vxlan.setRemote', {
        vteps: [{ nodeName: peer.name, nodeIp: peer.nodeIp, tunnelIp: peer.tunnel }],
        blocks: [{ cidr: peer.block, nodeName: peer.name }],
        local: [workloadRoute(self.podIp, self.cali), blackholeRoute(self.block)],
      });
      const res = await agent.call<{ failed: number }>('vxlan.apply');
      assert.equal(res.failed, 0, agent.stderr);
    }
    const dev = j(['-n', a.node, '-d', 'link', 'show', 'vxlan-v6.calico'])[0];
    assert.ok(matchesSubset(dev, { mtu: 1430, linkinfo: { info_kind: 'vxlan', info_data: { id: 4096, port: 4789, local6: a.nodeIp, learning: false } } }), JSON.stringify(dev));
    assert.ok(j(['-n', a.node, '-6', 'route', 'show', 'proto', '80']).some((r) => matchesSubset(r, { dst: b.block, gateway: b.tunnel, dev: 'vxlan-v6.calico', flags: ['onlink'] })));
    await pollUntil(() => trySh('ip', ['netns', 'exec', a.pod, 'ping', '-6', '-c', '1', '-W', '1', b.podIp]).status === 0, { timeoutMs: 15_000, what: 'ping6 podA → podB' });
    const stats = j(['-n', b.node, '-s', 'link', 'show', 'vxlan-v6.calico'])[0] as { stats64: { rx: { packets: number } } };
    assert.ok(stats.stats64.rx.packets >= 1, 'traffic went through the tunnel');
  } finally {
    for (const ag of agents) await ag.stop();
    await topo.cleanup();
  }
});
