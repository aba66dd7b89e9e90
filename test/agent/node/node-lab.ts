/**
 * A small cluster for tortie-node tests: etcd in its own namespace ("db", reached by every node
 * over a management veth), node namespaces joined by the topology the test draws, real
 * tortie-node processes (dist/agent/node/main.js under `ip netns exec`), pods made by the real
 * CNI plugin (dist/agent/cni/tortie-cni.cjs, the bundle) as a container runtime would.
 *
 *   db (etcd 10.250.N.1) ──mgmt veth── nodeN (10.250.N.2)      nodes ── test-drawn underlay
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { etcdSkipReason } from '../../helpers/etcd.js';
import { pollUntil } from '../../helpers/poll.js';
import { Proc, sh, trySh } from '../../helpers/sh.js';
import { Topology, topologySkipReason } from '../../helpers/netns.js';

// The entry points as the lab and the e2e tests run them (one place names the plugin's bundle).
import { CNI_MAIN, NODE_MAIN } from '../../../agent/lab/lab.js';
export { CNI_MAIN, NODE_MAIN };

/** Why a NodeLab test cannot run here (netns tools, etcd, `tools`, a built dist/), or undefined. */
export function nodeLabSkipReason(...tools: string[]): string | undefined {
  return topologySkipReason('etcd', 'ping', ...tools) ?? etcdSkipReason() ?? (existsSync(NODE_MAIN) ? undefined : 'dist/ not built');
}

export interface LabNode {
  readonly name: string;
  readonly ns: string;
  readonly dir: string;
  readonly env: Record<string, string>;
  proc: Proc | undefined;
}

export interface KernelRouteJson { dst: string; gateway?: string; dev?: string; type?: string; protocol?: string; flags?: string[] }

export class NodeLab {
  readonly topo: Topology;
  readonly dir: string;
  readonly db: string;
  private etcd: Proc | undefined;
  private mgmt = 0;
  readonly nodes = new Map<string, LabNode>();
  /** Extra keys for the plugin's network configuration (etcd_endpoints, agent_wait_ms, ...). */
  cniConfigExtra: Record<string, unknown> = {};
  /** Extra `KEY=VALUE` pairs appended to CNI_ARGS (e.g. `IP=10.0.0.5`). */
  cniArgsExtra: string[] = [];

  constructor(name: string) {
    this.topo = new Topology(name);
    this.dir = mkdtempSync(join(tmpdir(), 'tortie-node-lab-'));
    this.db = this.topo.ns('db');
  }

  get etcdEndpoint(): string { return 'http://10.250.0.1:2379'; }

  async startEtcd(): Promise<void> {
    sh('ip', ['-n', this.db, 'addr', 'add', '10.250.0.1/32', 'dev', 'lo']);
    await this.launchEtcd();
  }

  private async launchEtcd(): Promise<void> {
    const data = join(this.dir, 'etcd');
    this.etcd = new Proc('ip', ['netns', 'exec', this.db, 'etcd', '--name', 'lab', '--data-dir', data,
      '--listen-client-urls', 'http://0.0.0.0:2379', '--advertise-client-urls', this.etcdEndpoint,
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'lab=http://127.0.0.1:2380', '--log-level', 'error']);
    const p = this.etcd;
    await pollUntil(() => {
      if (p.exited) throw new Error(`etcd exited: ${p.output.slice(-400)}`);
      return trySh('ip', ['netns', 'exec', this.db, 'etcdctl', '--endpoints', 'http://127.0.0.1:2379', 'endpoint', 'health']).status === 0;
    }, { timeoutMs: 20_000, what: 'etcd health' });
  }

  /** An etcd outage: stop the member (data kept), later `resumeEtcd()`. */
  async stopEtcd(): Promise<void> { await this.etcd?.stop('SIGTERM', 5000); }
  async resumeEtcd(): Promise<void> { await this.launchEtcd(); }

  etcdctl(args: readonly string[]): string {
    return sh('ip', ['netns', 'exec', this.db, 'etcdctl', '--endpoints', 'http://127.0.0.1:2379', ...args]);
  }

  /** Put a resource (projectcalico.org/v3 JSON) straight into etcd, under the documented key layout. */
  putResource(plural: string, doc: Record<string, unknown> & { metadata: { name: string } & Record<string, unknown> }): void {
    this.etcdctl(['put', `/tortie/v3/projectcalico.org/${plural}/${doc.metadata.name}`, JSON.stringify(doc)]);
  }

