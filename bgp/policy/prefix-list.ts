/**
 * Prefix-list matching compiled to integer compares (IPv4) or byte compares (IPv6).
 * Semantics in policy.ts (PrefixListEntry).
 */
import { ipv4ToInt, maskBytes, bytesEqual, formatPrefix, type Prefix } from '../../common/prefix.js';
import type { PrefixListEntry } from './policy.js';

export class PolicyError extends Error {
  readonly code = 'invalid-policy';
  constructor(readonly where: string, readonly reason: string) {
    super(`invalid policy at ${where}: ${reason}`);
    this.name = 'PolicyError';
  }
}

interface V4Entry { readonly addr: number; readonly mask: number; readonly ge: number; readonly le: number }
interface V6Entry { readonly prefix: Prefix; readonly ge: number; readonly le: number }

export type PrefixMatcher = (p: Prefix) => boolean;

export function entryBounds(e: PrefixListEntry, where = 'prefix list'): { ge: number; le: number } {
  const max = e.prefix.family === 4 ? 32 : 128;
  const ge = e.ge ?? e.prefix.length;
  const le = e.le ?? (e.ge !== undefined ? max : e.prefix.length);
  if (!Number.isInteger(ge) || !Number.isInteger(le) || ge < e.prefix.length || le > max || ge > le) {
    throw new PolicyError(where, `${formatPrefix(e.prefix)} ge ${e.ge ?? '-'} le ${e.le ?? '-'}: need ${e.prefix.length} ≤ ge ≤ le ≤ ${max}`);
  }
  return { ge, le };
}

export function compilePrefixList(entries: readonly PrefixListEntry[], where = 'prefix list'): PrefixMatcher {
  const v4: V4Entry[] = [];
  const v6: V6Entry[] = [];
  entries.forEach((e, i) => {
    const { ge, le } = entryBounds(e, `${where}[${i}]`);
    if (e.prefix.family === 4) {
      const mask = e.prefix.length === 0 ? 0 : (0xffffffff << (32 - e.prefix.length)) >>> 0;
      v4.push({ addr: (ipv4ToInt(e.prefix.bytes) & mask) >>> 0, mask, ge, le });
    } else {
      v6.push({ prefix: { ...e.prefix, bytes: maskBytes(e.prefix.bytes, e.prefix.length) }, ge, le });
    }
  });
  return (p) => {
    if (p.family === 4) {
      const a = ipv4ToInt(p.bytes);
      for (const e of v4) if (p.length >= e.ge && p.length <= e.le && ((a & e.mask) >>> 0) === e.addr) return true;
      return false;
    }
    for (const e of v6) {
      if (p.length >= e.ge && p.length <= e.le && bytesEqual(maskBytes(p.bytes, e.prefix.length), e.prefix.bytes)) return true;
    }
    return false;
  };
}
