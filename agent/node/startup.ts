/**
 * calico-node start-up steps (node/pkg/lifecycle/startup): the node address, the Node resource,
 * the default IP pool. Each retries on a CAS conflict and fails with a message naming the step.
 */
import type { Logger } from '../../common/logger.js';
import { TortieError } from '../../common/errors.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { Datastore } from '../datastore/datastore.js';
import { API_VERSION, type CalicoNode, type IPPool } from '../resources/kinds.js';
import { validateResource } from '../resources/kinds.js';
import { autodetectAddress, systemInterfaces, type InterfaceAddress } from './autodetect.js';
import type { DefaultPoolConfig, NodeConfig } from './config.js';

/** The node address with its prefix length and interface, or undefined for IP=none. */
export async function nodeAddress(cfg: NodeConfig, family: 4 | 6 = 4, addrs: readonly InterfaceAddress[] = systemInterfaces(family)): Promise<InterfaceAddress | undefined> {
  const ip = family === 4 ? cfg.ip : cfg.ip6;
  switch (ip.type) {
    case 'none': return undefined;
    case 'autodetect': return autodetectAddress(ip.method, addrs, undefined, family === 4 ? 'IP_AUTODETECTION_METHOD' : 'IP6_AUTODETECTION_METHOD');
    case 'explicit': {
      const { address, length } = ip;
      const on = addrs.find((a) => a.address === address);
      return { iface: on?.iface ?? '', address, prefixLength: length ?? on?.prefixLength ?? (family === 4 ? 32 : 128) };
    }
  }
}

/** Create or update our Node: spec.bgp.ipv4Address (and asNumber when AS is set); other fields kept. */
export async function registerNode(ds: Datastore, name: string, addr: InterfaceAddress | undefined, asNumber: number | undefined, log: Logger,
  addr6?: InterfaceAddress): Promise<CalicoNode> {
  for (let attempt = 0; ; attempt++) {
    const cur = await ds.get('Node', name);
    const bgp = { ...(cur?.spec.bgp ?? {}) };
    if (addr !== undefined) bgp.ipv4Address = `${addr.address}/${addr.prefixLength}`;
    if (addr6 !== undefined) bgp.ipv6Address = `${addr6.address}/${addr6.prefixLength}`;
    if (asNumber !== undefined) bgp.asNumber = asNumber;
    const spec = { ...(cur?.spec ?? {}), ...(Object.keys(bgp).length > 0 ? { bgp } : {}) };
    const doc = { apiVersion: API_VERSION, kind: 'Node', metadata: { ...(cur?.metadata ?? { name }) }, spec };
    const v = validateResource({ ...doc, metadata: { ...doc.metadata, resourceVersion: undefined, uid: undefined, creationTimestamp: undefined } });
    if (!v.ok) throw new TortieError('invalid-node', `the Node resource we would write is invalid: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { where: `Node ${name}` });
    try {
      const node = v.resource as CalicoNode;
      const written = cur === undefined ? await ds.create(node) : await ds.update({ ...node, metadata: { ...cur.metadata, labels: node.metadata.labels ?? {} } } as CalicoNode);
      log.info({ node: name, ipv4Address: bgp.ipv4Address, ipv6Address: bgp.ipv6Address, asNumber: bgp.asNumber }, cur === undefined ? 'registered Node' : 'updated Node');
      return written;
    } catch (err) {
      if (attempt < 10 && (isDatastoreError(err, 'conflict') || isDatastoreError(err, 'already-exists') || isDatastoreError(err, 'not-found'))) continue;
      throw err;
    }
  }
}

/** Calico creates `default-ipv4-ippool` when no IPv4 pool exists (and NO_DEFAULT_POOLS is not true). */
export async function ensureDefaultPool(ds: Datastore, pool: DefaultPoolConfig | undefined, log: Logger, family: 4 | 6 = 4): Promise<void> {
  if (pool === undefined) return;
  const { items } = await ds.list('IPPool');
  if (items.some((p) => p.spec.cidr.includes(':') === (family === 6))) return;
  const doc = {
    apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: `default-ipv${family}-ippool` },
    spec: { cidr: pool.cidr, blockSize: pool.blockSize, vxlanMode: pool.vxlanMode, ipipMode: pool.ipipMode, natOutgoing: pool.natOutgoing,
      nodeSelector: pool.nodeSelector, ...(pool.disableBGPExport ? { disableBGPExport: true } : {}) },
  };
  const v = validateResource(doc);
  if (!v.ok) throw new TortieError('invalid-config', `default pool: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { where: `CALICO_IPV${family}POOL_*` });
  try {
    await ds.create(v.resource as IPPool);
    log.info({ cidr: pool.cidr, vxlanMode: pool.vxlanMode }, `created the default IPv${family} pool`);
  } catch (err) {
    if (!isDatastoreError(err, 'already-exists')) throw err;
  }
}
