/**
 * `tortie-lab up` and `down`: builds the plan's namespaces, links, etcd, the ToR and one
 * tortie-node per node, then makes the pods by running the CNI plugin exactly as a container
 * runtime does. `down` removes everything recorded in lab.json (or, without it, every namespace
 * carrying the lab's prefix) and is idempotent.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chownSync, chmodSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { TortieError, describeError } from '../../common/errors.js';
import { unixAgentClient } from '../cni/agent-client.js';
import {
  type LabOptions, type LabPlan, type NodePlan, type PodPlan, type TorIndex, ETCD_ADDRESS, ETCD_TOR_ADDRESS, EXTERNAL_ADDRESS, EXTERNAL_CIDR, POOL_CIDR, SUBNETS,
  birdConfig, frrBfddConfig, frrBgpdConfig, frrZebraConfig, labResources, planLab, torGateway, torNetnsOf,
} from './lab-plan.js';
import {
  alive, hasCommand, listNamespaces, namespaceExists, namespacePids, readPid, run, runIn, startDetached, stopPid, tryRun, tryRunIn,
} from './lab-host.js';
import type { LabPod } from './ping-matrix.js';

export const DIST_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE_MAIN = `${DIST_ROOT}agent/node/main.js`;
/** The plugin as runtimes run it: the bundled single file the build makes. */
export const CNI_MAIN = `${DIST_ROOT}agent/cni/tortie-cni.cjs`;
export const CTL_MAIN = `${DIST_ROOT}agent/ctl/main.js`;

export type Progress = (line: string) => void;

/** What `up` recorded, read back by check/status/down. */
export interface LabState {
  readonly options: LabOptions;
  readonly plan: LabPlan;
  readonly pods: LabPod[];
}

export function stateFile(stateDir: string): string {
  return `${stateDir}/lab.json`;
}

export function readState(stateDir: string): LabState | undefined {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabState;
  } catch (err) {
    throw new TortieError('lab-state', `cannot read ${file}: ${describeError(err)}; run \`tortie-lab down\` to start over`);
  }
}

function writeState(state: LabState): void {
  writeFileSync(stateFile(state.options.stateDir), `${JSON.stringify(state, null, 2)}\n`);
}

function requireTools(tor: LabOptions['tor']): void {
  if (process.getuid?.() !== 0) throw new TortieError('lab-root', 'the lab makes network namespaces: run it as root');
  const tools = ['ip', 'nsenter', 'ping', 'etcd', 'etcdctl', ...(tor === 'frr' ? ['vtysh', '/usr/lib/frr/zebra', '/usr/lib/frr/bgpd'] : ['bird', 'birdc'])];
  const missing = tools.filter((t) => (t.startsWith('/') ? !existsSync(t) : !hasCommand(t)));
  if (missing.length > 0) throw new TortieError('lab-tools', `missing ${missing.join(', ')}: run scripts/setup.sh (or npm run lab) first`);
  for (const f of [NODE_MAIN, CNI_MAIN, CTL_MAIN]) {
    if (!existsSync(f)) throw new TortieError('lab-build', `${f} is not built: run npx tsc -p tsconfig.json`);
  }
}

/**
 * A ToR namespace's forwarding and its bridges, one per node subnet. Each bridge stands for the
 * ToR's VLAN interface, which stays up while any port of the VLAN is: a veth pair holds one port
 * up, so a subnet with a single node keeps its interface when that node's port is cut (`fail
 * link`). Without it the ToR would see its own interface go down and end the session at once
 * (FRR's fast-external-failover), keeping the node's routes for graceful restart: that measures
 * the ToR's interface handling, not the detection of a dead node.
 */
