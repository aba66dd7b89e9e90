/**
 * IPIP tunnel engine (Calico ipip_mgr): `tunl0` (ipip, no remote), the tunnel address as /32,
 * MTU = underlay − 20, link up; routes `<block> via <nodeIP> dev tunl0 onlink`. A kernel without
 * the ipip module is detected up front and reported with one fixed message.
 */
import type { Logger } from '../common/logger.js';
import { TortieError } from '../common/errors.js';
import { formatAddress, parseAddress } from '../common/prefix.js';
import type { Netlink } from '../felix/netlink/types.js';
import { errnoOf } from '../felix/netlink/netlink-error.js';
import { ipipRoute, type DesiredRoute } from '../felix/routes/route.js';
import { ENCAP_OVERHEAD } from './mtu.js';

export const IPIP_UNSUPPORTED_MESSAGE = 'kernel lacks IPIP support (CONFIG_NET_IPIP); use vxlanMode, the UDP backend (IPPool annotation tortie.io/encapsulation: udp) or ipipMode: Never';

export interface IpipConfig {
  readonly tunnelAddress?: string;
  /** MTU of the interface carrying the node address; the device gets this − 20. */
  readonly underlayMtu: number;
  /** Explicit MTU (ipipMTU), overriding underlay − 20. */
  readonly mtu?: number;
  readonly deviceName?: string;
}

export interface IpipRemoteBlock { readonly cidr: string; readonly nodeIp: string }

export class IpipManager {
  readonly deviceName: string;
  readonly mtu: number;

  constructor(private readonly deps: { readonly netlink: Netlink; readonly logger: Logger }, readonly config: IpipConfig) {
    this.deviceName = config.deviceName ?? 'tunl0';
    this.mtu = config.mtu ?? config.underlayMtu - ENCAP_OVERHEAD.ipip;
  }

  /** Ensure tunl0 exists, is up, has the right MTU and exactly our tunnel address. */
  async ensureDevice(): Promise<number> {
    const nl = this.deps.netlink;
    let dev = await nl.getLink(this.deviceName);
    if (dev === undefined) {
      try {
        await nl.addLink({ type: 'ipip', name: this.deviceName });
      } catch (err) {
        const e = errnoOf(err);
        if (e === 'EOPNOTSUPP' || e === 'ENOTSUP' || e === 'EAFNOSUPPORT') {
          throw new TortieError('ipip-unsupported', IPIP_UNSUPPORTED_MESSAGE, { cause: err });
        }
        if (e !== 'EEXIST') throw err;
      }
      dev = await nl.getLink(this.deviceName);
      if (dev === undefined) throw new TortieError('ipip-create', `${this.deviceName} vanished right after creation`);
    }
    if (dev.mtu !== this.mtu) await nl.setLink(dev.index, { mtu: this.mtu });
    const mine = (await nl.listAddresses(4)).filter((a) => a.ifindex === dev.index);
    const want = this.config.tunnelAddress === undefined ? undefined : `${formatAddress(parseAddress(this.config.tunnelAddress))}/32`;
    for (const a of mine) if (a.cidr !== want) await nl.deleteAddress(a);
    if (want !== undefined && !mine.some((a) => a.cidr === want)) await nl.addAddress({ ifindex: dev.index, family: 4, cidr: want });
    if (!dev.up) await nl.setLink(dev.index, { up: true });
    this.deps.logger.debug({ device: this.deviceName, mtu: this.mtu }, 'IPIP device ready');
    return dev.index;
  }

  routesFor(blocks: Iterable<IpipRemoteBlock>): DesiredRoute[] {
    return [...blocks].map((b) => ipipRoute(b.cidr, b.nodeIp, this.mtu, this.deviceName));
  }
}
