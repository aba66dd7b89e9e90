/**
 * A compact map from prefix to value. IPv4 keys live in an open-addressing hash over typed
 * arrays (address as uint32 + length byte + value reference, 13 bytes per slot, 2-4 slots per
 * entry, no per-entry objects); IPv6 keys
 * fall back to a Map keyed by text. Used by the Loc-RIB, the Adj-RIB-In (rejected paths) and Adj-RIB-Out.
 */
import { intToIpv4, ipv4ToInt, type Prefix } from '../../common/prefix.js';

const EMPTY = 255;
const TOMB = 254;
/**
 * Grow past half full, to at most a quarter full: the capacity quadruples (resize). The blocks of
 * 16 consecutive prefixes (hashV4) collide as whole blocks, so probe runs grow much faster with the
 * load than with a fully mixed hash: at 0.7 an insert (which probes to an empty slot) walked tens
 * of slots. Measured (bench/rib/prefix-table-bench.ts): 68.5 bytes per entry at 100k /24s, 27.3 at
 * 1M; growing 1M from empty spends ~35 ms in resize, most of it allocating the value array.
 */
const MAX_LOAD = 0.5;

/**
 * Hash of an IPv4 prefix as (address, length). The prefix number
 * (address >>> (32 - length)) is split: its high bits are mixed and pick an aligned block of 16
 * slots, its low 4 bits (XORed with 4 bits of that mix, so prefixes that share their low bits do
 * not pile up at one offset) pick the slot: 16 consecutive prefixes of one length share a block. Tables filled
 * or emptied in address order (a peer's table dump, its withdrawal) then touch memory
 * sequentially instead of missing the cache on every prefix; unrelated prefixes still spread.
 */
export function hashV4(addr: number, len: number): number {
  const n = len === 0 ? 0 : addr >>> (32 - len);
  let h = Math.imul((n >>> 4) ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h << 4) | ((n ^ (h >>> 28)) & 15)) >>> 0;
}

/** An IPv4 prefix given as address (uint32) and length, as a Prefix object (allocates). */
export function v4Prefix(addr: number, len: number): Prefix {
  return { family: 4, bytes: intToIpv4(addr), length: len };
}

/** Map key for an IPv6 prefix (16 address bytes + length as chars). */
export function v6Key(p: Prefix): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += String.fromCharCode(p.bytes[i] ?? 0);
  return s + String.fromCharCode(p.length);
}

