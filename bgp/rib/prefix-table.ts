/**
 * A compact map from prefix to value. IPv4 entries live in dense typed arrays (address, length)
 * and a chunked value array, all indexed by an entry number; an open-addressing hash finds them:
 * per slot a tag byte (empty, deleted, or 7 bits of the key's hash: probes read only these, one
 * byte a slot, so they stay in cache) and the entry number. Growing the hash rewrites only the
 * slots (5 bytes each) and moves no entry and no value: no JS array the size of the hash is ever
 * allocated, and no per-entry objects (24 bytes per entry at 1M /24s, 48 at 100k). IPv6 keys
 * fall back to a Map keyed by text. Used by the Loc-RIB, the Adj-RIB-In (rejected paths) and
 * Adj-RIB-Out.
 */
import { intToIpv4, ipv4ToInt, type Prefix } from '../../common/prefix.js';

/** Slot tags besides an entry's, 128 | 7 bits of its key's hash. */
const EMPTY = 0;
const TOMB = 1;
/** lens[entry] of a free entry number (no prefix is that long). */
const FREE = 255;
/** Entry numbers stay small integers for V8 (and typed arrays well within their limits). */
const MAX_V4 = 2 ** 30;
/** Consecutive prefixes per hash block (hashV4): 8 measured better than 16 (shorter probe runs). */
const BLOCK_BITS = 3;
const BLOCK = 1 << BLOCK_BITS;
/**
 * Grow past half full. The blocks of consecutive prefixes (hashV4) collide as whole blocks, so
 * probe runs grow faster with the load than with a fully mixed hash (blocks of 8 at 0.48: 3.7
 * slots per insert on average, 22 for a miss; blocks of 16: 7.6 and 46).
 */
const MAX_LOAD = 0.5;
/** Values live in chunks of CHUNK (the first one grows up to it): adding values never copies the others. */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;

/**
 * Hash of an IPv4 prefix as (address, length). The prefix number (address >>> (32 - length)) is
 * split: its high bits are mixed and pick an aligned block of BLOCK slots, its low bits (XORed
 * with bits of that mix, so prefixes that share their low bits do not pile up at one offset)
 * pick the slot: BLOCK consecutive prefixes of one length share a block. Tables filled
 * or emptied in address order (a peer's table dump, its withdrawal) then touch memory
 * sequentially instead of missing the cache on every prefix; unrelated prefixes still spread.
 */
export function hashV4(addr: number, len: number): number {
  const n = len === 0 ? 0 : addr >>> (32 - len);
  let h = Math.imul((n >>> BLOCK_BITS) ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h << BLOCK_BITS) | ((n ^ (h >>> (32 - BLOCK_BITS))) & (BLOCK - 1))) >>> 0;
}

/** Map key for an IPv6 prefix (16 address bytes + length as chars). */
export function v6Key(p: Prefix): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += String.fromCharCode(p.bytes[i] ?? 0);
  return s + String.fromCharCode(p.length);
}

/** A chunk of the value store; always made here so that every chunk has the same elements kind. */
function chunk(n: number): unknown[] { return new Array<unknown>(n).fill(undefined); }

/** The tag of a key: 7 bits of its hash, the top bits XOR the low (in-block) bits so a block's prefixes differ. */
function tagOf(h: number): number { return ((h ^ (h >>> 25)) & 127) | 128; }

