/**
 * The lab's shape, computed from its options and nothing else (no I/O): namespace names,
 * underlay addresses, the resources written to etcd and the ToR's configuration.
 *
 *   <p>-etcd (10.100.0.2) ── etcd0 ┐
 *                                   <p>-tor  AS 65000, FRR (zebra+bgpd) or BIRD, forwards
 *   br1 10.100.1.1/24 ─────────────┤        br2 10.100.2.1/24
 *     <p>-node1 .11  <p>-node2 .12            <p>-node3 .13 ...   (AS 64512, full mesh)
 *       pods: <p>-pod1-1 ...                    pods: <p>-pod3-1 ...
 *
 * Nodes 1..ceil(N/2) sit on subnet 1, the rest on subnet 2, so same-subnet pairs route
 * directly and cross-subnet pairs use VXLAN (pool vxlanMode CrossSubnet), or with `encap: udp` the
 * userspace UDP backend (the pool annotated tortie.io/encapsulation: udp).
 *
 * `tors: 2` (a dual-ToR rack): a second ToR <p>-tor2 (same AS) with its own bridges, 10.101.S.1/24,
 * each node's second uplink eth1 on it (10.101.S.(10+i)), and <p>-ext behind both ToRs, the outside
 * network 10.200.0.0/24 (10.200.0.1 on its lo) that both advertise: each node installs it with
 * both ToRs as next hops (ECMP). tor1 alone carries etcd and the mesh.
 *   <p>-tor  ext0 10.199.1.1 ── 10.199.1.2 eth1 ┐
 *                                                <p>-ext 10.200.0.1
 *   <p>-tor2 ext0 10.199.2.1 ── 10.199.2.2 eth2 ┘
 */
import { TortieError } from '../../common/errors.js';
import { ENCAPSULATION_ANNOTATION } from '../resources/ip-pool.js';
import { BFD_PROFILE_ANNOTATION, TORTIE_API_VERSION } from '../resources/bfd-profile.js';

export type TorKind = 'frr' | 'bird';

export interface LabOptions {
  /** Prefix of every namespace name (`tortie` → tortie-node1, tortie-tor, ...). */
  readonly prefix: string;
  readonly nodes: number;
  readonly podsPerNode: number;
  readonly tor: TorKind;
  /** Where pid files, logs, sockets and lab.json live. */
  readonly stateDir: string;
  /** IPPool blockSize (default 26); the convergence bench uses 31 so pods open new blocks. */
  readonly blockSize?: number;
  /** How cross-subnet pairs are carried: the kernel's VXLAN (default) or the userspace UDP backend. */
  readonly encap?: LabEncap;
  /**
   * BFD (100 ms x 3) on the mesh and towards the ToR. `tortie-lab up` turns it on unless
   * `--no-bfd`; callers of up() (tests, benches) ask for it, so their labs keep their behaviour.
   */
  readonly bfd?: boolean;
  /** 1 (default) or 2: a second ToR, a second uplink per node, and an outside network behind both. */
  readonly tors?: 1 | 2;
}

/** The lab's BFD profile: what the issue asks of a node's death (seen within 300 ms). */
export const LAB_BFD = { name: 'lab-bfd', intervalMs: 100, multiplier: 3 } as const;
const bfdOn = (plan: LabPlan): boolean => plan.options.bfd === true;

export const LAB_ENCAPS = ['vxlan', 'udp'] as const;
export type LabEncap = (typeof LAB_ENCAPS)[number];

export const TOR_AS = 65000;
export const NODE_AS = 64512;
export const POOL_CIDR = '10.244.0.0/16';
export const ETCD_ADDRESS = '10.100.0.2';
export const ETCD_TOR_ADDRESS = '10.100.0.1';
export const SUBNETS = 2;
/** Behind both ToRs of a dual-ToR lab: what each node reaches with ECMP. */
export const EXTERNAL_CIDR = '10.200.0.0/24';
export const EXTERNAL_ADDRESS = '10.200.0.1';
export type TorIndex = 1 | 2;

