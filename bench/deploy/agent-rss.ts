/**
 * Memory of a running tortie-node, to size the DaemonSet's requests (deploy/tortie.yaml).
 *
 *   db (etcd) ── mgmt ── n1 … nN ── bridge (ns sw), full iBGP mesh, P pods per node (real CNI plugin)
 *
 * Starts N agents (default 5) as the node tests do, waits for the full mesh and every node's
 * block, adds P pods per node (default 5), then samples VmRSS of every agent once a second for
 * S seconds (default 60) and prints, per agent and overall, the median and maximum VmRSS and the
 * final VmHWM (peak since start, start-up included). Root, etcd and the built dist/ are needed.
 *
 *   node dist/bench/deploy/agent-rss.js [--nodes 5] [--pods 5] [--seconds 60]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { pollUntil } from '../../test/helpers/poll.js';
import { sh } from '../../test/helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from '../../test/agent/node/node-lab.js';

const { values } = parseArgs({ options: {
  nodes: { type: 'string', default: '5' }, pods: { type: 'string', default: '5' }, seconds: { type: 'string', default: '60' },
} });
const N = Number(values.nodes), P = Number(values.pods), S = Number(values.seconds);

function statusMiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

async function main(): Promise<void> {
  const skip = nodeLabSkipReason();
  if (skip !== undefined) { console.error(`agent-rss: cannot run here: ${skip}`); process.exitCode = 2; return; }
  const lab = new NodeLab('rss');
  const stop = (): void => { void lab.cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', stop); process.once('SIGTERM', stop);
  try {
    await lab.startEtcd();
    const sw = lab.topo.ns('sw');
    sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    const nodes: LabNode[] = [];
    for (let i = 1; i <= N; i++) {
      const ip = `10.96.0.${i}`;
      // The DaemonSet's settings: info logs, VXLAN CrossSubnet pool, metrics and health on.
      const n = lab.node(`n${i}`, { IP: `${ip}/24`, CALICO_IPV4POOL_CIDR: '10.253.0.0/16', CALICO_IPV4POOL_VXLAN: 'CrossSubnet',
        TORTIE_LOG_LEVEL: 'info', FELIX_HEALTHENABLED: 'true', FELIX_PROMETHEUSMETRICSENABLED: 'true' });
      lab.topo.link(n.ns, 'eth0', `${ip}/24`, sw, `p${i}`, []);
      sh('ip', ['-n', sw, 'link', 'set', `p${i}`, 'master', 'br0']);
      sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', '10.96.0.254']);
      nodes.push(n);
    }
    for (const n of nodes) lab.start(n);
    for (const n of nodes) {
      await pollUntil(async () => {
        const peers = (await lab.call(n, 'node.ctl', { command: 'bgp-status' }))['peers'] as Array<{ state: string }>;
        return peers.length === N - 1 && peers.every((p) => p.state === 'up');
      }, { timeoutMs: 60_000, what: `${n.name}: ${N - 1} sessions up` });
    }
    for (const n of nodes) for (let p = 0; p < P; p++) lab.addPod(n, `${n.name}-p${p}`);
    const samples = new Map<string, number[]>(nodes.map((n) => [n.name, []]));
    for (let s = 0; s < S; s++) {
      for (const n of nodes) samples.get(n.name)?.push(statusMiB(n.proc?.pid ?? 0, 'VmRSS'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const rows = nodes.map((n) => {
      const xs = samples.get(n.name) ?? [];
      return { node: n.name, medianRss: median(xs), maxRss: Math.max(...xs), hwm: statusMiB(n.proc?.pid ?? 0, 'VmHWM') };
    });
    console.log(`tortie-node memory, ${N} nodes in a full mesh, ${P} pods each, sampled ${S} s (MiB)`);
    console.log('| node | median VmRSS | max VmRSS | VmHWM (peak since start) |\n|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.node} | ${r.medianRss.toFixed(1)} | ${r.maxRss.toFixed(1)} | ${r.hwm.toFixed(1)} |`);
    console.log(`| all | ${median(rows.map((r) => r.medianRss)).toFixed(1)} | ${Math.max(...rows.map((r) => r.maxRss)).toFixed(1)} | ${Math.max(...rows.map((r) => r.hwm)).toFixed(1)} |`);
  } finally {
    await lab.cleanup();
  }
}

await main();
