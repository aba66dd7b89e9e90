/**
 * The UDP backend against a remote node written by hand (udp-fake-node.ts), in namespaces:
 *
 *   pod (10.244.1.5/32) ── caliP ── node1: eth0 192.168.77.1/24 ══ veth ══ far: eth0 192.168.77.2/24
 *                                   tortie-udp (TUN, worker thread)         fake node :8285, "pod" 10.244.2.7
 *                                   10.244.2.0/26 dev tortie-udp           also 192.168.77.3: a stranger
 *
 * node1 runs UdpTunnel in an ns-agent (real netlink, real TUN, the real worker); the far side
 * builds and reads the IP-in-UDP datagrams itself, so the wire format is checked, not our encoder
 * against our decoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Topology, topologySkipReason } from '../helpers/netns.js';
import { sh, trySh } from '../helpers/sh.js';
import { pollUntil } from '../helpers/poll.js';
import { NsAgent } from '../felix/routes/ns-agent-client.js';
import { workloadRoute } from '../../felix/routes/route.js';
import type { DatapathStats } from '../../ipip/udp-datapath.js';

const skip = topologySkipReason('ip', 'ping') ?? (trySh('test', ['-c', '/dev/net/tun']).status === 0 ? undefined : 'no /dev/net/tun on this machine');
const FAKE = fileURLToPath(new URL('./udp-fake-node.js', import.meta.url));

class FakeNode {
  readonly events: Array<Record<string, Record<string, unknown>>> = [];
  private readonly child: ChildProcess;
  constructor(ns: string, bind: string, peer: string, podIp: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, FAKE, bind, '8285', peer, podIp], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => { this.events.push(JSON.parse(l) as Record<string, Record<string, unknown>>); });
  }
  send(cmd: object): void { this.child.stdin?.write(`${JSON.stringify(cmd)}\n`); }
  of(kind: string): Array<Record<string, unknown>> { return this.events.flatMap((e) => (e[kind] === undefined ? [] : [e[kind]])); }
  stop(): void { this.child.kill('SIGKILL'); }
}

test('UDP backend: pods reach a remote node through tortie-udp both ways; unroutable, unknown and garbage are dropped and counted', { skip, timeout: 90_000 }, async () => {
  const topo = new Topology('udp');
  const fakes: FakeNode[] = [];
  let agent: NsAgent | undefined;
  try {
    const node = topo.ns('n1');
    const far = topo.ns('far');
    const pod = topo.ns('pod');
    topo.link(node, 'eth0', '192.168.77.1/24', far, 'eth0', ['192.168.77.2/24', '192.168.77.3/24']);
    sh('ip', ['-n', node, 'link', 'set', 'eth0', 'mtu', '1400']);
    topo.link(node, 'caliP', [], pod, 'eth0', '10.244.1.5/32');
    topo.exec(pod, 'ip', ['route', 'add', 'default', 'dev', 'eth0', 'scope', 'link']);
    topo.exec(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.caliP.proxy_arp=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);

    agent = new NsAgent(node);
    const cfg = await agent.call<{ device: string; mtu: number }>('udp.configure', { nodeIp: '192.168.77.1', underlayMtu: 1400 });
    assert.deepEqual(cfg, { device: 'tortie-udp', mtu: 1372 });
    const apply = async (extra: object[] = []): Promise<void> => {
      const res = await agent!.call<{ failed: number }>('udp.apply', {
        remotes: [{ cidr: '10.244.2.0/26', nodeIp: '192.168.77.2' }], peers: ['192.168.77.2'],
        local: [workloadRoute('10.244.1.5', 'caliP'), ...extra],
      });
      assert.equal(res.failed, 0, agent!.stderr);
    };
    await apply();

    // The device: a TUN without an address, MTU = underlay − 28, up; the block routed through it.
    const dev = (JSON.parse(sh('ip', ['-n', node, '-j', '-d', 'link', 'show', 'tortie-udp'])) as Array<Record<string, unknown>>)[0] ?? {};
    assert.equal(dev['mtu'], 1372);
    assert.equal((dev['linkinfo'] as { info_kind?: string } | undefined)?.info_kind, 'tun');
    assert.ok((dev['flags'] as string[]).includes('UP'), JSON.stringify(dev));
    assert.match(sh('ip', ['-n', node, 'route', 'show', '10.244.2.0/26']), /dev tortie-udp proto 80 scope link/);

    const fake = new FakeNode(far, '192.168.77.2', '192.168.77.1', '10.244.2.7');
    fakes.push(fake);
    await pollUntil(() => fake.of('ready').length > 0, { what: 'fake node ready' });

    // Pod → remote pod: the request arrives as a bare IP packet in a datagram, TTL 64 − 1 (the
    // node's kernel) − 1 (the data path); the fake node's reply comes back to the pod.
    const out = topo.exec(pod, 'ping', ['-n', '-c', '3', '-i', '0.2', '-W', '2', '10.244.2.7']);
    assert.match(out, /3 received/);
    const req = await pollUntil(() => { const r = fake.of('echoRequest'); return r.length >= 3 ? r : undefined; }, { what: 'echo requests seen by the fake node' });
    assert.deepEqual({ ...req[0], seq: 0 }, { from: '10.244.1.5', to: '10.244.2.7', seq: 0, ttl: 62, via: '192.168.77.1', headerOk: true });

    // Remote pod → pod: hand-built datagrams reach the pod, whose replies come back the same way.
    fake.send({ op: 'ping', from: '10.244.2.7', to: '10.244.1.5', count: 5 });
    const replies = await pollUntil(() => { const r = fake.of('echoReply'); return r.length >= 5 ? r : undefined; }, { what: 'echo replies from the pod' });
    assert.deepEqual(replies.map((r) => [r['from'], r['to'], r['ttl'], r['headerOk']]), Array(5).fill(['10.244.1.5', '10.244.2.7', 62, true]));

    // No block for the destination: the data path answers ICMP net-unreachable from the node address.
    await apply([{ dst: '10.244.0.0/16', type: 'unicast', iface: 'tortie-udp', scope: 'link' }]);
    const unreach = trySh('ip', ['netns', 'exec', pod, 'ping', '-n', '-c', '1', '-W', '2', '10.244.9.9']);
    assert.match(unreach.stdout, /From 192\.168\.77\.1 icmp_seq=1 Destination Net Unreachable/, unreach.stdout + unreach.stderr);

    // A stranger (not a node) sends valid requests to the pod and garbage; the node sends garbage.
    const stranger = new FakeNode(far, '192.168.77.3', '192.168.77.1', '10.244.2.8');
    fakes.push(stranger);
    await pollUntil(() => stranger.of('ready').length > 0, { what: 'stranger ready' });
    stranger.send({ op: 'ping', from: '10.244.2.8', to: '10.244.1.5', count: 5 });
    stranger.send({ op: 'garbage', count: 500 });
    fake.send({ op: 'garbage', count: 2000 });
    await pollUntil(() => fake.of('garbageSent').length > 0 && stranger.of('garbageSent').length > 0, { what: 'garbage sent' });
    const stats = await pollUntil(async () => {
      const s = await agent!.call<DatapathStats>('udp.stats');
      return s.dropUnknownSource >= 5 && s.dropMalformed >= 100 && s.dropNoRoute >= 1 ? s : undefined;
    }, { timeoutMs: 5000, what: 'drops counted (stats are posted every second)' });
    assert.ok(stats.rxPackets >= 5 && stats.txPackets >= 8, JSON.stringify(stats));
    assert.equal(stranger.of('echoReply').length, 0, 'the stranger got no answer');
    assert.deepEqual(fake.of('unreachable'), []);

    // Still forwarding after all that.
    assert.match(topo.exec(pod, 'ping', ['-n', '-c', '2', '-i', '0.2', '-W', '2', '10.244.2.7']), /2 received/);

    // Stopping the data path removes the device (and with it the routes through it).
    await agent.call('udp.stop');
    await pollUntil(() => trySh('ip', ['-n', node, 'link', 'show', 'tortie-udp']).status !== 0, { what: 'tortie-udp gone' });
  } finally {
    for (const f of fakes) f.stop();
    await agent?.stop();
    await topo.cleanup();
  }
});
