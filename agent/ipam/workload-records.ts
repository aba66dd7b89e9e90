/**
 * Which IPAM allocations a running workload uses: one record per workload (key = its IPAM handle,
 * the container id), written by tortie-node once the workload's routes are in the kernel and
 * deleted with its addresses (CNI DEL, GC, a vanished interface, a deleted node). Calico's CNI
 * plugin keeps WorkloadEndpoints in etcd mode for the same reason: `ipam check` reports an
 * allocation no workload and no node uses as leaked.
 */
import { isDatastoreError } from '../datastore/errors.js';
import type { KvStore } from '../datastore/kv-store.js';
import { WORKLOAD_PREFIX, workloadKey } from '../datastore/key-layout.js';

export interface WorkloadRecord {
  readonly handle: string;
  readonly node: string;
  readonly iface: string;
  readonly addresses: readonly string[];
  readonly pod?: string;
  readonly namespace?: string;
}

/** Create or replace the record (no-op when unchanged). */
export async function putWorkloadRecord(store: KvStore, rec: WorkloadRecord): Promise<void> {
  const key = workloadKey(rec.handle);
  const value = JSON.stringify(rec);
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await store.get(key);
    if (cur?.value === value) return;
    try {
      if (cur === undefined) await store.create(key, value); else await store.update(key, value, cur.modRevision);
      return;
    } catch (err) {
      if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found')) continue;
      throw err;
    }
  }
}

/** Delete the record; absent is success. */
export async function deleteWorkloadRecord(store: KvStore, handle: string): Promise<void> {
  await store.delete(workloadKey(handle)).catch((err: unknown) => { if (!isDatastoreError(err, 'not-found')) throw err; });
}

/** Every record, by handle (malformed ones are skipped: they protect nothing). */
export async function listWorkloadRecords(store: KvStore): Promise<Map<string, WorkloadRecord>> {
  const out = new Map<string, WorkloadRecord>();
  for (const e of (await store.list(WORKLOAD_PREFIX)).entries) {
    try {
      const r = JSON.parse(e.value) as Partial<WorkloadRecord>;
      if (typeof r.handle === 'string' && typeof r.node === 'string' && Array.isArray(r.addresses)) out.set(r.handle, r as WorkloadRecord);
    } catch { /* skipped */ }
  }
  return out;
}

/**
 * Records for endpoints that have none (an agent upgraded from a version without records, a
 * write that failed): one list, then one write per missing record.
 */
export async function publishMissingRecords(store: KvStore, node: string,
  endpoints: Iterable<readonly [string, { readonly iface: string; readonly addresses: readonly string[] }]>): Promise<number> {
  const have = await listWorkloadRecords(store);
  let n = 0;
  for (const [handle, ep] of endpoints) {
    if (handle.startsWith('adopted:') || have.has(handle)) continue;
    await putWorkloadRecord(store, { handle, node, iface: ep.iface, addresses: ep.addresses });
    n++;
  }
  return n;
}