  /** A node namespace with a management link to etcd (the underlay links are the test's). */
  node(name: string, env: Record<string, string> = {}): LabNode {
    const ns = this.topo.ns(name);
    const n = ++this.mgmt;
    this.topo.link(this.db, `mg${n}`, `10.250.${n}.1/30`, ns, 'mgmt0', `10.250.${n}.2/30`);
    sh('ip', ['-n', ns, 'route', 'add', '10.250.0.1/32', 'via', `10.250.${n}.1`]);
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const node: LabNode = {
      name, ns, dir, proc: undefined,
      env: {
        NODENAME: name, ETCD_ENDPOINTS: this.etcdEndpoint, TORTIE_RUN_DIR: dir, TORTIE_STATE_DIR: dir,
        TORTIE_LOG_LEVEL: 'debug', ...env,
      },
    };
    this.nodes.set(name, node);
    return node;
  }

  /**
   * One node `node1` at `${net}.1/24` on eth0, with an upstream namespace at `.254` (its default
   * route; proxy ARP for the pods' 169.254.1.1 gateway needs one), started, once its block is
   * routed (the default pool from `env`, CALICO_IPV4POOL_CIDR).
   */
  async startNodeWithUplink(net: string, env: Record<string, string>): Promise<LabNode> {
    const n = this.node('node1', { IP: `${net}.1/24`, ...env });
    this.topo.link(n.ns, 'eth0', `${net}.1/24`, this.topo.ns('up'), 'eth0', `${net}.254/24`);
    sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', `${net}.254`]);
    this.start(n);
    await pollUntil(() => this.routes(n).some((r) => r.type === 'blackhole'), { timeoutMs: 20_000, what: () => `${n.name} block\n${this.logs()}` });
    return n;
  }

  /**
   * Two nodes on one L2 subnet `${net}.0/24`: node1 `.1`, node2 `.2` on eth0, default route via
   * `.254` (proxy ARP for the pods' 169.254.1.1 gateway needs one). With `net6` (e.g. "fd94:")
   * also `${net6}:1/64` and `${net6}:2/64`, default via `${net6}:fe`. Not started.
   */
  pair(net: string, env: Record<string, string>, net6?: string): [LabNode, LabNode] {
    const v4 = (i: number): string => `${net}.${i}/24`;
    const v6 = (i: number): string => `${net6 ?? ''}:${i}/64`;
    const addrs = (i: number): string | string[] => (net6 === undefined ? v4(i) : [v4(i), v6(i)]);
    const [n1, n2] = [1, 2].map((i) => this.node(`node${i}`, { IP: v4(i), ...(net6 === undefined ? {} : { IP6: v6(i) }), ...env })) as [LabNode, LabNode];
    this.topo.link(n1.ns, 'eth0', addrs(1), n2.ns, 'eth0', addrs(2));
    for (const n of [n1, n2]) {
      sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', `${net}.254`]);
      if (net6 !== undefined) sh('ip', ['-n', n.ns, '-6', 'route', 'add', 'default', 'via', `${net6}:fe`, 'dev', 'eth0']);
    }
    return [n1, n2];
  }

  start(node: LabNode): void {
    const env = Object.entries(node.env).map(([k, v]) => `${k}=${v}`);
    node.proc = new Proc('ip', ['netns', 'exec', node.ns, 'env', ...env, process.execPath, NODE_MAIN]);
  }

  async stop(node: LabNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = node.proc;
    if (p === undefined) return null;
    await p.stop(signal, 10_000);
    node.proc = undefined;
    return p.child.exitCode;
  }

  routes(node: LabNode, proto = '80'): KernelRouteJson[] {
    return JSON.parse(sh('ip', ['-n', node.ns, '-j', 'route', 'show', 'proto', proto]) || '[]') as KernelRouteJson[];
  }