function makeTor(ns: string, tor: TorIndex): void {
  runIn(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  for (let s = 1; s <= SUBNETS; s++) {
    run('ip', ['-n', ns, 'link', 'add', `br${s}`, 'type', 'bridge']);
    run('ip', ['-n', ns, 'addr', 'add', `${torGateway(tor, s)}/24`, 'dev', `br${s}`]);
    run('ip', ['-n', ns, 'link', 'add', `br${s}-hold`, 'type', 'veth', 'peer', 'name', `br${s}-holdp`]);
    run('ip', ['-n', ns, 'link', 'set', `br${s}-hold`, 'master', `br${s}`, 'up']);
    run('ip', ['-n', ns, 'link', 'set', `br${s}-holdp`, 'up']);
    run('ip', ['-n', ns, 'link', 'set', `br${s}`, 'up']);
  }
}

/**
 * Dual ToR: each node's eth1 on tor2's bridge, and <p>-ext behind both ToRs. Its way back to the
 * nodes' uplinks goes to the ToR of that uplink; to the pods over both (ECMP, as the nodes do), a
 * ToR whose link is down skipped (ignore_routes_with_linkdown), so a failed ToR costs no replies.
 */
function makeDualTor(plan: LabPlan): void {
  const tor2 = torNetnsOf(plan, 2), ext = plan.extNetns!;
  makeTor(tor2, 2);
  for (const n of plan.nodes) {
    const u = n.uplink2!;
    run('ip', ['link', 'add', 'eth1', 'netns', n.netns, 'type', 'veth', 'peer', 'name', n.torIfname, 'netns', tor2]);
    run('ip', ['-n', tor2, 'link', 'set', n.torIfname, 'master', `br${n.subnet}`, 'up']);
    run('ip', ['-n', n.netns, 'addr', 'add', `${u.address}/${n.prefixLength}`, 'dev', 'eth1']);
    run('ip', ['-n', n.netns, 'link', 'set', 'eth1', 'up']);
  }
  runIn(ext, 'sysctl', ['-qw', 'net.ipv4.conf.all.ignore_routes_with_linkdown=1']);
  run('ip', ['-n', ext, 'addr', 'add', `${EXTERNAL_ADDRESS}/32`, 'dev', 'lo']);
  for (const t of [1, 2] as const) {
    const ns = torNetnsOf(plan, t);
    run('ip', ['link', 'add', 'ext0', 'netns', ns, 'type', 'veth', 'peer', 'name', `eth${t}`, 'netns', ext]);
    run('ip', ['-n', ns, 'addr', 'add', `10.199.${t}.1/30`, 'dev', 'ext0']);
    run('ip', ['-n', ns, 'link', 'set', 'ext0', 'up']);
    run('ip', ['-n', ext, 'addr', 'add', `10.199.${t}.2/30`, 'dev', `eth${t}`]);
    run('ip', ['-n', ext, 'link', 'set', `eth${t}`, 'up']);
    torExternalRoute(plan, t);
    run('ip', ['-n', ext, 'route', 'add', `10.${99 + t}.0.0/16`, 'via', `10.199.${t}.1`]);
  }
  run('ip', ['-n', ext, 'route', 'add', POOL_CIDR, 'nexthop', 'via', '10.199.1.1', 'nexthop', 'via', '10.199.2.1']);
}

/** A ToR's route to the outside network (its admin-down links, `fail-tor`, flush it: `heal-tor` puts it back). */
export function torExternalRoute(plan: LabPlan, tor: TorIndex): void {
  run('ip', ['-n', torNetnsOf(plan, tor), 'route', 'replace', EXTERNAL_CIDR, 'via', `10.199.${tor}.2`]);
}

function makeTopology(plan: LabPlan, say: Progress): void {
  for (const ns of [plan.torNetns, ...(plan.tor2Netns !== undefined ? [plan.tor2Netns, plan.extNetns!] : []), plan.etcdNetns, ...plan.nodes.map((n) => n.netns)]) {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const tor = plan.torNetns;
  makeTor(tor, 1);
  run('ip', ['link', 'add', 'eth0', 'netns', plan.etcdNetns, 'type', 'veth', 'peer', 'name', 'etcd0', 'netns', tor]);
  run('ip', ['-n', tor, 'addr', 'add', `${ETCD_TOR_ADDRESS}/30`, 'dev', 'etcd0']);
  run('ip', ['-n', tor, 'link', 'set', 'etcd0', 'up']);
  run('ip', ['-n', plan.etcdNetns, 'addr', 'add', `${ETCD_ADDRESS}/30`, 'dev', 'eth0']);
  run('ip', ['-n', plan.etcdNetns, 'link', 'set', 'eth0', 'up']);
  run('ip', ['-n', plan.etcdNetns, 'route', 'add', 'default', 'via', ETCD_TOR_ADDRESS]);
  for (const n of plan.nodes) {
    run('ip', ['link', 'add', 'eth0', 'netns', n.netns, 'type', 'veth', 'peer', 'name', n.torIfname, 'netns', tor]);
    run('ip', ['-n', tor, 'link', 'set', n.torIfname, 'master', `br${n.subnet}`, 'up']);
    run('ip', ['-n', n.netns, 'addr', 'add', `${n.address}/${n.prefixLength}`, 'dev', 'eth0']);
    run('ip', ['-n', n.netns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', n.netns, 'route', 'add', 'default', 'via', n.gateway]);
    runIn(n.netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  }
  if (plan.tor2Netns !== undefined) makeDualTor(plan);
  say(`topology: ${plan.torNetns} (bridges br1 10.100.1.0/24, br2 10.100.2.0/24), ${plan.etcdNetns}, ${plan.nodes.map((n) => `${n.name} ${n.address}`).join(', ')}`);
  if (plan.tor2Netns !== undefined) {
    say(`topology: ${plan.tor2Netns} (bridges 10.101.1.0/24, 10.101.2.0/24, each node's eth1), ${plan.extNetns} ${EXTERNAL_ADDRESS} behind both ToRs (${EXTERNAL_CIDR}, ECMP on each node)`);
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof TortieError) throw err; // a daemon died: waiting longer cannot help
      last = describeError(err);
    }
    if (Date.now() > deadline) throw new TortieError('lab-timeout', `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(file: string, lines = 15): string {
  try { return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
}

async function startEtcd(plan: LabPlan, say: Progress): Promise<void> {
  const dir = `${plan.options.stateDir}/etcd`;
  mkdirSync(dir, { recursive: true });
  const client = `http://${ETCD_ADDRESS}:2379,http://127.0.0.1:2379`;
  const pid = startDetached(plan.etcdNetns, 'etcd', ['--name', 'lab', '--data-dir', `${dir}/data`,
    '--listen-client-urls', client, '--advertise-client-urls', `http://${ETCD_ADDRESS}:2379`,
    '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
    '--initial-cluster', 'lab=http://127.0.0.1:2380', '--log-level', 'warn'], { logFile: `${dir}/etcd.log`, pidFile: `${dir}/etcd.pid` });
  await waitFor('etcd to be healthy', 20_000, () => {
    if (!alive(pid)) throw new TortieError('lab-etcd', `etcd exited:\n${tail(`${dir}/etcd.log`)}`);
    return tryRunIn(plan.etcdNetns, 'etcdctl', ['--endpoints', '127.0.0.1:2379', 'endpoint', 'health']).status === 0 ? true : undefined;
  });
  say(`etcd: up in ${plan.etcdNetns} at http://${ETCD_ADDRESS}:2379 (pid ${pid})`);
}

/** tortiectl with the lab's etcd, run inside the etcd namespace. */
export function ctl(plan: LabPlan, args: readonly string[], input?: string): string {
  return run('ip', ['netns', 'exec', plan.etcdNetns, 'env', 'DATASTORE_TYPE=etcdv3', 'ETCD_ENDPOINTS=http://127.0.0.1:2379',
    process.execPath, CTL_MAIN, ...args], input);
}

function applyResources(plan: LabPlan, say: Progress): void {
  const docs = labResources(plan);
  ctl(plan, ['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
  say(`datastore: ${plan.options.bfd === true ? 'BFDProfile lab-bfd (100 ms x 3) on the mesh and the ToR peers, ' : ''}BGPConfiguration default (AS 64512, mesh on), IPPool lab-pool 10.244.0.0/16 vxlanMode CrossSubnet${plan.options.encap === 'udp' ? ' over the UDP backend' : ''}, ${plan.nodes.length} BGPPeers to the ToR${plan.tor2Netns !== undefined ? ` and ${plan.nodes.length} to tor2` : ''}`);
}

/** Where ToR 1 (or 2) keeps its config, sockets and logs. */
export function torDir(plan: LabPlan, tor: TorIndex = 1): string {
  return `${plan.options.stateDir}/${tor === 1 ? 'tor' : 'tor2'}`;
}

async function startTor(plan: LabPlan, say: Progress, tor: TorIndex = 1): Promise<void> {
  const dir = torDir(plan, tor);
  const ns = torNetnsOf(plan, tor);
  mkdirSync(dir, { recursive: true });
  if (plan.options.tor === 'bird') {
    writeFileSync(`${dir}/bird.conf`, birdConfig(plan, tor));
    runIn(ns, 'bird', ['-c', `${dir}/bird.conf`, '-s', `${dir}/bird.ctl`, '-P', `${dir}/bird.pid`]);
    say(`ToR: BIRD in ${ns}, AS 65000${plan.options.bfd === true ? ', protocol bfd' : ''}`);
    return;
  }
  chownSync(dir, uid('frr'), gid('frr'));
  chmodSync(plan.options.stateDir, 0o755);
  writeFileSync(`${dir}/zebra.conf`, frrZebraConfig(plan, `${dir}/zebra.log`, tor));
  writeFileSync(`${dir}/bgpd.conf`, frrBgpdConfig(plan, `${dir}/bgpd.log`, tor));
  const common = ['-z', `${dir}/zserv.api`, '--vty_socket', dir, '-u', 'frr', '-g', 'frr'];
  runIn(ns, '/usr/lib/frr/zebra', ['-d', '-f', `${dir}/zebra.conf`, '-i', `${dir}/zebra.pid`, ...common]);
  await waitFor('zebra', 10_000, () => (existsSync(`${dir}/zserv.api`) ? true : undefined));
  if (plan.options.bfd === true) {
    writeFileSync(`${dir}/bfdd.conf`, frrBfddConfig(plan, `${dir}/bfdd.log`, tor));
    runIn(ns, '/usr/lib/frr/bfdd', ['-d', '-f', `${dir}/bfdd.conf`, '-i', `${dir}/bfdd.pid`, '--bfdctl', `${dir}/bfdd.sock`, ...common]);
  }
  runIn(ns, '/usr/lib/frr/bgpd', ['-d', '-f', `${dir}/bgpd.conf`, '-i', `${dir}/bgpd.pid`, ...common]);
  await waitFor('bgpd', 10_000, () => (tryRunIn(ns, 'vtysh', ['--vty_socket', dir, '-c', 'show bgp summary json']).status === 0 ? true : undefined));
  const peers = plan.nodes.map((n) => (tor === 1 ? n.address : n.uplink2?.address ?? ''));
  say(`ToR: FRR (zebra + bgpd${plan.options.bfd === true ? ' + bfdd' : ''}) in ${ns}, AS 65000, peers ${peers.join(' ')}`);
}

function uid(user: string): number {
  return Number(run('id', ['-u', user]).trim());
}
function gid(group: string): number {
  return Number(run('id', ['-g', group]).trim());
}

export function nodeEnv(n: NodePlan): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: `http://${ETCD_ADDRESS}:2379`, NODENAME: n.name,
    IP: `${n.address}/${n.prefixLength}`, CALICO_NETWORKING_BACKEND: 'bird', NO_DEFAULT_POOLS: 'true',
    TORTIE_RUN_DIR: n.runDir, TORTIE_STATE_DIR: n.stateDir, TORTIE_LOG_LEVEL: process.env['TORTIE_LOG_LEVEL'] ?? 'info',
    // TORTIE_BFD_ENGINE=thread compares with BFD inside the agent (bench/restart --bfd).
    ...(process.env['TORTIE_BFD_ENGINE'] !== undefined ? { TORTIE_BFD_ENGINE: process.env['TORTIE_BFD_ENGINE'] } : {}),
  };
}

/** Start tortie-node in a node namespace (also by `restart`; `main` another build's agent for an upgrade). */
export function startNode(n: NodePlan, main: string = NODE_MAIN): number {
  mkdirSync(n.runDir, { recursive: true });
  mkdirSync(n.stateDir, { recursive: true });
  // Extra Node.js flags for the agents only, e.g. TORTIE_LAB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extra = (process.env['TORTIE_LAB_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
  return startDetached(n.netns, process.execPath, [...extra, main], { logFile: n.logFile, pidFile: n.pidFile, env: nodeEnv(n) });
}

/** Poll the node's cni.sock until it answers `status` with ok. */
export async function waitNodeReady(n: NodePlan, timeoutMs = 60_000): Promise<void> {
  const client = unixAgentClient(`${n.runDir}/cni.sock`, 2000);
  await waitFor(`${n.name} to serve cni.sock`, timeoutMs, async () => {
    const pid = readPid(n.pidFile);
    if (pid === undefined || !alive(pid)) throw new TortieError('lab-node', `tortie-node in ${n.netns} exited; last log lines:\n${tail(n.logFile)}`);
    const res = await client.call({ type: 'status' });
    if (res.type === 'ok') return true;
    throw new Error(res.type === 'error' ? res.message : `answered ${res.type}`);
  });
}

export function cniConfig(n: NodePlan): string {
  return JSON.stringify({
    cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', mtu: 0, log_level: 'info',
    agent_socket: `${n.runDir}/cni.sock`, mtu_file: `${n.stateDir}/mtu`, ipam: { type: 'tortie-ipam' },
    // As deploy/ writes it: a DEL while the agent restarts releases in etcd.
    datastore_type: 'etcdv3', etcd_endpoints: `http://${ETCD_ADDRESS}:2379`,
  });
}

export interface CniRun { readonly status: number; readonly stdout: string; readonly stderr: string; readonly ms: number }

/** Run the CNI plugin in the node namespace as a runtime does (async, so many can run at once). */
/**
 * The environment a container runtime gives the plugin: its own few variables and CNI_*, not the
 * caller's shell (which may carry e.g. NODE_EXTRA_CA_CERTS, which costs Node ~35 ms at start-up).
 */
export function runtimeEnv(n: NodePlan): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', TORTIE_CNI_LOG: `${n.runDir}/../cni.log` };
}

export function runCni(n: NodePlan, command: 'ADD' | 'DEL' | 'CHECK', pod: PodPlan, stdinExtra: Record<string, unknown> = {}): Promise<CniRun> {
  const config = { ...(JSON.parse(cniConfig(n)) as Record<string, unknown>), ...stdinExtra };
  const started = performance.now();
  const child = spawn('ip', ['netns', 'exec', n.netns, process.execPath, CNI_MAIN], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...runtimeEnv(n),
      CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: `/var/run/netns/${pod.netns}`, CNI_IFNAME: 'eth0',
      CNI_PATH: '/opt/cni/bin', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=lab;K8S_POD_NAME=${pod.name}`,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin.end(JSON.stringify(config));
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ status: -1, stdout, stderr: describeError(err), ms: performance.now() - started }));
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr, ms: performance.now() - started }));
  });
}

/** ADD one pod: make its namespace, run the plugin, return the pod with its address. */
export async function addPod(plan: LabPlan, pod: PodPlan): Promise<LabPod & { ms: number }> {
  const n = plan.nodes.find((x) => x.name === pod.node);
  if (n === undefined) throw new TortieError('lab-pod', `pod ${pod.name}: no node ${pod.node} in the plan`);
  if (!namespaceExists(pod.netns)) {
    run('ip', ['netns', 'add', pod.netns]);
  }
  const r = await runCni(n, 'ADD', pod);
  let result: { ips?: Array<{ address?: string }>; msg?: string } = {};
  try { result = JSON.parse(r.stdout) as typeof result; } catch { /* reported below */ }
  const address = result.ips?.[0]?.address?.split('/')[0];
  if (r.status !== 0 || address === undefined) {
    throw new TortieError('lab-cni', `CNI ADD of ${pod.name} on ${n.name} failed (exit ${r.status}): ${result.msg ?? (r.stdout.trim() || r.stderr.trim())}`);
  }
  return { name: pod.name, netns: pod.netns, node: n.netns, address, ms: r.ms };
}

/** As a kubelet does: a failed ADD (which the plugin rolled back) is tried again, visibly. */
async function addPodRetrying(plan: LabPlan, pod: PodPlan, say: Progress, tries = 3): Promise<LabPod & { ms: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await addPod(plan, pod);
    } catch (err) {
      if (attempt >= tries) throw err;
      say(`pod: ${pod.name} ADD attempt ${attempt} failed (${describeError(err)}); trying again, as a kubelet would`);
    }
  }
}

export async function up(options: LabOptions, say: Progress): Promise<LabState> {
  const plan = planLab(options);
  requireTools(options.tor);
  if (readState(options.stateDir) !== undefined) {
    throw new TortieError('lab-exists', `a lab is already up (${stateFile(options.stateDir)}): run \`tortie-lab down\` first, or \`tortie-lab check\``);
  }
  const taken = plan.namespaces.filter((ns) => listNamespaces().includes(ns));
  if (taken.length > 0) throw new TortieError('lab-exists', `namespaces ${taken.join(', ')} already exist: run \`tortie-lab down\` first`);
  mkdirSync(options.stateDir, { recursive: true });
  const state: LabState = { options, plan, pods: [] };
  writeState(state);
  say(`lab: ${options.nodes} nodes on ${SUBNETS} subnets, ${options.podsPerNode} pods per node, ${options.tors === 2 ? 'two ToRs' : 'ToR'} ${options.tor}; state in ${options.stateDir}`);
  makeTopology(plan, say);
  await startEtcd(plan, say);
  applyResources(plan, say);
  await startTor(plan, say);
  if (plan.tor2Netns !== undefined) await startTor(plan, say, 2);
  for (const n of plan.nodes) say(`tortie-node: ${n.name} started (pid ${startNode(n)}, log ${n.logFile})`);
  await Promise.all(plan.nodes.map((n) => waitNodeReady(n)));
  say(`tortie-node: all ${plan.nodes.length} nodes serve cni.sock`);
  for (const pod of plan.pods) {
    const p = await addPodRetrying(plan, pod, say);
    state.pods.push({ name: p.name, netns: p.netns, node: p.node, address: p.address });
    writeState(state);
    say(`pod: ${p.name} on ${p.node} ${p.address} (CNI ADD ${Math.round(p.ms)} ms)`);
  }
  return state;
}

/** Remove everything the lab made; safe to run any number of times. */
export async function down(stateDir: string, prefix: string, say: Progress): Promise<void> {
  let state: LabState | undefined;
  try { state = readState(stateDir); } catch { state = undefined; }
  const ours = (ns: string): boolean => ns.startsWith(`${prefix}-`) && /-(node\d+|tor2?|ext|etcd|pod\d+-\d+)$/.test(ns);
  const namespaces = new Set([...(state?.plan.namespaces ?? []), ...listNamespaces().filter(ours)]);
  const present = [...namespaces].filter((ns) => listNamespaces().includes(ns));
  // tortie-node first (SIGTERM: clean Cease to its peers), then the rest of what runs in our namespaces.
  const nodeNs = present.filter((ns) => /-node\d+$/.test(ns));
  await Promise.all(nodeNs.flatMap((ns) => namespacePids(ns)).map((pid) => stopPid(pid)));
  await Promise.all(present.flatMap((ns) => namespacePids(ns)).map((pid) => stopPid(pid)));
  for (const ns of present) {
    const r = tryRun('ip', ['netns', 'del', ns]);
    if (r.status !== 0) say(`down: could not delete namespace ${ns}: ${r.stderr.trim()}`);
  }
  if (existsSync(stateDir)) rmSync(stateDir, { recursive: true, force: true });
  say(present.length === 0 ? 'down: nothing to remove' : `down: removed ${present.length} namespaces and ${stateDir}`);
}
