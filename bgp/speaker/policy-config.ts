/**
 * The speaker's PolicyConfig (peer-config.ts: first matching rule wins, prefix lists with ge/le,
 * "all of these communities", accept/reject, set communities / LOCAL_PREF / MED / prepend) as a
 * bgp/policy PolicyDefinition, compiled once. Equal configs share one CompiledPolicy object, so
 * peers with the same export policy land in the same update group (exportTargetKey compares
 * policies by identity). An accept-all policy compiles to undefined: no policy work at all.
 */
import { compilePolicy, type CompiledPolicy } from '../policy/compile-policy.js';
import type { PolicyAction, PolicyDefinition, PolicyMatch, PolicyRule } from '../policy/policy.js';
import type { PolicyConfig } from './peer-config.js';

/** Communities written as (asn << 16) | value are negative in JS for asn ≥ 32768. */
const u32 = (c: number): number => (Number.isInteger(c) && c >= -0x80000000 && c < 0 ? c >>> 0 : c);

export type PolicyDirection = 'import' | 'export';

/** The bgp/policy definition equivalent to `cfg` (prepend only applies on export). */
export function toPolicyDefinition(cfg: PolicyConfig, direction: PolicyDirection, name = direction): PolicyDefinition {
  const rules = cfg.rules.map((r, i): PolicyRule => {
    const match: { -readonly [K in keyof PolicyMatch]: PolicyMatch[K] } = {};
    if (r.match?.prefixes) match.prefixList = r.match.prefixes.map((p) => ({ prefix: p.prefix, ...(p.ge !== undefined ? { ge: p.ge } : {}), ...(p.le !== undefined ? { le: p.le } : {}) }));
    if (r.match?.communities?.length) match.allCommunities = r.match.communities.map(u32);
    if (r.match?.source !== undefined) match.sourceKind = r.match.source === 'peers' ? ['ebgp', 'ibgp'] : ['local'];
    if (r.match?.asPathPrefix?.length) match.asPathPrefix = [...r.match.asPathPrefix];
    if (r.match?.largeCommunities?.length) match.largeCommunities = [...r.match.largeCommunities];
    if (r.match?.largeCommunityPatterns?.length) match.largeCommunityPatterns = [...r.match.largeCommunityPatterns];
    if (r.match?.extendedCommunities?.length) match.extendedCommunities = [...r.match.extendedCommunities];
    if (r.match?.localPref !== undefined) match.localPref = r.match.localPref;
    if (r.match?.interface !== undefined) match.interface = r.match.interface;
    const actions: PolicyAction[] = [];
    const s = r.set;
    if (r.action === 'accept' && s) {
      // set (replace) first, then remove, then add: FRR's `set community X` then `comm-list delete`, then additive
      if (s.setCommunities) actions.push({ type: 'set-communities', values: s.setCommunities.map(u32) });
      if (s.setLargeCommunities) actions.push({ type: 'set-large-communities', values: [...s.setLargeCommunities] });
      if (s.setExtendedCommunities) actions.push({ type: 'set-extended-communities', values: [...s.setExtendedCommunities] });
      if (s.removeLargeCommunities?.length) actions.push({ type: 'remove-large-communities', patterns: [...s.removeLargeCommunities] });
      if (s.removeExtendedCommunities?.length) actions.push({ type: 'remove-extended-communities', patterns: [...s.removeExtendedCommunities] });
      if (s.addExtendedCommunities?.length) actions.push({ type: 'add-extended-communities', values: [...s.addExtendedCommunities] });
      if (s.removeCommunities?.length) actions.push({ type: 'remove-communities', values: s.removeCommunities.map(u32) });
      if (s.addCommunities?.length) actions.push({ type: 'add-communities', values: s.addCommunities.map(u32) });
      if (s.addLargeCommunities?.length) actions.push({ type: 'add-large-communities', values: [...s.addLargeCommunities] });
      if (s.localPref !== undefined) actions.push({ type: 'set-local-pref', value: s.localPref });
      if (s.med !== undefined) actions.push({ type: 'set-med', value: s.med });
      if (direction === 'export' && s.prepend) actions.push({ type: 'prepend', count: s.prepend });
    }
    return { name: `rule ${i}`, ...(Object.keys(match).length ? { match } : {}), ...(actions.length ? { actions } : {}), result: r.action };
  });
  return { name, rules, defaultAction: cfg.default };
}

const cache = new Map<string, CompiledPolicy>();

/**
 * The compiled policy for a peer's import or export config; undefined when it accepts
 * everything unchanged. Throws PolicyError naming the rule for invalid values.
 */
export function compilePeerPolicy(cfg: PolicyConfig | undefined, direction: PolicyDirection): CompiledPolicy | undefined {
  if (!cfg || (cfg.rules.length === 0 && cfg.default === 'accept')) return undefined;
  const key = direction + JSON.stringify(cfg, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v));
  let c = cache.get(key);
  if (!c) {
    c = compilePolicy(toPolicyDefinition(cfg, direction));
    if (cache.size > 1000) cache.clear();
    cache.set(key, c);
  }
  return c;
}
