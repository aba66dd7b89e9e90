/**
 * Watches of the resources the calculation layer needs (Node, IPPool, BGPPeer,
 * BGPConfiguration, BGPFilter) and of the IPAM blocks, kept as a cache that yields a
 * calc Snapshot. Every change calls `onChange()`; the agent coalesces.
 *
 *   Datastore.watch(kind) ─┐
 *   WatchSyncer(blocks) ───┴─> cache ─> snapshot() ─> agent/calc
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { formatAddress, parseAddress, parsePrefix } from '../../common/prefix.js';
import type { Datastore, ResourceEvent } from '../datastore/datastore.js';
import { blockPrefix, resourceKindPrefix } from '../datastore/key-layout.js';
import type { KvStore } from '../datastore/kv-store.js';
import { WatchSyncer } from '../datastore/watch-syncer.js';
import { affinityNode, ordinalToAddress, type BlockData } from '../ipam/block.js';
import { parseBlock } from '../ipam/stored.js';
import { ENCAPSULATION_ANNOTATION } from '../resources/ip-pool.js';
import type { BGPConfigurationSpec } from '../resources/bgp-configuration.js';
import type { BGPFilterSpec } from '../resources/bgp-filter.js';
import { BFD_PROFILE_ANNOTATION, type BFDProfileSpec } from '../resources/bfd-profile.js';
import { kindInfo, validateResource, type BGPPeer, type CalicoNode, type IPPool, type IPReservation, type Kind, type ResourceOfKind } from '../resources/kinds.js';
import type { BlockSnapshot, NodeInfo, PoolInfo, Snapshot } from '../calc/snapshot.js';

/** A stored resource of `kind`, validated like the datastore does, or why it is not one. */
export function decodeResource<K extends Kind>(kind: K, value: string): ResourceOfKind<K> | string {
  let raw: unknown;
  try { raw = JSON.parse(value); } catch { return 'not JSON'; }
  const v = validateResource(raw);
  if (!v.ok) return v.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  if (v.resource.kind !== kind) return `a ${v.resource.kind}, not a ${kind}`;
  return v.resource as ResourceOfKind<K>;
}

export function nodeInfo(n: CalicoNode): NodeInfo {
  const cidr = n.spec.bgp?.ipv4Address;
  const ip = cidr === undefined ? undefined : cidr.split('/')[0];
  const cidr6 = n.spec.bgp?.ipv6Address;
  const ip6 = cidr6 === undefined ? undefined : formatAddress(parseAddress(cidr6.split('/')[0] ?? ''));
  return {
    name: n.metadata.name, labels: n.metadata.labels ?? {},
    ...(ip === undefined ? {} : { ipv4: ip, ipv4Cidr: cidr?.includes('/') ? cidr : `${ip}/32` }),
    ...(ip6 === undefined ? {} : { ipv6: ip6, ipv6Cidr: `${ip6}/${cidr6?.split('/')[1] ?? '128'}` }),
    ...(n.spec.bgp?.asNumber === undefined ? {} : { asNumber: n.spec.bgp.asNumber }),
    ...(n.spec.bgp?.routeReflectorClusterID === undefined ? {} : { rrClusterId: n.spec.bgp.routeReflectorClusterID }),
    ...(n.spec.ipv4VXLANTunnelAddr === undefined ? {} : { vxlanTunnelAddr: n.spec.ipv4VXLANTunnelAddr }),
    ...(n.spec.vxlanTunnelMACAddr === undefined ? {} : { vxlanMac: n.spec.vxlanTunnelMACAddr.toLowerCase() }),
    ...(n.spec.ipv6VXLANTunnelAddr === undefined ? {} : { vxlanTunnelAddrV6: formatAddress(parseAddress(n.spec.ipv6VXLANTunnelAddr)) }),
    ...(n.spec.vxlanTunnelMACAddrV6 === undefined ? {} : { vxlanMacV6: n.spec.vxlanTunnelMACAddrV6.toLowerCase() }),
  };
}

