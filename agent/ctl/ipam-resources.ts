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
import { API_VERSION } from '../resources/kinds.js';
import { CtlError } from './ctl-error.js';
import { formatColumns } from './table.js';
import type { Io } from './resource-commands.js';

export interface IpamObject {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly resourceVersion?: string };
  readonly spec: Record<string, unknown>;
}

interface IpamKind {
  readonly kind: string;
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
    headers: () => ['NAME', 'STRICTAFFINITY', 'AUTOALLOCATEBLOCKS'],
    async list(store) {
      const c = await readIpamConfig(store);
      return [obj('IPAMConfiguration', 'default', undefined, { strictAffinity: c.strictAffinity, autoAllocateBlocks: c.autoAllocateBlocks, maxBlocksPerHost: 0 })];
    },
    row: (o) => [o.metadata.name, str(o.spec['strictAffinity']), str(o.spec['autoAllocateBlocks'])],
  },
];

export function resolveIpamKind(text: string): IpamKind | undefined {
  const t = text.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === t || k.aliases.includes(t));
}

export async function getIpamCmd(store: KvStore, info: IpamKind, names: readonly string[], output: string, io: Io): Promise<void> {
  if (!['ps', 'wide', 'yaml', 'json'].includes(output)) throw new CtlError(`unrecognized output format '${output}' (ps, wide, yaml, json)`);
  let items = await info.list(store);
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
  io.out(formatColumns(info.headers(output === 'wide'), items.map((o) => info.row(o, output === 'wide'))));
}
