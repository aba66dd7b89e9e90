/**
 * VXLAN tunnel engine (Calico vxlan_mgr + vxlanfdb): device `vxlan.calico` (VNI 4096, UDP 4789,
 * no learning, parent = interface holding the node IP, source = that IP, stable MAC), the tunnel
 * address as /32, MTU = parent − 50 (IPv6 − 70); per remote VTEP a permanent neighbour entry
 * (tunnel IP → VTEP MAC) and a permanent FDB entry (VTEP MAC → node IP).
 *
 * Repair: `onEvent()` reads the kernel's notifications (link, address, neighbour, FDB); a change
 * to the device, its address or a VTEP entry of ours forgets what we believed about it and
 * returns true, so the caller runs `applyAdds()` again (the agent within 50 ms). `recheck()` (the
 * heartbeat, lost notifications) also compares the kernel's neighbour and FDB tables with what
 * we believe we programmed, so an entry lost without a notification comes back too.
 *
 * Ordering: `applyAdds()` programs the device and new VTEP entries; only then does
 * `routesFor()` return routes through them; `applyRemovals()` removes stale entries and must run
 * after the route table dropped their routes. `applyInDependencyOrder` (tunnel-order.ts) does it.
 */
import type { Logger } from '../common/logger.js';
import { TortieError } from '../common/errors.js';
import { assertNever } from '../common/assert-never.js';
import { parseAddress, formatAddress } from '../common/prefix.js';
import type { Netlink, LinkInfo, NetlinkEvent } from '../felix/netlink/types.js';
import { errnoOf } from '../felix/netlink/netlink-error.js';
import { vxlanRoute, type DesiredRoute } from '../felix/routes/route.js';
import { vxlanMacForNode } from './vxlan-mac.js';
import { ENCAP_OVERHEAD } from './mtu.js';

export interface VxlanConfig {
  readonly nodeName: string;
  /** The node's underlay address (VTEP source); its interface is the VXLAN parent. */
  readonly nodeIp: string;
  /** This node's tunnel address from the pool (Node.spec.ipv4VXLANTunnelAddr). */
  readonly tunnelAddress: string;
  /** Default "vxlan.calico", or "vxlan-v6.calico" over an IPv6 underlay (as Calico). */
  readonly deviceName?: string;
  readonly vni?: number;
  readonly port?: number;
  /** Explicit device MTU; default parent MTU − 50 (− 70 over IPv6). */
  readonly mtu?: number;
  /** Explicit VTEP MAC; default derived from the node name (and the family, vxlan-mac.ts). */
  readonly mac?: string;
}

export interface RemoteVtep {
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly tunnelIp: string;
  readonly mac?: string;
}

export interface RemoteBlock { readonly cidr: string; readonly nodeName: string }

export class VxlanManager {
  readonly deviceName: string;
  readonly mac: string;
  /** Underlay family: 6 for vxlan-v6.calico (also picks the default MACs, vxlan-mac.ts). */
  readonly family: 4 | 6;
  private vteps = new Map<string, RemoteVtep>();
  /** VTEPs whose neighbour + FDB entries are in the kernel, by node name. */
  private readonly programmed = new Map<string, RemoteVtep>();
  private ifindex: number | undefined;
  /** The MTU ensureDevice last set (a link event with another MTU means someone changed it). */
  private mtu: number | undefined;
  /**
   * The device was checked (settings, address, up) and nothing has happened to it since: applyAdds
   * then skips ensureDevice's dumps. recheck() (a link/address event, lost notifications, the
   * periodic resync) clears it.
   */
  private deviceChecked = false;
  /** Read the kernel's neighbour/FDB tables for stale entries on the next applyRemovals. */
  private removalsDue = true;
  /** Compare the kernel's entries with `programmed` on the next applyAdds (forget the missing ones). */
  private verifyDue = false;
  private readonly log: Logger;