export function poolInfo(p: IPPool): PoolInfo {
  return {
    name: p.metadata.name, cidr: p.spec.cidr, blockSize: p.spec.blockSize, vxlanMode: p.spec.vxlanMode, ipipMode: p.spec.ipipMode,
    natOutgoing: p.spec.natOutgoing === true, disabled: p.spec.disabled === true, disableBGPExport: p.spec.disableBGPExport === true,
    ...(p.metadata.annotations?.[ENCAPSULATION_ANNOTATION] === 'udp' ? { encapsulation: 'udp' as const } : {}),
  };
}

export function blockSnapshot(b: BlockData): BlockSnapshot {
  const allocations: Array<{ address: string; node: string | undefined; handle?: string }> = [];
  b.allocations.forEach((attrIdx, ordinal) => {
    if (attrIdx === null) return;
    const attr = b.attributes[attrIdx];
    const node = attr?.secondary?.['node'];
    const handle = attr?.handle_id ?? undefined;
    allocations.push({ address: ordinalToAddress(b.cidr, ordinal), node, ...(handle === undefined ? {} : { handle }) });
  });
  return { cidr: b.cidr, node: affinityNode(b), allocations };
}

export class DatastoreCache {
  readonly nodes = new Map<string, CalicoNode>();
  readonly pools = new Map<string, IPPool>();
  /** IPReservations, for IPAM's view (addresses a pod's ADD never gets). */
  readonly reservations = new Map<string, IPReservation>();
  readonly peers = new Map<string, BGPPeer>();
  readonly bgpConfigs = new Map<string, BGPConfigurationSpec>();
  readonly filters = new Map<string, BGPFilterSpec>();
  readonly bfdProfiles = new Map<string, BFDProfileSpec>();
  private meshBfdProfile: string | undefined;
  readonly blocks = new Map<string, BlockData>();
  private readonly syncers: WatchSyncer[] = [];
  private readonly blockSyncers: WatchSyncer[] = [];
  private readonly log: Logger;
  /** The snapshot of the current maps, built on demand and dropped on every watch update. */
  private cached: Snapshot | undefined;

  constructor(private readonly deps: { datastore: Datastore; store: KvStore; clock: Clock; logger: Logger; routerIdSetting?: string },
    private readonly localNode: string, private readonly onChange: () => void,
    /** The IPAM block watch stream went down or came back (etcd reachability, for /readiness detail). */
    private readonly onConnection?: (connected: boolean) => void) {
    this.log = deps.logger.child({ component: 'datastore-cache' });
  }

  /**
   * A watch of one kind straight on the KV store (not Datastore.watch, which turns a stored
   * value that became invalid into a delete): an invalid update is logged with its key and the
   * last good version is kept, so bad data written over a good resource changes nothing.
   */
  private async watchKind<K extends Kind>(kind: K, apply: (e: ResourceEvent<K>) => void): Promise<void> {
    const prefix = resourceKindPrefix(kindInfo(kind).plural);
    const syncer = new WatchSyncer({ store: this.deps.store, clock: this.deps.clock, logger: this.deps.logger }, prefix, {
      onUpdates: (events) => {
        for (const e of events) {
          if (e.type === 'delete') { apply({ type: 'delete', name: e.key.slice(prefix.length) }); continue; }
          const r = decodeResource(kind, e.entry.value);
          if (typeof r === 'string') {
            this.log.error({ key: e.entry.key, err: r }, `invalid ${kind} in the datastore: keeping the last good version`);
            continue;
          }
          apply({ type: 'upsert', resource: r });
        }
        this.cached = undefined;
        this.onChange();
      },
    });
    await syncer.start();
    this.syncers.push(syncer);
  }

