/**
 * Decoding IPAM records read from the datastore: a corrupt record becomes a DatastoreError
 * naming its key, never a SyntaxError or a TypeError deep inside the allocator.
 */
import { DatastoreError } from '../datastore/errors.js';
import type { KvEntry } from '../datastore/kv-store.js';
import { blockSizeOf, type BlockData } from './block.js';
import type { AffinityData, HandleData } from './ipam.js';

function parse(e: KvEntry, what: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(e.value); } catch (err) {
    throw new DatastoreError('invalid', `stored IPAM ${what} is not JSON`, { cause: err, where: e.key });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DatastoreError('invalid', `stored IPAM ${what} is not an object`, { where: e.key });
  return v as Record<string, unknown>;
}

export function parseBlock(e: KvEntry): BlockData {
  const o = parse(e, 'block');
  const ok = typeof o['cidr'] === 'string' && Array.isArray(o['allocations']) && Array.isArray(o['unallocated'])
    && Array.isArray(o['attributes']) && typeof o['sequenceNumber'] === 'number';
  let sizeOk = false;
  if (ok) { try { sizeOk = blockSizeOf(o['cidr'] as string) === (o['allocations'] as unknown[]).length; } catch { sizeOk = false; } }
  if (!ok || !sizeOk) throw new DatastoreError('invalid', 'stored IPAM block is malformed (cidr, allocations, unallocated, attributes, sequenceNumber)', { where: e.key });
  return { sequenceNumberForAllocation: {}, affinity: null, ...o } as unknown as BlockData;
}

export function parseAffinity(e: KvEntry): AffinityData {
  const o = parse(e, 'affinity');
  if (o['state'] !== 'pending' && o['state'] !== 'confirmed' && o['state'] !== 'pendingDeletion') {
    throw new DatastoreError('invalid', 'stored IPAM affinity has no valid state', { where: e.key });
  }
  return { state: o['state'] };
}

export function parseHandle(e: KvEntry): HandleData {
  const o = parse(e, 'handle');
  const block = o['block'];
  if (typeof o['handleID'] !== 'string' || block === null || typeof block !== 'object'
    || Object.values(block as Record<string, unknown>).some((n) => typeof n !== 'number')) {
    throw new DatastoreError('invalid', 'stored IPAM handle is malformed (handleID, block counts)', { where: e.key });
  }
  return { handleID: o['handleID'], block: block as Record<string, number> };
}
