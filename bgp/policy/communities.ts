/**
 * Extended (RFC 4360) and large (RFC 8092) communities in policy: patterns to match and remove
 * (a field may be "*"), and the text forms of configuration, as BIRD's `bgp_ext_community` /
 * `bgp_large_community` pairs and FRR's `rt ASN:NN` / `soo ...` / `ASN:N1:N2` lists:
 *
 *   extended  rt:65000:100  rt:192.0.2.1:7  rt:4200000000:5  soo:65000:1   (route target / origin,
 *             2-octet AS, IPv4 or 4-octet AS administrator: types 0x00 / 0x01 / 0x02, RFC 4360
 *             §3.1-3.2, RFC 5668), 0x0002fde800000064 (any 8 octets), a last field "*" matches any
 *   large     65000:1:2, 65000:*:*, *:*:7
 */
import { isValidAddress, parseAddress } from '../../common/prefix.js';
import { assertNever } from '../../common/assert-never.js';
import type { LargeCommunity, PathAttributes } from '../wire/types.js';
import type { CommunityAction } from './policy.js';
import { PolicyError } from './prefix-list.js';

/** An extended community pattern: the octets that must equal `value` are those set in `mask`. */
export interface ExtCommunityPattern { readonly value: Uint8Array; readonly mask: Uint8Array }

/** A large community pattern: an absent field matches any value. */
export interface LargeCommunityPattern { readonly globalAdmin?: number; readonly localData1?: number; readonly localData2?: number }

const SUBTYPES: Readonly<Record<string, number>> = { rt: 0x02, soo: 0x03 };
const U16 = 0xffff, U32 = 0xffffffff;

function num(s: string, max: number, what: string, text: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) > max) throw new PolicyError(text, `${what} ${JSON.stringify(s)} must be 0..${max}`);
  return Number(s);
}

/** "rt:65000:100", "soo:192.0.2.1:7", "0x0002fde800000064", last field "*" allowed. */
export function parseExtCommunityPattern(text: string): ExtCommunityPattern {
  const value = new Uint8Array(8), mask = new Uint8Array(8).fill(0xff);
  const hex = /^0x([0-9a-fA-F]{16})$/.exec(text);
  if (hex) {
    for (let i = 0; i < 8; i++) value[i] = parseInt(hex[1]!.slice(i * 2, i * 2 + 2), 16);
    return { value, mask };
  }
  const m = /^(rt|soo):(.+):([^:]+)$/.exec(text);
  if (!m) throw new PolicyError(text, 'extended community must be rt:ADMIN:N, soo:ADMIN:N or 0x + 16 hex digits (ADMIN: AS number or IPv4 address)');
  const sub = SUBTYPES[m[1]!]!;
  const admin = m[2]!, local = m[3]!;
  const dv = new DataView(value.buffer);
  let localAt: number, localMax: number;
  if (isValidAddress(admin) && !admin.includes(':')) {
    value[0] = 0x01; value.set(parseAddress(admin).bytes, 2); localAt = 6; localMax = U16;
  } else {
    const asn = num(admin, U32, 'administrator AS', text);
    if (asn <= U16) { value[0] = 0x00; dv.setUint16(2, asn); localAt = 4; localMax = U32; } else { value[0] = 0x02; dv.setUint32(2, asn); localAt = 6; localMax = U16; }
  }
  value[1] = sub;
  if (local === '*') mask.fill(0, localAt);
  else if (localMax === U16) dv.setUint16(localAt, num(local, U16, 'local value', text));
  else dv.setUint32(localAt, num(local, U32, 'local value', text));
  return { value, mask };
}

/** An exact extended community (no "*"): its 8 octets. */
export function parseExtCommunity(text: string): Uint8Array {
  const p = parseExtCommunityPattern(text);
  if (p.mask.some((b) => b !== 0xff)) throw new PolicyError(text, 'a wildcard is only allowed where communities are matched or removed');
  return p.value;
}

