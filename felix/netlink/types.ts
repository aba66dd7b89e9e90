/**
 * The netlink model the dataplane code programs against. Addresses and prefixes are canonical
 * text ("10.0.0.0/26", "fd00::1"), interfaces are kernel indexes. `RtNetlink` implements it on
 * a real rtnetlink socket; `FakeNetlink` (test/fakes/netlink-fake.ts) in memory.
 */
import type { Family } from '../../common/prefix.js';

/** Route protocol numbers (rtm_protocol), calico-compat.md §3.1. */
export const RouteProtocol = { kernel: 2, boot: 3, static: 4, zebra: 11, bird: 12, felix: 80, bgp: 186 } as const;
/** rtm_type values we use. */
export const RouteTypeCode = { unicast: 1, local: 2, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9 } as const;
export type RouteType = keyof typeof RouteTypeCode;
/** rtm_scope values. */
export const RouteScopeCode = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
export type RouteScope = keyof typeof RouteScopeCode;
export const MAIN_TABLE = 254;

export interface NextHop {
  readonly ifindex: number;
  readonly gateway?: string;
  readonly onlink: boolean;
  /** Weight as `ip route` shows it (1..256); rtnh_hops + 1. */
  readonly weight?: number;
}

/** Two 32-bit hashes of a route message (rt-codec routeFingerprint), reused between calls: copy what you keep. */
export interface RouteFingerprint { h1: number; h2: number }

/** One kernel route. A route with several next hops carries them in `nexthops` (RTA_MULTIPATH). */
export interface KernelRoute {
  readonly family: Family;
  readonly dst: string;
  readonly table: number;
  readonly protocol: number;
  readonly type: RouteType;
  readonly scope: RouteScope;
  /** RTA_PRIORITY; the kernel reports IPv6 routes without one as 1024. */
  readonly metric: number;
  readonly src?: string;
  /** Single next hop (absent for blackhole and for multipath routes). */
  readonly ifindex?: number;
  readonly gateway?: string;
  readonly onlink: boolean;
  readonly nexthops?: readonly NextHop[];
  /** Route MTU (RTAX_MTU), as Calico sets on IPIP routes. */
  readonly mtu?: number;
}

export interface VxlanInfo {
  readonly vni: number;
  readonly port: number;
  readonly local?: string;
  readonly parentIndex?: number;
  readonly learning: boolean;
}

export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND ("veth", "vxlan", "ipip", "bridge"), undefined for physical/loopback. */
  readonly kind: string | undefined;
  readonly mtu: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Operationally up (IFF_RUNNING / IFF_LOWER_UP). */
  readonly operUp: boolean;
  readonly mac?: string;
  readonly vxlan?: VxlanInfo;
}

export type LinkSpec =
  | { readonly type: 'veth'; readonly name: string; readonly peerName: string; readonly mtu?: number }
  | { readonly type: 'vxlan'; readonly name: string; readonly vxlan: VxlanInfo; readonly mac?: string; readonly mtu?: number }
  | { readonly type: 'ipip'; readonly name: string; readonly local?: string; readonly remote?: string; readonly mtu?: number }
  | { readonly type: 'bridge'; readonly name: string; readonly mtu?: number }
  | { readonly type: 'dummy'; readonly name: string; readonly mtu?: number };

export interface LinkChange { readonly up?: boolean; readonly mtu?: number; readonly mac?: string }

export interface AddressEntry {
  readonly ifindex: number;
  readonly family: Family;
  /** "10.0.0.1/24" */
  readonly cidr: string;
}

export interface NeighbourEntry {
  readonly ifindex: number;
  readonly family: Family;
  readonly dst: string;
  readonly mac: string;
  readonly permanent: boolean;
}

/** A bridge FDB entry (AF_BRIDGE, NTF_SELF on a VXLAN device): MAC → remote VTEP IP. */
export interface FdbEntry {
  readonly ifindex: number;
  readonly mac: string;
  readonly dst: string;
  readonly permanent: boolean;
}

