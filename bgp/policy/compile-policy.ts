/**
 * Compiles a PolicyDefinition once into a function (prefix, attrs, subject) → accept with
 * (possibly new) attributes, or reject naming the rule. Attributes are returned unchanged (same
 * object) when no action applies, so callers can cache per interned attribute set.
 */
import { assertNever } from '../../common/assert-never.js';
import type { Prefix } from '../../common/prefix.js';
import { AsPathSegmentType, type AsPathSegment, type PathAttributes } from '../wire/types.js';
import type { PolicyAction, PolicyDefinition, PolicyMatch, PolicySubject } from './policy.js';
import { compilePrefixList, PolicyError } from './prefix-list.js';
import { applyCommunityAction, extMatches, largeMatches } from './communities.js';

export type PolicyResult =
  | { readonly type: 'accept'; readonly attrs: PathAttributes }
  | { readonly type: 'reject'; readonly rule: string };

export interface CompiledPolicy {
  readonly name: string;
  /** False when some rule looks at the prefix (callers then cannot cache per attribute set). */
  readonly prefixIndependent: boolean;
  evaluate(prefix: Prefix, attrs: PathAttributes, subject: PolicySubject): PolicyResult;
}

type Test = (p: Prefix, a: PathAttributes, s: PolicySubject) => boolean;

/** BIRD's string `~` pattern (patmatch): `*` any run of characters, `?` any one. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('?', '.')).join('.*')}$`);
}

function u32(v: number, where: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new PolicyError(where, `${v} is not an unsigned 32-bit value`);
  return v;
}

function compileMatch(m: PolicyMatch | undefined, where: string): { test: Test; usesPrefix: boolean } {
  const tests: Test[] = [];
  let usesPrefix = false;
  if (!m) return { test: () => true, usesPrefix };
  if (m.prefixList) {
    const pl = compilePrefixList(m.prefixList, `${where}.match.prefixList`);
    const neg = m.prefixListNegate === true;
    tests.push((p) => pl(p) !== neg);
    usesPrefix = true;
  }
  if (m.family) { const f = m.family; tests.push((p) => p.family === f); usesPrefix = true; }
  if (m.communities) {
    const want = new Set(m.communities.map((c, i) => u32(c, `${where}.match.communities[${i}]`)));
    tests.push((_p, a) => (a.communities ?? []).some((c) => want.has(c)));
  }
  if (m.allCommunities) {
    const want = m.allCommunities.map((c, i) => u32(c, `${where}.match.allCommunities[${i}]`));
    tests.push((_p, a) => { const have = a.communities ?? []; return want.every((c) => have.includes(c)); });
  }
  if (m.largeCommunities) {
    const want = new Set(m.largeCommunities.map((c) => `${c.globalAdmin}:${c.localData1}:${c.localData2}`));
    tests.push((_p, a) => (a.largeCommunities ?? []).some((c) => want.has(`${c.globalAdmin}:${c.localData1}:${c.localData2}`)));
  }
  if (m.largeCommunityPatterns) {
    const want = m.largeCommunityPatterns;
    tests.push((_p, a) => (a.largeCommunities ?? []).some((c) => want.some((w) => largeMatches(c, w))));
  }
  if (m.extendedCommunities) {
    const want = m.extendedCommunities;
    tests.push((_p, a) => (a.extendedCommunities ?? []).some((c) => want.some((w) => extMatches(c, w))));
  }
  if (m.asPathContains) {
    const want = new Set(m.asPathContains);
    tests.push((_p, a) => (a.asPath ?? []).some((s) => s.asns.some((x) => want.has(x))));
  }
  if (m.asPathPrefix) {
    const want = m.asPathPrefix;
    tests.push((_p, a) => {
      const flat: number[] = [];
      for (const s of a.asPath ?? []) { if (s.type !== AsPathSegmentType.AS_SEQUENCE) break; flat.push(...s.asns); if (flat.length >= want.length) break; }
      return want.every((x, i) => flat[i] === x);
    });
  }
  if (m.sourceKind) { const k = new Set(m.sourceKind); tests.push((_p, _a, s) => k.has(s.sourceKind)); }
  if (m.sourcePeer) { const k = new Set(m.sourcePeer); tests.push((_p, _a, s) => k.has(s.sourcePeer)); }
  if (m.localPref !== undefined) { const want = u32(m.localPref, `${where}.match.localPref`); tests.push((_p, a) => a.localPref === want); }
  if (m.interface !== undefined) {
    const re = globToRegExp(m.interface);
    tests.push((_p, _a, s) => s.interface !== undefined && re.test(s.interface));
  }
  return { test: (p, a, s) => tests.every((t) => t(p, a, s)), usesPrefix };
}

function prependPath(path: readonly AsPathSegment[] | undefined, asns: readonly number[]): AsPathSegment[] {
  const rest = path ?? [];
  const first = rest[0];
  if (first && first.type === AsPathSegmentType.AS_SEQUENCE && first.asns.length + asns.length <= 255) {
    return [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [...asns, ...first.asns] }, ...rest.slice(1)];
  }
  return [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [...asns] }, ...rest];
}

/** Applies one action; returns a new object (never mutates). */
export function applyAction(a: PathAttributes, act: PolicyAction, localAs: number): PathAttributes {
  switch (act.type) {
    case 'set-local-pref': return { ...a, localPref: act.value };
    case 'set-med': return { ...a, med: act.value };
    case 'add-communities': {
      const cur = a.communities ?? [];
      const add = act.values.filter((c) => !cur.includes(c));
      return add.length === 0 ? a : { ...a, communities: [...cur, ...add] };
    }
    case 'remove-communities': {
      if (!a.communities) return a;
      const drop = new Set(act.values);
      const kept = a.communities.filter((c) => !drop.has(c));
      if (kept.length === a.communities.length) return a;
      const { communities: _c, ...rest } = a;
      return kept.length === 0 ? rest : { ...rest, communities: kept };
    }
    case 'add-large-communities': {
      const cur = a.largeCommunities ?? [];
      const key = (c: { globalAdmin: number; localData1: number; localData2: number }) => `${c.globalAdmin}:${c.localData1}:${c.localData2}`;
      const have = new Set(cur.map(key));
      const add = act.values.filter((c) => !have.has(key(c)));
      return add.length === 0 ? a : { ...a, largeCommunities: [...cur, ...add] };
    }
    case 'prepend': {
      const one = act.asns ?? [localAs];
      const n = act.count ?? 1;
      const all: number[] = [];
      for (let i = 0; i < n; i++) all.push(...one);
      return all.length === 0 ? a : { ...a, asPath: prependPath(a.asPath, all) };
    }
    case 'set-communities': case 'set-large-communities': case 'remove-large-communities':
    case 'set-extended-communities': case 'add-extended-communities': case 'remove-extended-communities':
      return applyCommunityAction(a, act);
    default: return assertNever(act, 'policy action');
  }
}

