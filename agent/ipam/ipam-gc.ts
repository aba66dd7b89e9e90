/**
 * IPAM garbage Calico collects in three places, in one module:
 *
 *   IPPool deleted ──────> releasePoolAffinities (libcalico-go ReleasePoolAffinities: run by
 *                          `tortiectl delete` and, for pools deleted any other way, by sweep())
 *   Node deleted ────────> releaseNodeIpam (kube-controllers' node controller: the node's
 *                          addresses, handles, block affinities)
 *   sweep() ─────────────> both, for every pool and node that is gone (the elected agent runs it)
 *
 * releaseBlockAffinity follows libcalico-go: affinity → pendingDeletion, then an empty block is
 * deleted and a non-empty one keeps its allocations without affinity (its addresses stay valid
 * until released), then the affinity goes. Every write is a CAS with bounded retries.
 */
import type { Logger } from '../../common/logger.js';
import { parsePrefix, prefixContains } from '../../common/prefix.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { KvStore } from '../datastore/kv-store.js';
import type { Datastore } from '../datastore/datastore.js';
import { affinityPrefix, ALL_AFFINITIES_PREFIX, blockKey, blockPrefix, cidrFromKeyPart, IPAM_PREFIX, livenessKey } from '../datastore/key-layout.js';
import { affinityNode, attributeOf, isEmpty, ordinalToAddress } from './block.js';
import { DATASTORE_RETRIES, Ipam } from './ipam.js';
import { IpamError } from './ipam-error.js';
import { parseBlock } from './stored.js';
import { deleteWorkloadRecord, listWorkloadRecords } from './workload-records.js';

export interface IpamGcDeps { readonly store: KvStore; readonly datastore: Datastore; readonly logger: Logger }

interface AffinityRef { readonly key: string; readonly node: string; readonly cidr: string }

function affinityRef(key: string): AffinityRef {
  const rest = key.slice(`${IPAM_PREFIX}host/`.length);
  return { key, node: rest.slice(0, rest.indexOf('/')), cidr: cidrFromKeyPart(key.slice(key.lastIndexOf('/') + 1)) };
}

/** What one release pass did (for logs, tests and `tortiectl`). */
export interface GcResult {
  /** Blocks deleted (they were empty). */
  readonly blocksDeleted: string[];
  /** Blocks kept (addresses still allocated) whose affinity was removed. */
  readonly blocksUnaffined: string[];
  readonly addressesReleased: string[];
}

const emptyResult = (): GcResult => ({ blocksDeleted: [], blocksUnaffined: [], addressesReleased: [] });

/**
 * Release `node`'s affinity to block `cidr`. With `requireEmpty`, a block holding addresses
 * keeps its affinity. Returns what happened to the block.
 */
export async function releaseBlockAffinity(deps: IpamGcDeps, node: string, cidr: string, requireEmpty: boolean):
  Promise<'deleted' | 'unaffined' | 'not-empty' | 'gone'> {
  const family = parsePrefix(cidr).family;
  const aKey = `${affinityPrefix(node, family)}${cidr.replace('/', '-')}`;
  const bKey = blockKey(family, cidr);
  for (let attempt = 0; attempt < DATASTORE_RETRIES; attempt++) {
    const [a, b] = await Promise.all([deps.store.get(aKey), deps.store.get(bKey)]);
    const block = b === undefined ? undefined : parseBlock(b);
    if (block !== undefined && requireEmpty && !isEmpty(block)) return 'not-empty';
    try {
      const marked = a === undefined ? undefined : await deps.store.update(aKey, JSON.stringify({ state: 'pendingDeletion' }), a.modRevision);
      let outcome: 'deleted' | 'unaffined' | 'gone' = 'gone';
      if (b !== undefined && block !== undefined && affinityNode(block) === node) {
        if (isEmpty(block)) { await deps.store.delete(bKey, b.modRevision); outcome = 'deleted'; } else {
          await deps.store.update(bKey, JSON.stringify({ ...block, affinity: null }), b.modRevision);
          outcome = 'unaffined';
        }
      }
      if (marked !== undefined) await deps.store.delete(aKey, marked.modRevision);
      return outcome;
    } catch (err) {
      if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'not-found')) continue;
      throw err;
    }
  }
  throw new IpamError('ipam-retries-exhausted', `block ${cidr}: releasing ${node}'s affinity gave up after ${DATASTORE_RETRIES} conflicts`);
}

async function releaseAffinities(deps: IpamGcDeps, refs: readonly AffinityRef[], requireEmpty: boolean): Promise<GcResult> {
  const out = emptyResult();
  for (const r of refs) {
    const what = await releaseBlockAffinity(deps, r.node, r.cidr, requireEmpty);
    if (what === 'deleted') out.blocksDeleted.push(r.cidr);
    if (what === 'unaffined') out.blocksUnaffined.push(r.cidr);
  }
  return out;
}

