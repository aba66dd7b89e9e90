/**
 * The one interface both backends implement, the kernel state they read back, and the pure
 * planner that turns (desired ruleset, believed kernel state) into a minimal write:
 * whole chains rewritten only when their hash list differs, set elements added/deleted
 * incrementally, stale chains/sets of ours removed. Nothing outside our names is ever planned.
 */
import type { Family } from '../../common/prefix.js';
import {
  chainHashes, COMMENT_PREFIX, hookHash, type ChainDef, type Rule, type Ruleset, type SetDef, type TableKind,
} from './rule-model.js';

export interface ChainSeen {
  readonly table: TableKind;
  /** Comment hashes in order; '' for a rule in our chain without our comment (forces a rewrite). */
  readonly hashes: readonly string[];
}

/** A jump rule of ours seen in a built-in chain (iptables backend). */
export interface HookRuleSeen {
  /** 1-based position in the built-in chain. */
  readonly position: number;
  readonly hash: string;
  /** The rule as iptables-save printed it, without `-A <chain> `: used to delete it exactly. */
  readonly spec: string;
}

export interface KernelRulesState {
  /** Our chains by logical name. */
  readonly chains: ReadonlyMap<string, ChainSeen>;
  /** Our sets by logical name. */
  readonly sets: ReadonlyMap<string, ReadonlySet<string>>;
  /** iptables only: our jumps per built-in chain, keyed `filter/INPUT`. */
  readonly hooks: ReadonlyMap<string, readonly HookRuleSeen[]>;
}

export const emptyKernelState: KernelRulesState = { chains: new Map(), sets: new Map(), hooks: new Map() };

export interface HookFix {
  readonly table: TableKind;
  readonly builtin: string;
  readonly target: string;
  readonly hash: string;
  /** Our jump rules to delete first (duplicates or not at position 1). */
  readonly remove: readonly HookRuleSeen[];
}

/**
 * A minimal edit of a chain we believe we know: keep the common prefix and suffix, delete
 * `remove` rules at position `from` (0-based) and insert `insert` there. The iptables backend uses
 * it instead of a flush-and-fill (one `-R`-sized change instead of N rules); nft rewrites whole
 * chains (a single nft command already costs a full cache load, see bench/rules).
 */
export interface ChainEdit {
  readonly from: number;
  readonly remove: number;
  readonly insert: readonly Rule[];
}

export interface WritePlan {
  readonly family: Family;
  readonly ruleset: Ruleset;
  /** Logical names of chains to rewrite whole (flush and fill, in one transaction). */
  readonly chainsToWrite: readonly string[];
  /** For chains in `chainsToWrite` that exist in the kernel: the minimal edit. */
  readonly chainEdits: ReadonlyMap<string, ChainEdit>;
  readonly chainsToDelete: readonly { readonly name: string; readonly table: TableKind }[];
  readonly hooksToFix: readonly HookFix[];
  /** Sets missing from the kernel: created with their full contents. */
  readonly setsToCreate: readonly SetDef[];
  readonly setAdds: ReadonlyMap<string, readonly string[]>;
  readonly setDels: ReadonlyMap<string, readonly string[]>;
  readonly setsToDelete: readonly string[];
}

export interface RulesBackend {
  readonly kind: 'nft' | 'iptables';
  /** Whether built-in chains need jump rules (iptables) or our base chains hook in (nft). */
  readonly usesHooks: boolean;
  /** Read back only what we own (our table / chains / sets). */
  read(family: Family): Promise<KernelRulesState>;
  /** Apply a plan atomically where the tool allows (one nft transaction; restore files). */
  write(plan: WritePlan): Promise<void>;
  /** Remove everything we own (tables, chains, jumps, sets) for this family. */
  removeAll(family: Family): Promise<void>;
  /**
   * A cheap digest of what no watcher reports (iptables: our ipsets' sizes, and with legacy
   * iptables our rule lines): polled every second, a change means "read back now".
   */
  fingerprint?(family: Family): Promise<string>;
}

/** The jump rule as iptables-save prints it (after `-A <builtin> `). */
export function hookSpec(hash: string, target: string): string {
  return `-m comment --comment "${COMMENT_PREFIX}${hash}" -j ${IPTABLES_CHAIN_PREFIX}${target}`;
}

/** Our iptables chain names: `tortie-<logical name>` (see README: why not `cali-`). */
export const IPTABLES_CHAIN_PREFIX = 'tortie-';

export function builtinFor(chain: ChainDef): string {
  return chain.hook === undefined ? '' : chain.hook.toUpperCase();
}

