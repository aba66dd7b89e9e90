/**
 * iptables backend: `ipset restore -exist` for set creates and element changes, then one
 * `iptables-restore --noflush --wait 10` per table we change (ip6tables-restore for IPv6), then
 * destroys of stale sets. Read-back: one `iptables-save` (parse only filter/nat `tortie-*` chains
 * and `tortie:` comments) and one `ipset save`, of which only our sets are kept.
 */
import type { Logger } from '../../common/logger.js';
import type { Family } from '../../common/prefix.js';
import { RulesApplyError, RulesReadError } from './errors.js';
import type { Exec } from './exec.js';
import {
  ipsetKind, parseIpsetSave, parseIptablesSave, renderIpsetDestroy, renderIpsetUpdate, renderIptablesRestore,
} from './iptables-render.js';
import {
  emptyKernelState, type ChainSeen, type HookRuleSeen, type KernelRulesState, type RulesBackend, type WritePlan,
} from './rules-backend.js';
import type { TableKind } from './rule-model.js';

/** FelixConfiguration iptablesBackend: `auto` uses the `iptables` alternative. */
export type IptablesMode = 'auto' | 'nft' | 'legacy';

export interface IptablesBackendDeps {
  readonly exec: Exec;
  readonly logger: Logger;
  readonly mode?: IptablesMode;
  /** xtables lock wait in seconds (robustness §0: always pass --wait to legacy tools). Default 10. */
  readonly lockWaitSeconds?: number;
}

const TABLES: readonly TableKind[] = ['filter', 'nat'];

export class IptablesBackend implements RulesBackend {
  readonly kind = 'iptables' as const;
  readonly usesHooks = true;
  private readonly mode: IptablesMode;
  private readonly wait: number;

  constructor(private readonly deps: IptablesBackendDeps) {
    this.mode = deps.mode ?? 'auto';
    this.wait = deps.lockWaitSeconds ?? 10;
  }

  private tool(family: Family, what: 'restore' | 'save'): string {
    const base = family === 4 ? 'iptables' : 'ip6tables';
    return this.mode === 'auto' ? `${base}-${what}` : `${base}-${this.mode}-${what}`;
  }

  async read(family: Family): Promise<KernelRulesState> {
    const chains = new Map<string, ChainSeen>();
    const hooks = new Map<string, HookRuleSeen[]>();
    // One save of every table (the parser keeps filter and nat apart): one process, not one per table.
    const cmd = this.tool(family, 'save');
    const r = await this.deps.exec(cmd, []);
    if (r.code !== 0) throw new RulesReadError(cmd, `exited ${r.code}: ${r.stderr.trim()}`);
    for (const table of TABLES) {
      const seen = parseIptablesSave(r.stdout, table);
      for (const [k, v] of seen.chains) chains.set(k, v);
      for (const [k, v] of seen.hooks) hooks.set(k, v);
    }
    // One `ipset save` for every set (not a list and a save per set): each process costs.
    const all = await this.deps.exec('ipset', ['save']);
    if (all.code !== 0) throw new RulesReadError('ipset save', `exited ${all.code}: ${all.stderr.trim()}`);
    const prefix = `tortie${family}0`;
    const byName = new Map<string, string[]>();
    for (const line of all.stdout.split('\n')) {
      const name = /^(?:create|add) (\S+) /.exec(line)?.[1];
      if (name === undefined || !name.startsWith(prefix)) continue;
      const lines = byName.get(name) ?? [];
      lines.push(line);
      byName.set(name, lines);
    }
    const sets = new Map<string, ReadonlySet<string>>();
    for (const [name, lines] of byName) {
      const text = lines.join('\n');
      try { sets.set(name.slice(prefix.length), parseIpsetSave(text, ipsetKind(text))); } catch (err) {
        throw new RulesReadError(`ipset save (${name})`, `unparseable output: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    return { ...emptyKernelState, chains, hooks, sets };
  }

  /**
   * One `ipset list -t` (headers only: no elements) gives each of our sets' size; with legacy
   * iptables, which `nft monitor` cannot see, also our lines of `iptables-save` (counters cut).
   */
  async fingerprint(family: Family): Promise<string> {
    const r = await this.deps.exec('ipset', ['list', '-t']);
    if (r.code !== 0) throw new RulesReadError('ipset list -t', `exited ${r.code}: ${r.stderr.trim()}`);
    const prefix = `tortie${family}0`;
    const parts: string[] = [];
    let name: string | undefined;
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('Name: ')) name = line.slice(6).trim();
      else if (line.startsWith('Number of entries: ') && name?.startsWith(prefix) === true) parts.push(`${name}=${line.slice(19).trim()}`);
    }
    if (this.mode === 'legacy') {
      const cmd = this.tool(family, 'save');
      const s = await this.deps.exec(cmd, []);
      if (s.code !== 0) throw new RulesReadError(cmd, `exited ${s.code}: ${s.stderr.trim()}`);
      for (const line of s.stdout.split('\n')) if (line.includes('tortie')) parts.push(line.replace(/ \[\d+:\d+\]$/, ''));
    }
    return parts.join('\n');
  }

  async write(plan: WritePlan): Promise<void> {
    const sets = renderIpsetUpdate(plan);
    if (sets !== '') await this.run('ipset', ['restore', '-exist'], sets);
    for (const table of TABLES) {
      const text = renderIptablesRestore(plan, table);
      if (text !== '') await this.run(this.tool(plan.family, 'restore'), ['--noflush', '--wait', String(this.wait)], text);
    }
    const destroy = renderIpsetDestroy(plan.family, plan.setsToDelete);
    if (destroy !== '') await this.run('ipset', ['restore', '-exist'], destroy);
  }

  async removeAll(family: Family): Promise<void> {
    const state = await this.read(family);
    const hooksToFix = [...state.hooks].map(([key, remove]) => {
      const [table, builtin] = key.split('/') as [TableKind, string];
      return { table, builtin, target: '', hash: '', remove };
    });
    await this.write({
      family, ruleset: { family, chains: [], sets: [] }, chainsToWrite: [], chainEdits: new Map(),
      chainsToDelete: [...state.chains].map(([name, s]) => ({ name, table: s.table })),
      hooksToFix, setsToCreate: [], setAdds: new Map(), setDels: new Map(), setsToDelete: [...state.sets.keys()],
    });
  }

  private async run(cmd: string, args: readonly string[], input: string): Promise<void> {
    const r = await this.deps.exec(cmd, args, input);
    if (r.code !== 0) {
      this.deps.logger.warn({ cmd, code: r.code, stderr: r.stderr.trim() }, 'rules write failed');
      throw new RulesApplyError(`${cmd} ${args.join(' ')}`, r.code, r.stderr);
    }
  }
}