export type NetlinkEvent =
  | { readonly type: 'route'; readonly action: 'new' | 'del'; readonly route: KernelRoute }
  | { readonly type: 'link'; readonly action: 'new' | 'del'; readonly link: LinkInfo }
  | { readonly type: 'address'; readonly action: 'new' | 'del'; readonly address: AddressEntry }
  /** A neighbour entry (ARP/NDP) changed: RTNLGRP_NEIGH, families inet/inet6; mac is "" when the kernel sent none (deletes). */
  | { readonly type: 'neighbour'; readonly action: 'new' | 'del'; readonly neighbour: NeighbourEntry }
  /** A bridge FDB entry changed (AF_BRIDGE on RTNLGRP_NEIGH), e.g. a VXLAN device's VTEP entry. */
  | { readonly type: 'fdb'; readonly action: 'new' | 'del'; readonly fdb: FdbEntry }
  /** The subscription is (re)established: anything before it may be missed, so resync. */
  | { readonly type: 'subscribed' }
  /** Notifications were lost (ENOBUFS) or the stream broke: resync everything. */
  | { readonly type: 'overflow'; readonly reason: string };

export interface RouteOp { readonly op: 'replace' | 'delete'; readonly route: KernelRoute }

export interface Unsubscribe { (): void }

export interface Netlink {
  listLinks(): Promise<LinkInfo[]>;
  /** The link, or undefined when no link has that name. */
  getLink(name: string): Promise<LinkInfo | undefined>;
  getLinkByIndex(index: number): Promise<LinkInfo | undefined>;
  addLink(spec: LinkSpec): Promise<void>;
  deleteLink(index: number): Promise<void>;
  setLink(index: number, change: LinkChange): Promise<void>;

  listAddresses(family?: Family): Promise<AddressEntry[]>;
  addAddress(entry: AddressEntry): Promise<void>;
  deleteAddress(entry: AddressEntry): Promise<void>;

  /** Routes of `family` in `table` (all tables when omitted), only `protocol` when given. */
  listRoutes(family: Family, table?: number, protocol?: number): Promise<KernelRoute[]>;
  /**
   * The same routes, handed to `visit` one by one as the dump is read (no list of them all: at
   * 100k routes a list outlives the young generation and makes the GC expensive). Resolves false
   * when the kernel flagged the dump inconsistent (NLM_F_DUMP_INTR): what was visited is not a
   * snapshot; dump again.
   *
   * `known`, when given, is asked first with the route message's fingerprint (routeFingerprint:
   * two 32-bit hashes of its bytes, kernel statistics left out); true means the caller already
   * holds that exact route and it is not decoded. `visit` gets the fingerprint of what it is
   * handed (absent where the implementation has no bytes, as the in-memory fake).
   */
  visitRoutes(family: Family, table: number | undefined, protocol: number | undefined, visit: (r: KernelRoute, fp?: RouteFingerprint) => void,
    known?: (fp: RouteFingerprint) => boolean): Promise<boolean>;
  /** NLM_F_CREATE|NLM_F_REPLACE: add or overwrite the route with the same key. */
  replaceRoute(route: KernelRoute): Promise<void>;
  deleteRoute(route: KernelRoute): Promise<void>;
  /**
   * Many route writes at once, in order; one result per op (undefined = success). The real
   * implementation packs them into few datagrams (route-batch.ts).
   */
  applyRoutes(ops: readonly RouteOp[]): Promise<Array<Error | undefined>>;

  listNeighbours(family: Family, ifindex?: number): Promise<NeighbourEntry[]>;
  setNeighbour(entry: NeighbourEntry): Promise<void>;
  deleteNeighbour(entry: NeighbourEntry): Promise<void>;

  listFdb(ifindex: number): Promise<FdbEntry[]>;
  setFdb(entry: FdbEntry): Promise<void>;
  deleteFdb(entry: FdbEntry): Promise<void>;

  /** Route, link, address, neighbour and FDB notifications plus overflow; returns an unsubscribe function. */
  subscribe(handler: (event: NetlinkEvent) => void): Unsubscribe;
  close(): void;
}

/** The kernel's key for a route: table, family, destination, TOS (always 0 here), metric. */
export function kernelRouteKey(r: Pick<KernelRoute, 'table' | 'family' | 'dst' | 'metric'>): string {
  return `${r.table}|${r.family}|${r.dst}|${r.metric}`;
}

/** The metric the kernel reports for a route installed without one. */
export function defaultMetric(family: Family): number {
  return family === 6 ? 1024 : 0;
}
