/**
 * Calico BGPFilter (calico-compat.md §1.6) on top of the policy model: ordered rules, first match
 * decides, no match → accept. Equal/NotEqual/In/NotIn on `cidr` with optional prefixLength
 * min/max, source RemotePeers, interface glob, peerType, one community, asPathPrefix, and the
 * operations addCommunity / prependASPath.
 */
import { isValidPrefix, parsePrefix } from '../../common/prefix.js';
import type { PolicyAction, PolicyDefinition, PolicyMatch, PolicyRule } from './policy.js';
import { PolicyError } from './prefix-list.js';

export interface CalicoBgpFilterRule {
  readonly action: 'Accept' | 'Reject';
  readonly cidr?: string;
  readonly matchOperator?: 'Equal' | 'NotEqual' | 'In' | 'NotIn';
  readonly prefixLength?: { readonly min?: number; readonly max?: number };
  readonly source?: 'RemotePeers';
  readonly interface?: string;
  readonly peerType?: 'eBGP' | 'iBGP';
  readonly communities?: { readonly values: readonly string[] };
  readonly asPathPrefix?: readonly number[];
  readonly operations?: ReadonlyArray<{ readonly addCommunity?: { readonly value: string }; readonly prependASPath?: { readonly prefix: readonly number[] } }>;
}

/** "65000:100" (standard) → uint32; large communities are not expressible here yet. */
export function parseCommunity(text: string, where: string): number {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  const hi = Number(m?.[1]), lo = Number(m?.[2]);
  if (!m || hi > 0xffff || lo > 0xffff) throw new PolicyError(where, `community ${JSON.stringify(text)} is not "asn:value" with 16-bit parts`);
  return ((hi << 16) | lo) >>> 0;
}

function ruleFrom(r: CalicoBgpFilterRule, family: 4 | 6, where: string): PolicyRule {
  const max = family === 4 ? 32 : 128;
  const match: { -readonly [K in keyof PolicyMatch]: PolicyMatch[K] } = { family };
  if ((r.cidr === undefined) !== (r.matchOperator === undefined)) throw new PolicyError(where, 'cidr and matchOperator must be set together');
  if (r.cidr !== undefined && r.matchOperator !== undefined) {
    if (!isValidPrefix(r.cidr)) throw new PolicyError(`${where}.cidr`, `${JSON.stringify(r.cidr)} is not a CIDR`);
    const prefix = parsePrefix(r.cidr);
    if (prefix.family !== family) throw new PolicyError(`${where}.cidr`, `${r.cidr} is not IPv${family}`);
    const exact = r.matchOperator === 'Equal' || r.matchOperator === 'NotEqual';
    const ge = exact ? prefix.length : Math.max(prefix.length, r.prefixLength?.min ?? prefix.length);
    const le = exact ? prefix.length : Math.min(max, r.prefixLength?.max ?? max);
    match.prefixList = [{ prefix, ge, le }];
    match.prefixListNegate = r.matchOperator === 'NotEqual' || r.matchOperator === 'NotIn';
  }
  if (r.source === 'RemotePeers') match.sourceKind = ['ebgp', 'ibgp'];
  if (r.peerType) match.sourceKind = [r.peerType === 'eBGP' ? 'ebgp' : 'ibgp'];
  if (r.interface !== undefined) match.interface = r.interface;
  if (r.communities) match.communities = r.communities.values.map((v, i) => parseCommunity(v, `${where}.communities.values[${i}]`));
  if (r.asPathPrefix) match.asPathPrefix = r.asPathPrefix;
  const actions: PolicyAction[] = [];
  (r.operations ?? []).forEach((op, i) => {
    if (r.action !== 'Accept') throw new PolicyError(`${where}.operations[${i}]`, 'operations are allowed on Accept rules only');
    if (op.addCommunity) actions.push({ type: 'add-communities', values: [parseCommunity(op.addCommunity.value, `${where}.operations[${i}].addCommunity`)] });
    if (op.prependASPath) actions.push({ type: 'prepend', asns: op.prependASPath.prefix, count: 1 });
  });
  return { name: where, match, actions, result: r.action === 'Accept' ? 'accept' : 'reject' };
}

/** One direction and family of a BGPFilter (e.g. spec.importV4) as a policy. */
export function bgpFilterToPolicy(name: string, rules: readonly CalicoBgpFilterRule[], family: 4 | 6): PolicyDefinition {
  return { name, rules: rules.map((r, i) => ruleFrom(r, family, `${name}[${i}]`)), defaultAction: 'accept' };
}