/** Every node's affinity to a block inside `poolCidr` (libcalico-go ReleasePoolAffinities). */
export async function releasePoolAffinities(deps: IpamGcDeps, poolCidr: string): Promise<GcResult> {
  const pool = parsePrefix(poolCidr);
  const refs = (await deps.store.list(ALL_AFFINITIES_PREFIX)).entries.map((e) => affinityRef(e.key))
    .filter((r) => { try { return prefixContains(pool, parsePrefix(r.cidr)); } catch { return false; } });
  const out = await releaseAffinities(deps, refs, false);
  deps.logger.info({ pool: poolCidr, ...out }, 'released the block affinities of a deleted IP pool');
  return out;
}

/**
 * A deleted node's IPAM (Calico kube-controllers' node controller): every address allocated to
 * it (attribute node), its handles, its block affinities (empty blocks deleted; blocks still
 * holding other nodes' borrowed addresses kept without affinity).
 */
export async function releaseNodeIpam(deps: IpamGcDeps, node: string): Promise<GcResult> {
  const out = emptyResult();
  const ipam = new Ipam(deps);
  const handles = new Set<string>();
  const loose: string[] = [];
  for (const f of [4, 6] as const) {
    for (const e of (await deps.store.list(blockPrefix(f))).entries) {
      const b = parseBlock(e);
      b.allocations.forEach((_, o) => {
        const a = attributeOf(b, o);
        if (a?.secondary?.['node'] !== node) return;
        if (a.handle_id === null) loose.push(ordinalToAddress(b.cidr, o)); else handles.add(a.handle_id);
      });
    }
  }
  for (const h of handles) out.addressesReleased.push(...await ipam.releaseByHandle(h));
  for (const [h, rec] of await listWorkloadRecords(deps.store)) if (rec.node === node) await deleteWorkloadRecord(deps.store, h);
  if (loose.length > 0) out.addressesReleased.push(...(await ipam.releaseIps(loose)).released);
  const refs = (await deps.store.list(affinityPrefix(node))).entries.map((e) => affinityRef(e.key));
  const aff = await releaseAffinities(deps, refs, false);
  out.blocksDeleted.push(...aff.blocksDeleted);
  out.blocksUnaffined.push(...aff.blocksUnaffined);
  deps.logger.info({ node, handles: handles.size, ...out }, 'released the IPAM of a deleted node');
  return out;
}

/** Node names IPAM knows: affinities and allocation attributes. */
async function ipamNodes(deps: IpamGcDeps): Promise<Set<string>> {
  const nodes = new Set((await deps.store.list(ALL_AFFINITIES_PREFIX)).entries.map((e) => affinityRef(e.key).node));
  for (const f of [4, 6] as const) {
    for (const e of (await deps.store.list(blockPrefix(f))).entries) {
      const b = parseBlock(e);
      for (const a of b.attributes) { const n = a.secondary?.['node']; if (n !== undefined) nodes.add(n); }
    }
  }
  return nodes;
}

export interface SweepResult { readonly nodes: Record<string, GcResult>; readonly pools: GcResult }

/**
 * One pass over the whole IPAM: nodes that have no Node resource and no live liveness key, and
 * affinities to blocks that lie in no IPPool, are released (handles go with their addresses).
 */
export async function sweepIpam(deps: IpamGcDeps): Promise<SweepResult> {
  const [{ items: nodesNow }, { items: pools }] = await Promise.all([deps.datastore.list('Node'), deps.datastore.list('IPPool')]);
  const known = new Set(nodesNow.map((n) => n.metadata.name));
  const result: { nodes: Record<string, GcResult>; pools: GcResult } = { nodes: {}, pools: emptyResult() };
  for (const node of await ipamNodes(deps)) {
    if (known.has(node)) continue;
    // A node whose agent still holds its liveness lease is alive (its Node resource may be
    // re-registered at any moment): leave it alone.
    if (await deps.store.get(livenessKey(node)) !== undefined) continue;
    result.nodes[node] = await releaseNodeIpam(deps, node);
  }
  const poolPrefixes = pools.map((p) => parsePrefix(p.spec.cidr));
  const orphans = (await deps.store.list(ALL_AFFINITIES_PREFIX)).entries.map((e) => affinityRef(e.key))
    .filter((r) => !poolPrefixes.some((p) => { try { return prefixContains(p, parsePrefix(r.cidr)); } catch { return false; } }));
  if (orphans.length > 0) {
    result.pools = await releaseAffinities(deps, orphans, false);
    deps.logger.info({ blocks: orphans.map((o) => o.cidr), ...result.pools }, 'released block affinities outside every IP pool');
  }
  return result;
}


