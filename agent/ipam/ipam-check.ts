/**
 * Leak and consistency check (`tortiectl ipam check [-o report.json]`): cross-checks blocks,
 * handles, affinities, Nodes and the workload records of running pods. It only reports;
 * releasing is the separate, explicit `ipam release --from-report` (Calico's rule: allocations
 * are valid until proven leaked). The report file has calicoctl's shape (version, clusterGUID,
 * allocations by IP with inUse / owners / sequenceNumber, leakedHandles with their revision).
 */

import type { KvStore } from '../datastore/kv-store.js';
import type { Datastore } from '../datastore/datastore.js';
import { isDatastoreError } from '../datastore/errors.js';
import { ALL_AFFINITIES_PREFIX, blockPrefix, CLUSTER_GUID_KEY, cidrFromKeyPart, HANDLE_PREFIX, IPAM_PREFIX } from '../datastore/key-layout.js';
import { affinityNode, attributeOf, ordinalToAddress } from './block.js';
import { parseAffinity, parseBlock, parseHandle } from './stored.js';
import { listWorkloadRecords } from './workload-records.js';
import { randomUUID } from 'node:crypto';
import { parsePrefix, prefixOverlaps } from '../../common/prefix.js';
import type { IPPool } from '../resources/kinds.js';

/** Set on an IPPool by the first step of `tortiectl ipam split` (agent/ctl/ipam-split.ts): the number of parts. */
export const SPLIT_ANNOTATION = 'tortie.io/split-into';

export type IpamProblem =
  | { readonly type: 'allocation-without-handle'; readonly address: string; readonly handle: string | null; readonly block: string }
  | { readonly type: 'handle-count-mismatch'; readonly handle: string; readonly block: string; readonly recorded: number; readonly actual: number }
  | { readonly type: 'affinity-without-block'; readonly node: string; readonly block: string; readonly state: string }
  | { readonly type: 'block-without-affinity'; readonly block: string; readonly node: string }
  | { readonly type: 'allocation-on-unknown-node'; readonly address: string; readonly node: string; readonly handle: string | null }
  | { readonly type: 'leaked-handle'; readonly handle: string }
  /** Two pools share addresses (never made by apply/create); `splitInto`: `ipam split` stopped after its first step. */
  | { readonly type: 'pool-overlap'; readonly pool: string; readonly cidr: string; readonly overlaps: readonly string[]; readonly splitInto?: string };

/** An allocation no running workload (workload record) and no Node (tunnel address) uses: a leak candidate. */
export interface IpamLeak {
  readonly type: 'allocation-not-in-use'; readonly address: string; readonly node: string | undefined;
  readonly handle: string | null; readonly workload: string | undefined;
}

/** One allocation as calicoctl's report has it. */
export interface ReportAllocation {
  readonly ip: string;
  readonly handle?: string;
  readonly sequenceNumber?: number;
  readonly pod?: string;
  readonly namespace?: string;
  readonly node?: string;
  readonly type?: string;
  /** A workload record or a Node's tunnel address uses it; false = a candidate for release. */
  readonly inUse: boolean;
  readonly borrowed?: boolean;
  readonly owners: readonly string[];
}

/** calicoctl's HandleInfo (Revision = the handle's etcd mod revision; UID is a Kubernetes-only field). */
export interface ReportHandle { readonly ID: string; readonly UID: null; readonly Revision: string }

/** calicoctl ipam check's report file. */
export interface IpamReport {
  readonly version: string;
  readonly clusterGUID: string;
  /** Tortie has no datastore lock: always false. */
  readonly datastoreLocked: boolean;
  readonly clusterInformationRevision: string;
  readonly clusterType: string;
  readonly allocations: Record<string, ReportAllocation[]>;
  readonly leakedHandles?: ReportHandle[];
}

export interface IpamCheckReport {
  readonly blocks: number;
  readonly allocations: number;
  readonly handles: number;
  /** Structural inconsistencies of the IPAM records. */
  readonly problems: readonly IpamProblem[];
  /** Allocations nothing uses (the report's inUse: false, except those on nodes that no longer exist, a problem already). */
  readonly leaks: readonly IpamLeak[];
  readonly report: IpamReport;
}