export class PrefixTable<T> {
  private tags: Uint8Array;
  private ents: Uint32Array;
  private mask: number;
  /** Entry e: addrs[e], lens[e] (FREE: e is on the free chain, addrs[e] = next free + 1, 0 ends it). */
  private addrs: Uint32Array;
  private lens: Uint8Array;
  /** Value of entry e: vals[e >> CHUNK_BITS][e & (CHUNK - 1)]; the first chunk starts small. */
  private vals: unknown[][] = [chunk(8)];
  private free = -1;
  private next = 0; // entry numbers handed out since the table was last emptied
  private used = 0; // live + tombstone slots
  private v4Size = 0;
  private readonly v6 = new Map<string, { readonly prefix: Prefix; value: T }>();

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap * MAX_LOAD < initialCapacity) cap *= 2;
    this.tags = new Uint8Array(cap);
    this.ents = new Uint32Array(cap);
    this.mask = cap - 1;
    this.addrs = new Uint32Array(cap * MAX_LOAD);
    this.lens = new Uint8Array(cap * MAX_LOAD);
  }

  get size(): number { return this.v4Size + this.v6.size; }

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
    const j = this.find(addr, len);
    if (j < 0) return undefined;
    const e = this.ents[j]!;
    return this.vals[e >> CHUNK_BITS]![e & (CHUNK - 1)] as T;
  }

  setV4(addr: number, len: number, value: T): T | undefined {
    if (this.used >= (this.mask + 1) * MAX_LOAD) this.resize();
    // one probe: find the key, remembering the first tombstone passed for the insert
    const tags = this.tags, ents = this.ents, addrs = this.addrs, lens = this.lens, mask = this.mask;
    const h = hashV4(addr, len), tag = ((h ^ (h >>> 25)) & 127) | 128; // tagOf(h), inlined for the cold (interpreted) start
    let j = h & mask;
    let tomb = -1;
    for (;;) {
      const t = tags[j]!;
      if (t === EMPTY) break;
      if (t === tag) {
        const e = ents[j]!;
        if (addrs[e] === addr && lens[e] === len) {
          const c = this.vals[e >> CHUNK_BITS]!;
          const old = c[e & (CHUNK - 1)] as T;
          c[e & (CHUNK - 1)] = value;
          return old;
        }
      }
      if (t === TOMB && tomb < 0) tomb = j;
      j = (j + 1) & mask;
    }
    let e = this.free;
    if (e >= 0) this.free = addrs[e]! - 1;
    else {
      e = this.next;
      const c = this.vals[e >> CHUNK_BITS];
      if (c === undefined || (e & (CHUNK - 1)) === c.length || e === lens.length) this.grow(e);
      this.next = e + 1;
    }
    if (tomb >= 0) j = tomb; else this.used++;
    this.addrs[e] = addr; this.lens[e] = len; this.vals[e >> CHUNK_BITS]![e & (CHUNK - 1)] = value;
    tags[j] = tag; ents[j] = e; this.v4Size++;
    return undefined;
  }

  deleteV4(addr: number, len: number): T | undefined {
    const j = this.find(addr, len);
    if (j < 0) return undefined;
    const e = this.ents[j]!;
    const c = this.vals[e >> CHUNK_BITS]!;
    const old = c[e & (CHUNK - 1)] as T;
    c[e & (CHUNK - 1)] = undefined;
    this.lens[e] = FREE; this.addrs[e] = this.free + 1; this.free = e;
    this.tags[j] = TOMB; this.v4Size--;
    if (this.v4Size === 0) this.clearV4();
    return old;
  }

  /** Visits every entry; the callback must not modify the table. */
  forEach(fn: (prefix: Prefix, value: T) => void): void {
    const n = this.next, addrs = this.addrs, lens = this.lens;
    for (let e = 0; e < n; e++) {
      const l = lens[e]!;
      if (l !== FREE) fn({ family: 4, bytes: intToIpv4(addrs[e]!), length: l }, this.value(e));
    }
    for (const e of this.v6.values()) fn(e.prefix, e.value);
  }

  /**
   * Visits up to `max` IPv4 entries from entry number `cursor` on and returns the cursor to
   * continue from (-1 when IPv4 is done; IPv6 entries are then visited all at once). With
   * `filter`, only the entries it accepts are visited and counted (no Prefix object for the
   * others). The callback may delete the entry it is given; entries never move (not even when
   * the hash grows), so the cursor stays valid.
   */
  forEachFrom(cursor: number, max: number, fn: (prefix: Prefix, value: T) => void, filter?: (value: T) => boolean): number {
    let e = cursor;
    let n = 0;
    for (; e < this.next && n < max; e++) {
      const l = this.lens[e]!;
      if (l === FREE) continue;
      const v = this.value(e);
      if (filter && !filter(v)) continue;
      fn({ family: 4, bytes: intToIpv4(this.addrs[e]!), length: l }, v); n++;
    }
    if (e < this.next) return e;
    for (const x of [...this.v6.values()]) if (!filter || filter(x.value)) fn(x.prefix, x.value);
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
    const cap = this.mask + 1;
    if (this.v4Size * 4 >= cap || cap <= 4096) {
      this.tags.fill(EMPTY);
      for (const c of this.vals) c.fill(undefined);
      this.next = 0; this.free = -1; this.used = 0; this.v4Size = 0;
    } else this.clearV4();
    this.v6.clear();
  }

  private clearV4(): void {
    if (this.mask + 1 > 4096) {
      this.tags = new Uint8Array(16); this.ents = new Uint32Array(16); this.mask = 15;
      this.addrs = new Uint32Array(8); this.lens = new Uint8Array(8); this.vals = [chunk(8)];
    } else {
      this.tags.fill(EMPTY);
      for (const c of this.vals) c.fill(undefined);
    }
    this.next = 0; this.free = -1;
    this.used = 0; this.v4Size = 0;
  }

  private value(e: number): T { return this.vals[e >> CHUNK_BITS]![e & (CHUNK - 1)] as T; }

  /**
   * Room for new entry number `e` (= next): the first value chunk doubles up to CHUNK, then
   * chunks are added; the entry arrays double only if resize() did not leave room.
   */
  private grow(e: number): void {
    if (e >= MAX_V4) throw new RangeError(`PrefixTable: more than ${MAX_V4} IPv4 entries`);
    if (e === this.lens.length) {
      // never while resize() keeps room for cap * MAX_LOAD entries; here so a miscount cannot drop writes
      const a = new Uint32Array(2 * e), l = new Uint8Array(2 * e);
      a.set(this.addrs); l.set(this.lens);
      this.addrs = a; this.lens = l;
    }
    const c = this.vals[e >> CHUNK_BITS];
    if (c === undefined) this.vals.push(chunk(CHUNK));
    else if ((e & (CHUNK - 1)) === c.length) {
      // the first chunk, full below CHUNK: a copy twice its size (stores never land past the end)
      const d = chunk(2 * c.length);
      for (let i = 0; i < c.length; i++) d[i] = c[i];
      this.vals[0] = d;
    }
  }

  /** The slot of the key, or -1. */
  private find(addr: number, len: number): number {
    const tags = this.tags, ents = this.ents, addrs = this.addrs, lens = this.lens, mask = this.mask;
    const h = hashV4(addr, len), tag = ((h ^ (h >>> 25)) & 127) | 128; // tagOf(h)
    let j = h & mask;
    for (;;) {
      const t = tags[j]!;
      if (t === EMPTY) return -1;
      if (t === tag) {
        const e = ents[j]!;
        if (addrs[e] === addr && lens[e] === len) return j;
      }
      j = (j + 1) & mask;
    }
  }

  /**
   * Quadruple (as the table always has: a table filled from empty is rehashed a third as often
   * as when doubling, for at most twice the slots), or, when tombstones filled it, rehash at the
   * same size. Only the slots are rewritten, from the dense entry arrays read in order; no entry
   * or value moves.
   */
  private resize(): void {
    let cap = this.mask + 1;
    if (this.v4Size > cap * MAX_LOAD / 2) cap *= 4;
    if (cap * MAX_LOAD > this.lens.length) {
      // room for every entry the new size can hold before the next resize
      const a = new Uint32Array(cap * MAX_LOAD), l = new Uint8Array(cap * MAX_LOAD);
      a.set(this.addrs.subarray(0, this.next)); l.set(this.lens.subarray(0, this.next));
      this.addrs = a; this.lens = l;
    }
    const tags = new Uint8Array(cap), ents = new Uint32Array(cap);
    const mask = cap - 1, n = this.next, addrs = this.addrs, lens = this.lens;
    for (let e = 0; e < n; e++) {
      const l = lens[e]!;
      if (l === FREE) continue;
      const h = hashV4(addrs[e]!, l);
      let j = h & mask;
      while (tags[j] !== EMPTY) j = (j + 1) & mask;
      tags[j] = tagOf(h); ents[j] = e;
    }
    this.tags = tags; this.ents = ents; this.mask = mask;
    this.used = this.v4Size;
  }
}
