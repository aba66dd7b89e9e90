/**
 * Import/export policy evaluation for the speaker's PolicyConfig (first matching rule wins).
 * Interim until bgp/policy/ lands; pure function, no I/O.
 */
import { prefixContains, type Prefix } from '../../common/prefix.js';
import type { PathAttributes } from '../wire/types.js';
import type { PolicyConfig, PolicyRule } from './peer-config.js';

export type PolicyResult =
  | { readonly type: 'accept'; readonly attributes: PathAttributes; readonly prepend: number }
  | { readonly type: 'reject'; readonly rule: number | 'default' };

function matches(rule: PolicyRule, prefix: Prefix, a: PathAttributes): boolean {
  const m = rule.match;
  if (!m) return true;
  if (m.prefixes && !m.prefixes.some((pm) => prefixContains(pm.prefix, prefix)
    && prefix.length >= (pm.ge ?? pm.prefix.length)
    && prefix.length <= (pm.le ?? (pm.ge !== undefined ? (prefix.family === 4 ? 32 : 128) : pm.prefix.length)))) return false;
  if (m.communities && !m.communities.every((c) => a.communities?.includes(c))) return false;
  return true;
}

export function applyPolicy(policy: PolicyConfig | undefined, prefix: Prefix, a: PathAttributes): PolicyResult {
  if (!policy) return { type: 'accept', attributes: a, prepend: 0 };
  for (const [i, rule] of policy.rules.entries()) {
    if (!matches(rule, prefix, a)) continue;
    if (rule.action === 'reject') return { type: 'reject', rule: i };
    const s = rule.set;
    if (!s) return { type: 'accept', attributes: a, prepend: 0 };
    let comms = a.communities ? [...a.communities] : [];
    if (s.removeCommunities) comms = comms.filter((c) => !s.removeCommunities?.includes(c));
    for (const c of s.addCommunities ?? []) if (!comms.includes(c)) comms.push(c);
    const { communities: _drop, ...rest } = a;
    return {
      type: 'accept', prepend: s.prepend ?? 0,
      attributes: {
        ...rest, ...(comms.length ? { communities: comms } : {}),
        ...(s.localPref !== undefined ? { localPref: s.localPref } : {}),
        ...(s.med !== undefined ? { med: s.med } : {}),
      },
    };
  }
  return policy.default === 'accept' ? { type: 'accept', attributes: a, prepend: 0 } : { type: 'reject', rule: 'default' };
}
