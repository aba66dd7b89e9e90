/**
 * The userspace UDP backend (Flannel's backend/udp), the one overlay that needs no tunnel module:
 * a TUN device `tortie-udp` owned by a worker thread (udp-datapath.ts) that carries each inner IP
 * packet as one UDP datagram to the owner node's address, port 8285. The device MTU is the
 * underlay's minus 28 (48 over IPv6) and has no address: remote blocks are routed
 * `<block> dev tortie-udp scope link`, and the worker maps each packet's destination to a node.
 * accept_local is set on it so that the data path's ICMP errors, sourced from the node address,
 * are taken by the kernel.
 *
 * The TUN device lives as long as the worker's fd: if the worker dies, the kernel removes the
 * device and every route through it; ensureDevice() starts a new worker, and the caller's next
 * route-table apply puts the routes back (onChange asks for that sync).
 */
import { writeFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/logger.js';
import { TortieError, describeError } from '../common/errors.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefix } from '../common/prefix.js';
import type { Netlink } from '../felix/netlink/types.js';
import type { DesiredRoute } from '../felix/routes/route.js';
import { emptyStats, type DatapathInit, type DatapathStats, type FromDatapath, type ToDatapath } from './udp-datapath.js';
import { UDP_OVERHEAD_V4, UDP_OVERHEAD_V6, type UdpRemote } from './udp-packet.js';

export const UDP_DEVICE = 'tortie-udp';
/** Flannel's UDP backend port. */
export const UDP_PORT = 8285;

export interface UdpTunnelConfig {
  /** The node's underlay address: datagrams leave from it and arrive at it. */
  readonly nodeIp: string;
  readonly device?: string;
  readonly port?: number;
  /** The underlay MTU; the device gets it minus the UDP overhead. */
  readonly underlayMtu: number;
}

/** Something that behaves as a worker thread running udp-datapath.ts (a real Worker in production). */
export interface DatapathWorker {
  postMessage(m: ToDatapath): void;
  on(event: 'message', cb: (m: FromDatapath) => void): unknown;
  on(event: 'error', cb: (err: Error) => void): unknown;
  on(event: 'exit', cb: (code: number) => void): unknown;
  terminate(): Promise<number>;
}

export interface UdpTunnelDeps {
  readonly netlink: Netlink;
  readonly logger: Logger;
  /** Start the data path (default: a worker thread on udp-datapath.js). */
  readonly startWorker?: (init: DatapathInit) => DatapathWorker;
  /** The device went away or came back: the caller should sync its routes. */
  readonly onChange?: () => void;
  /** Milliseconds since some epoch, for the restart back-off. */
  readonly now?: () => number;
  /** Write a sysctl of this network namespace (default: /proc/sys). */
  readonly sysctl?: (path: string, value: string) => Promise<void>;
}

const procSysctl = async (path: string, value: string): Promise<void> => { await writeFile(`/proc/sys/${path}`, value); };

export function startDatapathWorker(init: DatapathInit): DatapathWorker {
  return new Worker(new URL('./udp-datapath.js', import.meta.url), { workerData: { udpDatapath: init } }) as unknown as DatapathWorker;
}

export class UdpTunnel {
  readonly device: string;
  readonly port: number;
  readonly mtu: number;
  private worker: DatapathWorker | undefined;
  private ready: Promise<void> | undefined;
  private up = false;
  private lastStart = -Infinity;
  private lastStats: DatapathStats = emptyStats();
  /** Counters of workers that ended, so totals survive a restart. */
  private carried: DatapathStats = emptyStats();
  private remotes: readonly UdpRemote[] = [];
  private peers: readonly string[] = [];
  private readonly log: Logger;

  constructor(private readonly deps: UdpTunnelDeps, readonly config: UdpTunnelConfig) {
    this.device = config.device ?? UDP_DEVICE;
    this.port = config.port ?? UDP_PORT;
    this.mtu = config.underlayMtu - (parseAddress(config.nodeIp).family === 4 ? UDP_OVERHEAD_V4 : UDP_OVERHEAD_V6);
    this.log = deps.logger.child({ device: this.device });
  }

  /** The data path is running and the device is configured (MTU, up). */
  get isUp(): boolean { return this.up; }

  /** Start the worker if it is not running, then set the device's MTU and bring it up. */
  async ensureDevice(): Promise<void> {
    if (this.worker === undefined) {
      const now = this.deps.now?.() ?? Date.now();
      if (now - this.lastStart < 1000) throw new TortieError('udp-restarting', 'the UDP data path stopped; restarting within 1 s', { where: this.device });
      this.lastStart = now;
      this.start();
    }
    await this.ready;
    const nl = this.deps.netlink;
    const link = await nl.getLink(this.device);
    if (link === undefined) throw new TortieError('udp-no-device', 'the TUN device is gone although its worker runs', { where: this.device });
    if (link.mtu !== this.mtu) await nl.setLink(link.index, { mtu: this.mtu });
    if (!link.up) await nl.setLink(link.index, { up: true });
    if (!this.up) {
      // The data path's ICMP errors come from the node address; without accept_local the kernel
      // drops a packet arriving with a local source as a martian.
      await (this.deps.sysctl ?? procSysctl)(`net/ipv4/conf/${this.device}/accept_local`, '1');
    }
    this.up = true;
  }

  private start(): void {
    const init: DatapathInit = { device: this.device, port: this.port, localAddress: formatAddress(parseAddress(this.config.nodeIp)) };
    const w = (this.deps.startWorker ?? startDatapathWorker)(init);
    this.worker = w;
    this.ready = new Promise<void>((resolve, reject) => {
      let settled = false;
      w.on('message', (m) => {
        switch (m.type) {
          case 'ready':
            this.log.info({ port: this.port, mtu: this.mtu }, 'UDP backend data path running');
            settled = true;
            resolve();
            break;
          case 'stats': this.lastStats = m.stats; break;
          case 'fatal':
            this.log.error({ err: m.message }, 'UDP backend data path failed');
            if (!settled) { settled = true; reject(new TortieError('udp-datapath', m.message, { where: this.device })); }
            void w.terminate();
            break;
        }
      });
      const ended = (why: string): void => {
        if (this.worker !== w) return;
        this.worker = undefined;
        this.up = false;
        this.carried = add(this.carried, this.lastStats);
        this.lastStats = emptyStats();
        if (!settled) { settled = true; reject(new TortieError('udp-datapath', why, { where: this.device })); }
        this.log.warn({ why }, 'UDP backend data path ended; its routes are gone until it restarts');
        this.deps.onChange?.();
      };
      w.on('error', (err) => { ended(describeError(err)); });
      w.on('exit', (code) => { ended(`worker exited with code ${code}`); });
    });
    this.ready.catch(() => { /* reported by ensureDevice's caller */ });
    w.postMessage({ type: 'remotes', remotes: this.remotes, peers: this.peers });
  }

  /** The remote blocks this node reaches over UDP, and every node address datagrams may come from. */
  setRemotes(remotes: readonly UdpRemote[], peers: readonly string[]): void {
    const canon = remotes.map((r) => ({ cidr: formatPrefix(parsePrefix(r.cidr)), nodeIp: formatAddress(parseAddress(r.nodeIp)) }));
    const canonPeers = [...new Set(peers.map((p) => formatAddress(parseAddress(p))))].sort();
    if (JSON.stringify(canon) === JSON.stringify(this.remotes) && JSON.stringify(canonPeers) === JSON.stringify(this.peers)) return;
    this.remotes = canon;
    this.peers = canonPeers;
    this.worker?.postMessage({ type: 'remotes', remotes: canon, peers: canonPeers });
  }

  /** Routes through the device, only while it is up (the kernel refuses them otherwise). */
  routesFor(remotes: readonly UdpRemote[]): DesiredRoute[] {
    if (!this.up) return [];
    return remotes.map((r) => ({ dst: formatPrefix(parsePrefix(r.cidr)), type: 'unicast', iface: this.device, scope: 'link' }));
  }

  /** Counters since the agent started (across data path restarts). */
  stats(): DatapathStats { return add(this.carried, this.lastStats); }

  async stop(): Promise<void> {
    const w = this.worker;
    if (w === undefined) return;
    this.worker = undefined;
    this.up = false;
    const exited = new Promise<void>((resolve) => { w.on('exit', () => { resolve(); }); });
    w.postMessage({ type: 'stop' });
    const timeout = new Promise<void>((resolve) => { setTimeout(resolve, 2000).unref(); });
    await Promise.race([exited, timeout]);
    await w.terminate();
  }
}

function add(a: DatapathStats, b: DatapathStats): DatapathStats {
  const out = emptyStats();
  for (const k of Object.keys(out) as Array<keyof DatapathStats>) out[k] = a[k] + b[k];
  return out;
}
