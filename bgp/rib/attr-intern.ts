/**
 * Attribute interning: identical PathAttributes share one frozen object, so a million routes
 * with one attribute set cost one attribute object. Lookups hash a canonical text key once per
 * UPDATE (not per prefix); references are counted so the entry is dropped when the last route
 * using it goes away. Identity of interned objects is what the Adj-RIB-Out groups NLRI by.
 */
import type { PathAttributes } from '../wire/types.js';

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** A canonical text key: equal keys ⇔ structurally equal attributes. */
export function attributesKey(a: PathAttributes): string {
  let k = `o${a.origin ?? '-'}|p`;
  for (const s of a.asPath ?? []) k += `${s.type}:${s.asns.join(',')};`;
  k += `|n${a.nextHop ? hex(a.nextHop) : '-'}|m${a.med ?? '-'}|l${a.localPref ?? '-'}|a${a.atomicAggregate ? 1 : 0}`;
  k += `|g${a.aggregator ? `${a.aggregator.asn}@${hex(a.aggregator.address)}` : '-'}`;
  k += `|c${a.communities ? a.communities.join(',') : '-'}|r${a.originatorId ?? '-'}`;
  k += `|C${a.clusterList ? a.clusterList.join(',') : '-'}|x${a.extendedCommunities ? a.extendedCommunities.map(hex).join(',') : '-'}`;
  k += `|L${a.largeCommunities ? a.largeCommunities.map((c) => `${c.globalAdmin}:${c.localData1}:${c.localData2}`).join(',') : '-'}`;
  if (a.onlyToCustomer !== undefined) k += `|O${a.onlyToCustomer}`;
  k += `|u${a.unknown ? a.unknown.map((u) => `${u.typeCode}/${u.flags}/${hex(u.value)}`).join(',') : '-'}`;
  const mp = (a as { readonly mpNextHop?: Uint8Array }).mpNextHop; // export.ts ExportedAttributes
  if (mp) k += `|h${hex(mp)}`;
  return k;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !ArrayBuffer.isView(o) && !Object.isFrozen(o)) {
    for (const v of Object.values(o as object)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

interface Entry { readonly key: string; refs: number }

export class AttrInterner {
  private readonly byKey = new Map<string, PathAttributes>();
  private readonly entries = new Map<PathAttributes, Entry>();

  /** Number of distinct attribute sets alive. */
  get size(): number { return this.byKey.size; }

  /**
   * The shared object equal to `attrs`, with its reference count raised by `refs` (use the
   * number of routes that will point at it; 0 just looks it up or registers it).
   * Already-interned objects are recognised by identity without hashing.
   */
  intern(attrs: PathAttributes, refs = 0): PathAttributes {
    const known = this.entries.get(attrs);
    if (known) { known.refs += refs; return attrs; }
    const key = attributesKey(attrs);
    const shared = this.byKey.get(key);
    if (shared) { this.entries.get(shared)!.refs += refs; return shared; }
    const frozen = deepFreeze({ ...attrs });
    this.byKey.set(key, frozen);
    this.entries.set(frozen, { key, refs });
    return frozen;
  }

  /** Raises the count of an interned object (no-op for objects this interner does not know). */
  acquire(attrs: PathAttributes, n = 1): void {
    const e = this.entries.get(attrs);
    if (e) e.refs += n;
  }

  /** Drops `n` references; the entry is forgotten when none remain. */
  release(attrs: PathAttributes, n = 1): void {
    const e = this.entries.get(attrs);
    if (!e) return;
    e.refs -= n;
    if (e.refs <= 0) { this.entries.delete(attrs); this.byKey.delete(e.key); }
  }

  refCount(attrs: PathAttributes): number { return this.entries.get(attrs)?.refs ?? 0; }

  isInterned(attrs: PathAttributes): boolean { return this.entries.has(attrs); }
}
