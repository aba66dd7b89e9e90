/**
 * Leak and consistency check (`tortiectl ipam check`): cross-checks blocks, handles and
 * affinities. It only reports; releasing is a separate, explicit step (Calico's GC rule:
 * allocations are valid until proven leaked).
 */

import type { KvStore } from '../datastore/kv-store.js';
import type { Datastore } from '../datastore/datastore.js';
import { ALL_AFFINITIES_PREFIX, blockPrefix, cidrFromKeyPart, HANDLE_PREFIX, IPAM_PREFIX } from '../datastore/key-layout.js';
import { affinityNode, attributeOf, ordinalToAddress } from './block.js';
import { parseAffinity, parseBlock, parseHandle } from './stored.js';

export type IpamProblem =
  | { readonly type: 'allocation-without-handle'; readonly address: string; readonly handle: string | null; readonly block: string }
  | { readonly type: 'handle-count-mismatch'; readonly handle: string; readonly block: string; readonly recorded: number; readonly actual: number }
  | { readonly type: 'affinity-without-block'; readonly node: string; readonly block: string; readonly state: string }
  | { readonly type: 'block-without-affinity'; readonly block: string; readonly node: string }
  | { readonly type: 'allocation-on-unknown-node'; readonly address: string; readonly node: string; readonly handle: string | null };

export interface IpamCheckReport {
  readonly blocks: number;
  readonly allocations: number;
  readonly handles: number;
  readonly problems: readonly IpamProblem[];
}

export async function checkIpam(deps: { store: KvStore; datastore: Datastore }, options: { checkNodes?: boolean } = {}): Promise<IpamCheckReport> {
  const [b4, b6, handlesList, affList] = await Promise.all([
    deps.store.list(blockPrefix(4)), deps.store.list(blockPrefix(6)), deps.store.list(HANDLE_PREFIX), deps.store.list(ALL_AFFINITIES_PREFIX)]);
  const blocks = [...b4.entries, ...b6.entries].map((e) => parseBlock(e));
  const handles = new Map(handlesList.entries.map((e) => { const h = parseHandle(e); return [h.handleID, h] as const; }));
  const nodes = options.checkNodes === false ? undefined : new Set((await deps.datastore.list('Node')).items.map((n) => n.metadata.name));
  const problems: IpamProblem[] = [];
  let allocations = 0;
  const actual = new Map<string, number>(); // handle|block → count
  for (const b of blocks) {
    b.allocations.forEach((_, o) => {
      const attr = attributeOf(b, o);
      if (attr === undefined) return;
      allocations++;
      const address = ordinalToAddress(b.cidr, o);
      const k = `${attr.handle_id ?? ''}|${b.cidr}`;
      actual.set(k, (actual.get(k) ?? 0) + 1);
      if (attr.handle_id === null || handles.get(attr.handle_id)?.block[b.cidr] === undefined) {
        problems.push({ type: 'allocation-without-handle', address, handle: attr.handle_id, block: b.cidr });
      }
      const node = attr.secondary?.['node'];
      if (nodes !== undefined && nodes.size > 0 && node !== undefined && !nodes.has(node)) {
        problems.push({ type: 'allocation-on-unknown-node', address, node, handle: attr.handle_id });
      }
    });
  }
  for (const h of handles.values()) {
    for (const [cidr, recorded] of Object.entries(h.block)) {
      const n = actual.get(`${h.handleID}|${cidr}`) ?? 0;
      if (n !== recorded) problems.push({ type: 'handle-count-mismatch', handle: h.handleID, block: cidr, recorded, actual: n });
    }
  }
  const blockSet = new Set(blocks.map((b) => b.cidr));
  const affSet = new Set<string>();
  for (const e of affList.entries) {
    const rest = e.key.slice(`${IPAM_PREFIX}host/`.length);
    const node = rest.slice(0, rest.indexOf('/'));
    const cidr = cidrFromKeyPart(e.key.slice(e.key.lastIndexOf('/') + 1));
    affSet.add(`${node}|${cidr}`);
    if (!blockSet.has(cidr)) problems.push({ type: 'affinity-without-block', node, block: cidr, state: (parseAffinity(e)).state });
  }
  for (const b of blocks) {
    const node = affinityNode(b);
    if (node !== undefined && !affSet.has(`${node}|${b.cidr}`)) problems.push({ type: 'block-without-affinity', block: b.cidr, node });
  }
  return { blocks: blocks.length, allocations, handles: handles.size, problems };
}
