/**
 * nftables backend, pure half: a `WritePlan` becomes one `nft -f -` transaction against our own
 * table (`table ip tortie` / `table ip6 tortie`), and `nft -j` output becomes kernel state.
 * Nothing outside our table is ever named.
 *
 *   table ip tortie { set …; chain INPUT { type filter hook input priority filter; policy accept; } … }
 *   flush chain ip tortie INPUT
 *   add rule ip tortie INPUT meta l4proto 4 ip saddr @all-hosts-net fib daddr type local counter accept comment "tortie:…"
 *   add element ip tortie all-hosts-net { 10.0.0.2 }
 */
import { assertNever } from '../../common/assert-never.js';
import type { Family } from '../../common/prefix.js';
import type { ChainSeen, KernelRulesState, WritePlan } from './rules-backend.js';
import { canonicalElement, COMMENT_PREFIX, type Action, type ChainDef, type Match, type SetDef } from './rule-model.js';

export const NFT_TABLE = 'tortie';

export function nftFamily(family: Family): 'ip' | 'ip6' {
  return family === 4 ? 'ip' : 'ip6';
}

function matchText(m: Match, family: Family): string {
  const ipk = family === 4 ? 'ip' : 'ip6';
  switch (m.type) {
    case 'src-set': return `${ipk} saddr ${m.negate ? '!= ' : ''}@${m.set}`;
    case 'dst-set': return `${ipk} daddr ${m.negate ? '!= ' : ''}@${m.set}`;
    case 'ip-proto': return `meta l4proto ${m.proto}`;
    case 'udp-dport': return `udp dport ${m.port}`;
    case 'dst-local': return 'fib daddr type local';
    case 'out-iface': return `oifname "${m.name.endsWith('+') ? `${m.name.slice(0, -1)}*` : m.name}"`;
    default: return assertNever(m, 'match');
  }
}

function actionText(a: Action): string {
  switch (a.type) {
    case 'accept': return 'accept';
    case 'drop': return 'drop';
    case 'return': return 'return';
    case 'jump': return `jump ${a.chain}`;
    case 'masquerade': return 'masquerade';
    case 'snat': return `snat to ${a.address}`;
    default: return assertNever(a, 'action');
  }
}

function chainDecl(c: ChainDef): string {
  if (c.hook === undefined) return `  chain ${c.name} { }`;
  const prio = c.table === 'nat' ? 'srcnat' : 'filter';
  return `  chain ${c.name} { type ${c.table} hook ${c.hook} priority ${prio}; policy accept; }`;
}

function setDecl(s: SetDef, family: Family): string {
  const type = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  return `  set ${s.name} { type ${type};${s.kind === 'net' ? ' flags interval;' : ''} }`;
}

const CHUNK = 5000;
function elementLines(verb: 'add' | 'delete', fam: string, set: string, elements: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < elements.length; i += CHUNK) {
    out.push(`${verb} element ${fam} ${NFT_TABLE} ${set} { ${elements.slice(i, i + CHUNK).join(', ')} }`);
  }
  return out;
}

