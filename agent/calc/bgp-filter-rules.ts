/**
 * BGPFilter (calico-compat.md §1.6) → the speaker's policy rules, for one peer. First match
 * wins, as in Calico. NotEqual/NotIn rules ("route not in X") have no direct form in the
 * speaker's model (prefix lists, first match): `linearize()` rewrites them exactly — routes in X
 * see the later rules restricted to X and then the default, all others meet the rule.
 * `source: RemotePeers` and `asPathPrefix` map to the speaker's source and AS-path matches,
 * `operations.setPriority` to LOCAL_PREF 2147483647 - value, `priority` to a LOCAL_PREF match,
 * `interface` to the speaker's interface glob.
 */
import { parsePrefix, prefixContains } from '../../common/prefix.js';
import type { PolicyRule, PrefixMatch } from '../../bgp/speaker/peer-config.js';
import type { LargeCommunity } from '../../bgp/wire/types.js';
import type { BGPFilterSpec } from '../resources/bgp-filter.js';
import type { Snapshot } from './snapshot.js';
import { MAX_ROUTE_PRIORITY } from './route-priority.js';
import { effectiveBgpConfiguration } from '../resources/bgp-configuration.js';
import { bgpFilterNotes } from '../resources/compat-notes.js';

type Rule = NonNullable<BGPFilterSpec['importV4']>[number];

/** "global:data1:data2", each 32-bit (RFC 8092), as Calico writes large communities. */
export function parseLargeCommunity(v: string): LargeCommunity | undefined {
  const m = /^(\d+):(\d+):(\d+)$/.exec(v);
  if (m === null) return undefined;
  const [g, d1, d2] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return [g, d1, d2].every((x) => x <= 0xffffffff) ? { globalAdmin: g, localData1: d1, localData2: d2 } : undefined;
}

export function parseStandardCommunity(v: string): number | undefined {
  const m = /^(\d+):(\d+)$/.exec(v);
  if (m === null) return undefined;
  const hi = Number(m[1]), lo = Number(m[2]);
  return hi <= 0xffff && lo <= 0xffff ? ((hi << 16) >>> 0) + lo : undefined;
}

/** A Calico community value: "a:b" (standard, 16-bit parts) or "a:b:c" (large, RFC 8092). */
export type CommunityValue =
  | { readonly type: 'standard'; readonly value: number }
  | { readonly type: 'large'; readonly value: LargeCommunity };

/** Either form of community value, or undefined when the text is neither a:b nor a:b:c. */
export function parseCommunityValue(v: string): CommunityValue | undefined {
  const std = parseStandardCommunity(v);
  if (std !== undefined) return { type: 'standard', value: std };
  const large = parseLargeCommunity(v);
  return large === undefined ? undefined : { type: 'large', value: large };
}

/** A speaker rule that, when `notIn` is set, matches only routes outside that prefix range. */
export type FilterRule = PolicyRule & { readonly notIn?: PrefixMatch };

/**
 * One BGPFilter rule as speaker rules. `priority` (Calico: bgp_local_pref = 2147483647 - priority)
 * matches LOCAL_PREF on import; on export Calico first gives our own routes LOCAL_PREF from their
 * kernel metric, which is always the normal priority here, so the rule becomes one for learned
 * routes with that LOCAL_PREF plus, when the priority is the normal one, one for our own routes.
 */
function ruleToPolicy(r: Rule, ibgp: boolean, where: string, family: 4 | 6, direction: 'import' | 'export', normalPriority: number):
  { rules?: FilterRule[]; problem?: string } {
  const maxLen = family === 4 ? 32 : 128;
  if (r.peerType !== undefined && (r.peerType === 'iBGP') !== ibgp) return {}; // never matches this peer
  const match: { prefixes?: PrefixMatch[]; communities?: number[]; largeCommunities?: LargeCommunity[]; source?: 'peers' | 'local'; asPathPrefix?: number[]; localPref?: number; interface?: string } = {};
  if (r.source === 'RemotePeers') match.source = 'peers';
  // confd: ((defined(ifname))&&(ifname ~ "<interface>")): the interface toward the peer a route
  // came from; our own blocks and service routes are blackholes, with none.
  if (r.interface !== undefined) match.interface = r.interface;
  if (r.asPathPrefix !== undefined && r.asPathPrefix.length > 0) match.asPathPrefix = [...r.asPathPrefix];
  const min = r.prefixLength?.min, max = r.prefixLength?.max;
  let notIn: PrefixMatch | undefined;
  if (r.cidr !== undefined) {
    const p = parsePrefix(r.cidr);
    if (r.matchOperator === 'Equal') match.prefixes = [{ prefix: p, ge: p.length, le: p.length }];
    else if (r.matchOperator === 'NotEqual') notIn = { prefix: p, ge: p.length, le: p.length };
    else if (r.matchOperator === 'NotIn') notIn = { prefix: p, ge: p.length, le: maxLen };
    else match.prefixes = [{ prefix: p, ge: Math.max(p.length, min ?? p.length), le: max ?? maxLen }];
  }
  if (match.prefixes === undefined && (min !== undefined || max !== undefined)) {
    match.prefixes = [{ prefix: parsePrefix(family === 4 ? '0.0.0.0/0' : '::/0'), ge: min ?? 0, le: max ?? maxLen }];
  }
  if (r.communities !== undefined) {
    for (const v of r.communities.values) {
      const c = parseCommunityValue(v);
      if (c === undefined) return { problem: `${where}: community ${JSON.stringify(v)} is neither a:b nor a:b:c; rule ignored` };
      if (c.type === 'standard') match.communities = [...(match.communities ?? []), c.value];
      else match.largeCommunities = [...(match.largeCommunities ?? []), c.value];
    }
  }
  const set: { addCommunities?: number[]; addLargeCommunities?: LargeCommunity[]; prepend?: number; localPref?: number } = {};
  for (const op of r.operations ?? []) {
    if (op.addCommunity !== undefined) {
      const v = op.addCommunity.value;
      const c = parseCommunityValue(v);
      if (c === undefined) return { problem: `${where}: operations.addCommunity ${JSON.stringify(v)} is neither a:b nor a:b:c; rule ignored` };
      if (c.type === 'standard') set.addCommunities = [...(set.addCommunities ?? []), c.value];
      else set.addLargeCommunities = [...(set.addLargeCommunities ?? []), c.value];
    } else if (op.prependASPath !== undefined) {
      set.prepend = (set.prepend ?? 0) + op.prependASPath.prefix.length;
    } else if (op.setPriority !== undefined) {
      // Calico: bgp_local_pref = 2147483647 - value (sent on iBGP; on import it becomes the
      // kernel metric, kernel-routes.ts / route-priority.ts elevatedMetric).
      set.localPref = MAX_ROUTE_PRIORITY - op.setPriority.value;
    }
  }
  const ruleWith = (m: typeof match): FilterRule => ({
    ...(Object.keys(m).length > 0 ? { match: m } : {}),
    action: r.action === 'Accept' ? 'accept' : 'reject',
    ...(Object.keys(set).length > 0 ? { set } : {}),
    ...(notIn === undefined ? {} : { notIn }),
  });
  if (r.priority === undefined) return { rules: [ruleWith(match)] };
  const learned = ruleWith({ ...match, ...(direction === 'export' ? { source: 'peers' as const } : {}), localPref: MAX_ROUTE_PRIORITY - r.priority });
  if (direction === 'import' || match.source === 'peers' || r.priority !== normalPriority) return { rules: [learned] };
  return { rules: [ruleWith({ ...match, source: 'local' }), learned] };
}

