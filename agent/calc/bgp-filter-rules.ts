/**
 * BGPFilter (calico-compat.md §1.6) → the speaker's policy rules, for one peer. First match
 * wins, as in Calico. What the speaker's policy model cannot express yet (NotEqual/NotIn, source,
 * interface, asPathPrefix, setPriority, large communities) is reported as a problem naming the
 * filter, rule and field, and that rule is left out.
 */
import { parsePrefix } from '../../common/prefix.js';
import type { PolicyRule, PrefixMatch } from '../../bgp/speaker/peer-config.js';
import type { BGPFilterSpec } from '../resources/bgp-filter.js';
import type { Snapshot } from './snapshot.js';

type Rule = NonNullable<BGPFilterSpec['importV4']>[number];

export function parseStandardCommunity(v: string): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(v);
  if (m === null) return undefined;
  const hi = Number(m[1]), lo = Number(m[2]);
  return hi <= 0xffff && lo <= 0xffff ? ((hi << 16) >>> 0) + lo : undefined;
}

function ruleToPolicy(r: Rule, ibgp: boolean, where: string): { rule?: PolicyRule; problem?: string } {
  if (r.peerType !== undefined && (r.peerType === 'iBGP') !== ibgp) return {}; // never matches this peer
  const unsupported = (field: string): { problem: string } => ({ problem: `${where}: ${field} is not supported yet; rule ignored` });
  if (r.matchOperator === 'NotEqual' || r.matchOperator === 'NotIn') return unsupported(`matchOperator ${r.matchOperator}`);
  if (r.source !== undefined) return unsupported('source');
  if (r.interface !== undefined) return unsupported('interface');
  if (r.asPathPrefix !== undefined) return unsupported('asPathPrefix');
  const match: { prefixes?: PrefixMatch[]; communities?: number[] } = {};
  const min = r.prefixLength?.min, max = r.prefixLength?.max;
  if (r.cidr !== undefined) {
    const p = parsePrefix(r.cidr);
    if (r.matchOperator === 'Equal') match.prefixes = [{ prefix: p, ge: p.length, le: p.length }];
    else match.prefixes = [{ prefix: p, ge: Math.max(p.length, min ?? p.length), le: max ?? 32 }];
  } else if (min !== undefined || max !== undefined) {
    match.prefixes = [{ prefix: parsePrefix('0.0.0.0/0'), ge: min ?? 0, le: max ?? 32 }];
  }
  if (r.communities !== undefined) {
    const c = r.communities.values.map(parseStandardCommunity);
    if (c.some((x) => x === undefined)) return unsupported('communities (large communities)');
    match.communities = c as number[];
  }
  const set: { addCommunities?: number[]; prepend?: number } = {};
  for (const op of r.operations ?? []) {
    if (op.addCommunity !== undefined) {
      const c = parseStandardCommunity(op.addCommunity.value);
      if (c === undefined) return unsupported('operations.addCommunity (large community)');
      set.addCommunities = [...(set.addCommunities ?? []), c];
    } else if (op.prependASPath !== undefined) {
      set.prepend = (set.prepend ?? 0) + op.prependASPath.prefix.length;
    } else if (op.setPriority !== undefined) {
      return unsupported('operations.setPriority');
    }
  }
  const rule: PolicyRule = {
    ...(Object.keys(match).length > 0 ? { match } : {}),
    action: r.action === 'Accept' ? 'accept' : 'reject',
    ...(Object.keys(set).length > 0 ? { set } : {}),
  };
  return { rule };
}

/** The import and export rules of the named filters, in order, for a peer of this type. */
export function filterRules(s: Snapshot, names: readonly string[], ibgp: boolean, peer: string):
  { importRules: PolicyRule[]; exportRules: PolicyRule[]; problems: string[] } {
  const out = { importRules: [] as PolicyRule[], exportRules: [] as PolicyRule[], problems: [] as string[] };
  for (const name of names) {
    const f = s.filters.get(name);
    if (f === undefined) { out.problems.push(`${peer}: BGPFilter ${name} does not exist; ignored`); continue; }
    for (const [dir, list, into] of [['importV4', f.importV4, out.importRules], ['exportV4', f.exportV4, out.exportRules]] as const) {
      (list ?? []).forEach((r, i) => {
        const res = ruleToPolicy(r, ibgp, `BGPFilter ${name} spec.${dir}[${i}]`);
        if (res.problem !== undefined) out.problems.push(res.problem);
        if (res.rule !== undefined) into.push(res.rule);
      });
    }
  }
  return out;
}