export interface NodePlan {
  readonly index: number;
  /** Node name and namespace, e.g. tortie-node1. */
  readonly name: string;
  readonly netns: string;
  /** 1 or 2. */
  readonly subnet: number;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string;
  /** The ToR-side veth of this node (enslaved to the subnet's bridge). */
  readonly torIfname: string;
  /** With two ToRs: the node's eth1 on tor2's bridge of its subnet (the ToR side is also named `torIfname`). */
  readonly uplink2?: { readonly address: string; readonly gateway: string };
  readonly runDir: string;
  readonly stateDir: string;
  readonly logFile: string;
  readonly pidFile: string;
}

export interface PodPlan {
  readonly node: string;
  readonly name: string;
  readonly netns: string;
  readonly containerId: string;
}

export interface LabPlan {
  readonly options: LabOptions;
  readonly torNetns: string;
  /** With two ToRs: the second ToR and the outside network behind both. */
  readonly tor2Netns?: string;
  readonly extNetns?: string;
  readonly etcdNetns: string;
  readonly nodes: readonly NodePlan[];
  readonly pods: readonly PodPlan[];
  /** Every namespace the lab makes, in creation order. */
  readonly namespaces: readonly string[];
}

export function validateOptions(o: LabOptions): void {
  const bad = (what: string, msg: string): never => { throw new TortieError('lab-options', msg, { where: what }); };
  if (!/^[a-z][a-z0-9]{0,11}$/.test(o.prefix)) bad('--prefix', `must be 1-12 lowercase letters/digits starting with a letter, got ${JSON.stringify(o.prefix)}`);
  if (!Number.isInteger(o.nodes) || o.nodes < 2 || o.nodes > 60) bad('--nodes', `must be an integer 2..60, got ${o.nodes}`);
  if (!Number.isInteger(o.podsPerNode) || o.podsPerNode < 1 || o.podsPerNode > 200) bad('--pods', `must be an integer 1..200, got ${o.podsPerNode}`);
  if (o.blockSize !== undefined && (!Number.isInteger(o.blockSize) || o.blockSize < 20 || o.blockSize > 31)) {
    bad('blockSize', `must be an integer 20..31, got ${o.blockSize}`);
  }
  if (o.tor !== 'frr' && o.tor !== 'bird') bad('--tor', `must be frr or bird, got ${JSON.stringify(o.tor)}`);
  if (o.encap !== undefined && !LAB_ENCAPS.includes(o.encap)) bad('--encap', `must be ${LAB_ENCAPS.join(' or ')}, got ${JSON.stringify(o.encap)}`);
  if (o.tors !== undefined && o.tors !== 1 && o.tors !== 2) bad('--tors', `must be 1 or 2, got ${JSON.stringify(o.tors)}`);
}

const dualTor = (plan: LabPlan): boolean => plan.options.tors === 2;

/** A ToR's bridge address on a node subnet: tor1 10.100.S.1, tor2 10.101.S.1. */
export function torGateway(tor: TorIndex, subnet: number): string {
  return `10.${99 + tor}.${subnet}.1`;
}

/** The namespace of ToR 1 or 2. */
export function torNetnsOf(plan: LabPlan, tor: TorIndex): string {
  if (tor === 1) return plan.torNetns;
  if (plan.tor2Netns === undefined) throw new TortieError('lab-options', 'this lab has one ToR (`up --tors 2` makes two)', { where: 'tor2' });
  return plan.tor2Netns;
}