export function planIsEmpty(p: WritePlan): boolean {
  return p.chainsToWrite.length === 0 && p.chainsToDelete.length === 0 && p.hooksToFix.length === 0
    && p.setsToCreate.length === 0 && p.setAdds.size === 0 && p.setDels.size === 0 && p.setsToDelete.length === 0;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Pure: what to write so that the kernel (as believed) matches the desired ruleset. */
export function planWrite(ruleset: Ruleset, believed: KernelRulesState, usesHooks: boolean): WritePlan {
  const chainsToWrite: string[] = [];
  const chainEdits = new Map<string, ChainEdit>();
  for (const c of ruleset.chains) {
    const seen = believed.chains.get(c.name);
    const want = chainHashes(c);
    if (seen === undefined || (usesHooks && seen.table !== c.table) || !sameList(seen.hashes, want)) {
      chainsToWrite.push(c.name);
      if (seen !== undefined && seen.table === c.table) chainEdits.set(c.name, chainEdit(seen.hashes, c.rules));
    }
  }
  const wanted = new Set(ruleset.chains.map((c) => c.name));
  const chainsToDelete = [...believed.chains].filter(([n]) => !wanted.has(n)).map(([name, s]) => ({ name, table: s.table }));
  const hooksToFix: HookFix[] = [];
  if (usesHooks) {
    for (const c of ruleset.chains) {
      if (c.hook === undefined) continue;
      const builtin = builtinFor(c);
      const hash = hookHash(builtin, c.name);
      const seen = believed.hooks.get(`${c.table}/${builtin}`) ?? [];
      const ok = seen.length === 1 && seen[0]?.position === 1 && seen[0].hash === hash;
      if (!ok) hooksToFix.push({ table: c.table, builtin, target: c.name, hash, remove: seen });
    }
    // Jumps of ours in built-in chains we no longer hook (e.g. a removed chain).
    const hooked = new Set(ruleset.chains.filter((c) => c.hook !== undefined).map((c) => `${c.table}/${builtinFor(c)}`));
    for (const [key, seen] of believed.hooks) {
      if (hooked.has(key) || seen.length === 0) continue;
      const [table, builtin] = key.split('/') as [TableKind, string];
      hooksToFix.push({ table, builtin, target: '', hash: '', remove: seen });
    }
  }
  const setsToCreate: SetDef[] = [];
  const setAdds = new Map<string, string[]>();
  const setDels = new Map<string, string[]>();
  for (const s of ruleset.sets) {
    const seen = believed.sets.get(s.name);
    if (seen === undefined) { setsToCreate.push(s); continue; }
    if (seen === s.elements) continue; // believed after writing this very ruleset: O(1)
    const adds: string[] = [];
    const dels: string[] = [];
    for (const e of s.elements) if (!seen.has(e)) adds.push(e);
    for (const e of seen) if (!s.elements.has(e)) dels.push(e);
    if (adds.length > 0) setAdds.set(s.name, adds);
    if (dels.length > 0) setDels.set(s.name, dels);
  }
  const wantedSets = new Set(ruleset.sets.map((s) => s.name));
  const setsToDelete = [...believed.sets.keys()].filter((n) => !wantedSets.has(n));
  return { family: ruleset.family, ruleset, chainsToWrite, chainEdits, chainsToDelete, hooksToFix, setsToCreate, setAdds, setDels, setsToDelete };
}

function chainEdit(have: readonly string[], want: readonly Rule[]): ChainEdit {
  let p = 0;
  while (p < have.length && p < want.length && have[p] === want[p]?.hash) p++;
  let s = 0;
  while (s < have.length - p && s < want.length - p && have[have.length - 1 - s] === want[want.length - 1 - s]?.hash) s++;
  return { from: p, remove: have.length - p - s, insert: want.slice(p, want.length - s) };
}

/** The state the kernel is in after a successful write of `ruleset` (sets shared, not copied). */
export function stateAfter(ruleset: Ruleset, usesHooks: boolean): KernelRulesState {
  const chains = new Map<string, ChainSeen>(ruleset.chains.map((c) => [c.name, { table: c.table, hashes: chainHashes(c) }]));
  const sets = new Map<string, ReadonlySet<string>>(ruleset.sets.map((s) => [s.name, s.elements]));
  const hooks = new Map<string, HookRuleSeen[]>();
  if (usesHooks) {
    for (const c of ruleset.chains) {
      if (c.hook === undefined) continue;
      const b = builtinFor(c);
      const hash = hookHash(b, c.name);
      hooks.set(`${c.table}/${b}`, [{ position: 1, hash, spec: hookSpec(hash, c.name) }]);
    }
  }
  return { chains, sets, hooks };
}
