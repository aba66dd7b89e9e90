/**
 * The backend-neutral rule model: chains of rules built from a few typed matches and actions,
 * plus the sets they reference. Both backends render the same model, and every rule carries
 * the same hash (`tortie:<hash>` comment) whichever backend writes it, so drift is found by
 * reading back comments only. The hash covers the chain name, the previous rule's hash and the
 * rule itself (as Calico's iptables.Table does), so a reordered or edited rule changes hash.
 */
import { createHash } from 'node:crypto';
import { formatAddress, formatPrefix, parseAddress, parsePrefix, type Family } from '../../common/prefix.js';

/** Logical set names; the backends map them to `table ip tortie` sets or `tortie40<name>` ipsets. */
export const SetName = {
  allIpamPools: 'all-ipam-pools',
  masqIpamPools: 'masq-ipam-pools',
  allHostsNet: 'all-hosts-net',
} as const;
export type SetName = string;

export type Match =
  | { readonly type: 'src-set'; readonly set: SetName; readonly negate: boolean }
  | { readonly type: 'dst-set'; readonly set: SetName; readonly negate: boolean }
  /** IP protocol number (4 = IPIP). */
  | { readonly type: 'ip-proto'; readonly proto: number }
  | { readonly type: 'udp-dport'; readonly port: number }
  | { readonly type: 'dst-local' }
  /** Output interface; a trailing `+` is a prefix wildcard (iptables syntax, as Felix takes it). */
  | { readonly type: 'out-iface'; readonly name: string };

export type Action =
  | { readonly type: 'accept' }
  | { readonly type: 'drop' }
  | { readonly type: 'return' }
  | { readonly type: 'jump'; readonly chain: string }
  | { readonly type: 'masquerade' }
  | { readonly type: 'snat'; readonly address: string };

export interface RuleSpec {
  readonly matches: readonly Match[];
  readonly action: Action;
}

export interface Rule extends RuleSpec {
  /** 16 base64url characters; the comment in the kernel is `tortie:<hash>`. */
  readonly hash: string;
}

export type TableKind = 'filter' | 'nat';
export type Hook = 'input' | 'forward' | 'output' | 'postrouting';

export interface ChainDef {
  /** Logical name: nft uses it verbatim in our table, iptables prefixes `tortie-`. */
  readonly name: string;
  readonly table: TableKind;
  /** Base chain hooked into the kernel hook (nft) / jumped to first from the built-in chain (iptables). */
  readonly hook?: Hook;
  readonly rules: readonly Rule[];
}

export interface SetDef {
  readonly name: SetName;
  /** `net` holds prefixes (nft interval set / ipset hash:net); `addr` holds host addresses. */
  readonly kind: 'net' | 'addr';
  /** Canonical text: "10.65.0.0/16" for net, "10.0.0.1" for addr. */
  readonly elements: ReadonlySet<string>;
}

export interface Ruleset {
  readonly family: Family;
  readonly chains: readonly ChainDef[];
  readonly sets: readonly SetDef[];
}

export const COMMENT_PREFIX = 'tortie:';

export function ruleHash(chain: string, spec: RuleSpec): string {
  return createHash('sha256')
    .update(`${chain}|${JSON.stringify(spec.matches)}|${JSON.stringify(spec.action)}`)
    .digest('base64url').slice(0, 16);
}

/** Attach hashes to a chain's rules. */
export function hashRules(chain: string, specs: readonly RuleSpec[]): Rule[] {
  return specs.map((s) => ({ matches: s.matches, action: s.action, hash: ruleHash(chain, s) }));
}

/** The hash of the jump rule from a built-in chain to our hooked chain (iptables backend). */
export function hookHash(builtin: string, target: string): string {
  return ruleHash(`hook:${builtin}`, { matches: [], action: { type: 'jump', chain: target } });
}

/** The hashes of a chain, in order: what a read-back is compared with. */
export function chainHashes(chain: ChainDef): string[] {
  return chain.rules.map((r) => r.hash);
}

const CANON_V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Canonical element text: "10.65.0.0/16" in a net set, "10.0.0.1" in an addr set. Throws on junk. */
export function canonicalElement(text: string, kind: 'net' | 'addr'): string {
  // Fast path (read-back of 100k-element sets): canonical dotted quads are already canonical.
  if (CANON_V4.test(text)) return kind === 'addr' ? text : `${text}/32`;
  if (kind === 'addr') return formatAddress(parseAddress(text));
  if (text.includes('/')) return formatPrefix(parsePrefix(text, { allowHostBits: true }));
  const a = parseAddress(text);
  return `${formatAddress(a)}/${a.family === 4 ? 32 : 128}`;
}

