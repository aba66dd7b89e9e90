/**
 * Routes for IPAM blocks (Calico route_mgr, calico-compat.md §3.2): a pure function from the
 * local node, the other nodes and the blocks (with their pool's encapsulation modes) to
 *   - kernel routes the route table can install directly (blackholes for local blocks,
 *     same-subnet routes, IPIP routes), and
 *   - the remote blocks that need VXLAN, which go through VxlanManager.routesFor() so that their
 *     routes only appear once the VTEP entries are programmed, and those whose pool carries its
 *     mode over the userspace UDP backend (UdpTunnel.routesFor, once its device is up).
 */
import { parsePrefix } from '../../common/prefix.js';
import { crossSubnetDecision, type EncapMode } from './cross-subnet.js';
import { blackholeRoute, ipipRoute, sameSubnetRoute, type DesiredRoute } from './route.js';

export interface LocalNodeInfo {
  readonly name: string;
  /** The node address with its prefix length, e.g. "192.168.1.10/24" (decides CrossSubnet). */
  readonly cidr: string;
  /** The interface carrying that address (same-subnet routes go out of it). */
  readonly parentIface: string;
  /** MTU for IPIP routes (ipipMTU). */
  readonly ipipMtu?: number;
}

export interface RemoteNodeInfo { readonly name: string; readonly ip: string }

export interface BlockInfo {
  readonly cidr: string;
  /** The node holding the block's affinity. */
  readonly nodeName: string;
  readonly ipipMode: EncapMode;
  readonly vxlanMode: EncapMode;
  /** The pool's mode is carried by the userspace UDP backend instead of VXLAN/IPIP. */
  readonly udp?: boolean;
}

export interface BlockRoutes {
  readonly routes: DesiredRoute[];
  /** Remote blocks to route over VXLAN (hand to VxlanManager.routesFor). */
  readonly vxlanBlocks: Array<{ readonly cidr: string; readonly nodeName: string }>;
  /** Remote blocks to route over the UDP backend, with the owner's address (UdpTunnel). */
  readonly udpBlocks: Array<{ readonly cidr: string; readonly nodeName: string; readonly nodeIp: string }>;
  /** Blocks skipped, with the reason (unknown node, not this node's job without BGP, ...). */
  readonly skipped: Array<{ readonly cidr: string; readonly reason: string }>;
}

export function blockRoutes(local: LocalNodeInfo, nodes: ReadonlyMap<string, RemoteNodeInfo>, blocks: Iterable<BlockInfo>): BlockRoutes {
  const out: BlockRoutes = { routes: [], vxlanBlocks: [], udpBlocks: [], skipped: [] };
  for (const b of blocks) {
    const p = parsePrefix(b.cidr);
    if (b.nodeName === local.name) {
      // A /32 (/128) block is a single borrowed address: no blackhole for it.
      if (p.length < (p.family === 4 ? 32 : 128)) out.routes.push(blackholeRoute(b.cidr));
      continue;
    }
    const node = nodes.get(b.nodeName);
    if (node === undefined) { out.skipped.push({ cidr: b.cidr, reason: `node ${b.nodeName} unknown` }); continue; }
    const direct = (): void => { out.routes.push(sameSubnetRoute(b.cidr, node.ip, local.parentIface)); };
    const udpMode = b.vxlanMode !== 'Never' ? b.vxlanMode : b.ipipMode;
    if (b.udp === true && udpMode !== 'Never') {
      if (crossSubnetDecision(udpMode, local.cidr, node.ip) === 'direct') direct();
      else out.udpBlocks.push({ cidr: b.cidr, nodeName: b.nodeName, nodeIp: node.ip });
    } else if (b.vxlanMode !== 'Never') {
      if (crossSubnetDecision(b.vxlanMode, local.cidr, node.ip) === 'direct') direct();
      else out.vxlanBlocks.push({ cidr: b.cidr, nodeName: b.nodeName });
    } else if (b.ipipMode !== 'Never') {
      if (p.family !== 4) { out.skipped.push({ cidr: b.cidr, reason: 'IPIP is IPv4 only' }); continue; }
      if (crossSubnetDecision(b.ipipMode, local.cidr, node.ip) === 'direct') direct();
      else out.routes.push(ipipRoute(b.cidr, node.ip, local.ipipMtu));
    } else if (crossSubnetDecision('CrossSubnet', local.cidr, node.ip) === 'direct') {
      direct();
    } else {
      out.skipped.push({ cidr: b.cidr, reason: `no encapsulation and ${node.ip} is outside ${local.cidr}: left to BGP` });
    }
  }
  return out;
}
