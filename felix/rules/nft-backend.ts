/**
 * nftables backend: one `nft -f -` transaction per apply into our own `table ip|ip6 tortie`.
 * Read-back lists our table, set elements included, in one `nft` run: nothing else.
 */
import type { Logger } from '../../common/logger.js';
import type { Family } from '../../common/prefix.js';
import { RulesApplyError, RulesReadError } from './errors.js';
import type { Exec } from './exec.js';
import {
  NFT_TABLE, nftFamily, nftStateFrom, parseNftTableWithElements, renderNftRemove, renderNftTransaction,
} from './nft-render.js';
import type { KernelRulesState, RulesBackend, WritePlan } from './rules-backend.js';

export interface NftBackendDeps {
  readonly exec: Exec;
  readonly logger: Logger;
  /** Path or name of the nft binary (default "nft"). */
  readonly nft?: string;
}

export class NftBackend implements RulesBackend {
  readonly kind = 'nft' as const;
  readonly usesHooks = false;
  private readonly nft: string;

  constructor(private readonly deps: NftBackendDeps) {
    this.nft = deps.nft ?? 'nft';
  }

  async read(family: Family): Promise<KernelRulesState> {
    const fam = nftFamily(family);
    // One process: the table with its set elements (every nft run loads its whole cache).
    const args = ['-j', 'list', 'table', fam, NFT_TABLE];
    const r = await this.deps.exec(this.nft, args);
    const cmd = `${this.nft} ${args.join(' ')}`;
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return nftStateFrom({ chains: new Map(), sets: new Map() }, new Map());
      throw new RulesReadError(cmd, `exited ${r.code}: ${r.stderr.trim()}`);
    }
    try {
      const { listing, elements } = parseNftTableWithElements(r.stdout);
      return nftStateFrom(listing, elements);
    } catch (err) {
      throw new RulesReadError(cmd, `unparseable output: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async write(plan: WritePlan): Promise<void> {
    const text = renderNftTransaction(plan);
    if (text === '') return;
    await this.run(text);
  }

  async removeAll(family: Family): Promise<void> {
    await this.run(renderNftRemove(family));
  }

  private async run(text: string): Promise<void> {
    const r = await this.deps.exec(this.nft, ['-f', '-'], text);
    if (r.code !== 0) throw new RulesApplyError(`${this.nft} -f -`, r.code, r.stderr);
  }
}
