/**
 * IPAM metrics with the names and labels of Calico's kube-controllers (`ipam_allocations_in_use`,
 * `ipam_allocations_borrowed`, `ipam_blocks`, labels `ippool` and `node`). Each tortie-node
 * exports only its own node's series (there is no cluster-wide controller doing it), so a sum
 * over instances is the cluster's view and no series is exported twice.
 *
 *   in use:   addresses allocated to workloads on this node, by the pool they come from
 *   borrowed: those of them taken from a block affine to another node (or to none)
 *   blocks:   blocks affine to this node, by pool
 */
import { Gauge, type Registry } from 'prom-client';
import { parsePrefix, prefixContains, type Prefix } from '../../common/prefix.js';

export interface IpamBlockInput {
  readonly cidr: string;
  /** The node the block is affine to, if any. */
  readonly node: string | undefined;
  readonly allocations: readonly { readonly node: string | undefined }[];
}

export interface IpamPoolInput { readonly name: string; readonly cidr: string }

export class IpamMetrics {
  private readonly inUse: Gauge<'ippool' | 'node'>;
  private readonly borrowed: Gauge<'ippool' | 'node'>;
  private readonly blocks: Gauge<'ippool' | 'node'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.inUse = new Gauge({ name: 'ipam_allocations_in_use', help: 'IP addresses allocated to workloads on the node, per IP pool', labelNames: ['ippool', 'node'], registers });
    this.borrowed = new Gauge({ name: 'ipam_allocations_borrowed', help: 'Of those, addresses from a block affine to another node', labelNames: ['ippool', 'node'], registers });
    this.blocks = new Gauge({ name: 'ipam_blocks', help: 'IPAM blocks affine to the node, per IP pool', labelNames: ['ippool', 'node'], registers });
  }

  /** Recompute this node's series from the datastore view (at scrape time). */
  update(node: string, pools: readonly IpamPoolInput[], blocks: readonly IpamBlockInput[]): void {
    const parsed: Array<{ name: string; prefix: Prefix }> = [];
    for (const p of pools) { try { parsed.push({ name: p.name, prefix: parsePrefix(p.cidr) }); } catch { /* an invalid pool owns nothing */ } }
    const counts = new Map<string, { inUse: number; borrowed: number; blocks: number }>(parsed.map((p) => [p.name, { inUse: 0, borrowed: 0, blocks: 0 }]));
    const poolOf = (cidr: string): string => {
      try {
        const b = parsePrefix(cidr);
        return parsed.find((p) => prefixContains(p.prefix, b))?.name ?? 'no-pool';
      } catch { return 'no-pool'; }
    };
    for (const b of blocks) {
      const mine = b.allocations.filter((a) => a.node === node).length;
      if (b.node !== node && mine === 0) continue;
      const pool = poolOf(b.cidr);
      const c = counts.get(pool) ?? { inUse: 0, borrowed: 0, blocks: 0 };
      counts.set(pool, c);
      if (b.node === node) c.blocks++;
      c.inUse += mine;
      if (b.node !== node) c.borrowed += mine;
    }
    for (const g of [this.inUse, this.borrowed, this.blocks]) g.reset();
    for (const [ippool, c] of counts) {
      this.inUse.set({ ippool, node }, c.inUse);
      this.borrowed.set({ ippool, node }, c.borrowed);
      this.blocks.set({ ippool, node }, c.blocks);
    }
  }
}
