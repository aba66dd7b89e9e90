/**
 * iptables backend: `ipset restore -exist` for set creates and element changes, then one
 * `iptables-restore --noflush --wait 10` per table we change (ip6tables-restore for IPv6), then
 * destroys of stale sets. Read-back: `iptables-save -t filter|nat` (parse only `tortie-*` chains
 * and `tortie:` comments) and `ipset save` of our sets.
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
    for (const table of TABLES) {
      const cmd = this.tool(family, 'save');
      const r = await this.deps.exec(cmd, ['-t', table]);
      if (r.code !== 0) throw new RulesReadError(`${cmd} -t ${table}`, `exited ${r.code}: ${r.stderr.trim()}`);
      const seen = parseIptablesSave(r.stdout, table);
      for (const [k, v] of seen.chains) chains.set(k, v);
      for (const [k, v] of seen.hooks) hooks.set(k, v);
    }
    const list = await this.deps.exec('ipset', ['list', '-n']);
    if (list.code !== 0) throw new RulesReadError('ipset list -n', `exited ${list.code}: ${list.stderr.trim()}`);
    const prefix = `tortie${family}0`;
    const sets = new Map<string, ReadonlySet<string>>();
    for (const name of list.stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(prefix))) {
      const s = await this.deps.exec('ipset', ['save', name]);
      if (s.code !== 0) throw new RulesReadError(`ipset save ${name}`, `exited ${s.code}: ${s.stderr.trim()}`);
      try { sets.set(name.slice(prefix.length), parseIpsetSave(s.stdout, ipsetKind(s.stdout))); } catch (err) {
        throw new RulesReadError(`ipset save ${name}`, `unparseable output: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    return { ...emptyKernelState, chains, hooks, sets };
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