/** The cluster's id, created on first use (the report names the cluster it was made for). */
export async function clusterGuid(store: KvStore): Promise<{ guid: string; revision: string }> {
  const cur = await store.get(CLUSTER_GUID_KEY);
  if (cur !== undefined) return { guid: cur.value, revision: cur.modRevision };
  try {
    const e = await store.create(CLUSTER_GUID_KEY, randomUUID());
    return { guid: e.value, revision: e.modRevision };
  } catch (err) {
    if (!isDatastoreError(err, 'already-exists')) throw err;
    const again = await store.get(CLUSTER_GUID_KEY);
    if (again === undefined) throw err;
    return { guid: again.value, revision: again.modRevision };
  }
}

/** Pools that share addresses: each pool with the later-named pools it overlaps (the split pools for a pool being split). */
function poolOverlaps(pools: readonly IPPool[]): IpamProblem[] {
  const out: IpamProblem[] = [];
  const parsed = pools.map((p) => ({ p, c: parsePrefix(p.spec.cidr) }));
  const seen = new Set<string>();
  for (const a of parsed) {
    const splitInto = a.p.metadata.annotations?.[SPLIT_ANNOTATION];
    // A pair once; a pool being split reports all of its own (the split pools say nothing).
    const overlaps = parsed.filter((b) => b !== a && prefixOverlaps(a.c, b.c)
      && (splitInto !== undefined || (b.p.metadata.annotations?.[SPLIT_ANNOTATION] === undefined && !seen.has(b.p.metadata.name)))).map((b) => b.p.metadata.name);
    seen.add(a.p.metadata.name);
    if (overlaps.length > 0) out.push({ type: 'pool-overlap', pool: a.p.metadata.name, cidr: a.p.spec.cidr, overlaps, ...(splitInto === undefined ? {} : { splitInto }) });
  }
  return out;
}

const TUNNEL_FIELDS = [['ipv4VXLANTunnelAddr'], ['ipv6VXLANTunnelAddr'], ['bgp', 'ipv4IPIPTunnelAddr']] as const;