/** The whole transaction for one plan (empty string when there is nothing to do). */
export function renderNftTransaction(plan: WritePlan): string {
  const fam = nftFamily(plan.family);
  const { ruleset } = plan;
  const lines: string[] = [];
  const needDecl = plan.chainsToWrite.length > 0 || plan.setsToCreate.length > 0;
  if (needDecl) {
    lines.push(`table ${fam} ${NFT_TABLE} {`);
    for (const s of ruleset.sets) lines.push(setDecl(s, plan.family));
    for (const c of ruleset.chains) lines.push(chainDecl(c));
    lines.push('}');
  }
  const toWrite = new Set(plan.chainsToWrite);
  for (const c of ruleset.chains) if (toWrite.has(c.name)) lines.push(`flush chain ${fam} ${NFT_TABLE} ${c.name}`);
  for (const c of plan.chainsToDelete) lines.push(`flush chain ${fam} ${NFT_TABLE} ${c.name}`);
  for (const c of plan.chainsToDelete) lines.push(`delete chain ${fam} ${NFT_TABLE} ${c.name}`);
  for (const c of ruleset.chains) {
    if (!toWrite.has(c.name)) continue;
    for (const r of c.rules) {
      const m = r.matches.map((x) => matchText(x, plan.family));
      lines.push(`add rule ${fam} ${NFT_TABLE} ${c.name} ${[...m, 'counter', actionText(r.action)].join(' ')}`
        + ` comment "${COMMENT_PREFIX}${r.hash}"`);
    }
  }
  for (const [set, els] of plan.setDels) lines.push(...elementLines('delete', fam, set, els));
  for (const s of plan.setsToCreate) lines.push(...elementLines('add', fam, s.name, [...s.elements]));
  for (const [set, els] of plan.setAdds) lines.push(...elementLines('add', fam, set, els));
  for (const s of plan.setsToDelete) lines.push(`delete set ${fam} ${NFT_TABLE} ${s}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Remove our table of one family; safe when it does not exist. */
export function renderNftRemove(family: Family): string {
  const fam = nftFamily(family);
  return `table ${fam} ${NFT_TABLE} { }\ndelete table ${fam} ${NFT_TABLE}\n`;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

function nftItems(jsonText: string): Record<string, unknown>[] {
  const top = rec(JSON.parse(jsonText));
  const items = top?.['nftables'];
  if (!Array.isArray(items)) throw new Error('no "nftables" array in nft -j output');
  return items.map(rec).filter((x): x is Record<string, unknown> => x !== undefined);
}

export interface NftTableListing {
  readonly chains: Map<string, ChainSeen>;
  /** Set names and whether they hold prefixes (interval flag). */
  readonly sets: Map<string, 'net' | 'addr'>;
}

/** Parse `nft -j -t list table <fam> tortie` (terse: no set elements). Throws on malformed JSON. */
export function parseNftTable(jsonText: string): NftTableListing {
  return parseNftItems(nftItems(jsonText));
}

function parseNftItems(items: readonly Record<string, unknown>[]): NftTableListing {
  const chains = new Map<string, { table: 'filter' | 'nat'; hashes: string[] }>();
  const sets = new Map<string, 'net' | 'addr'>();
  for (const item of items) {
    const chain = rec(item['chain']);
    if (chain !== undefined && chain['table'] === NFT_TABLE && typeof chain['name'] === 'string') {
      chains.set(chain['name'], { table: chain['type'] === 'nat' ? 'nat' : 'filter', hashes: [] });
    }
    const set = rec(item['set']);
    if (set !== undefined && set['table'] === NFT_TABLE && typeof set['name'] === 'string') {
      const flags = set['flags'];
      sets.set(set['name'], Array.isArray(flags) && flags.includes('interval') ? 'net' : 'addr');
    }
    const rule = rec(item['rule']);
    if (rule !== undefined && rule['table'] === NFT_TABLE && typeof rule['chain'] === 'string') {
      const c = chains.get(rule['chain']);
      const comment = rule['comment'];
      const hash = typeof comment === 'string' && comment.startsWith(COMMENT_PREFIX) ? comment.slice(COMMENT_PREFIX.length) : '';
      c?.hashes.push(hash);
    }
  }
  return { chains, sets };
}

/** Parse `nft -j list set <fam> tortie <name>` into canonical elements. */
export function parseNftSetElements(jsonText: string, kind: 'net' | 'addr'): Set<string> {
  return elementsOf(nftItems(jsonText), kind);
}

/**
 * Parse `nft -j list table <fam> tortie` (with set elements): the whole read-back in one nft
 * process (each costs a full cache load), chains with their hashes and every set's elements.
 */
export function parseNftTableWithElements(jsonText: string): { listing: NftTableListing; elements: Map<string, ReadonlySet<string>> } {
  const items = nftItems(jsonText);
  const listing = parseNftItems(items);
  const elements = new Map<string, ReadonlySet<string>>();
  for (const [name, kind] of listing.sets) {
    elements.set(name, elementsOf(items.filter((i) => rec(i['set'])?.['name'] === name && rec(i['set'])?.['table'] === NFT_TABLE), kind));
  }
  return { listing, elements };
}

function elementsOf(items: readonly Record<string, unknown>[], kind: 'net' | 'addr'): Set<string> {
  const out = new Set<string>();
  for (const item of items) {
    const set = rec(item['set']);
    const elems = set?.['elem'];
    if (!Array.isArray(elems)) continue;
    for (const raw of elems) {
      // An element with a counter/timeout is wrapped: { elem: { val: … } }.
      const e = rec(rec(raw)?.['elem'])?.['val'] ?? raw;
      if (typeof e === 'string') { out.add(canonicalElement(e, kind)); continue; }
      const prefix = rec(rec(e)?.['prefix']);
      if (prefix !== undefined && typeof prefix['addr'] === 'string' && typeof prefix['len'] === 'number') {
        out.add(canonicalElement(`${prefix['addr']}/${prefix['len']}`, 'net'));
        continue;
      }
      // A range (e.g. merged by someone else) never equals a desired prefix: keep it visible.
      out.add(JSON.stringify(e));
    }
  }
  return out;
}

export function nftStateFrom(listing: NftTableListing, elements: ReadonlyMap<string, ReadonlySet<string>>): KernelRulesState {
  return { chains: listing.chains, sets: elements, hooks: new Map() };
}
