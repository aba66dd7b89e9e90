/**
 * CNI DEL without tortie-node (Calico's plugin needs no calico-node for DEL either): release the
 * container's IPAM handle straight in etcd, with the connection the network configuration names
 * (etcd_endpoints, etcd_ca_cert_file, etcd_cert_file, etcd_key_file). The same Ipam.releaseByHandle
 * the agent runs, so the two can race safely (every write is a CAS; releasing twice is a no-op).
 *
 * Loaded only on that path: the shipped plugin bundle keeps it external (scripts/bundle.sh), so a
 * normal ADD or DEL never loads the etcd client.
 */
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import type { EtcdConnectionConfig } from '../datastore/datastore-config.js';
import { KvDatastore } from '../datastore/datastore.js';
import { EtcdKvStore } from '../datastore/etcd-kv-store.js';
import { Ipam } from '../ipam/ipam.js';
import { deleteWorkloadRecord } from '../ipam/workload-records.js';

export async function releaseHandleInDatastore(etcd: EtcdConnectionConfig, handle: string): Promise<string[]> {
  const logger = silentLogger();
  const store = await EtcdKvStore.connect({ requestTimeoutMs: 5000, ...etcd }, { logger });
  try {
    const ipam = new Ipam({ store, datastore: new KvDatastore({ store, clock: systemClock, logger }), logger });
    const released = await ipam.releaseByHandle(handle);
    await deleteWorkloadRecord(store, handle);
    return released;
  } finally {
    await store.close();
  }
}
