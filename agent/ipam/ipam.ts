/**
 * Calico-style block IPAM over a KvStore; every write is a CAS on the mod revision with
 * bounded retries (robustness.md §4.2), so any number of nodes and processes can allocate
 * concurrently without a lock.
 *
 *   autoAssign ─> pools (enabled, family, use, nodeSelector matches the Node's labels)
 *              ─> 1. node's confirmed affine blocks  2. claim a free block
 *                 (affinity pending ─> create block ─> affinity confirmed)  3. borrow
 *   handle record first (count per block), then the block; a lost block CAS undoes the count.
 */
import type { Logger } from '../../common/logger.js';
import { parseAddress, parsePrefix, prefixContains, type Family } from '../../common/prefix.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { KvEntry, KvStore } from '../datastore/kv-store.js';
import type { Datastore } from '../datastore/datastore.js';
import { affinityKey, affinityPrefix, ALL_AFFINITIES_PREFIX, blockKey, blockPrefix, cidrFromKeyPart, handleKey } from '../datastore/key-layout.js';
import type { IPPool } from '../resources/kinds.js';
import { selectorMatches } from '../resources/selector.js';
import { addressToOrdinal, affinityNode, assignInBlock, attributeOf, isEmpty, newBlock, nthBlock, ordinalsForHandle,
  ordinalToAddress, releaseInBlock, type BlockData } from './block.js';
import { IpamError } from './ipam-error.js';
import { parseAffinity, parseBlock, parseHandle } from './stored.js';
import { DEFAULT_IPAM_CONFIG, readIpamConfig } from './ipam-config.js';

/** libcalico-go ipam.go datastoreRetries. */
export const DATASTORE_RETRIES = 100;

export type AffinityState = 'pending' | 'confirmed' | 'pendingDeletion';
export interface AffinityData { readonly state: AffinityState }
export interface HandleData { readonly handleID: string; readonly block: Readonly<Record<string, number>> }

export interface AssignArgs {
  /** Allocation handle, e.g. `k8s-pod-network.<containerID>`. */
  readonly handle: string;
  /** Stored with each address: pod, namespace, node, ... */
  readonly attrs: Readonly<Record<string, string>>;
  readonly node: string;
  readonly num4: number;
  readonly num6: number;
  /** Restrict to these pools (names or CIDRs). */
  readonly pools?: readonly string[];
  readonly use?: 'Workload' | 'Tunnel';
}

export interface AssignedAddress { readonly address: string; readonly block: string }
export interface AssignResult { readonly ipv4: readonly AssignedAddress[]; readonly ipv6: readonly AssignedAddress[] }

export interface BlockInfo { readonly cidr: string; readonly state: AffinityState }

export interface IpamDeps { readonly store: KvStore; readonly datastore: Datastore; readonly logger: Logger }
export interface IpamOptions {
  /** Never borrow from another node's block; overrides the stored IPAMConfig when set. */
  readonly strictAffinity?: boolean;
  /** Claim new blocks on demand; overrides the stored IPAMConfig when set. */
  readonly autoAllocateBlocks?: boolean;
}

export interface AddressInfo { readonly address: string; readonly block: string; readonly handle: string | null;
  readonly attrs: Readonly<Record<string, string>>; readonly sequenceNumber: number | undefined }

const handleOk = (h: string): boolean => h.length > 0 && h.length <= 253 && !h.includes('/');

export class Ipam {
  private readonly log: Logger;
  constructor(private readonly deps: IpamDeps, private readonly options: IpamOptions = {}) {
    this.log = deps.logger.child({ component: 'ipam' });
  }

  // ---- pools -------------------------------------------------------------------------
  /** Enabled, automatic pools of `family` for `use` whose nodeSelector matches the node. */
  async poolsForNode(node: string, family: Family, use: 'Workload' | 'Tunnel' = 'Workload', only?: readonly string[]): Promise<IPPool[]> {
    const [{ items }, nodeRes] = await Promise.all([this.deps.datastore.list('IPPool'), this.deps.datastore.get('Node', node)]);
    const labels = nodeRes?.metadata.labels ?? {};
    if (nodeRes === undefined) this.log.debug({ node }, 'no Node resource: matching pools with empty labels');
    return items.filter((p) => parsePrefix(p.spec.cidr).family === family && p.spec.disabled !== true
      && p.spec.assignmentMode === 'Automatic' && p.spec.allowedUses.includes(use)
      && (only === undefined || only.includes(p.metadata.name) || only.includes(p.spec.cidr))
      && selectorMatches(p.spec.nodeSelector, labels));
  }

