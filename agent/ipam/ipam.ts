/**
 * Calico-style block IPAM over a KvStore; every write is a CAS on the mod revision with
 * bounded retries (robustness.md §4.2), so any number of nodes and processes can allocate
 * concurrently without a lock.
 *
 *   autoAssign ─> pools (enabled, family, use, nodeSelector matches the Node's labels)
 *              ─> 1. node's confirmed affine blocks  2. claim a free block
 *                 (block + confirmed affinity in one txn)  3. borrow
 *   the handle record (count per block) and the block are written in one txn.
 */
import type { Logger } from '../../common/logger.js';
import { formatAddress, formatPrefix, hostPrefix, maskBytes, parseAddress, parsePrefix, prefixContains, type Family, type Prefix } from '../../common/prefix.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { KvEntry, KvStore, KvTxnOp } from '../datastore/kv-store.js';
import type { Datastore } from '../datastore/datastore.js';
import { affinityKey, affinityPrefix, ALL_AFFINITIES_PREFIX, blockKey, blockPrefix, cidrFromKeyPart, handleKey } from '../datastore/key-layout.js';
import type { IPPool, IPReservation } from '../resources/kinds.js';
import { selectorMatches } from '../resources/selector.js';
import { compatNotes } from '../resources/compat-notes.js';
import { namespaceMatches, requestedPools } from './pool-choice.js';
import { addressToOrdinal, affinityNode, assignInBlock, assignOrdinalInBlock, reservedOrdinals, attributeOf, isEmpty, newBlock, nthBlock, ordinalsForHandle,
  ordinalToAddress, releaseInBlock, type BlockData } from './block.js';
import { IpamError } from './ipam-error.js';
import { parseAffinity, parseBlock, parseHandle } from './stored.js';
import { readIpamConfig, type IpamConfig } from './ipam-config.js';

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
  /** Assign from these pools only (names or CIDRs; libcalico-go AutoAssignArgs IPv4Pools / IPv6Pools). */
  readonly ipv4Pools?: readonly string[];
  readonly ipv6Pools?: readonly string[];
  readonly use?: 'Workload' | 'Tunnel';
  /**
   * When the handle already holds addresses, return those instead of assigning more (a CNI ADD
   * retried by the runtime). The check runs alongside the first reads of the assignment.
   */
  readonly reuseHandle?: boolean;
}

export interface AssignedAddress { readonly address: string; readonly block: string }
export interface AssignResult {
  readonly ipv4: readonly AssignedAddress[]; readonly ipv6: readonly AssignedAddress[];
  /** reuseHandle found the handle holding addresses: these are they, nothing new was assigned. */
  readonly reused?: boolean;
}

export interface BlockInfo { readonly cidr: string; readonly state: AffinityState }

/**
 * What a watch cache (the agent's) already holds, so a pod's ADD skips reads. Only hints: every
 * write stays a CAS, so a stale view can cost a retry or an early block claim, never a wrong or
 * double allocation.
 */
export interface IpamView {
  /** Every IPPool as last seen. When none of them matches, IPAM lists the pools itself (a pool just made). */
  pools(): readonly IPPool[];
  /** The node's labels, or undefined when the view has no such Node (IPAM reads it). */
  nodeLabels(node: string): Readonly<Record<string, string>> | undefined;
  /** The blocks that exist, by CIDR. Missing ones make a claim try a taken block (already-exists) first. */
  blocks(family: Family): ReadonlyMap<string, BlockData>;
  /** Every IPReservation as last seen (one made moments ago may be missed); absent: IPAM lists them itself. */
  reservations?(): readonly IPReservation[];
}