export class PrefixTable<T> {
  private addrs: Uint32Array;
  private lens: Uint8Array;
  private vals: (T | undefined)[];
  private mask: number;
  private used = 0; // live + tombstones
  private v4Size = 0;
  /** Bumped when IPv4 entries move between slots (resize, clear): a saved slot cursor is then void. */
  private moves = 0;
  private readonly v6 = new Map<string, { readonly prefix: Prefix; value: T }>();

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap * MAX_LOAD < initialCapacity) cap *= 2;
    this.addrs = new Uint32Array(cap);
    this.lens = new Uint8Array(cap).fill(EMPTY);
    this.vals = new Array<T | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get size(): number { return this.v4Size + this.v6.size; }
  get sizeV4(): number { return this.v4Size; }
  get sizeV6(): number { return this.v6.size; }
  /** Changes whenever IPv4 entries move between slots (a resize, the table emptied): a cursor of keysV4From or forEachFrom is only valid while it does not. */
  get layout(): number { return this.moves; }

  /**
   * Passes the IPv4 keys of up to `maxSlots` slots from slot `cursor` on to `push` (no Prefix
   * objects); returns the cursor to continue from, -1 when the last slot was read.
   */
  keysV4From(cursor: number, maxSlots: number, push: (addr: number, len: number) => void): number {
    const lens = this.lens, addrs = this.addrs;
    const end = Math.min(this.mask + 1, cursor + maxSlots);
    for (let i = cursor; i < end; i++) { const l = lens[i]!; if (l <= 32) push(addrs[i]!, l); }
    return end > this.mask ? -1 : end;
  }

  /** The IPv6 prefixes, as a live iterator: a Map iterator stays valid while the table changes. */
  v6Prefixes(): IterableIterator<Prefix> {
    const it = this.v6.values();
    return {
      next: (): IteratorResult<Prefix> => { const r = it.next(); return r.done === true ? { done: true, value: undefined } : { done: false, value: r.value.prefix }; },
      [Symbol.iterator]() { return this; },
    };
  }

  get(p: Prefix): T | undefined {
    if (p.family === 4) return this.getV4(ipv4ToInt(p.bytes), p.length);
    return this.v6.get(v6Key(p))?.value;
  }

  /** Sets the value; returns the previous one. */
  set(p: Prefix, value: T): T | undefined {
    if (p.family === 4) return this.setV4(ipv4ToInt(p.bytes), p.length, value);
    const k = v6Key(p);
    const e = this.v6.get(k);
    if (e) { const old = e.value; e.value = value; return old; }
    this.v6.set(k, { prefix: p, value });
    return undefined;
  }

  /** Removes the entry; returns the removed value. */
  delete(p: Prefix): T | undefined {
    if (p.family === 4) return this.deleteV4(ipv4ToInt(p.bytes), p.length);
    const k = v6Key(p);
    const e = this.v6.get(k);
    if (!e) return undefined;
    this.v6.delete(k);
    return e.value;
  }

  getV4(addr: number, len: number): T | undefined {
    const i = this.find(addr, len);
    return i < 0 ? undefined : this.vals[i];
  }

  /** Sets the value; returns the previous one. Only adding a key can resize the table. */
  setV4(addr: number, len: number, value: T): T | undefined {
    // one probe: find the key, remembering the first tombstone passed for the insert
    const lens = this.lens, addrs = this.addrs, mask = this.mask;
    let j = hashV4(addr, len) & mask;
    let tomb = -1;
    for (;;) {
      const l = lens[j]!;
      if (l === EMPTY) break;
      if (l === len && addrs[j] === addr) { const old = this.vals[j]; this.vals[j] = value; return old; }
      if (l === TOMB && tomb < 0) tomb = j;
      j = (j + 1) & mask;
    }
    if (tomb >= 0) j = tomb;
    else {
      // a new slot past the load limit: grow first (then the key goes to its slot in the new arrays)
      if ((this.used + 1) > (mask + 1) * MAX_LOAD) { this.resize(); return this.setV4(addr, len, value); }
      this.used++;
    }
    addrs[j] = addr; lens[j] = len; this.vals[j] = value; this.v4Size++;
    return undefined;
  }

  deleteV4(addr: number, len: number): T | undefined {
    const i = this.find(addr, len);
    if (i < 0) return undefined;
    const old = this.vals[i];
    this.lens[i] = TOMB; this.vals[i] = undefined; this.v4Size--;
    if (this.v4Size === 0) this.clearV4();
    return old;
  }

  /** Visits every entry; the callback must not modify the table. */
  forEach(fn: (prefix: Prefix, value: T) => void): void {
    for (let i = 0; i <= this.mask; i++) {
      const l = this.lens[i]!;
      if (l <= 32) fn(v4Prefix(this.addrs[i]!, l), this.vals[i] as T);
    }
    for (const e of this.v6.values()) fn(e.prefix, e.value);
  }

  /**
   * Visits up to `max` IPv4 entries from slot `cursor` on and returns the cursor to continue
   * from (-1 when IPv4 is done; IPv6 entries are then visited all at once). With `filter`, only
   * the entries it accepts are visited and counted (no Prefix object for the others). The callback may
   * delete the entry it is given or set a new value for it: only adding a key resizes the table, and
   * it never shrinks while non-empty, so the cursor stays valid.
   */
  forEachFrom(cursor: number, max: number, fn: (prefix: Prefix, value: T) => void, filter?: (value: T) => boolean): number {
    let i = cursor;
    let n = 0;
    for (; i <= this.mask && n < max; i++) {
      const l = this.lens[i]!;
      if (l > 32) continue;
      const v = this.vals[i] as T;
      if (filter && !filter(v)) continue;
      fn(v4Prefix(this.addrs[i]!, l), v); n++;
    }
    if (i <= this.mask) return i;
    for (const e of [...this.v6.values()]) if (!filter || filter(e.value)) fn(e.prefix, e.value);
    return -1;
  }

  /**
   * forEachFrom without a Prefix object per IPv4 entry (address as uint32 and length): a walk
   * over a million entries otherwise leaves two million short-lived objects for the GC.
   */
  forEachFromV4(cursor: number, max: number, fn4: (addr: number, len: number, value: T) => void, fn6: (prefix: Prefix, value: T) => void,
    filter?: (value: T) => boolean): number {
    let i = cursor;
    let n = 0;
    const lens = this.lens, addrs = this.addrs, vals = this.vals, mask = this.mask;
    for (; i <= mask && n < max; i++) {
      const l = lens[i]!;
      if (l > 32) continue;
      const v = vals[i] as T;
      if (filter && !filter(v)) continue;
      fn4(addrs[i]!, l, v); n++;
    }
    if (i <= mask) return i;
    for (const e of [...this.v6.values()]) if (!filter || filter(e.value)) fn6(e.prefix, e.value);
    return -1;
  }

  /** Snapshot of all entries (safe to modify the table while walking the result). */
  entries(): Array<[Prefix, T]> {
    const out: Array<[Prefix, T]> = [];
    this.forEach((p, v) => out.push([p, v]));
    return out;
  }

  clear(): void { this.clearV4(); this.v6.clear(); }

  /**
   * Empty the table for reuse at a similar size (a per-flush index): keeps the capacity when it
   * was at least a quarter full, so the next fill does not grow it again through resizes.
   */
  reset(): void {
    this.moves++;
    const cap = this.mask + 1;
    if (this.v4Size * 4 >= cap || cap <= 4096) { this.lens.fill(EMPTY); this.vals.fill(undefined); this.used = 0; this.v4Size = 0; } else this.clearV4();
    this.v6.clear();
  }

  private clearV4(): void {
    this.moves++;
    if (this.mask + 1 > 4096) {
      this.addrs = new Uint32Array(16); this.lens = new Uint8Array(16).fill(EMPTY);
      this.vals = new Array<T | undefined>(16).fill(undefined); this.mask = 15;
    } else { this.lens.fill(EMPTY); this.vals.fill(undefined); }
    this.used = 0; this.v4Size = 0;
  }

  private find(addr: number, len: number): number {
    const lens = this.lens, addrs = this.addrs, mask = this.mask;
    let j = hashV4(addr, len) & mask;
    for (;;) {
      const l = lens[j]!;
      if (l === EMPTY) return -1;
      if (l === len && addrs[j] === addr) return j;
      j = (j + 1) & mask;
    }
  }

  private resize(): void {
    const oldA = this.addrs, oldL = this.lens, oldV = this.vals;
    let cap = this.mask + 1;
    while (this.v4Size + 1 > cap * MAX_LOAD / 2) cap *= 2;
    const addrs = new Uint32Array(cap);
    const lens = new Uint8Array(cap).fill(EMPTY);
    const vals = new Array<T | undefined>(cap).fill(undefined);
    const mask = cap - 1;
    // locals, not fields: V8 reloads this.* on every access in a loop that writes typed arrays
    for (let i = 0; i < oldL.length; i++) {
      const l = oldL[i]!;
      if (l > 32) continue;
      const a = oldA[i]!;
      let j = hashV4(a, l) & mask;
      while (lens[j] !== EMPTY) j = (j + 1) & mask;
      addrs[j] = a; lens[j] = l; vals[j] = oldV[i];
    }
    this.addrs = addrs; this.lens = lens; this.vals = vals; this.mask = mask;
    this.used = this.v4Size;
    this.moves++;
  }
}
