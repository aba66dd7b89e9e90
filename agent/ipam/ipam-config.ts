/**
 * Cluster-wide IPAM settings (Calico's IPAMConfig): `strictAffinity` (never borrow from another
 * node's block) and `autoAllocateBlocks` (claim new blocks on demand). Stored as JSON at
 * /tortie/ipam/v2/config; absent means Calico's defaults.
 */
import { DatastoreError, isDatastoreError } from '../datastore/errors.js';
import type { KvStore } from '../datastore/kv-store.js';
import { IPAM_CONFIG_KEY } from '../datastore/key-layout.js';

export interface IpamConfig {
  readonly strictAffinity: boolean;
  readonly autoAllocateBlocks: boolean;
}

export const DEFAULT_IPAM_CONFIG: IpamConfig = { strictAffinity: false, autoAllocateBlocks: true };

export async function readIpamConfig(store: KvStore): Promise<IpamConfig> {
  const e = await store.get(IPAM_CONFIG_KEY);
  if (e === undefined) return DEFAULT_IPAM_CONFIG;
  let v: unknown;
  try { v = JSON.parse(e.value); } catch (err) { throw new DatastoreError('invalid', 'stored IPAM config is not JSON', { where: e.key, cause: err }); }
  const o = (v ?? {}) as Record<string, unknown>;
  const bool = (k: keyof IpamConfig): boolean => {
    const x = o[k];
    if (x === undefined) return DEFAULT_IPAM_CONFIG[k];
    if (typeof x !== 'boolean') throw new DatastoreError('invalid', `stored IPAM config: ${k} must be true or false`, { where: e.key });
    return x;
  };
  return { strictAffinity: bool('strictAffinity'), autoAllocateBlocks: bool('autoAllocateBlocks') };
}

/** Change some settings with CAS (retried on conflicts). */
export async function updateIpamConfig(store: KvStore, change: Partial<IpamConfig>): Promise<IpamConfig> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const e = await store.get(IPAM_CONFIG_KEY);
    const next: IpamConfig = { ...(await readIpamConfig(store)), ...change };
    try {
      if (e === undefined) await store.create(IPAM_CONFIG_KEY, JSON.stringify(next));
      else await store.update(IPAM_CONFIG_KEY, JSON.stringify(next), e.modRevision);
      return next;
    } catch (err) {
      if (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found')) continue;
      throw err;
    }
  }
  throw new DatastoreError('conflict', 'IPAM config: gave up after 100 update conflicts');
}