/** "65000:1:2", fields may be "*". */
export function parseLargeCommunityPattern(text: string): LargeCommunityPattern {
  const parts = text.split(':');
  if (parts.length !== 3) throw new PolicyError(text, 'large community must be GLOBAL:LOCAL1:LOCAL2 (each 0..4294967295 or *)');
  const [g, l1, l2] = parts.map((p) => (p === '*' ? undefined : num(p, U32, 'large community field', text)));
  return { ...(g !== undefined ? { globalAdmin: g } : {}), ...(l1 !== undefined ? { localData1: l1 } : {}), ...(l2 !== undefined ? { localData2: l2 } : {}) };
}

export function parseLargeCommunity(text: string): LargeCommunity {
  const p = parseLargeCommunityPattern(text);
  if (p.globalAdmin === undefined || p.localData1 === undefined || p.localData2 === undefined) {
    throw new PolicyError(text, 'a wildcard is only allowed where communities are matched or removed');
  }
  return { globalAdmin: p.globalAdmin, localData1: p.localData1, localData2: p.localData2 };
}

export function extMatches(c: Uint8Array, p: ExtCommunityPattern): boolean {
  if (c.length !== 8) return false;
  for (let i = 0; i < 8; i++) if (((c[i]! ^ p.value[i]!) & p.mask[i]!) !== 0) return false;
  return true;
}

export function largeMatches(c: LargeCommunity, p: LargeCommunityPattern): boolean {
  return (p.globalAdmin === undefined || p.globalAdmin === c.globalAdmin)
    && (p.localData1 === undefined || p.localData1 === c.localData1)
    && (p.localData2 === undefined || p.localData2 === c.localData2);
}

export const extKey = (c: Uint8Array): string => Array.from(c).join('.');
export const largeKey = (c: LargeCommunity): string => `${c.globalAdmin}:${c.localData1}:${c.localData2}`;

/** `list` plus what of `add` it lacks (by key), or `list` itself when nothing is new. */
export function addUnique<T>(list: readonly T[] | undefined, add: readonly T[], key: (x: T) => string): readonly T[] | undefined {
  const have = new Set((list ?? []).map(key));
  const extra: T[] = [];
  for (const x of add) { const k = key(x); if (!have.has(k)) { have.add(k); extra.push(x); } }
  return extra.length === 0 ? list : [...(list ?? []), ...extra];
}

type Mut = { -readonly [K in keyof PathAttributes]: PathAttributes[K] };

/** `a` with `key` set to `list`, or without it when the list is empty (a new object; never mutates). */
function withList<K extends 'communities' | 'largeCommunities' | 'extendedCommunities'>(a: PathAttributes, key: K, list: PathAttributes[K] | undefined): PathAttributes {
  const out: Mut = { ...a };
  if (list === undefined || list.length === 0) delete out[key]; else out[key] = list;
  return out;
}

/** Applies one community action; returns `a` itself when nothing changes. */
export function applyCommunityAction(a: PathAttributes, act: CommunityAction): PathAttributes {
  switch (act.type) {
    case 'set-communities': return withList(a, 'communities', [...new Set(act.values)]);
    case 'set-large-communities': return withList(a, 'largeCommunities', addUnique([], act.values, largeKey));
    case 'set-extended-communities': return withList(a, 'extendedCommunities', addUnique([], act.values, extKey));
    case 'add-extended-communities': {
      const l = addUnique(a.extendedCommunities, act.values, extKey);
      return l === a.extendedCommunities ? a : withList(a, 'extendedCommunities', l);
    }
    case 'remove-extended-communities': {
      const cur = a.extendedCommunities;
      const kept = cur?.filter((c) => !act.patterns.some((p) => extMatches(c, p)));
      return !cur || kept?.length === cur.length ? a : withList(a, 'extendedCommunities', kept);
    }
    case 'remove-large-communities': {
      const cur = a.largeCommunities;
      const kept = cur?.filter((c) => !act.patterns.some((p) => largeMatches(c, p)));
      return !cur || kept?.length === cur.length ? a : withList(a, 'largeCommunities', kept);
    }
    default: return assertNever(act, 'community action');
  }
}
