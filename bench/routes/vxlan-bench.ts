/**
 * VXLAN data plane: iperf3 between two "pods" over a tunnel programmed by Tortie's engine
 * versus the same tunnel made by hand with `ip`/`bridge` (performance.md §5: the goal is parity,
 * the agent only configures the kernel). Prints a table and a JSON line.
 *
 *   podA ─ caliA ─ nodeA ══ veth underlay ══ nodeB ─ caliB ─ podB
 *
 *   npx tsc -p tsconfig.json; node dist/bench/routes/vxlan-bench.js [seconds]
 */
import { execFileSync, spawn } from 'node:child_process';
import { NsAgent } from '../../test/felix/routes/ns-agent-client.js';
import { blackholeRoute, workloadRoute } from '../../felix/routes/route.js';
import { vxlanMacForNode } from '../../ipip/vxlan-mac.js';

const seconds = Number(process.argv[2] ?? 3) || 3;
const tag = `tt-vxb-${process.pid}`;
const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });
const nsx = (ns: string, ...args: string[]): string => sh('ip', 'netns', 'exec', ns, ...args);

interface Side { node: string; pod: string; cali: string; nodeIp: string; tunnel: string; block: string; podIp: string; name: string }

function topology(): [Side, Side] {
  const mk = (x: 'a' | 'b', i: number): Side => ({ node: `${tag}-n${x}`, pod: `${tag}-p${x}`, cali: `cali${x.toUpperCase()}`,
    nodeIp: `192.168.90.${i}`, tunnel: `10.245.${i - 1}.0`, block: `10.245.${i - 1}.0/26`, podIp: `10.245.${i - 1}.5`, name: `node-${x}` });
  const a = mk('a', 1), b = mk('b', 2);
  for (const s of [a, b]) { sh('ip', 'netns', 'add', s.node); sh('ip', 'netns', 'add', s.pod); }
  sh('ip', 'link', 'add', 'eth0', 'netns', a.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.node);
  for (const s of [a, b]) {
    sh('ip', '-n', s.node, 'addr', 'add', `${s.nodeIp}/24`, 'dev', 'eth0');
    sh('ip', '-n', s.node, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', s.node, 'link', 'set', 'lo', 'up');
    sh('ip', 'link', 'add', s.cali, 'netns', s.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', s.pod);
    sh('ip', '-n', s.pod, 'addr', 'add', `${s.podIp}/32`, 'dev', 'eth0');
    sh('ip', '-n', s.pod, 'link', 'set', 'eth0', 'up', 'mtu', '1450');
    sh('ip', '-n', s.pod, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', s.pod, 'route', 'add', 'default', 'dev', 'eth0', 'scope', 'link');
    sh('ip', '-n', s.node, 'link', 'set', s.cali, 'up');
    nsx(s.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', `net.ipv4.conf.${s.cali}.proxy_arp=1`);
  }
  return [a, b];
}

function byHand(self: Side, peer: Side): void {
  const ip = (...args: string[]): string => sh('ip', '-n', self.node, ...args);
  ip('link', 'add', 'vxlan.calico', 'address', vxlanMacForNode(self.name), 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'local', self.nodeIp, 'dev', 'eth0', 'nolearning');
  ip('link', 'set', 'vxlan.calico', 'mtu', '1450', 'up');
  ip('addr', 'add', `${self.tunnel}/32`, 'dev', 'vxlan.calico');
  ip('neigh', 'add', peer.tunnel, 'lladdr', vxlanMacForNode(peer.name), 'dev', 'vxlan.calico', 'nud', 'permanent');
  sh('bridge', '-n', self.node, 'fdb', 'add', vxlanMacForNode(peer.name), 'dev', 'vxlan.calico', 'dst', peer.nodeIp, 'self', 'permanent');
  ip('route', 'add', `${self.podIp}/32`, 'dev', self.cali, 'scope', 'link', 'proto', '80');
  ip('route', 'add', 'blackhole', self.block, 'proto', '80');
  ip('route', 'add', peer.block, 'via', peer.tunnel, 'dev', 'vxlan.calico', 'onlink', 'proto', '80');
}

async function byTortie(agents: NsAgent[], self: Side, peer: Side): Promise<void> {
  const agent = new NsAgent(self.node);
  agents.push(agent);
  await agent.call('vxlan.configure', { nodeName: self.name, nodeIp: self.nodeIp, tunnelAddress: self.tunnel });
  await agent.call('vxlan.setRemote', { vteps: [{ nodeName: peer.name, nodeIp: peer.nodeIp, tunnelIp: peer.tunnel }],
    blocks: [{ cidr: peer.block, nodeName: peer.name }], local: [workloadRoute(self.podIp, self.cali), blackholeRoute(self.block)] });
  const res = await agent.call<{ failed: number }>('vxlan.apply');
  if (res.failed !== 0) throw new Error(`tortie apply failed: ${agent.stderr}`);
}

async function iperf(a: Side, b: Side): Promise<{ gbps: number; rttUs: number }> {
  const server = spawn('ip', ['netns', 'exec', b.pod, 'iperf3', '-s', '-1', '-B', b.podIp], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      try { nsx(a.pod, 'ping', '-c', '1', '-W', '1', b.podIp); break; } catch { /* not yet */ }
    }
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(nsx(a.pod, 'ping', '-c', '5', '-i', '0.2', b.podIp))?.[1];
    let out = '';
    for (let i = 0; i < 20 && out === ''; i++) {
      try { out = nsx(a.pod, 'iperf3', '-c', b.podIp, '-t', String(seconds), '-J'); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return { gbps: Math.round(j.end.sum_received.bits_per_second / 1e7) / 100, rttUs: Math.round(Number(rtt) * 1000) };
  } finally {
    server.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const results: Record<string, { gbps: number; rttUs: number }> = {};
  for (const mode of ['by hand', 'tortie'] as const) {
    const agents: NsAgent[] = [];
    let sides: [Side, Side] | undefined;
    try {
      sides = topology();
      const [a, b] = sides;
      if (mode === 'by hand') { byHand(a, b); byHand(b, a); } else { await byTortie(agents, a, b); await byTortie(agents, b, a); }
      results[mode] = await iperf(a, b);
    } finally {
      for (const ag of agents) await ag.stop();
      for (const s of sides ?? []) for (const ns of [s.node, s.pod]) { try { sh('ip', 'netns', 'del', ns); } catch { /* gone */ } }
    }
  }
  process.stdout.write(`${'setup'.padEnd(10)} ${'Gbit/s'.padStart(8)} ${'RTT µs'.padStart(8)}\n`);
  for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(10)} ${String(v.gbps).padStart(8)} ${String(v.rttUs).padStart(8)}\n`);
  const hand = results['by hand'], ours = results['tortie'];
  process.stdout.write(`${JSON.stringify({ bench: 'vxlan-dataplane', seconds, results, ratio: hand && ours ? Math.round((ours.gbps / hand.gbps) * 100) / 100 : null })}\n`);
}

main().catch((err: unknown) => { process.stderr.write(`vxlan-bench failed: ${err instanceof Error ? err.message : String(err)}\n`); process.exitCode = 1; });