  /** One request line to a unix socket of the node (cni.sock, node.ctl), answered with one line. */
  async call(node: LabNode, socket: 'cni.sock' | 'node.ctl', request: unknown): Promise<Record<string, unknown>> {
    const { createConnection } = await import('node:net');
    return new Promise((resolve, reject) => {
      const c = createConnection(join(node.dir, socket));
      let buf = '';
      c.setEncoding('utf8');
      c.on('connect', () => c.write(`${JSON.stringify(request)}\n`));
      c.on('data', (d: string) => { buf += d; });
      c.on('error', reject);
      c.on('close', () => { try { resolve(JSON.parse(buf) as Record<string, unknown>); } catch (err) { reject(new Error(`bad answer ${JSON.stringify(buf)}: ${String(err)}`)); } });
    });
  }

  /** Pod namespace + the real CNI plugin's ADD on `node`; returns the pod address (no /32). */
  addPod(node: LabNode, pod: string): { ns: string; address: string } {
    const ns = this.topo.ns(pod);
    const r = this.cni(node, 'ADD', pod, `/var/run/netns/${ns}`);
    if (r.status !== 0) throw new Error(`CNI ADD ${pod} failed (${r.status}): ${r.stdout} ${r.stderr}`);
    const res = JSON.parse(r.stdout) as { ips: Array<{ address: string }> };
    const address = res.ips[0]?.address.split('/')[0];
    if (address === undefined) throw new Error(`CNI ADD ${pod}: no address in ${r.stdout}`);
    return { ns, address };
  }

  /** The plugin's command line (under `ip netns exec`, with the CNI_* environment) and its stdin config. */
  private cniInvocation(node: LabNode, command: string, pod: string, netns: string): { args: string[]; input: string } {
    const config = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', mtu: 0,
      agent_socket: join(node.dir, 'cni.sock'), mtu_file: join(node.dir, 'mtu'), ...this.cniConfigExtra };
    const env = [`CNI_COMMAND=${command}`, `CNI_CONTAINERID=ctr-${pod}`, 'CNI_IFNAME=eth0', 'CNI_PATH=/opt/cni/bin',
      `CNI_NETNS=${netns}`, `TORTIE_CNI_LOG=${join(node.dir, 'cni.log')}`,
      `CNI_ARGS=${['IgnoreUnknown=1', 'K8S_POD_NAMESPACE=default', `K8S_POD_NAME=${pod}`, ...this.cniArgsExtra].join(';')}`];
    return { args: ['netns', 'exec', node.ns, 'env', ...env, process.execPath, CNI_MAIN], input: JSON.stringify(config) };
  }

  /** A dual-stack pod made by the real CNI plugin: its namespace and its address of each family. */
  addDualStackPod(n: LabNode, pod: string): { ns: string; v4: string; v6: string } {
    const ns = this.topo.ns(pod);
    const r = this.cni(n, 'ADD', pod, `/var/run/netns/${ns}`);
    if (r.status !== 0) throw new Error(`CNI ADD ${pod} failed (${r.status}): ${r.stdout} ${r.stderr}`);
    const ips = (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips.map((i) => i.address.split('/')[0] ?? '');
    const v4 = ips.find((a) => !a.includes(':')), v6 = ips.find((a) => a.includes(':'));
    if (v4 === undefined || v6 === undefined) throw new Error(`CNI ADD ${pod}: expected one address per family, got ${r.stdout}`);
    return { ns, v4, v6 };
  }

  cni(node: LabNode, command: string, pod: string, netns: string): { status: number; stdout: string; stderr: string } {
    const { args, input } = this.cniInvocation(node, command, pod, netns);
    const r = spawnSync('ip', args, { input, encoding: 'utf8' });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** The plugin as a runtime runs it, without blocking the event loop (concurrent ADD/DEL). */
  cniAsync(node: LabNode, command: string, pod: string, netns: string): Promise<{ status: number; stdout: string; stderr: string }> {
    const { args, input } = this.cniInvocation(node, command, pod, netns);
    return new Promise((resolve) => {
      const child = spawn('ip', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  ping(fromNs: string, to: string): boolean {
    return trySh('ip', ['netns', 'exec', fromNs, 'ping', '-c', '1', '-W', '1', to]).status === 0;
  }

  /** Logs of every node, for a failing assertion's message. */
  logs(maxChars = 3000): string {
    return [...this.nodes.values()].map((n) => `--- ${n.name}\n${(n.proc?.output ?? '').slice(-maxChars)}`).join('\n');
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes.values()) { try { await n.proc?.stop('SIGKILL', 2000); } catch { /* gone */ } }
    await this.etcd?.stop('SIGTERM', 3000);
    await this.topo.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
