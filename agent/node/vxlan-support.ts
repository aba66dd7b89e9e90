/**
 * This node's VTEP, as Calico's node start-up and Felix do it: when an enabled pool uses VXLAN,
 * a tunnel address from it (IPAM, use Tunnel, handle `vxlan-tunnel-addr-<node>`), stored with
 * the VTEP MAC in the Node resource (spec.ipv4VXLANTunnelAddr, spec.vxlanTunnelMACAddr) so the
 * other nodes can program their neighbour/FDB entries; then the VxlanManager for vxlan.calico.
 */
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { Datastore } from '../datastore/datastore.js';
import type { Ipam } from '../ipam/ipam.js';
import type { Netlink } from '../../felix/netlink/types.js';
import { VxlanManager } from '../../ipip/vxlan-manager.js';
import { vxlanMacForNode } from '../../ipip/vxlan-mac.js';
import type { PoolInfo } from '../calc/snapshot.js';

export class VxlanSupport {
  private mgr: VxlanManager | undefined;
  private lastAttempt = -Infinity;
  private readonly log: Logger;

  constructor(private readonly deps: { ipam: Ipam; datastore: Datastore; netlink: Netlink; logger: Logger },
    private readonly nodeName: string, private readonly nodeIp: string) {
    this.log = deps.logger.child({ component: 'vxlan' });
  }

  get handle(): string { return `vxlan-tunnel-addr-${this.nodeName}`; }

  /** Allocate (or find) the tunnel address and publish it when a VXLAN pool exists. */
  async ensure(pools: readonly PoolInfo[]): Promise<void> {
    if (this.mgr !== undefined) return;
    // Called from every sync while no VTEP exists: try at most every 10 s.
    const now = Date.now();
    if (now - this.lastAttempt < 10_000) return;
    this.lastAttempt = now;
    const vxPools = pools.filter((p) => !p.disabled && p.vxlanMode !== 'Never' && !p.cidr.includes(':'));
    if (vxPools.length === 0) return;
    try {
      let addr = (await this.deps.ipam.addressesForHandle(this.handle))[0];
      if (addr === undefined) {
        const r = await this.deps.ipam.autoAssign({ handle: this.handle, node: this.nodeName, num4: 1, num6: 0, use: 'Tunnel',
          pools: vxPools.map((p) => p.name), attrs: { node: this.nodeName, type: 'vxlanTunnelAddress' } });
        addr = r.ipv4[0]?.address;
      }
      if (addr === undefined) { this.log.warn('no tunnel address available in the VXLAN pools'); return; }
      const ip = addr.split('/')[0] ?? addr;
      const mac = vxlanMacForNode(this.nodeName);
      for (let i = 0; i < 10; i++) {
        const node = await this.deps.datastore.get('Node', this.nodeName);
        if (node === undefined) break;
        if (node.spec.ipv4VXLANTunnelAddr === ip && node.spec.vxlanTunnelMACAddr === mac) break;
        try {
          await this.deps.datastore.update({ ...node, spec: { ...node.spec, ipv4VXLANTunnelAddr: ip, vxlanTunnelMACAddr: mac } });
          break;
        } catch (err) { if (!isDatastoreError(err, 'conflict')) throw err; }
      }
      this.mgr = new VxlanManager({ netlink: this.deps.netlink, logger: this.deps.logger }, { nodeName: this.nodeName, nodeIp: this.nodeIp, tunnelAddress: ip, mac });
      this.log.info({ tunnelAddress: ip, mac }, 'VXLAN tunnel address');
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'cannot set up the VXLAN tunnel address; VXLAN routes stay off');
    }
  }

  manager(): VxlanManager | undefined { return this.mgr; }
}