  // ---- assignment --------------------------------------------------------------------
  async autoAssign(args: AssignArgs): Promise<AssignResult> {
    if (!handleOk(args.handle)) throw new IpamError('ipam-invalid', `invalid handle ${JSON.stringify(args.handle)} (non-empty, no "/")`);
    for (const [f, n] of [['num4', args.num4], ['num6', args.num6]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new IpamError('ipam-invalid', `${f} must be a non-negative integer`);
    }
    const ipv4 = args.num4 > 0 ? await this.assignFamily(args, 4, args.num4) : [];
    let ipv6: AssignedAddress[] = [];
    try {
      ipv6 = args.num6 > 0 ? await this.assignFamily(args, 6, args.num6) : [];
    } catch (err) {
      // No half dual-stack: give back the IPv4 addresses this call took.
      await this.releaseIps(ipv4.map((a) => a.address)).catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'dual-stack rollback failed'));
      throw err;
    }
    return { ipv4, ipv6 };
  }

  private async assignFamily(args: AssignArgs, family: Family, want: number): Promise<AssignedAddress[]> {
    const pools = await this.poolsForNode(args.node, family, args.use ?? 'Workload', args.pools);
    if (pools.length === 0) throw new IpamError('ipam-no-pool', `no enabled IPv${family} pool matches node ${JSON.stringify(args.node)}`);
    const inPools = (cidr: string): boolean => pools.some((p) => prefixContains(parsePrefix(p.spec.cidr), parsePrefix(cidr)));
    const got: AssignedAddress[] = [];
    const need = (): number => want - got.length;
    try {
      // 1. Confirmed blocks affine to this node. Read them all at once and try only those with
      // room: one round trip however many (full) blocks the node holds, instead of one per block.
      const affine = (await this.blocksForNode(args.node, family)).filter((b) => b.state === 'confirmed' && inPools(b.cidr));
      const read = await Promise.all(affine.map(async (b) => ({ cidr: b.cidr, entry: await this.deps.store.get(blockKey(family, b.cidr)) })));
      for (const { cidr, entry } of read) {
        if (need() === 0) break;
        if (entry === undefined || parseBlock(entry).unallocated.length === 0) continue;
        got.push(...await this.assignFromBlock(cidr, need(), args, args.node, entry));
      }
      const stored = need() > 0 ? await readIpamConfig(this.deps.store) : DEFAULT_IPAM_CONFIG;
      const strictAffinity = this.options.strictAffinity ?? stored.strictAffinity;
      const autoAllocateBlocks = this.options.autoAllocateBlocks ?? stored.autoAllocateBlocks;
      // 2. New blocks, claimed for this node.
      while (need() > 0 && autoAllocateBlocks) {
        const cidr = await this.claimBlock(args.node, family, pools);
        if (cidr === undefined) break;
        got.push(...await this.assignFromBlock(cidr, need(), args, args.node));
      }
      // 3. Borrow from any block in the pools.
      if (need() > 0 && !strictAffinity) {
        const { entries } = await this.deps.store.list(blockPrefix(family));
        for (const e of entries) {
          if (need() === 0) break;
          const b = parseBlock(e);
          if (inPools(b.cidr) && b.unallocated.length > 0) got.push(...await this.assignFromBlock(b.cidr, need(), args, undefined));
        }
      }
    } catch (err) {
      await this.releaseIps(got.map((a) => a.address)).catch(() => undefined);
      throw err;
    }
    if (need() > 0) {
      await this.releaseIps(got.map((a) => a.address));
      throw new IpamError('ipam-exhausted', `IPv${family} pools ${pools.map((p) => p.spec.cidr).join(', ')} have no free address for node ${JSON.stringify(args.node)} (wanted ${want})`);
    }
    return got;
  }

  /** Assign up to `want` from one block; `affineTo` requires the block's affinity to be that node. */
  private async assignFromBlock(cidr: string, want: number, args: AssignArgs, affineTo: string | undefined,
    known?: KvEntry): Promise<AssignedAddress[]> {
    const family = parsePrefix(cidr).family;
    const key = blockKey(family, cidr);
    for (let attempt = 0; attempt < DATASTORE_RETRIES; attempt++) {
      // The caller's fresh read serves the first attempt; a CAS conflict re-reads.
      const e = attempt === 0 && known !== undefined ? known : await this.deps.store.get(key);
      if (e === undefined) return [];
      const block = parseBlock(e);
      if (affineTo !== undefined && affinityNode(block) !== affineTo) return [];
      const k = Math.min(want, block.unallocated.length);
      if (k === 0) return [];
      await this.adjustHandle(args.handle, cidr, k);
      const { block: next, ordinals } = assignInBlock(block, k, args.handle, { ...args.attrs, node: args.attrs['node'] ?? args.node });
      try {
        await this.deps.store.update(key, JSON.stringify(next), e.modRevision);
        return ordinals.map((o) => ({ address: ordinalToAddress(cidr, o), block: cidr }));
      } catch (err) {
        await this.adjustHandle(args.handle, cidr, -k);
        if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'not-found')) continue;
        throw err;
      }
    }
    throw new IpamError('ipam-retries-exhausted', `block ${cidr}: gave up after ${DATASTORE_RETRIES} update conflicts`);
  }

  /** Add `delta` to the handle's count for `cidr` (creating / deleting the handle record). */
  private async adjustHandle(handle: string, cidr: string, delta: number): Promise<void> {
    const key = handleKey(handle);
    for (let attempt = 0; attempt < DATASTORE_RETRIES; attempt++) {
      const e = await this.deps.store.get(key);
      const cur: HandleData = e === undefined ? { handleID: handle, block: {} } : parseHandle(e);
      const blocks: Record<string, number> = { ...cur.block };
      const n = (blocks[cidr] ?? 0) + delta;
      if (n > 0) blocks[cidr] = n; else delete blocks[cidr];
      try {
        if (Object.keys(blocks).length === 0) {
          if (e !== undefined) await this.deps.store.delete(key, e.modRevision);
        } else if (e === undefined) {
          await this.deps.store.create(key, JSON.stringify({ handleID: handle, block: blocks }));
        } else {
          await this.deps.store.update(key, JSON.stringify({ handleID: handle, block: blocks }), e.modRevision);
        }
        return;
      } catch (err) {
        if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found')) continue;
        throw err;
      }
    }
    throw new IpamError('ipam-retries-exhausted', `handle ${handle}: gave up after ${DATASTORE_RETRIES} update conflicts`);
  }

  // ---- blocks and affinity -----------------------------------------------------------
  /** Blocks affine to `node` (every state; only `confirmed` ones are routed and exported). */
  async blocksForNode(node: string, family?: Family): Promise<BlockInfo[]> {
    const prefix = affinityPrefix(node, family);
    const { entries } = await this.deps.store.list(prefix);
    return entries.map((e) => ({ cidr: cidrFromKeyPart(e.key.slice(e.key.lastIndexOf('/') + 1)), state: (parseAffinity(e)).state }))
      .sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
  }

  /** A confirmed block for the node in a matching pool, claiming one if it has none. */
  async ensureBlock(node: string, family: Family, use: 'Workload' | 'Tunnel' = 'Workload'): Promise<string | undefined> {
    const pools = await this.poolsForNode(node, family, use);
    const have = (await this.blocksForNode(node, family)).find((b) => b.state === 'confirmed'
      && pools.some((p) => prefixContains(parsePrefix(p.spec.cidr), parsePrefix(b.cidr))));
    return have?.cidr ?? this.claimBlock(node, family, pools);
  }

  /** Two-phase claim of the first free block in `pools`: ∅ → pending → (block created) → confirmed. */
  private async claimBlock(node: string, family: Family, pools: readonly IPPool[]): Promise<string | undefined> {
    const existing = new Set((await this.deps.store.list(blockPrefix(family))).entries.map((e) => (parseBlock(e)).cidr));
    for (const pool of pools) {
      const size = pool.spec.blockSize;
      for (let n = 0n; ; n++) {
        const cidr = nthBlock(pool.spec.cidr, size, n);
        if (cidr === undefined) break;
        if (existing.has(cidr)) continue;
        const aKey = affinityKey(node, family, cidr);
        let ours: string | undefined; // mod revision of the pending affinity this call created
        try {
          ours = (await this.deps.store.create(aKey, JSON.stringify({ state: 'pending' } satisfies AffinityData))).modRevision;
        } catch (err) {
          if (!isDatastoreError(err, 'already-exists')) throw err; // a sibling claim on this node, or a leftover: carry on
        }
        try {
          await this.deps.store.create(blockKey(family, cidr), JSON.stringify(newBlock(cidr, node)));
        } catch (err) {
          if (!isDatastoreError(err, 'already-exists')) {
            if (ours !== undefined) await this.deps.store.delete(aKey, ours).catch(() => undefined);
            throw err;
          }
          existing.add(cidr);
          const winner = err.current === undefined ? undefined : affinityNode(parseBlock(err.current));
          // Another node won: drop our pending claim (CAS, so a sibling's newer write survives).
          if (winner !== node && ours !== undefined) await this.deps.store.delete(aKey, ours).catch(() => undefined);
          if (winner === node) return cidr; // a sibling call on this node claimed it: use it
          continue;
        }
        await this.setAffinity(aKey, 'confirmed');
        this.log.info({ node, block: cidr }, 'claimed block');
        return cidr;
      }
    }
    return undefined;
  }

  private async setAffinity(key: string, state: AffinityState): Promise<void> {
    for (let attempt = 0; attempt < DATASTORE_RETRIES; attempt++) {
      const a = await this.deps.store.get(key);
      try {
        if (a === undefined) await this.deps.store.create(key, JSON.stringify({ state } satisfies AffinityData));
        else await this.deps.store.update(key, JSON.stringify({ state } satisfies AffinityData), a.modRevision);
        return;
      } catch (err) {
        if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found')) continue;
        throw err;
      }
    }
    throw new IpamError('ipam-retries-exhausted', `affinity ${key}: gave up after ${DATASTORE_RETRIES} update conflicts`);
  }

  /** Release every empty block affine to `node` (all nodes when omitted); returns their CIDRs. */
  async releaseEmptyBlocks(node?: string): Promise<string[]> {
    const prefix = node === undefined ? ALL_AFFINITIES_PREFIX : affinityPrefix(node);
    const released: string[] = [];
    for (const a of (await this.deps.store.list(prefix)).entries) {
      const cidr = cidrFromKeyPart(a.key.slice(a.key.lastIndexOf('/') + 1));
      const family = parsePrefix(cidr).family;
      const bKey = blockKey(family, cidr);
      const b = await this.deps.store.get(bKey);
      if (b !== undefined && !isEmpty(parseBlock(b))) continue;
      try {
        const marked = await this.deps.store.update(a.key, JSON.stringify({ state: 'pendingDeletion' }), a.modRevision);
        if (b !== undefined) {
          try { await this.deps.store.delete(bKey, b.modRevision); } catch (err) {
            // Someone allocated meanwhile: the block stays, and so does the affinity.
            await this.deps.store.update(a.key, JSON.stringify({ state: 'confirmed' }), marked.modRevision);
            if (isDatastoreError(err, 'conflict')) continue;
            throw err;
          }
        }
        await this.deps.store.delete(a.key, marked.modRevision);
        released.push(cidr);
        this.log.info({ block: cidr }, 'released empty block');
      } catch (err) {
        if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'not-found')) continue;
        throw err;
      }
    }
    return released;
  }

  // ---- release -----------------------------------------------------------------------
  /** Release every address held by `handle`; idempotent (unknown handle → []). */
  async releaseByHandle(handle: string): Promise<string[]> {
    const e = await this.deps.store.get(handleKey(handle));
    if (e === undefined) return [];
    const h = parseHandle(e);
    const released: string[] = [];
    for (const cidr of Object.keys(h.block)) {
      const key = blockKey(parsePrefix(cidr).family, cidr);
      for (let attempt = 0; ; attempt++) {
        if (attempt >= DATASTORE_RETRIES) throw new IpamError('ipam-retries-exhausted', `block ${cidr}: gave up after ${DATASTORE_RETRIES} update conflicts`);
        const b = await this.deps.store.get(key);
        if (b === undefined) break;
        const block = parseBlock(b);
        const ords = ordinalsForHandle(block, handle);
        if (ords.length === 0) break;
        try {
          await this.deps.store.update(key, JSON.stringify(releaseInBlock(block, ords)), b.modRevision);
          released.push(...ords.map((o) => ordinalToAddress(cidr, o)));
          break;
        } catch (err) {
          if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'not-found')) continue;
          throw err;
        }
      }
    }
    await this.deps.store.delete(handleKey(handle)).catch((err: unknown) => { if (!isDatastoreError(err, 'not-found')) throw err; });
    return released;
  }

  /**
   * Release single addresses. With `sequenceNumber`, the release is refused if the address was
   * re-assigned since (ABA guard). Returns the addresses that were not assigned.
   */
  async releaseIps(ips: readonly string[], sequenceNumber?: number): Promise<{ released: string[]; notAssigned: string[] }> {
    const released: string[] = [], notAssigned: string[] = [];
    if (ips.length === 0) return { released, notAssigned };
    for (const ip of ips) {
      const family = parseAddress(ip).family;
      const loc = await this.findBlock(family, ip);
      if (loc === undefined) { notAssigned.push(ip); continue; }
      const { cidr, key, ordinal } = loc;
      let done = false;
      for (let attempt = 0; attempt < DATASTORE_RETRIES && !done; attempt++) {
        const b = await this.deps.store.get(key);
        if (b === undefined) break;
        const block = parseBlock(b);
        const attr = attributeOf(block, ordinal);
        if (attr === undefined) break;
        if (sequenceNumber !== undefined && block.sequenceNumberForAllocation[String(ordinal)] !== sequenceNumber) {
          throw new IpamError('ipam-stale-sequence', `${ip} was re-assigned since sequence number ${sequenceNumber}; not releasing it`);
        }
        try {
          await this.deps.store.update(key, JSON.stringify(releaseInBlock(block, [ordinal])), b.modRevision);
          if (attr.handle_id !== null) await this.adjustHandle(attr.handle_id, cidr, -1);
          done = true;
        } catch (err) {
          if (isDatastoreError(err, 'conflict')) continue;
          throw err;
        }
      }
      (done ? released : notAssigned).push(ip);
    }
    return { released, notAssigned };
  }

  private async findBlock(family: Family, ip: string): Promise<{ cidr: string; key: string; ordinal: number } | undefined> {
    for (const e of (await this.deps.store.list(blockPrefix(family))).entries) {
      const cidr = (parseBlock(e)).cidr;
      const ordinal = addressToOrdinal(cidr, ip);
      if (ordinal !== undefined) return { cidr, key: e.key, ordinal };
    }
    return undefined;
  }

  /** Who holds `ip` (undefined when free or outside every block). */
  async addressInfo(ip: string): Promise<AddressInfo | undefined> {
    const loc = await this.findBlock(parseAddress(ip).family, ip);
    if (loc === undefined) return undefined;
    const e = await this.deps.store.get(loc.key);
    if (e === undefined) return undefined;
    const block = parseBlock(e);
    const attr = attributeOf(block, loc.ordinal);
    if (attr === undefined) return undefined;
    return { address: ip, block: loc.cidr, handle: attr.handle_id, attrs: attr.secondary ?? {},
      sequenceNumber: block.sequenceNumberForAllocation[String(loc.ordinal)] };
  }

  /** Every block, parsed (for `ipam show` and the leak check). */
  async allBlocks(): Promise<BlockData[]> {
    const [v4, v6] = await Promise.all([this.deps.store.list(blockPrefix(4)), this.deps.store.list(blockPrefix(6))]);
    return [...v4.entries, ...v6.entries].map((e) => parseBlock(e));
  }

  /** Addresses held by `handle`. */
  async addressesForHandle(handle: string): Promise<string[]> {
    const e = await this.deps.store.get(handleKey(handle));
    if (e === undefined) return [];
    const h = parseHandle(e);
    const out: string[] = [];
    for (const cidr of Object.keys(h.block)) {
      const b = await this.deps.store.get(blockKey(parsePrefix(cidr).family, cidr));
      if (b !== undefined) out.push(...ordinalsForHandle(parseBlock(b), handle).map((o) => ordinalToAddress(cidr, o)));
    }
    return out;
  }
}