export function planLab(options: LabOptions): LabPlan {
  validateOptions(options);
  const p = options.prefix;
  const onFirst = Math.ceil(options.nodes / 2);
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= options.nodes; i++) {
    const subnet = i <= onFirst ? 1 : 2;
    const name = `${p}-node${i}`;
    const dir = `${options.stateDir}/node${i}`;
    nodes.push({
      index: i, name, netns: name, subnet, address: `10.100.${subnet}.${10 + i}`, prefixLength: 24,
      gateway: `10.100.${subnet}.1`, torIfname: `n${i}`, runDir: `${dir}/run`, stateDir: `${dir}/state`,
      ...(options.tors === 2 ? { uplink2: { address: `10.101.${subnet}.${10 + i}`, gateway: torGateway(2, subnet) } } : {}),
      logFile: `${dir}/tortie-node.log`, pidFile: `${dir}/tortie-node.pid`,
    });
  }
  const pods: PodPlan[] = [];
  for (const n of nodes) {
    for (let j = 1; j <= options.podsPerNode; j++) {
      pods.push({ node: n.name, name: `pod${n.index}-${j}`, netns: `${p}-pod${n.index}-${j}`, containerId: `${p}-ctr-${n.index}-${j}` });
    }
  }
  const torNetns = `${p}-tor`;
  const etcdNetns = `${p}-etcd`;
  const dual = options.tors === 2 ? { tor2Netns: `${p}-tor2`, extNetns: `${p}-ext` } : undefined;
  return {
    options, torNetns, ...dual, etcdNetns, nodes, pods,
    namespaces: [torNetns, ...(dual ? [dual.tor2Netns, dual.extNetns] : []), etcdNetns, ...nodes.map((n) => n.netns), ...pods.map((x) => x.netns)],
  };
}

export function subnetGateway(subnet: number): string {
  return `10.100.${subnet}.1`;
}

/** The datastore content: BGP defaults, the CrossSubnet pool (VXLAN, or the UDP backend), one ToR peering per node. */
export function labResources(plan: LabPlan): Array<Record<string, unknown>> {
  // BFD rides on an annotation (tortie.io/bfd-profile), so the Calico resources stay Calico's.
  const bfd = bfdOn(plan);
  const meta = (name: string, bfdToo = false): Record<string, unknown> =>
    (bfd && bfdToo ? { name, annotations: { [BFD_PROFILE_ANNOTATION]: LAB_BFD.name } } : { name });
  const bfdSpec = { receiveInterval: LAB_BFD.intervalMs, transmitInterval: LAB_BFD.intervalMs, detectMultiplier: LAB_BFD.multiplier };
  return [
    ...(bfd ? [{ apiVersion: TORTIE_API_VERSION, kind: 'BFDProfile', metadata: { name: LAB_BFD.name }, spec: bfdSpec }] : []),
    { apiVersion: 'projectcalico.org/v3', kind: 'BGPConfiguration', metadata: meta('default', true),
      spec: { asNumber: NODE_AS, nodeToNodeMeshEnabled: true, logSeverityScreen: 'Info' } },
    { apiVersion: 'projectcalico.org/v3', kind: 'IPPool',
      metadata: plan.options.encap === 'udp' ? { name: 'lab-pool', annotations: { [ENCAPSULATION_ANNOTATION]: 'udp' } } : meta('lab-pool'),
      spec: { cidr: POOL_CIDR, blockSize: plan.options.blockSize ?? 26, vxlanMode: 'CrossSubnet', ipipMode: 'Never', natOutgoing: false, nodeSelector: 'all()' } },
    ...plan.nodes.map((n) => ({
      apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: meta(`tor-${n.name}`, true),
      spec: { node: n.name, peerIP: n.gateway, asNumber: TOR_AS },
    })),
    // The second uplink's session leaves from that uplink's address (sourceAddress None), not the node IP.
    ...plan.nodes.flatMap((n) => (n.uplink2 === undefined ? [] : [{
      apiVersion: 'projectcalico.org/v3', kind: 'BGPPeer', metadata: meta(`tor2-${n.name}`, true),
      spec: { node: n.name, peerIP: n.uplink2.gateway, asNumber: TOR_AS, sourceAddress: 'None' },
    }])),
  ];
}

/**
 * FRR bgpd.conf for the ToR: accepts every node, installs (via zebra) what it learns. Graceful
 * restart in both roles, as a ToR under Calico runs it: a node restarting keeps its routes here
 * (stale until its End-of-RIB). Connect retry 1 s: the ToR dials a restarted node again soon.
 */
