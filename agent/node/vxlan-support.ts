/**
 * This node's VTEP of one address family, as Calico's node start-up and Felix do it: when an
 * enabled pool of that family uses VXLAN, a tunnel address from it (IPAM, use Tunnel, handle
 * `vxlan-tunnel-addr-<node>` for IPv4, `vxlan-v6-tunnel-addr-<node>` for IPv6), stored with the
 * VTEP MAC in the Node resource (spec.ipv4VXLANTunnelAddr + spec.vxlanTunnelMACAddr, or
 * spec.ipv6VXLANTunnelAddr + spec.vxlanTunnelMACAddrV6) so the other nodes can program their
 * neighbour/FDB entries; then the VxlanManager on the node address of that family
 * (vxlan.calico, or vxlan-v6.calico over IPv6).
 */
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { formatAddress, parseAddress } from '../../common/prefix.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { Datastore } from '../datastore/datastore.js';
import type { Ipam } from '../ipam/ipam.js';
import type { Netlink } from '../../felix/netlink/types.js';
import { VxlanManager } from '../../ipip/vxlan-manager.js';
import { vxlanMacForNode } from '../../ipip/vxlan-mac.js';
import type { PoolInfo } from '../calc/snapshot.js';

/** Calico's IPAM handle of a node's VXLAN tunnel address (node/pkg/allocateip). */
export function vxlanTunnelHandle(nodeName: string, family: 4 | 6): string {
  return family === 4 ? `vxlan-tunnel-addr-${nodeName}` : `vxlan-v6-tunnel-addr-${nodeName}`;
}

export class VxlanSupport {
  private mgr: VxlanManager | undefined;
  private lastAttempt = -Infinity;
  private readonly log: Logger;
  readonly family: 4 | 6;

  constructor(private readonly deps: { ipam: Ipam; datastore: Datastore; netlink: Netlink; logger: Logger },
    private readonly nodeName: string, private readonly nodeIp: string) {
    this.family = parseAddress(nodeIp).family;
    this.log = deps.logger.child({ component: this.family === 4 ? 'vxlan' : 'vxlan-v6' });
  }

  get handle(): string { return vxlanTunnelHandle(this.nodeName, this.family); }

  /** The enabled pools of this family that use VXLAN. */
  pools(pools: readonly PoolInfo[]): PoolInfo[] {
    return pools.filter((p) => !p.disabled && p.vxlanMode !== 'Never' && p.encapsulation !== 'udp' && p.cidr.includes(':') === (this.family === 6));
  }

  /** Allocate (or find) the tunnel address and publish it when a VXLAN pool of this family exists. */
  async ensure(pools: readonly PoolInfo[]): Promise<void> {
    if (this.mgr !== undefined) return;
    const vxPools = this.pools(pools);
    if (vxPools.length === 0) return;
    // Called from every sync while no VTEP exists: try at most every 10 s.
    const now = Date.now();
    if (now - this.lastAttempt < 10_000) return;
    this.lastAttempt = now;
    const v6 = this.family === 6;
    try {
      let addr = (await this.deps.ipam.addressesForHandle(this.handle)).find((a) => a.includes(':') === v6);
      if (addr === undefined) {
        const r = await this.deps.ipam.autoAssign({ handle: this.handle, node: this.nodeName, num4: v6 ? 0 : 1, num6: v6 ? 1 : 0, use: 'Tunnel',
          [v6 ? 'ipv6Pools' : 'ipv4Pools']: vxPools.map((p) => p.name), attrs: { node: this.nodeName, type: v6 ? 'vxlanV6TunnelAddress' : 'vxlanTunnelAddress' } });
        addr = (v6 ? r.ipv6 : r.ipv4)[0]?.address;
      }
      if (addr === undefined) { this.log.warn({ pools: vxPools.map((p) => p.name) }, `no IPv${this.family} tunnel address available in the VXLAN pools`); return; }
      const ip = formatAddress(parseAddress(addr.split('/')[0] ?? addr));
      const mac = vxlanMacForNode(this.nodeName, this.family);
      for (let i = 0; i < 10; i++) {
        const node = await this.deps.datastore.get('Node', this.nodeName);
        if (node === undefined) break;
        const spec = node.spec;
        const have = v6 ? [spec.ipv6VXLANTunnelAddr, spec.vxlanTunnelMACAddrV6] : [spec.ipv4VXLANTunnelAddr, spec.vxlanTunnelMACAddr];
        if (have[0] === ip && have[1] === mac) break;
        const fields = v6 ? { ipv6VXLANTunnelAddr: ip, vxlanTunnelMACAddrV6: mac } : { ipv4VXLANTunnelAddr: ip, vxlanTunnelMACAddr: mac };
        try {
          await this.deps.datastore.update({ ...node, spec: { ...spec, ...fields } });
          break;
        } catch (err) { if (!isDatastoreError(err, 'conflict')) throw err; }
      }
      this.mgr = new VxlanManager({ netlink: this.deps.netlink, logger: this.deps.logger }, { nodeName: this.nodeName, nodeIp: this.nodeIp, tunnelAddress: ip, mac });
      this.log.info({ tunnelAddress: ip, mac, device: this.mgr.deviceName }, 'VXLAN tunnel address');
    } catch (err) {
      this.log.error({ err: describeError(err) }, `cannot set up the IPv${this.family} VXLAN tunnel address; its VXLAN routes stay off`);
    }
  }

  manager(): VxlanManager | undefined { return this.mgr; }
}
