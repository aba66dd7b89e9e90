/**
 * IPAM's own records shown as the projectcalico.org/v3 kinds Calico exposes them as (IPAMBlock,
 * BlockAffinity, IPAMHandle, IPAMConfiguration), for `tortiectl get`. Read-only: IPAM writes
 * them (tortiectl ipam ... changes what may be changed). Names follow libcalico-go: a CIDR's
 * `.`, `:` and `/` become `-`; an affinity is `<node>-<block name>`.
 */
import type { KvStore } from '../datastore/kv-store.js';
import { ALL_AFFINITIES_PREFIX, blockPrefix, cidrFromKeyPart, HANDLE_PREFIX, IPAM_PREFIX } from '../datastore/key-layout.js';
import { readIpamConfig } from '../ipam/ipam-config.js';
import { parseAffinity, parseBlock, parseHandle } from '../ipam/stored.js';
import { ordinalToAddress } from '../ipam/block.js';
import { hostInterfaceName } from '../cni/workload-interface.js';
import { API_VERSION } from '../resources/kinds.js';
import { CtlError } from './ctl-error.js';
import { formatColumns } from './table.js';
import type { Io } from './resource-commands.js';

export interface IpamObject {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly resourceVersion?: string };
  readonly spec: Record<string, unknown>;
}

interface IpamKind {
  readonly kind: string;
  /** WorkloadEndpoints live in a namespace (calicoctl: `-n NS`, default "default"; `-A` all). */
  readonly namespaced?: boolean;
  readonly aliases: readonly string[];
  headers(wide: boolean): string[];
  list(store: KvStore): Promise<IpamObject[]>;
  row(o: IpamObject, wide: boolean): string[];
}

export const cidrToName = (cidr: string): string => cidr.replace(/[.:/]/g, '-');
const obj = (kind: string, name: string, rv: string | undefined, spec: Record<string, unknown>): IpamObject =>
  ({ apiVersion: API_VERSION, kind, metadata: { name, ...(rv === undefined ? {} : { resourceVersion: rv }) }, spec });
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

const KINDS: readonly IpamKind[] = [
  {
    kind: 'IPAMBlock', aliases: ['ipamblock', 'ipamblocks'],
    headers: (wide) => (wide ? ['NAME', 'CIDR', 'AFFINITY', 'IN USE', 'FREE'] : ['NAME', 'CIDR', 'AFFINITY']),
    async list(store) {
      const out: IpamObject[] = [];
      for (const family of [4, 6] as const) {
        for (const e of (await store.list(blockPrefix(family))).entries) {
          const b = parseBlock(e);
          out.push(obj('IPAMBlock', cidrToName(b.cidr), e.modRevision, { ...b, deleted: false }));
        }
      }
      return out;
    },
    row(o, wide) {
      const s = o.spec as { cidr: string; affinity: string | null; allocations: Array<number | null>; unallocated: number[] };
      const used = s.allocations.length - s.unallocated.length;
      return wide ? [o.metadata.name, s.cidr, str(s.affinity), String(used), String(s.allocations.length - used)] : [o.metadata.name, s.cidr, str(s.affinity)];
    },
  },
  {
    kind: 'BlockAffinity', aliases: ['blockaffinity', 'blockaffinities'],
    headers: () => ['NAME', 'NODE', 'CIDR', 'STATE'],
    async list(store) {
      const out: IpamObject[] = [];
      for (const e of (await store.list(ALL_AFFINITIES_PREFIX)).entries) {
        // <prefix>host/<node>/ipv<f>/block/<cidr key part>
        const m = /^host\/(.+)\/ipv[46]\/block\/([^/]+)$/.exec(e.key.slice(IPAM_PREFIX.length));
        if (m === null) continue;
        const node = m[1] ?? '', cidr = cidrFromKeyPart(m[2] ?? '');
        out.push(obj('BlockAffinity', `${node}-${cidrToName(cidr)}`, e.modRevision, { state: parseAffinity(e).state, node, cidr, deleted: 'false' }));
      }
      return out;
    },
    row: (o) => [o.metadata.name, str(o.spec['node']), str(o.spec['cidr']), str(o.spec['state'])],
  },
  {
    kind: 'IPAMHandle', aliases: ['ipamhandle', 'ipamhandles'],
    headers: (wide) => (wide ? ['NAME', 'ADDRESSES', 'BLOCKS'] : ['NAME', 'ADDRESSES']),
    async list(store) {
      return (await store.list(HANDLE_PREFIX)).entries.map((e) => {
        const h = parseHandle(e);
        return obj('IPAMHandle', h.handleID, e.modRevision, { handleID: h.handleID, block: h.block, deleted: false });
      });
    },
    row(o, wide) {
      const blocks = o.spec['block'] as Record<string, number>;
      const n = String(Object.values(blocks).reduce((a, b) => a + b, 0));
      return wide ? [o.metadata.name, n, Object.keys(blocks).join(',')] : [o.metadata.name, n];
    },
  },
  {
    kind: 'IPAMConfiguration', aliases: ['ipamconfiguration', 'ipamconfigurations', 'ipamconfig', 'ipamconfigs'],
    headers: (wide) => (wide ? ['NAME', 'STRICTAFFINITY', 'AUTOALLOCATEBLOCKS', 'MAXBLOCKSPERHOST'] : ['NAME', 'STRICTAFFINITY', 'AUTOALLOCATEBLOCKS']),
    async list(store) {
      const c = await readIpamConfig(store);
      return [obj('IPAMConfiguration', 'default', undefined, { strictAffinity: c.strictAffinity, autoAllocateBlocks: c.autoAllocateBlocks, maxBlocksPerHost: 0 })];
    },
    row: (o, wide) => [o.metadata.name, str(o.spec['strictAffinity']), str(o.spec['autoAllocateBlocks']), ...(wide ? [str(o.spec['maxBlocksPerHost'])] : [])],
  },
];

