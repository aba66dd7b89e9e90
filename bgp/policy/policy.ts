/**
 * The import/export policy model: ordered rules, each a conjunction of matches plus actions and
 * a result (accept, reject, or continue to the next rule), and a default action. Plain data so
 * it can come from any front end (the speaker's PolicyConfig, bgp/speaker/policy-config.ts); compilePolicy()
 * turns it into a fast matcher once.
 */
import type { Prefix } from '../../common/prefix.js';
import type { LargeCommunity } from '../wire/types.js';
import type { ExtCommunityPattern, LargeCommunityPattern } from './communities.js';

/**
 * Cisco/FRR semantics: the route's prefix must lie inside `prefix`; its length must be in
 * [ge, le]. Neither → exact length; only ge → le is the family maximum; only le → ge is
 * prefix.length ("orlonger" = le 32/128).
 */
export interface PrefixListEntry {
  readonly prefix: Prefix;
  readonly ge?: number;
  readonly le?: number;
}

export type SourceKindMatch = 'ebgp' | 'ibgp' | 'local';

/** Every present field must hold (AND); lists inside a field are alternatives (OR). */
export interface PolicyMatch {
  /** Matches when any entry matches (or none does, with `prefixListNegate`). */
  readonly prefixList?: readonly PrefixListEntry[];
  readonly prefixListNegate?: boolean;
  readonly family?: 4 | 6;
  /** The route carries any of these RFC 1997 communities. */
  readonly communities?: readonly number[];
  /** The route carries every one of these RFC 1997 communities. */
  readonly allCommunities?: readonly number[];
  readonly largeCommunities?: readonly LargeCommunity[];
  /** The route carries a large community matching any of these patterns. */
  readonly largeCommunityPatterns?: readonly LargeCommunityPattern[];
  /** The route carries an extended community matching any of these patterns. */
  readonly extendedCommunities?: readonly ExtCommunityPattern[];
  /** AS_PATH contains any of these ASes. */
  readonly asPathContains?: readonly number[];
  /** AS_PATH starts with exactly this sequence (Calico asPathPrefix). */
  readonly asPathPrefix?: readonly number[];
  /** Where the route came from. */
  readonly sourceKind?: readonly SourceKindMatch[];
  /** Source neighbour ids. */
  readonly sourcePeer?: readonly string[];
  /** Glob (`*`, `?`: BIRD's patmatch) on the route's interface: the one toward the neighbour it came from (rib PeerInfo.interface). */
  readonly interface?: string;
  /** LOCAL_PREF equals this value (absent LOCAL_PREF never matches). */
  readonly localPref?: number;
}

export type PolicyAction =
  | { readonly type: 'set-local-pref'; readonly value: number }
  | { readonly type: 'set-med'; readonly value: number }
  | { readonly type: 'add-communities'; readonly values: readonly number[] }
  | { readonly type: 'remove-communities'; readonly values: readonly number[] }
  | { readonly type: 'add-large-communities'; readonly values: readonly LargeCommunity[] }
  /** Prepends `asns` in order, `count` times (asns default to [context localAs]). */
  | { readonly type: 'prepend'; readonly asns?: readonly number[]; readonly count?: number }
  | CommunityAction;

/** Replace, add to or remove from the communities of each kind (communities.ts applies them); an empty set removes the attribute. */
export type CommunityAction =
  | { readonly type: 'set-communities'; readonly values: readonly number[] }
  | { readonly type: 'set-large-communities'; readonly values: readonly LargeCommunity[] }
  | { readonly type: 'remove-large-communities'; readonly patterns: readonly LargeCommunityPattern[] }
  | { readonly type: 'set-extended-communities'; readonly values: readonly Uint8Array[] }
  | { readonly type: 'add-extended-communities'; readonly values: readonly Uint8Array[] }
  | { readonly type: 'remove-extended-communities'; readonly patterns: readonly ExtCommunityPattern[] };

export interface PolicyRule {
  readonly name?: string;
  readonly match?: PolicyMatch;
  readonly actions?: readonly PolicyAction[];
  /** What happens after the actions when the rule matches (default accept). */
  readonly result?: 'accept' | 'reject' | 'continue';
}

export interface PolicyDefinition {
  readonly name?: string;
  readonly rules: readonly PolicyRule[];
  /** When no rule decides (default accept). */
  readonly defaultAction?: 'accept' | 'reject';
}

/** Facts about the route besides prefix and attributes. */
export interface PolicySubject {
  readonly sourceKind: SourceKindMatch;
  readonly sourcePeer: string;
  readonly interface?: string;
  /** Our AS, for prepend without explicit ASes. */
  readonly localAs: number;
}