const bounds = (m: PrefixMatch): [number, number] => [m.ge ?? m.prefix.length, m.le ?? m.prefix.length];

/** The part of prefix range `a` inside range `n`, or undefined when they do not meet. */
export function intersectRange(a: PrefixMatch, n: PrefixMatch): PrefixMatch | undefined {
  const [ag, al] = bounds(a), [ng, nl] = bounds(n);
  const inner = prefixContains(n.prefix, a.prefix) ? a.prefix : prefixContains(a.prefix, n.prefix) ? n.prefix : undefined;
  if (inner === undefined) return undefined;
  const ge = Math.max(ag, ng, inner.length), le = Math.min(al, nl);
  return ge > le ? undefined : { prefix: inner, ge, le };
}

function restrict(r: PolicyRule, n: PrefixMatch): PolicyRule | undefined {
  const ranges = (r.match?.prefixes ?? [{ prefix: n.prefix, ge: 0, le: 128 }]).map((p) => intersectRange(p, n)).filter((p): p is PrefixMatch => p !== undefined);
  if (ranges.length === 0) return undefined;
  return { ...r, match: { ...(r.match ?? {}), prefixes: ranges } };
}

export const MAX_LINEARIZED_RULES = 500;

/**
 * First-match rules with `notIn` → plain first-match rules with the same decisions. A route in
 * a rule's notIn range skips it: it meets the later rules (restricted to the range), then the
 * default; every other route meets the rule as written. Throws RangeError past MAX_LINEARIZED_RULES
 * (each NotIn can double the rules after it).
 */
export function linearize(rules: readonly FilterRule[], dflt: 'accept' | 'reject'): PolicyRule[] {
  const go = (i: number): PolicyRule[] => {
    const r = rules[i];
    if (r === undefined) return [];
    const rest = go(i + 1);
    const { notIn, ...plain } = r;
    if (notIn === undefined) return [plain, ...rest];
    const inside = rest.map((x) => restrict(x, notIn)).filter((x): x is PolicyRule => x !== undefined);
    const out = [...inside, { match: { prefixes: [notIn] }, action: dflt }, plain, ...rest];
    if (out.length > MAX_LINEARIZED_RULES) throw new RangeError(`NotIn/NotEqual rules expand to more than ${MAX_LINEARIZED_RULES} policy rules`);
    return out;
  };
  return go(0);
}

/** The import and export rules of the named filters, in order, for a peer of this type. */
export function filterRules(s: Snapshot, names: readonly string[], ibgp: boolean, peer: string, family: 4 | 6 = 4):
  { importRules: FilterRule[]; exportRules: FilterRule[]; problems: string[] } {
  const out = { importRules: [] as FilterRule[], exportRules: [] as FilterRule[], problems: [] as string[] };
  const eff = effectiveBgpConfiguration(s.bgpConfigs.get('default'));
  const normalPriority = family === 4 ? eff.ipv4NormalRoutePriority : eff.ipv6NormalRoutePriority;
  for (const name of names) {
    const f = s.filters.get(name);
    if (f === undefined) { out.problems.push(`${peer}: BGPFilter ${name} does not exist; ignored`); continue; }
    out.problems.push(...bgpFilterNotes(name, f));
    const lists = family === 4
      ? [['importV4', f.importV4, out.importRules], ['exportV4', f.exportV4, out.exportRules]] as const
      : [['importV6', f.importV6, out.importRules], ['exportV6', f.exportV6, out.exportRules]] as const;
    for (const [dir, list, into] of lists) {
      (list ?? []).forEach((r, i) => {
        const res = ruleToPolicy(r, ibgp, `BGPFilter ${name} spec.${dir}[${i}]`, family, dir.startsWith('import') ? 'import' : 'export', normalPriority);
        if (res.problem !== undefined) out.problems.push(res.problem);
        into.push(...(res.rules ?? []));
      });
    }
  }
  return out;
}
