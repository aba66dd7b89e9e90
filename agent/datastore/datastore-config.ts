/**
 * Datastore selection like calicoctl: environment (DATASTORE_TYPE=etcdv3, ETCD_ENDPOINTS,
 * ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE) or a CalicoAPIConfig YAML file
 * (spec.datastoreType, etcdEndpoints, etcdCACertFile, etcdCertFile, etcdKeyFile).
 */
import { readFileSync } from 'node:fs';
import { DatastoreError } from './errors.js';

export interface EtcdConnectionConfig {
  readonly endpoints: readonly string[];
  readonly caCertFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly requestTimeoutMs?: number;
  /** gRPC keep-alive ping interval and timeout (default 30 s / 10 s, like Calico); detects a stalled etcd. */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Ceiling of the watch re-open back-off after etcd is lost (default 2 s). */
  readonly watchRetryMaxMs?: number;
}

export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

function build(where: string, type: string | undefined, endpoints: string | undefined, ca: string | undefined,
  cert: string | undefined, key: string | undefined): EtcdConnectionConfig {
  if (type !== undefined && type !== '' && type !== 'etcdv3') {
    throw new DatastoreError('invalid', `datastore type ${JSON.stringify(type)} is not supported (only etcdv3)`, { where });
  }
  const eps = (endpoints ?? DEFAULT_ETCD_ENDPOINT).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const ep of eps) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(ep)) {
      throw new DatastoreError('invalid', `etcd endpoint ${JSON.stringify(ep)} must look like http://host:port or https://host:port`, { where });
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new DatastoreError('invalid', 'a client certificate needs both the certificate and the key file', { where });
  }
  if (cert !== undefined && ca === undefined) {
    throw new DatastoreError('invalid', 'a client certificate needs the CA certificate file too', { where });
  }
  return { endpoints: eps, ...(ca === undefined ? {} : { caCertFile: ca }),
    ...(cert === undefined ? {} : { certFile: cert }), ...(key === undefined ? {} : { keyFile: key }) };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

export function etcdConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdConnectionConfig {
  return build('environment', nonEmpty(env['DATASTORE_TYPE']), nonEmpty(env['ETCD_ENDPOINTS']),
    nonEmpty(env['ETCD_CA_CERT_FILE']), nonEmpty(env['ETCD_CERT_FILE']), nonEmpty(env['ETCD_KEY_FILE']));
}

/** Parse calicoctl's CalicoAPIConfig (YAML or JSON). */
export async function etcdConfigFromFile(file: string): Promise<EtcdConnectionConfig> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new DatastoreError('invalid', `cannot read config file: ${(err as Error).message}`, { where: file, cause: err });
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try { doc = parse(text); } catch (err) {
    throw new DatastoreError('invalid', `not valid YAML: ${(err as Error).message}`, { where: file, cause: err });
  }
  const o = (doc ?? {}) as Record<string, unknown>;
  if (o['kind'] !== undefined && o['kind'] !== 'CalicoAPIConfig') {
    throw new DatastoreError('invalid', `kind must be CalicoAPIConfig, got ${JSON.stringify(o['kind'])}`, { where: file });
  }
  const spec = (o['spec'] ?? {}) as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const v = spec[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new DatastoreError('invalid', `spec.${k} must be a string`, { where: file });
    return v;
  };
  return build(file, str('datastoreType'), str('etcdEndpoints'), str('etcdCACertFile') ?? str('etcdCACert'),
    str('etcdCertFile'), str('etcdKeyFile'));
}