  constructor(private readonly deps: { readonly netlink: Netlink; readonly logger: Logger }, readonly config: VxlanConfig) {
    this.family = parseAddress(config.nodeIp).family;
    this.deviceName = config.deviceName ?? (this.family === 6 ? 'vxlan-v6.calico' : 'vxlan.calico');
    this.mac = config.mac ?? vxlanMacForNode(config.nodeName, this.family);
    this.log = deps.logger.child({ device: this.deviceName });
  }

  setRemoteVteps(vteps: Iterable<RemoteVtep>): void {
    this.vteps = new Map([...vteps].filter((v) => v.nodeName !== this.config.nodeName).map((v) => [v.nodeName, v]));
  }

  macOf(v: RemoteVtep): string { return v.mac ?? vxlanMacForNode(v.nodeName, this.family); }

  /** Create or fix the device; returns its ifindex. Recreates it when VNI/port/parent/MAC/learning differ. */
  async ensureDevice(): Promise<number> {
    const nl = this.deps.netlink;
    const family = parseAddress(this.config.nodeIp).family;
    const addrs = await nl.listAddresses(family);
    const nodeIp = formatAddress(parseAddress(this.config.nodeIp));
    const parentAddr = addrs.find((a) => a.cidr.slice(0, a.cidr.indexOf('/')) === nodeIp);
    if (parentAddr === undefined) {
      throw new TortieError('vxlan-no-parent', `no interface holds the node address ${nodeIp}; cannot choose the VXLAN parent`,
        { where: this.deviceName });
    }
    // Two single-link requests, not a dump of every link: this runs on every sync.
    const [parent, existing] = await Promise.all([nl.getLinkByIndex(parentAddr.ifindex), nl.getLink(this.deviceName)]);
    const vni = this.config.vni ?? 4096;
    const port = this.config.port ?? 4789;
    const mtu = this.config.mtu ?? (parent?.mtu ?? 1500) - (family === 6 ? ENCAP_OVERHEAD.vxlan6 : ENCAP_OVERHEAD.vxlan);
    let dev = existing;
    if (dev !== undefined && !this.matches(dev, vni, port, nodeIp, parentAddr.ifindex)) {
      this.log.warn({ have: dev.vxlan, mac: dev.mac }, 'VXLAN device settings differ; recreating');
      await nl.deleteLink(dev.index);
      dev = undefined;
    }
    if (dev === undefined) {
      await nl.addLink({ type: 'vxlan', name: this.deviceName, mac: this.mac, mtu,
        vxlan: { vni, port, local: nodeIp, parentIndex: parentAddr.ifindex, learning: false } });
      dev = await nl.getLink(this.deviceName);
      if (dev === undefined) throw new TortieError('vxlan-create', `${this.deviceName} vanished right after creation`);
      this.programmed.clear();
    }
    if (dev.mtu !== mtu) await nl.setLink(dev.index, { mtu });
    // Exactly one address: the tunnel address as a host prefix.
    const tunnel = parseAddress(this.config.tunnelAddress);
    const want = `${formatAddress(tunnel)}/${tunnel.family === 4 ? 32 : 128}`;
    const mine = (await nl.listAddresses()).filter((a) => a.ifindex === dev.index && !a.cidr.startsWith('fe80:'));
    for (const a of mine) if (a.cidr !== want) await nl.deleteAddress(a);
    if (!mine.some((a) => a.cidr === want)) await nl.addAddress({ ifindex: dev.index, family: tunnel.family, cidr: want });
    if (!dev.up) await nl.setLink(dev.index, { up: true });
    this.ifindex = dev.index;
    this.mtu = mtu;
    this.deviceChecked = true;
    return dev.index;
  }

  private matches(dev: LinkInfo, vni: number, port: number, local: string, parent: number): boolean {
    const v = dev.vxlan;
    return dev.kind === 'vxlan' && v !== undefined && v.vni === vni && v.port === port && v.local === local
      && v.parentIndex === parent && !v.learning && dev.mac === this.mac;
  }