/** Calico's WorkloadEndpoint name part: `-` doubled. */
const wepPart = (s: string): string => s.replace(/-/g, '--');

/**
 * WorkloadEndpoints as calicoctl lists them, from what Tortie has without a Kubernetes API: each
 * IPAM handle whose allocations carry a pod (the CNI plugin's ADD), with its addresses, node and
 * Calico's interface name. No profiles from service accounts (Tortie does not read them).
 */
const WORKLOAD_ENDPOINT: IpamKind = {
  kind: 'WorkloadEndpoint', aliases: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'], namespaced: true,
  headers: (wide) => (wide ? ['NAME', 'WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE', 'PROFILES', 'NATS'] : ['WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE']),
  async list(store) {
    const byHandle = new Map<string, { pod: string; namespace: string; node: string; nets: string[] }>();
    for (const family of [4, 6] as const) {
      for (const e of (await store.list(blockPrefix(family))).entries) {
        const b = parseBlock(e);
        b.allocations.forEach((a, ordinal) => {
          const attr = a === null ? undefined : b.attributes[a];
          const sec = attr?.secondary ?? {};
          if (attr?.handle_id == null || sec['pod'] === undefined || sec['type'] !== undefined) return;
          const w = byHandle.get(attr.handle_id) ?? { pod: sec['pod'], namespace: sec['namespace'] ?? 'default', node: sec['node'] ?? '', nets: [] };
          w.nets.push(`${ordinalToAddress(b.cidr, ordinal)}/${family === 4 ? 32 : 128}`);
          byHandle.set(attr.handle_id, w);
        });
      }
    }
    return [...byHandle.entries()].map(([handle, w]) => ({ ...obj('WorkloadEndpoint', `${wepPart(w.node)}-k8s-${wepPart(w.pod)}-eth0`, undefined, {
      orchestrator: 'k8s', node: w.node, containerID: handle, pod: w.pod, endpoint: 'eth0', ipNetworks: w.nets,
      profiles: [`kns.${w.namespace}`], interfaceName: hostInterfaceName({ namespace: w.namespace, pod: w.pod, containerId: handle }) }),
    metadata: { name: `${wepPart(w.node)}-k8s-${wepPart(w.pod)}-eth0`, namespace: w.namespace } }));
  },
  row(o, wide) {
    const s = o.spec as { pod: string; node: string; ipNetworks: string[]; interfaceName: string; profiles: string[] };
    const base = [s.pod, s.node, s.ipNetworks.join(','), s.interfaceName];
    return wide ? [o.metadata.name, ...base, s.profiles.join(','), ''] : base;
  },
};

export function resolveIpamKind(text: string): IpamKind | undefined {
  const t = text.toLowerCase();
  return [...KINDS, WORKLOAD_ENDPOINT].find((k) => k.kind.toLowerCase() === t || k.aliases.includes(t));
}

/** `namespace`: for namespaced kinds, undefined = every namespace (`-A`, adds a NAMESPACE column). */
export async function getIpamCmd(store: KvStore, info: IpamKind, names: readonly string[], output: string, io: Io, namespace?: string): Promise<void> {
  if (!['ps', 'wide', 'yaml', 'json'].includes(output)) throw new CtlError(`unrecognized output format '${output}' (ps, wide, yaml, json)`);
  let items = await info.list(store);
  const all = info.namespaced === true && namespace === undefined;
  if (info.namespaced === true && namespace !== undefined) items = items.filter((o) => o.metadata.namespace === namespace);
  if (names.length > 0) {
    items = names.map((n) => {
      const o = items.find((i) => i.metadata.name === n);
      if (o === undefined) throw new CtlError(`resource does not exist: ${info.kind}(${n})`);
      return o;
    });
  }
  if (output === 'yaml' || output === 'json') {
    const doc = names.length === 1 ? items[0] : { apiVersion: API_VERSION, kind: `${info.kind}List`, items, metadata: {} };
    if (output === 'json') io.out(`${JSON.stringify(doc, null, 2)}\n`);
    else { const { stringify } = await import('yaml'); io.out(stringify(doc)); }
    return;
  }
  const headers = info.headers(output === 'wide');
  const rows = items.map((o) => info.row(o, output === 'wide'));
  io.out(all ? formatColumns(['NAMESPACE', ...headers], rows.map((r, i) => [items[i]?.metadata.namespace ?? '', ...r])) : formatColumns(headers, rows));
}
