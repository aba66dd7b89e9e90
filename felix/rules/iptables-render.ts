/**
 * iptables backend, pure half: a `WritePlan` becomes `iptables-restore --noflush` input (our
 * `tortie-*` chains rewritten whole: a `:chain` line flushes it; jumps from the built-in chains
 * deleted by exact spec and re-inserted at position 1) and `ipset restore` input; and
 * `iptables-save` / `ipset save` output becomes kernel state. Only `tortie-*` chains, rules with
 * a `tortie:` comment and `tortie40*` / `tortie60*` sets are ever named.
 */
import { assertNever } from '../../common/assert-never.js';
import type { Family } from '../../common/prefix.js';
import type { ChainSeen, HookRuleSeen, WritePlan } from './rules-backend.js';
import { IPTABLES_CHAIN_PREFIX } from './rules-backend.js';
import { canonicalElement, COMMENT_PREFIX, type Action, type Match, type Rule, type SetDef, type TableKind } from './rule-model.js';

/** ipset names are global per namespace: `tortie` + 4|6 + `0` + logical name (Calico: `cali40…`). */
export function ipsetName(family: Family, set: string): string {
  return `tortie${family}0${set}`;
}

export const IPSET_MAXELEM = 1_048_576;

function chainName(logical: string): string {
  return `${IPTABLES_CHAIN_PREFIX}${logical}`;
}

function matchText(m: Match, family: Family): string {
  switch (m.type) {
    case 'src-set': return `-m set ${m.negate ? '! ' : ''}--match-set ${ipsetName(family, m.set)} src`;
    case 'dst-set': return `-m set ${m.negate ? '! ' : ''}--match-set ${ipsetName(family, m.set)} dst`;
    case 'ip-proto': return `-p ${m.proto}`;
    case 'udp-dport': return `-p udp -m udp --dport ${m.port}`;
    case 'dst-local': return '-m addrtype --dst-type LOCAL';
    case 'out-iface': return `-o ${m.name}`;
    default: return assertNever(m, 'match');
  }
}

function actionText(a: Action): string {
  switch (a.type) {
    case 'accept': return '-j ACCEPT';
    case 'drop': return '-j DROP';
    case 'return': return '-j RETURN';
    case 'jump': return `-j ${chainName(a.chain)}`;
    case 'masquerade': return '-j MASQUERADE';
    case 'snat': return `-j SNAT --to-source ${a.address}`;
    default: return assertNever(a, 'action');
  }
}

/** `iptables-restore --noflush` input for one table, or '' when the plan does nothing there. */
export function renderIptablesRestore(plan: WritePlan, table: TableKind): string {
  const chains = plan.ruleset.chains.filter((c) => c.table === table && plan.chainsToWrite.includes(c.name));
  const stale = plan.chainsToDelete.filter((c) => c.table === table);
  const hooks = plan.hooksToFix.filter((h) => h.table === table);
  if (chains.length === 0 && stale.length === 0 && hooks.length === 0) return '';
  const lines = [`*${table}`];
  // A chain we know is edited in place; a new (or unknown) one is declared, which flushes it.
  for (const c of chains) if (!plan.chainEdits.has(c.name)) lines.push(`:${chainName(c.name)} - [0:0]`);
  for (const c of stale) lines.push(`:${chainName(c.name)} - [0:0]`);
  // Deletes by full rule match, never by position: other writers share the built-in chains.
  for (const h of hooks) for (const r of h.remove) lines.push(`-D ${h.builtin} ${r.spec}`);
  const ruleText = (r: Rule): string => [...r.matches.map((m) => matchText(m, plan.family)),
    `-m comment --comment "${COMMENT_PREFIX}${r.hash}"`, actionText(r.action)].join(' ');
  for (const c of chains) {
    const edit = plan.chainEdits.get(c.name);
    if (edit === undefined) {
      for (const r of c.rules) lines.push(`-A ${chainName(c.name)} ${ruleText(r)}`);
      continue;
    }
    // Our own chain: nobody else writes it, so positions are stable within this restore.
    for (let i = 0; i < edit.remove; i++) lines.push(`-D ${chainName(c.name)} ${edit.from + 1}`);
    edit.insert.forEach((r, k) => lines.push(`-I ${chainName(c.name)} ${edit.from + 1 + k} ${ruleText(r)}`));
  }
  for (const h of hooks) {
    if (h.target === '') continue;
    lines.push(`-I ${h.builtin} 1 -m comment --comment "${COMMENT_PREFIX}${h.hash}" -j ${chainName(h.target)}`);
  }
  for (const c of stale) lines.push(`-X ${chainName(c.name)}`);
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}