  /** Device first, then neighbour and FDB entries for every wanted VTEP (idempotent: REPLACE). */
  async applyAdds(): Promise<void> {
    const ifindex = this.deviceChecked && this.ifindex !== undefined ? this.ifindex : await this.ensureDevice();
    const nl = this.deps.netlink;
    if (this.verifyDue) await this.verifyProgrammed(ifindex);
    for (const v of this.vteps.values()) {
      const have = this.programmed.get(v.nodeName);
      if (have !== undefined && have.nodeIp === v.nodeIp && have.tunnelIp === v.tunnelIp && this.macOf(have) === this.macOf(v)) continue;
      if (have !== undefined) this.removalsDue = true; // the VTEP moved: its old entries go in applyRemovals
      const mac = this.macOf(v);
      const tunnel = parseAddress(v.tunnelIp);
      await nl.setNeighbour({ ifindex, family: tunnel.family, dst: formatAddress(tunnel), mac, permanent: true });
      await nl.setFdb({ ifindex, mac, dst: formatAddress(parseAddress(v.nodeIp)), permanent: true });
      this.programmed.set(v.nodeName, v);
    }
  }

  /**
   * Forget every VTEP whose neighbour or FDB entry is not in the kernel as we wrote it, so the
   * loop in applyAdds rewrites it. Dumps only the device's entries' tables (one per family + FDB).
   */
  private async verifyProgrammed(ifindex: number): Promise<void> {
    if (this.programmed.size === 0) { this.verifyDue = false; return; }
    const nl = this.deps.netlink;
    const neigh = new Set<string>();
    for (const fam of new Set([...this.programmed.values()].map((v) => parseAddress(v.tunnelIp).family))) {
      for (const n of await nl.listNeighbours(fam, ifindex)) if (n.permanent) neigh.add(`${n.dst}|${n.mac}`);
    }
    const fdb = new Set((await nl.listFdb(ifindex)).filter((f) => f.permanent).map((f) => `${f.mac}|${f.dst}`));
    for (const [name, v] of this.programmed) {
      const mac = this.macOf(v);
      if (!neigh.has(`${formatAddress(parseAddress(v.tunnelIp))}|${mac}`) || !fdb.has(`${mac}|${formatAddress(parseAddress(v.nodeIp))}`)) {
        this.log.warn({ vtep: name }, 'VTEP entry missing from the kernel; re-adding');
        this.programmed.delete(name);
      }
    }
    this.verifyDue = false;
  }

  /**
   * A kernel notification: forget what it shows is no longer as we programmed it. Returns true
   * when applyAdds must run again (the device, its address or one of our VTEP entries changed).
   */
  onEvent(e: NetlinkEvent): boolean {
    switch (e.type) {
      case 'link':
        if (e.link.name !== this.deviceName && e.link.index !== this.ifindex) return false;
        // Our own writes (MTU, up) also come back as events: only a difference needs work.
        if (e.action === 'new' && e.link.index === this.ifindex && e.link.name === this.deviceName && e.link.up
          && this.deviceChecked && e.link.mtu === this.mtu && e.link.vxlan !== undefined && !e.link.vxlan.learning && e.link.mac === this.mac) return false;
        if (e.action === 'del') { this.programmed.clear(); this.ifindex = undefined; }
        this.recheck();
        return true;
      case 'address':
        if (e.address.ifindex !== this.ifindex || e.address.cidr.startsWith('fe80:')) return false;
        if (e.action === 'new' && e.address.cidr === this.tunnelCidr()) return false;
        this.deviceChecked = false;
        return true;
      case 'neighbour': {
        const n = e.neighbour;
        if (n.ifindex !== this.ifindex) return false;
        for (const [name, v] of this.programmed) {
          if (formatAddress(parseAddress(v.tunnelIp)) !== n.dst) continue;
          if (e.action === 'new' && n.permanent && n.mac === this.macOf(v)) return false;
          this.programmed.delete(name);
          return true;
        }
        return false;
      }
      case 'fdb': {
        const f = e.fdb;
        if (f.ifindex !== this.ifindex) return false;
        for (const [name, v] of this.programmed) {
          if (this.macOf(v) !== f.mac) continue;
          if (e.action === 'new' && f.permanent && f.dst === formatAddress(parseAddress(v.nodeIp))) return false;
          this.programmed.delete(name);
          return true;
        }
        return false;
      }
      case 'overflow':
      case 'subscribed':
        this.recheck();
        return true;
      case 'route':
        return false;
      default:
        return assertNever(e, 'netlink event');
    }
  }

