/** Open the datastore the way calicoctl does: `--config FILE` (CalicoAPIConfig) or the environment. */
import { createLogger, type Logger } from '../../common/logger.js';
import { systemClock } from '../../common/clock.js';
import { etcdConfigFromEnv, etcdConfigFromFile } from '../datastore/datastore-config.js';
import { EtcdKvStore } from '../datastore/etcd-kv-store.js';
import { KvDatastore } from '../datastore/datastore.js';
import type { KvStore } from '../datastore/kv-store.js';

export interface Connection {
  readonly store: KvStore;
  readonly datastore: KvDatastore;
  readonly logger: Logger;
  close(): Promise<void>;
}

export async function openDatastore(configFile: string | undefined): Promise<Connection> {
  const logger = createLogger('tortiectl', process.env['TORTIE_LOG_LEVEL'] ?? 'warn');
  const cfg = configFile === undefined ? etcdConfigFromEnv() : await etcdConfigFromFile(configFile);
  const store = await EtcdKvStore.connect({ ...cfg, requestTimeoutMs: 5000 }, { logger });
  const datastore = new KvDatastore({ store, clock: systemClock, logger });
  return { store, datastore, logger, close: () => store.close() };
}