export interface IpamDeps {
  readonly store: KvStore; readonly datastore: Datastore; readonly logger: Logger;
  readonly view?: IpamView;
}
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

  /** The store this IPAM writes to (workload records live next to the allocations). */
  get store(): KvStore { return this.deps.store; }

  private readonly noted = new Set<string>();
  /** Log a pool's compat notes (namespaceSelector labels, Manual mode) once per pool and content. */
  private note(p: IPPool): void {
    for (const note of compatNotes(p)) {
      if (this.noted.has(note)) continue;
      this.noted.add(note);
      this.log.warn({ pool: p.metadata.name }, note);
    }
  }
  // ---- pools -------------------------------------------------------------------------
  /**
   * Enabled pools of `family` for `use` whose nodeSelector matches the node: Automatic ones, or
   * exactly those named (by name or CIDR) in `only`, which must all exist, be enabled, of this
   * family and allow `use` (IpamError 'ipam-unknown-pool' naming the first that does not).
   */
  async poolsForNode(node: string, family: Family, use: 'Workload' | 'Tunnel' = 'Workload', only?: readonly string[], namespace?: string): Promise<IPPool[]> {
    const requested = only !== undefined && only.length > 0 ? only : undefined;
    const usable = (items: readonly IPPool[], labels: Readonly<Record<string, string>>): IPPool[] => items.filter((p) => {
      if (parsePrefix(p.spec.cidr).family !== family || p.spec.disabled === true || !p.spec.allowedUses.includes(use)) return false;
      // libcalico-go determinePools: Automatic pools whose nodeSelector and namespaceSelector match.
      if (p.spec.assignmentMode !== 'Automatic') { this.note(p); return false; }
      if (!selectorMatches(p.spec.nodeSelector, labels)) return false;
      const ok = namespaceMatches(p, namespace);
      if (!ok) this.note(p);
      return ok;
    });
    const view = this.deps.view;
    if (requested !== undefined) {
      // Requested pools are used as asked, selectors and assignmentMode ignored (libcalico-go
      // determinePools); one the view does not know may have just been made: list them.
      const fromView = view === undefined ? undefined : requestedPools(view.pools(), requested, family, use);
      if (Array.isArray(fromView)) return fromView;
      const resolved = requestedPools((await this.deps.datastore.list('IPPool')).items, requested, family, use);
      if (!Array.isArray(resolved)) throw new IpamError(resolved.code, resolved.message);
      return resolved;
    }
    const viewLabels = view?.nodeLabels(node);
    if (view !== undefined && viewLabels !== undefined) {
      const fromView = usable(view.pools(), viewLabels);
      if (fromView.length > 0) return fromView;
    }
    const [{ items }, nodeRes] = await Promise.all([this.deps.datastore.list('IPPool'), this.deps.datastore.get('Node', node)]);
    if (nodeRes === undefined) this.log.debug({ node }, 'no Node resource: matching pools with empty labels');
    return usable(items, nodeRes?.metadata.labels ?? {});
  }

  // ---- assignment --------------------------------------------------------------------
  async autoAssign(args: AssignArgs): Promise<AssignResult> {
    if (!handleOk(args.handle)) throw new IpamError('ipam-invalid', `invalid handle ${JSON.stringify(args.handle)} (non-empty, no "/")`);
    for (const [f, n] of [['num4', args.num4], ['num6', args.num6]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new IpamError('ipam-invalid', `${f} must be a non-negative integer`);
    }
    // The first round of reads (pools, affinities, IPAM config) starts with the handle check.
    // The IPAM config is one key: read once for both families of a dual-stack ADD.
    const config = args.num4 > 0 || args.num6 > 0 ? readIpamConfig(this.deps.store) : undefined;
    const first4 = args.num4 > 0 && config !== undefined ? this.firstReads(args, 4, config) : undefined;
    const first6 = args.num6 > 0 && config !== undefined ? this.firstReads(args, 6, config) : undefined;
    for (const f of [first4, first6]) f?.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    let handleEntry: KvEntry | undefined;
    if (args.reuseHandle === true) {
      handleEntry = await this.deps.store.get(handleKey(args.handle));
      const held = handleEntry === undefined ? [] : await this.handleAddresses(args.handle, parseHandle(handleEntry));
      if (held.length > 0) {
        this.log.info({ handle: args.handle, addresses: held.map((a) => a.address) }, 'handle already holds addresses: reusing them');
        return { ipv4: held.filter((a) => !a.address.includes(':')), ipv6: held.filter((a) => a.address.includes(':')), reused: true };
      }
    }
    const known: KnownHandle = args.reuseHandle === true ? { entry: handleEntry } : undefined;
    const ipv4 = first4 !== undefined ? await this.assignFamily(args, 4, args.num4, await first4, known) : [];
    let ipv6: AssignedAddress[] = [];
    try {
      ipv6 = first6 !== undefined ? await this.assignFamily(args, 6, args.num6, await first6, ipv4.length > 0 ? undefined : known) : [];
    } catch (err) {
      // No half dual-stack: give back the IPv4 addresses this call took.
      await this.releaseIps(ipv4.map((a) => a.address)).catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'dual-stack rollback failed'));
      throw err;
    }
    return { ipv4, ipv6 };
  }

  /**
   * libcalico-go AssignIP (CNI_ARGS `IP=`): exactly `ip`, from the enabled pool holding it
   * whatever its assignmentMode, claiming its block for the node when the block does not exist
   * yet. Refused when the pool does not allow `use`, the address is taken, or under strictAffinity
   * the block is another node's. IPReservations bind auto-assignment only, as in Calico.
   */
  async assignIp(args: Omit<AssignArgs, 'num4' | 'num6' | 'ipv4Pools' | 'ipv6Pools'> & { readonly ip: string }): Promise<AssignResult> {
    if (!handleOk(args.handle)) throw new IpamError('ipam-invalid', `invalid handle ${JSON.stringify(args.handle)} (non-empty, no "/")`);
    const addr = parseAddress(args.ip);
    const family = addr.family;
    const pack = (a: AssignedAddress[]): AssignResult => (family === 4 ? { ipv4: a, ipv6: [] } : { ipv4: [], ipv6: a });
    const ip = formatAddress(addr);
    if (args.reuseHandle === true) {
      const h = await this.deps.store.get(handleKey(args.handle));
      const held = h === undefined ? [] : (await this.handleAddresses(args.handle, parseHandle(h))).filter((a) => a.address === ip);
      if (held.length > 0) return { ...pack(held), reused: true };
    }
    const [{ items }, config] = await Promise.all([this.deps.datastore.list('IPPool'), readIpamConfig(this.deps.store)]);
    const pool = items.find((p) => p.spec.disabled !== true && prefixContains(parsePrefix(p.spec.cidr), addr));
    const unavailable = (why: string): IpamError => new IpamError('ipam-address-unavailable', `requested address ${args.ip} ${why}`);
    if (pool === undefined) throw unavailable('is not in any enabled IP pool');
    const use = args.use ?? 'Workload';
    if (!pool.spec.allowedUses.includes(use)) throw unavailable(`is in IP pool ${JSON.stringify(pool.metadata.name)}, which does not allow use ${use}`);
    const cidr = formatPrefix({ family, bytes: maskBytes(addr.bytes, pool.spec.blockSize), length: pool.spec.blockSize });
    const claimed = await this.tryClaim(args.node, family, cidr);
    const entry = (claimed.type === 'claimed' ? claimed.entry : claimed.current) ?? await this.deps.store.get(blockKey(family, cidr));
    if (entry === undefined) throw new IpamError('ipam-retries-exhausted', `block ${cidr} vanished while being claimed; try again`);
    const block = parseBlock(entry);
    const owner = affinityNode(block);
    if ((this.options.strictAffinity ?? config.strictAffinity) && owner !== args.node) throw unavailable(`is in block ${cidr}, affine to ${owner ?? 'no node'} (strictAffinity)`);
    const ordinal = addressToOrdinal(cidr, ip) ?? -1;
    const got = await this.assignFromBlock(cidr, 1, args, undefined, [], entry, undefined, ordinal);
    if (got.length === 0) {
      const holder = (await this.addressInfo(ip))?.handle;
      throw unavailable(`is already assigned${holder ? ` (handle ${holder})` : ''}`);
    }
    return pack(got);
  }

  /** IPReservation CIDRs (and single IPs) of `family`: addresses no assignment hands out. */
  async reservedPrefixes(family: Family): Promise<Prefix[]> {
    const items = this.deps.view?.reservations?.() ?? (await this.deps.datastore.list('IPReservation')).items;
    const out: Prefix[] = [];
    for (const r of items) {
      for (const c of r.spec.reservedCIDRs ?? []) {
        const p = c.includes('/') ? parsePrefix(c, { allowHostBits: true }) : hostPrefix(parseAddress(c));
        if (p.family === family) out.push(p);
      }
    }
    return out;
  }

  /** Reads that do not depend on each other, in one round: usable pools, the node's affinities, the IPAM config, reservations. */
  private async firstReads(args: AssignArgs, family: Family, ipamConfig: Promise<IpamConfig>): Promise<FirstReads> {
    const [pools, affinities, config, reserved] = await Promise.all([
      this.poolsForNode(args.node, family, args.use ?? 'Workload', family === 4 ? args.ipv4Pools : args.ipv6Pools, args.attrs['namespace']),
      this.blocksForNode(args.node, family),
      ipamConfig,
      this.reservedPrefixes(family),
    ]);
    return { pools, affinities, config, reserved };
  }

  private async assignFamily(args: AssignArgs, family: Family, want: number, first: FirstReads, known: KnownHandle): Promise<AssignedAddress[]> {
    const { pools } = first;
    if (pools.length === 0) throw new IpamError('ipam-no-pool', `no enabled IPv${family} pool matches node ${JSON.stringify(args.node)}`);
    const inPools = (cidr: string): boolean => pools.some((p) => prefixContains(parsePrefix(p.spec.cidr), parsePrefix(cidr)));
    const got: AssignedAddress[] = [];
    const need = (): number => want - got.length;
    // The handle record is known absent only until this call writes it.
    const handleHint = (): KnownHandle => (got.length === 0 ? known : undefined);
    try {
      // 1. Confirmed blocks affine to this node. Read them all at once and try only those with
      // room: one round trip however many (full) blocks the node holds, instead of one per block.
      // With a view, blocks it shows full are not read (an address freed in the last moments may
      // be missed: then a block is claimed a little early, never an address given twice).
      const cached = this.deps.view?.blocks(family);
      const affine = first.affinities.filter((b) => b.state === 'confirmed' && inPools(b.cidr));
      const viewFull = (cidr: string): boolean => cached?.get(cidr)?.unallocated.length === 0;
      const fromAffine = async (blocks: readonly BlockInfo[]): Promise<void> => {
        const read = await Promise.all(blocks.map(async (b) => ({ cidr: b.cidr, entry: await this.deps.store.get(blockKey(family, b.cidr)) })));
        for (const { cidr, entry } of read) {
          if (need() === 0) break;
          if (entry === undefined || parseBlock(entry).unallocated.length === 0) continue;
          got.push(...await this.assignFromBlock(cidr, need(), args, args.node, first.reserved, entry, handleHint()));
        }
      };
      await fromAffine(affine.filter((b) => !viewFull(b.cidr)));
      const strictAffinity = this.options.strictAffinity ?? first.config.strictAffinity;
      const autoAllocateBlocks = this.options.autoAllocateBlocks ?? first.config.autoAllocateBlocks;
      // 2. New blocks, claimed for this node.
      while (need() > 0 && autoAllocateBlocks) {
        const claimed = await this.claimBlock(args.node, family, pools, first.reserved);
        if (claimed === undefined) break;
        got.push(...await this.assignFromBlock(claimed.cidr, need(), args, args.node, first.reserved, claimed.entry, handleHint()));
      }
      // The view may have been behind: read the affine blocks it showed full before borrowing.
      if (need() > 0 && cached !== undefined) await fromAffine(affine.filter((b) => viewFull(b.cidr)));
      // 3. Borrow from any block in the pools.
      if (need() > 0 && !strictAffinity) {
        const { entries } = await this.deps.store.list(blockPrefix(family));
        for (const e of entries) {
          if (need() === 0) break;
          const b = parseBlock(e);
          if (inPools(b.cidr) && b.unallocated.length > 0) got.push(...await this.assignFromBlock(b.cidr, need(), args, undefined, first.reserved));
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
  private async assignFromBlock(cidr: string, want: number, args: Pick<AssignArgs, 'handle' | 'attrs' | 'node'>, affineTo: string | undefined,
    reserved: readonly Prefix[], known?: KvEntry, handle?: KnownHandle, pick?: number): Promise<AssignedAddress[]> {
    const family = parsePrefix(cidr).family;
    const skip = reserved.length === 0 ? undefined : reservedOrdinals(cidr, reserved);
    const key = blockKey(family, cidr);
    const hKey = handleKey(args.handle);
    for (let attempt = 0; attempt < DATASTORE_RETRIES; attempt++) {
      // Reads the caller already made serve the first attempt; a lost CAS re-reads both.
      const [e, h] = await Promise.all([
        attempt === 0 && known !== undefined ? known : this.deps.store.get(key),
        attempt === 0 && handle !== undefined ? handle.entry : this.deps.store.get(hKey),
      ]);
      if (e === undefined) return [];
      const block = parseBlock(e);
      if (affineTo !== undefined && affinityNode(block) !== affineTo) return [];
      const attrs = { ...args.attrs, node: args.attrs['node'] ?? args.node };
      const free = skip === undefined ? block.unallocated.length : block.unallocated.filter((o) => !skip.has(o)).length;
      const k = pick !== undefined ? 1 : Math.min(want, free);
      if (k === 0) return [];
      const picked = pick === undefined ? assignInBlock(block, k, args.handle, attrs, skip) : assignOrdinalInBlock(block, pick, args.handle, attrs);
      if (picked === undefined) return [];
      const { block: next, ordinals } = picked;
      const counts: Record<string, number> = { ...(h === undefined ? {} : parseHandle(h).block) };
      counts[cidr] = (counts[cidr] ?? 0) + k;
      const handleValue = JSON.stringify({ handleID: args.handle, block: counts } satisfies HandleData);
      try {
        // The handle's count and the block's allocation in one txn (Calico writes the handle first
        // and undoes it when the block write loses).
        await this.deps.store.commit([
          h === undefined ? { op: 'create', key: hKey, value: handleValue } : { op: 'update', key: hKey, value: handleValue, expectedModRevision: h.modRevision },
          { op: 'update', key, value: JSON.stringify(next), expectedModRevision: e.modRevision },
        ]);
        return ordinals.map((o) => ({ address: ordinalToAddress(cidr, o), block: cidr }));
      } catch (err) {
        if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'not-found') || isDatastoreError(err, 'already-exists')) continue;
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
    if (have !== undefined) return have.cidr;
    return (await this.claimBlock(node, family, pools, await this.reservedPrefixes(family)))?.cidr;
  }

  /**
   * Claim the first free block in `pools` (tryClaim). Returns the block,
   * with its stored entry when this call created it. The free block is found from the view's
   * blocks when there is one (no list of every block).
   */
  private async claimBlock(node: string, family: Family, pools: readonly IPPool[], reserved: readonly Prefix[]): Promise<ClaimedBlock | undefined> {
    const view = this.deps.view?.blocks(family);
    if (view !== undefined) {
      const claimed = await this.claimFirstFree(node, family, pools, new Set(view.keys()), reserved);
      if (claimed !== undefined) return claimed;
      // The view may show a block that is gone: look again at what is stored.
    }
    return this.claimFirstFree(node, family, pools, new Set((await this.deps.store.list(blockPrefix(family))).entries.map((e) => (parseBlock(e)).cidr)), reserved);
  }

  private async claimFirstFree(node: string, family: Family, pools: readonly IPPool[], existing: Set<string>, reserved: readonly Prefix[]): Promise<ClaimedBlock | undefined> {
    for (const pool of pools) {
      const size = pool.spec.blockSize;
      for (let n = 0n; ; n++) {
        const cidr = nthBlock(pool.spec.cidr, size, n);
        if (cidr === undefined) break;
        if (existing.has(cidr)) continue;
        // A block wholly reserved is never claimed (libcalico-go findUsableBlock): no affinity,
        // no blackhole route over addresses that belong to something else.
        if (reserved.length > 0 && reservedOrdinals(cidr, reserved).size === 2 ** ((family === 4 ? 32 : 128) - size)) continue;
        const claimed = await this.tryClaim(node, family, cidr);
        if (claimed.type === 'claimed') return { cidr, ...(claimed.entry === undefined ? {} : { entry: claimed.entry }) };
        existing.add(cidr);
        // A sibling call on this node claimed it: use it while it has room (a full one, e.g. one
        // a stale view did not show, would be handed back again and again).
        const current = claimed.current === undefined ? undefined : parseBlock(claimed.current);
        if (current !== undefined && affinityNode(current) === node && current.unallocated.length > 0) return { cidr };
      }
    }
    return undefined;
  }

  /**
   * Create block `cidr` with a confirmed affinity to `node` in one txn (Calico goes ∅ → pending →
   * block → confirmed in three writes, because its Kubernetes backend has no multi-key txn; the
   * stored result is the same). An affinity already there (one being released: pendingDeletion)
   * is taken over by CAS. Returns the created entry, or the block another claim made first.
   */
  private async tryClaim(node: string, family: Family, cidr: string): Promise<{ type: 'claimed'; entry?: KvEntry } | { type: 'taken'; current?: KvEntry }> {
    const confirmed = JSON.stringify({ state: 'confirmed' } satisfies AffinityData);
    const aKey = affinityKey(node, family, cidr);
    const bKey = blockKey(family, cidr);
    let affinityOp: KvTxnOp = { op: 'create', key: aKey, value: confirmed };
    for (let attempt = 0; ; attempt++) {
      if (attempt >= DATASTORE_RETRIES) throw new IpamError('ipam-retries-exhausted', `block ${cidr}: gave up after ${DATASTORE_RETRIES} claim conflicts`);
      try {
        const [created] = await this.deps.store.commit([{ op: 'create', key: bKey, value: JSON.stringify(newBlock(cidr, node)) }, affinityOp]);
        this.log.info({ node, block: cidr }, 'claimed block');
        return created === undefined ? { type: 'claimed' } : { type: 'claimed', entry: created };
      } catch (err) {
        if (!isDatastoreError(err)) throw err;
        if (err.where === aKey && (err.code === 'already-exists' || err.code === 'conflict') && err.current !== undefined) {
          affinityOp = { op: 'update', key: aKey, value: confirmed, expectedModRevision: err.current.modRevision };
          continue;
        }
        if (err.where === aKey && err.code === 'not-found') { affinityOp = { op: 'create', key: aKey, value: confirmed }; continue; }
        if (err.where !== bKey || err.code !== 'already-exists') throw err;
        return err.current === undefined ? { type: 'taken' } : { type: 'taken', current: err.current };
      }
    }
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
    return (await this.handleAddresses(handle, parseHandle(e))).map((a) => a.address);
  }

  private async handleAddresses(handle: string, h: HandleData): Promise<AssignedAddress[]> {
    const per = await Promise.all(Object.keys(h.block).map(async (cidr) => {
      const b = await this.deps.store.get(blockKey(parsePrefix(cidr).family, cidr));
      return b === undefined ? [] : ordinalsForHandle(parseBlock(b), handle).map((o) => ({ address: ordinalToAddress(cidr, o), block: cidr }));
    }));
    return per.flat();
  }
}

interface FirstReads { readonly pools: IPPool[]; readonly affinities: BlockInfo[]; readonly config: IpamConfig; readonly reserved: readonly Prefix[] }
/** A handle record read earlier in this call (entry undefined: there was none), or undefined: read it. */
type KnownHandle = { readonly entry: KvEntry | undefined } | undefined;
interface ClaimedBlock { readonly cidr: string; readonly entry?: KvEntry }