export function frrBgpdConfig(plan: LabPlan, logFile: string, tor: TorIndex = 1): string {
  const peers = plan.nodes.map((n) => (tor === 1 ? n.address : n.uplink2?.address)).filter((a): a is string => a !== undefined);
  const lines = [
    'frr defaults datacenter',
    `hostname ${torNetnsOf(plan, tor)}`,
    `log file ${logFile}`,
    '!',
    `router bgp ${TOR_AS}`,
    ` bgp router-id ${torGateway(tor, 1)}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ' bgp graceful-restart',
    ' neighbor NODES peer-group',
    ` neighbor NODES remote-as ${NODE_AS}`,
    ' neighbor NODES timers connect 1',
    ...peers.map((a) => ` neighbor ${a} peer-group NODES`),
    // No `bfd check-control-plane-failure`: tortie-bfd keeps BFD Up through an agent crash, and
    // FRR 8.4's bfdd reads the peer's C bit from the F bit's position (BFD_GETCBIT), so with it a
    // BFD Down during graceful restart is ignored whatever C bit the node sends (bgp/bfd/README.md).
    ...(bfdOn(plan) ? [` neighbor NODES bfd profile ${LAB_BFD.name}`] : []),
    ' address-family ipv4 unicast',
    ...(dualTor(plan) ? [`  network ${EXTERNAL_CIDR}`] : []),
    '  neighbor NODES activate',
    ' exit-address-family',
    '!',
  ];
  return `${lines.join('\n')}\n`;
}

/** FRR bfdd.conf: the profile bgpd's `neighbor NODES bfd profile` names (bgpd registers the sessions via zebra). */
export function frrBfddConfig(plan: LabPlan, logFile: string, tor: TorIndex = 1): string {
  return [
    `hostname ${torNetnsOf(plan, tor)}`, `log file ${logFile}`, 'bfd', ` profile ${LAB_BFD.name}`,
    `  receive-interval ${LAB_BFD.intervalMs}`, `  transmit-interval ${LAB_BFD.intervalMs}`, `  detect-multiplier ${LAB_BFD.multiplier}`,
    ' !', '!', '',
  ].join('\n');
}

export function frrZebraConfig(plan: LabPlan, logFile: string, tor: TorIndex = 1): string {
  return `hostname ${torNetnsOf(plan, tor)}\nlog file ${logFile}\n!\n`;
}

/** BIRD 2 configuration for the ToR (the optional `--tor bird`), graceful restart in both roles. */
export function birdConfig(plan: LabPlan, tor: TorIndex = 1): string {
  const peers = plan.nodes.flatMap((n) => {
    const a = tor === 1 ? n.address : n.uplink2?.address;
    return a === undefined ? [] : [`protocol bgp ${n.name.replace(/[^a-z0-9]/g, '_')} from nodes { neighbor ${a} as ${NODE_AS}; }`];
  });
  // The outside network is announced only (its kernel route, via <p>-ext, is the lab's own).
  const dual = dualTor(plan);
  return [
    `router id ${torGateway(tor, 1)};`,
    'protocol device { scan time 10; }',
    ...(dual ? [`protocol static ext { ipv4; route ${EXTERNAL_CIDR} blackhole; }`] : []),
    'protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }',
    ...(bfdOn(plan) ? [`protocol bfd { interface "*" { min rx interval ${LAB_BFD.intervalMs} ms; min tx interval ${LAB_BFD.intervalMs} ms; multiplier ${LAB_BFD.multiplier}; }; }`] : []),
    'template bgp nodes {',
    `  local as ${TOR_AS};`,
    ...(bfdOn(plan) ? ['  bfd on;'] : []),
    '  connect delay time 1; connect retry time 1; hold time 9; keepalive time 3;',
    '  graceful restart on;',
    `  ipv4 { import all; export where source = RTS_BGP${dual ? ' || proto = "ext"' : ''}; };`,
    '}',
    ...peers,
    '',
  ].join('\n');
}