  private tunnelCidr(): string {
    const t = parseAddress(this.config.tunnelAddress);
    return `${formatAddress(t)}/${t.family === 4 ? 32 : 128}`;
  }

  /** Routes to remote blocks, only through VTEPs already programmed. */
  routesFor(blocks: Iterable<RemoteBlock>): DesiredRoute[] {
    const out: DesiredRoute[] = [];
    for (const b of blocks) {
      const v = this.programmed.get(b.nodeName);
      const wanted = this.vteps.get(b.nodeName);
      if (v !== undefined && wanted !== undefined && wanted.tunnelIp === v.tunnelIp) out.push(vxlanRoute(b.cidr, v.tunnelIp, this.deviceName));
    }
    return out;
  }

  /** Remove neighbour/FDB entries no wanted VTEP uses. Run after the route table dropped their routes. */
  async applyRemovals(): Promise<void> {
    const nl = this.deps.netlink;
    const ifindex = this.ifindex ?? (await nl.getLink(this.deviceName))?.index;
    if (ifindex === undefined) return;
    const wantedNeigh = new Set<string>();
    const wantedFdb = new Set<string>();
    for (const v of this.vteps.values()) {
      wantedNeigh.add(`${formatAddress(parseAddress(v.tunnelIp))}|${this.macOf(v)}`);
      wantedFdb.add(`${this.macOf(v)}|${formatAddress(parseAddress(v.nodeIp))}`);
    }
    for (const [name, v] of this.programmed) {
      const w = this.vteps.get(name);
      if (w === undefined || w.tunnelIp !== v.tunnelIp || w.nodeIp !== v.nodeIp || this.macOf(w) !== this.macOf(v)) {
        this.programmed.delete(name);
        this.removalsDue = true;
      }
    }
    // The neighbour and FDB dumps cover every interface (a node has an entry per pod): read them
    // only when a VTEP went away or changed, or on a recheck, not on every sync.
    if (!this.removalsDue) return;
    const ignoreGone = (err: unknown): void => {
      const e = errnoOf(err);
      if (e !== 'ENOENT' && e !== 'ESRCH') throw err;
    };
    for (const fam of [4, 6] as const) {
      for (const n of await nl.listNeighbours(fam, ifindex)) {
        if (n.permanent && !wantedNeigh.has(`${n.dst}|${n.mac}`)) await nl.deleteNeighbour(n).catch(ignoreGone);
      }
    }
    for (const f of await nl.listFdb(ifindex)) {
      // Skip the kernel's own entries (all-zero MAC for BUM flooding would be ours too, but we never add one).
      if (f.permanent && !wantedFdb.has(`${f.mac}|${f.dst}`)) await nl.deleteFdb(f).catch(ignoreGone);
    }
    this.removalsDue = false;
  }

  /** Check the device and look for stale entries again on the next apply (events, periodic resync). */
  recheck(): void { this.deviceChecked = false; this.removalsDue = true; this.verifyDue = true; }

  /** Full re-read: forget what we believe is programmed, so the next applyAdds rewrites it. */
  queueResync(): void { this.programmed.clear(); this.ifindex = undefined; this.recheck(); }
}
