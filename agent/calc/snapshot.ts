/**
 * The calculation layer's input: a plain snapshot of what the datastore says (pools, peers, BGP
 * configuration, nodes, filters, IPAM blocks), built by the agent from its watches. Pure data,
 * so every calc function is a pure function of it (and of the learned BGP routes).
 */
import type { BGPConfigurationSpec } from '../resources/bgp-configuration.js';
import type { BFDProfileSpec } from '../resources/bfd-profile.js';
import type { BGPFilterSpec } from '../resources/bgp-filter.js';
import type { BGPPeerSpec } from '../resources/bgp-peer.js';
import type { EncapMode } from '../resources/ip-pool.js';
import type { Labels } from '../resources/selector.js';

export interface NodeInfo {
  readonly name: string;
  /** IPv4 address without length ("10.0.1.2"), from spec.bgp.ipv4Address. */
  readonly ipv4?: string;
  /** The same with its prefix length ("10.0.1.2/24"): the node's subnet for CrossSubnet. */
  readonly ipv4Cidr?: string;
  /** IPv6 address and its prefix length, from spec.bgp.ipv6Address (dual stack). */
  readonly ipv6?: string;
  readonly ipv6Cidr?: string;
  readonly asNumber?: number;
  readonly rrClusterId?: string;
  readonly labels: Labels;
  /** IPv4 VTEP: spec.ipv4VXLANTunnelAddr and spec.vxlanTunnelMACAddr (lower case). */
  readonly vxlanTunnelAddr?: string;
  readonly vxlanMac?: string;
  /** IPv6 VTEP (vxlan-v6.calico): spec.ipv6VXLANTunnelAddr (canonical) and spec.vxlanTunnelMACAddrV6. */
  readonly vxlanTunnelAddrV6?: string;
  readonly vxlanMacV6?: string;
}

export interface PoolInfo {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
  readonly vxlanMode: EncapMode;
  readonly ipipMode: EncapMode;
  readonly natOutgoing: boolean;
  readonly disabled: boolean;
  readonly disableBGPExport: boolean;
  /** `udp`: the pool's vxlanMode/ipipMode is carried by the userspace UDP backend (IPPool annotation tortie.io/encapsulation). */
  readonly encapsulation?: 'udp';
}

export interface PeerInfo {
  readonly name: string;
  readonly spec: BGPPeerSpec;
  /** Its annotation tortie.io/bfd-profile: the BFDProfile its sessions use. */
  readonly bfdProfile?: string;
}

/** One IPAM block: its affinity and, per allocated address, the node its workload runs on. */
export interface BlockSnapshot {
  readonly cidr: string;
  /** Affine node (block affinity `host:<node>`), undefined for an unaffine block. */
  readonly node: string | undefined;
  readonly allocations: readonly { readonly address: string; readonly node: string | undefined; readonly handle?: string }[];
}

export interface Snapshot {
  readonly localNode: string;
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly pools: readonly PoolInfo[];
  readonly peers: readonly PeerInfo[];
  /** BGPConfiguration by name (`default`, `node.<name>`). */
  readonly bgpConfigs: ReadonlyMap<string, BGPConfigurationSpec>;
  readonly filters: ReadonlyMap<string, BGPFilterSpec>;
  readonly blocks: readonly BlockSnapshot[];
  /** BFDProfiles (tortie.io/v1) by name. */
  readonly bfdProfiles?: ReadonlyMap<string, BFDProfileSpec>;
  /** The annotation tortie.io/bfd-profile of BGPConfiguration default: the mesh's BFD profile. */
  readonly meshBfdProfile?: string;
  /** CALICO_ROUTER_ID of this node ('hash' or an IPv4 address); unset: the node's IPv4 address. */
  readonly routerIdSetting?: string;
}

/** A best route the speaker learned from a peer (not one we originate). */
export interface LearnedRoute {
  readonly prefix: string;
  readonly nextHop: string;
  readonly peer: string;
  /** LOCAL_PREF of the best path (iBGP): above 2147483647 - normal priority it is an elevated route (kernel-routes.ts). */
  readonly localPref?: number;
  /** Multipath (BIRD `merge paths`): the distinct next hops of the equal paths, best first, when more than one. */
  readonly nextHops?: readonly string[];
}