function createLine(family: Family, s: SetDef): string {
  const type = s.kind === 'net' ? 'hash:net' : 'hash:ip';
  return `create ${ipsetName(family, s.name)} ${type} family ${family === 4 ? 'inet' : 'inet6'} maxelem ${IPSET_MAXELEM}`;
}

/** `ipset restore -exist` input run before the rules: creates, element deletes, element adds. */
export function renderIpsetUpdate(plan: WritePlan): string {
  const lines: string[] = [];
  for (const s of plan.setsToCreate) {
    lines.push(createLine(plan.family, s));
    for (const e of s.elements) lines.push(`add ${ipsetName(plan.family, s.name)} ${e}`);
  }
  for (const [set, els] of plan.setDels) for (const e of els) lines.push(`del ${ipsetName(plan.family, set)} ${e}`);
  for (const [set, els] of plan.setAdds) for (const e of els) lines.push(`add ${ipsetName(plan.family, set)} ${e}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** `ipset restore -exist` input run after the rules no longer reference stale sets. */
export function renderIpsetDestroy(family: Family, sets: readonly string[]): string {
  return sets.map((s) => `destroy ${ipsetName(family, s)}\n`).join('');
}

export interface IptablesTableSeen {
  readonly chains: Map<string, ChainSeen>;
  /** Our jumps per built-in chain, keyed `<table>/<BUILTIN>`. */
  readonly hooks: Map<string, HookRuleSeen[]>;
}

const COMMENT_RE = /--comment "?tortie:([A-Za-z0-9_-]+)"?/;

/** Parse `iptables-save -t <table>` output: our chains' hashes and our jumps in built-ins. */
export function parseIptablesSave(text: string, table: TableKind): IptablesTableSeen {
  const chains = new Map<string, ChainSeen & { hashes: string[] }>();
  const hooks = new Map<string, HookRuleSeen[]>();
  const positions = new Map<string, number>();
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) { inTable = line.slice(1).trim() === table; continue; }
    if (!inTable || line.startsWith('#')) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (name.startsWith(IPTABLES_CHAIN_PREFIX)) chains.set(name.slice(IPTABLES_CHAIN_PREFIX.length), { table, hashes: [] });
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const rest = line.slice(3);
    const sp = rest.indexOf(' ');
    const chain = sp < 0 ? rest : rest.slice(0, sp);
    const spec = sp < 0 ? '' : rest.slice(sp + 1).trim();
    const hash = COMMENT_RE.exec(spec)?.[1] ?? '';
    if (chain.startsWith(IPTABLES_CHAIN_PREFIX)) {
      chains.get(chain.slice(IPTABLES_CHAIN_PREFIX.length))?.hashes.push(hash);
      continue;
    }
    const pos = (positions.get(chain) ?? 0) + 1;
    positions.set(chain, pos);
    if (hash !== '') {
      const key = `${table}/${chain}`;
      const list = hooks.get(key) ?? [];
      list.push({ position: pos, hash, spec });
      hooks.set(key, list);
    }
  }
  return { chains, hooks };
}

/** Parse `ipset save <name>` output into canonical elements. */
export function parseIpsetSave(text: string, kind: 'net' | 'addr'): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] !== 'add' || parts[2] === undefined) continue;
    out.add(canonicalElement(parts[2], kind));
  }
  return out;
}

/** `create <name> hash:net …` → 'net'; hash:ip → 'addr'. */
export function ipsetKind(saveText: string): 'net' | 'addr' {
  return /^create \S+ hash:net/m.test(saveText) ? 'net' : 'addr';
}