export async function checkIpam(deps: { store: KvStore; datastore: Datastore }, options: { checkNodes?: boolean; version?: string } = {}): Promise<IpamCheckReport> {
  const [b4, b6, handlesList, affList, records, cluster, poolList] = await Promise.all([
    deps.store.list(blockPrefix(4)), deps.store.list(blockPrefix(6)), deps.store.list(HANDLE_PREFIX), deps.store.list(ALL_AFFINITIES_PREFIX),
    listWorkloadRecords(deps.store), clusterGuid(deps.store), deps.datastore.list('IPPool')]);
  const blocks = [...b4.entries, ...b6.entries].map((e) => parseBlock(e));
  const handleEntries = new Map(handlesList.entries.map((e) => { const h = parseHandle(e); return [h.handleID, { h, revision: e.modRevision }] as const; }));
  const nodeList = options.checkNodes === false ? undefined : (await deps.datastore.list('Node')).items;
  const nodes = nodeList === undefined ? undefined : new Set(nodeList.map((n) => n.metadata.name));
  // Addresses Nodes use (tunnel addresses), as calicoctl's getNodeIPs.
  const nodeIps = new Map<string, string>();
  for (const n of nodeList ?? []) {
    const spec = n.spec as unknown as Record<string, unknown>;
    for (const path of TUNNEL_FIELDS) {
      let v: unknown = spec;
      for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      if (typeof v === 'string' && v !== '') nodeIps.set(v.split('/')[0] ?? v, n.metadata.name);
    }
  }
  const problems: IpamProblem[] = [...poolOverlaps(poolList.items)];
  const leaks: IpamLeak[] = [];
  const allocations: Record<string, ReportAllocation[]> = {};
  let count = 0;
  const actual = new Map<string, number>(); // handle|block → count
  const handlesInBlocks = new Set<string>();
  for (const b of blocks) {
    const owner = affinityNode(b);
    b.allocations.forEach((_, o) => {
      const attr = attributeOf(b, o);
      if (attr === undefined) return;
      count++;
      const address = ordinalToAddress(b.cidr, o);
      const k = `${attr.handle_id ?? ''}|${b.cidr}`;
      actual.set(k, (actual.get(k) ?? 0) + 1);
      if (attr.handle_id !== null) handlesInBlocks.add(attr.handle_id);
      if (attr.handle_id === null || handleEntries.get(attr.handle_id)?.h.block[b.cidr] === undefined) {
        problems.push({ type: 'allocation-without-handle', address, handle: attr.handle_id, block: b.cidr });
      }
      const sec = attr.secondary ?? {};
      const node = sec['node'] ?? owner;
      const rec = attr.handle_id === null ? undefined : records.get(attr.handle_id);
      const owners: string[] = [];
      if (rec !== undefined && rec.addresses.some((a) => a.split('/')[0] === address)) {
        owners.push(rec.pod === undefined ? `Workload(${rec.handle})` : `Workload(${rec.namespace ?? ''}/${rec.pod})`);
      }
      const usingNode = nodeIps.get(address);
      if (usingNode !== undefined) owners.push(`Node(${usingNode})`);
      const seq = b.sequenceNumberForAllocation[String(o)];
      (allocations[address] ??= []).push({
        ip: address, ...(attr.handle_id === null ? {} : { handle: attr.handle_id }), ...(seq === undefined ? {} : { sequenceNumber: seq }),
        ...(sec['pod'] === undefined ? {} : { pod: sec['pod'] }), ...(sec['namespace'] === undefined ? {} : { namespace: sec['namespace'] }),
        ...(node === undefined ? {} : { node }), ...(sec['type'] === undefined ? {} : { type: sec['type'] }),
        inUse: owners.length > 0, ...(node !== owner ? { borrowed: true } : {}), owners,
      });
      const unknownNode = nodes !== undefined && nodes.size > 0 && sec['node'] !== undefined && !nodes.has(sec['node']);
      if (unknownNode) problems.push({ type: 'allocation-on-unknown-node', address, node: sec['node'] ?? '', handle: attr.handle_id });
      else if (owners.length === 0) {
        leaks.push({ type: 'allocation-not-in-use', address, node, handle: attr.handle_id,
          workload: sec['pod'] === undefined ? undefined : `${sec['namespace'] ?? ''}/${sec['pod']}` });
      }
    });
  }
  const leakedHandles: ReportHandle[] = [];
  for (const { h, revision } of handleEntries.values()) {
    if (!handlesInBlocks.has(h.handleID)) {
      problems.push({ type: 'leaked-handle', handle: h.handleID });
      leakedHandles.push({ ID: h.handleID, UID: null, Revision: revision });
      continue;
    }
    for (const [cidr, recorded] of Object.entries(h.block)) {
      const n = actual.get(`${h.handleID}|${cidr}`) ?? 0;
      if (n !== recorded) problems.push({ type: 'handle-count-mismatch', handle: h.handleID, block: cidr, recorded, actual: n });
    }
  }
  const blockSet = new Set(blocks.map((b) => b.cidr));
  const affSet = new Set<string>();
  for (const e of affList.entries) {
    const rest = e.key.slice(`${IPAM_PREFIX}host/`.length);
    const node = rest.slice(0, rest.indexOf('/'));
    const cidr = cidrFromKeyPart(e.key.slice(e.key.lastIndexOf('/') + 1));
    affSet.add(`${node}|${cidr}`);
    if (!blockSet.has(cidr)) problems.push({ type: 'affinity-without-block', node, block: cidr, state: (parseAffinity(e)).state });
  }
  for (const b of blocks) {
    const node = affinityNode(b);
    if (node !== undefined && !affSet.has(`${node}|${b.cidr}`)) problems.push({ type: 'block-without-affinity', block: b.cidr, node });
  }
  const report: IpamReport = {
    version: options.version ?? 'unknown', clusterGUID: cluster.guid, datastoreLocked: false,
    clusterInformationRevision: cluster.revision, clusterType: 'tortie,etcdv3', allocations,
    ...(leakedHandles.length === 0 ? {} : { leakedHandles }),
  };
  return { blocks: blocks.length, allocations: count, handles: handleEntries.size, problems, leaks, report };
}
