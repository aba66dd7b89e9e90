/**
 * An IPAM block (Calico's AllocationBlock, stored as JSON): a CIDR of `blockSize`, an
 * affinity `host:<node>`, one slot per address pointing at an attribute (handle + pod,
 * namespace, node), a FIFO `unallocated` queue (released addresses go to the back), and
 * sequence numbers: the block's, bumped on every change, and the one each allocation got
 * (ABA guard: a release naming a stale sequence number is refused).
 * Pure functions; ipam.ts does the CAS writes.
 */
import { formatAddress, parseAddress, parsePrefix, prefixContains, prefixOverlaps, type Family, type Prefix } from '../../common/prefix.js';

export interface AllocationAttribute {
  readonly handle_id: string | null;
  readonly secondary: Readonly<Record<string, string>> | null;
}

export interface BlockData {
  readonly cidr: string;
  readonly affinity: string | null;
  /** Per ordinal: index into `attributes`, or null when free. */
  readonly allocations: readonly (number | null)[];
  readonly unallocated: readonly number[];
  readonly attributes: readonly AllocationAttribute[];
  readonly sequenceNumber: number;
  readonly sequenceNumberForAllocation: Readonly<Record<string, number>>;
}

export function blockFamily(cidr: string): Family { return parsePrefix(cidr).family; }

export function blockSizeOf(cidr: string): number {
  const p = parsePrefix(cidr);
  return 2 ** ((p.family === 4 ? 32 : 128) - p.length);
}

export function newBlock(cidr: string, node: string | null): BlockData {
  const n = blockSizeOf(cidr);
  return {
    cidr, affinity: node === null ? null : `host:${node}`,
    allocations: new Array<null>(n).fill(null), unallocated: Array.from({ length: n }, (_, i) => i),
    attributes: [], sequenceNumber: 0, sequenceNumberForAllocation: {},
  };
}

export function affinityNode(b: BlockData): string | undefined {
  return b.affinity?.startsWith('host:') === true ? b.affinity.slice(5) : undefined;
}

function toBig(bytes: Uint8Array): bigint { let v = 0n; for (const x of bytes) v = (v << 8n) | BigInt(x); return v; }
function fromBig(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

export function ordinalToAddress(cidr: string, ordinal: number): string {
  const p = parsePrefix(cidr);
  return formatAddress(fromBig(toBig(p.bytes) + BigInt(ordinal), p.bytes.length));
}

/** Ordinal of `ip` in the block, or undefined when outside it. */
export function addressToOrdinal(cidr: string, ip: string): number | undefined {
  const p = parsePrefix(cidr);
  const a = parseAddress(ip);
  if (!prefixContains(p, a)) return undefined;
  return Number(toBig(a.bytes) - toBig(p.bytes));
}

/** The n-th block of `blockSize` inside `poolCidr` (n from 0). */
export function nthBlock(poolCidr: string, blockSize: number, n: bigint): string | undefined {
  const p = parsePrefix(poolCidr);
  const bits = p.family === 4 ? 32 : 128;
  if (n >= 1n << BigInt(blockSize - p.length)) return undefined;
  const base = toBig(p.bytes) + (n << BigInt(bits - blockSize));
  return `${formatAddress(fromBig(base, p.bytes.length))}/${blockSize}`;
}

export function inUse(b: BlockData): number { return b.allocations.length - b.unallocated.length; }
export function isEmpty(b: BlockData): boolean { return b.unallocated.length === b.allocations.length; }

/** Take up to `n` ordinals from the front of the queue for `handle`, passing over `skip` (reserved ones stay queued). */
export function assignInBlock(b: BlockData, n: number, handle: string, attrs: Readonly<Record<string, string>>, skip?: ReadonlySet<number>):
  { block: BlockData; ordinals: number[] } {
  const take = (skip === undefined || skip.size === 0 ? b.unallocated : b.unallocated.filter((o) => !skip.has(o))).slice(0, n);
  if (take.length === 0) return { block: b, ordinals: [] };
  const attributes = [...b.attributes, { handle_id: handle, secondary: { ...attrs } }];
  const attrIndex = attributes.length - 1;
  const allocations = [...b.allocations];
  const seq = b.sequenceNumber + 1;
  const seqs = { ...b.sequenceNumberForAllocation };
  for (const o of take) { allocations[o] = attrIndex; seqs[String(o)] = seq; }
  const taken = new Set(take);
  return {
    block: { ...b, allocations, unallocated: skip === undefined || skip.size === 0 ? b.unallocated.slice(take.length) : b.unallocated.filter((o) => !taken.has(o)), attributes, sequenceNumber: seq, sequenceNumberForAllocation: seqs },
    ordinals: take,
  };
}

/** Assign exactly `ordinal` (libcalico-go block.assign); undefined when it is taken. */
export function assignOrdinalInBlock(b: BlockData, ordinal: number, handle: string, attrs: Readonly<Record<string, string>>): { block: BlockData; ordinals: number[] } | undefined {
  if (b.allocations[ordinal] !== null || ordinal < 0 || ordinal >= b.allocations.length) return undefined;
  const { block, ordinals } = assignInBlock({ ...b, unallocated: [ordinal] }, 1, handle, attrs);
  return { block: { ...block, unallocated: b.unallocated.filter((o) => o !== ordinal) }, ordinals };
}

/** Free ordinals (those allocated), re-packing attributes no longer referenced. */
export function releaseInBlock(b: BlockData, ordinals: readonly number[]): BlockData {
  const allocations = [...b.allocations];
  const seqs = { ...b.sequenceNumberForAllocation };
  const freed: number[] = [];
  for (const o of ordinals) {
    if (allocations[o] === null || allocations[o] === undefined) continue;
    allocations[o] = null;
    delete seqs[String(o)];
    freed.push(o);
  }
  if (freed.length === 0) return b;
  const used = [...new Set(allocations.filter((x): x is number => x !== null))].sort((x, y) => x - y);
  const remap = new Map(used.map((old, i) => [old, i]));
  return {
    ...b,
    allocations: allocations.map((x) => (x === null ? null : remap.get(x) ?? null)),
    attributes: used.map((i) => b.attributes[i] ?? { handle_id: null, secondary: null }),
    unallocated: [...b.unallocated, ...freed],
    sequenceNumber: b.sequenceNumber + 1,
    sequenceNumberForAllocation: seqs,
  };
}

export function ordinalsForHandle(b: BlockData, handle: string): number[] {
  const out: number[] = [];
  b.allocations.forEach((a, o) => { if (a !== null && b.attributes[a]?.handle_id === handle) out.push(o); });
  return out;
}

export function attributeOf(b: BlockData, ordinal: number): AllocationAttribute | undefined {
  const a = b.allocations[ordinal];
  return a === null || a === undefined ? undefined : b.attributes[a];
}

/** Ordinals of `block` inside any of `reserved` (IPReservation), for assignInBlock's skip. */
export function reservedOrdinals(block: string, reserved: readonly Prefix[]): Set<number> {
  const out = new Set<number>();
  const b = parsePrefix(block);
  const size = 2 ** ((b.family === 4 ? 32 : 128) - b.length);
  for (const r of reserved) {
    if (r.family !== b.family || !prefixOverlaps(r, b)) continue;
    if (r.length <= b.length) { for (let o = 0; o < size; o++) out.add(o); return out; }
    const first = Number(toBig(r.bytes) - toBig(b.bytes));
    const n = 2 ** ((b.family === 4 ? 32 : 128) - r.length);
    for (let o = first; o < first + n; o++) out.add(o);
  }
  return out;
}