function checkAction(act: PolicyAction, where: string): void {
  switch (act.type) {
    case 'set-local-pref': case 'set-med': u32(act.value, `${where}.value`); return;
    case 'add-communities': case 'remove-communities': act.values.forEach((v, i) => u32(v, `${where}.values[${i}]`)); return;
    case 'add-large-communities': case 'set-large-communities': case 'remove-large-communities': return;
    case 'set-communities': act.values.forEach((v, i) => u32(v, `${where}.values[${i}]`)); return;
    case 'set-extended-communities': case 'add-extended-communities':
      act.values.forEach((v, i) => { if (v.length !== 8) throw new PolicyError(`${where}.values[${i}]`, 'an extended community is 8 octets'); });
      return;
    case 'remove-extended-communities': return;
    case 'prepend':
      if (act.count !== undefined && (!Number.isInteger(act.count) || act.count < 0 || act.count > 32)) throw new PolicyError(`${where}.count`, `${act.count} must be an integer 0..32`);
      (act.asns ?? []).forEach((v, i) => u32(v, `${where}.asns[${i}]`));
      return;
    default: assertNever(act, 'policy action');
  }
}

/** Throws PolicyError (naming the rule and field) for invalid definitions. */
export function compilePolicy(def: PolicyDefinition): CompiledPolicy {
  const name = def.name ?? 'policy';
  const rules = def.rules.map((r, i) => {
    const where = `${name}.rules[${i}]${r.name ? ` (${r.name})` : ''}`;
    const m = compileMatch(r.match, where);
    (r.actions ?? []).forEach((a, j) => checkAction(a, `${where}.actions[${j}]`));
    return { label: r.name ?? `rule ${i}`, ...m, actions: r.actions ?? [], result: r.result ?? 'accept' };
  });
  const dflt = def.defaultAction ?? 'accept';
  return {
    name,
    prefixIndependent: rules.every((r) => !r.usesPrefix),
    evaluate(prefix, attrs, subject) {
      let a = attrs;
      for (const r of rules) {
        if (!r.test(prefix, a, subject)) continue;
        if (r.result === 'reject') return { type: 'reject', rule: r.label };
        for (const act of r.actions) a = applyAction(a, act, subject.localAs);
        if (r.result === 'accept') return { type: 'accept', attrs: a };
      }
      return dflt === 'accept' ? { type: 'accept', attrs: a } : { type: 'reject', rule: 'default' };
    },
  };
}