  /** Resolves once every watch has delivered its initial list. */
  async start(): Promise<void> {
    const upsert = <K extends Kind>(m: Map<string, ResourceOfKind<K>>) => (e: ResourceEvent<K>): void => {
      if (e.type === 'upsert') m.set(e.resource.metadata.name, e.resource); else m.delete(e.name);
    };
    await this.watchKind('Node', upsert(this.nodes));
    await this.watchKind('IPPool', upsert(this.pools));
    await this.watchKind('IPReservation', upsert(this.reservations));
    await this.watchKind('BGPPeer', upsert(this.peers));
    await this.watchKind('BGPConfiguration', (e) => {
      if (e.type === 'upsert') this.bgpConfigs.set(e.resource.metadata.name, e.resource.spec); else this.bgpConfigs.delete(e.name);
      const name = e.type === 'upsert' ? e.resource.metadata.name : e.name;
      if (name === 'default') this.meshBfdProfile = e.type === 'upsert' ? e.resource.metadata.annotations?.[BFD_PROFILE_ANNOTATION] : undefined;
    });
    await this.watchKind('BFDProfile', (e) => { if (e.type === 'upsert') this.bfdProfiles.set(e.resource.metadata.name, e.resource.spec); else this.bfdProfiles.delete(e.name); });
    await this.watchKind('BGPFilter', (e) => { if (e.type === 'upsert') this.filters.set(e.resource.metadata.name, e.resource.spec); else this.filters.delete(e.name); });
    for (const family of [4, 6] as const) {
      const prefix = blockPrefix(family);
      const syncer = new WatchSyncer({ store: this.deps.store, clock: this.deps.clock, logger: this.deps.logger }, prefix, {
        onUpdates: (events) => {
          for (const e of events) {
            if (e.type === 'delete') { this.blocks.delete(e.key); continue; }
            try { this.blocks.set(e.entry.key, parseBlock(e.entry)); } catch (err) {
              this.log.error({ key: e.entry.key, err: (err as Error).message }, 'invalid IPAM block in the datastore: keeping the last good version');
            }
          }
          this.cached = undefined;
          this.byCidr = {};
          this.onChange();
        },
        onConnectionChange: (connected) => this.onConnection?.(connected),
      });
      await syncer.start();
      this.blockSyncers.push(syncer);
    }
    this.onConnection?.(true);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.syncers, ...this.blockSyncers].map((w) => w.stop()));
  }

  private byCidr: Partial<Record<4 | 6, Map<string, BlockData>>> = {};

  /** The IPAM blocks of one family by CIDR (IPAM's view; rebuilt after a block update). */
  blocksByCidr(family: 4 | 6): ReadonlyMap<string, BlockData> {
    let m = this.byCidr[family];
    if (m === undefined) {
      m = new Map();
      for (const b of this.blocks.values()) if (b.cidr.includes(':') === (family === 6)) m.set(b.cidr, b);
      this.byCidr[family] = m;
    }
    return m;
  }

  /**
   * The calc input. Rebuilt only after a watch update: a sync triggered by a best-path change or
   * a CNI endpoint reuses it instead of re-walking every block allocation.
   */
  snapshot(): Snapshot {
    this.cached ??= this.build();
    return this.cached;
  }

  private build(): Snapshot {
    const nodes = new Map<string, NodeInfo>();
    for (const n of this.nodes.values()) {
      try {
        const info = nodeInfo(n);
        if (info.ipv4 !== undefined) parseAddress(info.ipv4);
        nodes.set(info.name, info);
      } catch (err) { this.log.warn({ node: n.metadata.name, err: (err as Error).message }, 'ignoring node with a bad address'); }
    }
    return {
      localNode: this.localNode, nodes,
      pools: [...this.pools.values()].map(poolInfo).filter((p) => { try { parsePrefix(p.cidr); return true; } catch { return false; } }),
      peers: [...this.peers.values()].map((p) => {
        const bfd = p.metadata.annotations?.[BFD_PROFILE_ANNOTATION];
        return { name: p.metadata.name, spec: p.spec, ...(bfd === undefined ? {} : { bfdProfile: bfd }) };
      }),
      bgpConfigs: new Map(this.bgpConfigs), filters: new Map(this.filters),
      bfdProfiles: new Map(this.bfdProfiles), ...(this.meshBfdProfile === undefined ? {} : { meshBfdProfile: this.meshBfdProfile }),
      blocks: [...this.blocks.values()].map(blockSnapshot),
      ...(this.deps.routerIdSetting === undefined ? {} : { routerIdSetting: this.deps.routerIdSetting }),
    };
  }
}
