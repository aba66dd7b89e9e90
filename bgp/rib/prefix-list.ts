/**
 * A list of prefixes without keeping Prefix objects alive: IPv4 as address and length in typed
 * arrays (nothing for the garbage collector to trace or promote), IPv6 as the objects. Indexed
 * 0..length-1 in arrival order. Holds the prefixes of the Loc-RIB's change batches and of an
 * update group's pending changes.
 */
import { ipv4ToInt, type Prefix } from '../../common/prefix.js';
import { v4Prefix, v6Key } from './prefix-table.js';

const V6 = 255;

/**
 * Hash of an IPv4 prefix for PrefixList's index: fully mixed. Not prefix-table's hashV4, whose
 * blocks of 16 consecutive prefixes (memory locality for a table of millions) make probe runs
 * 6-8 slots long; this index is small enough to stay in the cache, so short runs win.
 */
function mixV4(addr: number, len: number): number {
  let h = Math.imul(addr ^ Math.imul(len + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class PrefixList {
  private addrs: Uint32Array;
  private lens: Uint8Array;
  private v6: Array<Prefix | undefined> | undefined;
  private n = 0;
  /** pushUnique's index: entry + 1 per slot (0 = empty); IPv6 by text. */
  private slots: Int32Array | undefined;
  private v6Index: Map<string, number> | undefined;
  /** The last IPv4 entry, and whether every IPv4 entry came in strictly increasing (address, length) order. */
  private lastA = -1;
  private lastL = -1;
  private ordered = true;

  constructor(capacity = 64) {
    this.addrs = new Uint32Array(capacity);
    this.lens = new Uint8Array(capacity);
  }

  get length(): number { return this.n; }

  push(p: Prefix): void {
    if (p.family === 4) { this.pushV4(ipv4ToInt(p.bytes), p.length); return; }
    const i = this.grow();
    this.lens[i] = V6;
    (this.v6 ??= [])[i] = p;
    this.n = i + 1;
  }

  /** push() of an IPv4 prefix given as address (uint32, host bits zero) and length. */
  pushV4(a: number, l: number): void {
    const i = this.grow();
    this.addrs[i] = a;
    this.lens[i] = l;
    if (a > this.lastA || (a === this.lastA && l > this.lastL)) { this.lastA = a; this.lastL = l; } else this.ordered = false;
    this.n = i + 1;
  }

  private grow(): number {
    const i = this.n;
    if (i === this.addrs.length) {
      const a = new Uint32Array(i * 2); a.set(this.addrs); this.addrs = a;
      const l = new Uint8Array(i * 2); l.set(this.lens); this.lens = l;
    }
    return i;
  }

  /**
   * Append `p` unless it is already in the list; returns its existing index, or -1 when it
   * was appended. Uses a small open-addressing index over the list's own arrays (4 bytes per
   * slot, no per-prefix objects), built when first needed: while the IPv4 prefixes come in
   * strictly increasing order (a table dump or withdrawal from a speaker that walks its table in
   * prefix order, as FRR does, or bench/bgp's injector), a prefix larger than the last cannot be
   * in the list, so no lookup is made and no index kept; the first one out of order (BIRD sends
   * in hash order) builds the index over the entries so far.
   */
  pushUnique(p: Prefix): number {
    if (p.family === 4) return this.pushUniqueV4(ipv4ToInt(p.bytes), p.length);
    const k = v6Key(p);
    const m = (this.v6Index ??= new Map());
    const had = m.get(k);
    if (had !== undefined) return had;
    m.set(k, this.n);
    this.push(p);
    return -1;
  }

  /** pushUnique() of an IPv4 prefix given as address and length. */
  pushUniqueV4(a: number, l: number): number {
    if (this.slots === undefined && this.ordered && (a > this.lastA || (a === this.lastA && l > this.lastL))) { this.pushV4(a, l); return -1; }
    if (this.slots === undefined || (this.n + 1) * 2 > this.slots.length) this.rehash();
    const slots = this.slots!;
    const mask = slots.length - 1;
    let h = mixV4(a, l) & mask;
    for (;;) {
      const e = slots[h]!;
      if (e === 0) break;
      const j = e - 1;
      if (this.lens[j] === l && this.addrs[j] === a) return j;
      h = (h + 1) & mask;
    }
    slots[h] = this.n + 1;
    this.pushV4(a, l);
    return -1;
  }

  /** pushUnique() of entry i of `other`. */
  pushUniqueFrom(other: PrefixList, i: number): number {
    const l = other.lens[i]!;
    return l === V6 ? this.pushUnique(other.v6![i]!) : this.pushUniqueV4(other.addrs[i]!, l);
  }

  private rehash(): void {
    let cap = 64;
    while (cap < (this.n + 1) * 4) cap *= 2;
    const slots = new Int32Array(cap);
    const mask = cap - 1;
    for (let j = 0; j < this.n; j++) {
      const l = this.lens[j]!;
      if (l === V6) continue;
      let h = mixV4(this.addrs[j]!, l) & mask;
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = j + 1;
    }
    this.slots = slots;
  }

  family(i: number): 4 | 6 { return this.lens[i] === V6 ? 6 : 4; }
  /** IPv4 address as uint32 (IPv4 entries). */
  addr(i: number): number { return this.addrs[i]!; }
  /** Prefix length (IPv4 entries). */
  len(i: number): number { return this.lens[i]!; }
  /** The IPv6 Prefix object (IPv6 entries). */
  v6At(i: number): Prefix { return this.v6![i]!; }

  /** A Prefix object for entry i (allocates for IPv4). */
  prefix(i: number): Prefix {
    const l = this.lens[i]!;
    if (l === V6) return this.v6![i]!;
    return v4Prefix(this.addrs[i]!, l);
  }
}
