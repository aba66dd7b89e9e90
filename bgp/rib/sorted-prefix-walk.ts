/**
 * The prefixes of a PrefixTable in network order (address, then length; IPv4 before IPv6),
 * produced in slices so that a control command over a million routes never holds the event loop
 * (birdc-style `show route` is sorted; the table is a hash). prepare() takes the keys as they are
 * when the walk starts (slots scanned per call, at most until a deadline), then sorts them in
 * chunks, one chunk per check of the deadline; next() merges the chunks. Memory is 8 bytes per
 * IPv4 prefix (address * 64 + length in a Float64Array) and one short string per IPv6 prefix.
 * The table may change between calls: a resize moves entries, so the scan starts again at slot 0
 * and the duplicates that gives are dropped by the merge; prefixes added after their slot was
 * read are not seen, prefixes removed are seen (the caller looks each one up and skips it).
 */
import type { Prefix } from '../../common/prefix.js';
import { v4Prefix, v6Key, type PrefixTable } from './prefix-table.js';

/** Slots read between two looks at the clock. */
const SLOTS_PER_LOOK = 32_768;
/** Keys sorted at once (a chunk): about a millisecond on a loaded machine. */
const CHUNK = 16_384;

/** K-way merge of sorted chunks of one array, dropping equal neighbours. */
class ChunkMerge<K extends number | string> {
  private readonly pos: number[] = [];
  private readonly end: number[] = [];
  private readonly heap: number[] = [];
  private last: K | undefined;

  constructor(private readonly keys: ArrayLike<K>, n: number) {
    for (let s = 0, c = 0; s < n; s += CHUNK, c++) { this.pos.push(s); this.end.push(Math.min(n, s + CHUNK)); this.push(c); }
  }

  next(): K | undefined {
    for (;;) {
      const c = this.heap[0];
      if (c === undefined) return undefined;
      const k = this.keys[this.pos[c]!]!;
      this.pos[c]!++;
      if (this.pos[c]! < this.end[c]!) this.down(0); else { const tail = this.heap.pop()!; if (this.heap.length > 0) { this.heap[0] = tail; this.down(0); } }
      if (k === this.last) continue;
      this.last = k;
      return k;
    }
  }

  private key(c: number): K { return this.keys[this.pos[c]!]!; }

  private push(c: number): void {
    const h = this.heap;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (this.key(h[up]!) <= this.key(c)) break;
      h[i] = h[up]!; i = up;
    }
    h[i] = c;
  }

  private down(i: number): void {
    const h = this.heap;
    const c = h[i]!;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= h.length) break;
      if (m + 1 < h.length && this.key(h[m + 1]!) < this.key(h[m]!)) m++;
      if (this.key(c) <= this.key(h[m]!)) break;
      h[i] = h[m]!; i = m;
    }
    h[i] = c;
  }
}

export class SortedPrefixWalk {
  private v4: Float64Array;
  private n4 = 0;
  private readonly v6: string[] = [];
  private phase: 'scan4' | 'scan6' | 'sort' | 'ready' = 'scan4';
  private cursor = 0;
  private layout: number;
  private readonly it6: Iterator<Prefix>;
  private sorted4 = 0;
  private sorted6 = 0;
  private merge4: ChunkMerge<number> | undefined;
  private merge6: ChunkMerge<string> | undefined;
  private readonly push = (addr: number, len: number): void => {
    if (this.n4 === this.v4.length) { const b = new Float64Array(this.v4.length * 2); b.set(this.v4); this.v4 = b; }
    this.v4[this.n4++] = addr * 64 + len;
  };

  constructor(private readonly table: PrefixTable<unknown>) {
    this.v4 = new Float64Array(Math.max(64, table.sizeV4 + (table.sizeV4 >> 4)));
    this.layout = table.layout;
    this.it6 = table.v6Prefixes();
  }

  /** Whether next() may be called (scan and sort done); works until `deadline` (per `now`) first. */
  prepare(deadline: number, now: () => number): boolean {
    while (this.phase !== 'ready') {
      if (now() >= deadline) return false;
      switch (this.phase) {
        case 'scan4':
          if (this.table.layout !== this.layout) { this.layout = this.table.layout; this.cursor = 0; }
          this.cursor = this.table.keysV4From(this.cursor, SLOTS_PER_LOOK, this.push);
          if (this.cursor === -1) this.phase = 'scan6';
          break;
        case 'scan6':
          for (let i = 0; i < SLOTS_PER_LOOK; i++) {
            const r = this.it6.next();
            if (r.done === true) { this.phase = 'sort'; break; }
            this.v6.push(v6Key(r.value));
          }
          break;
        case 'sort':
          if (this.sorted4 < this.n4) { this.v4.subarray(this.sorted4, Math.min(this.n4, this.sorted4 + CHUNK)).sort(); this.sorted4 += CHUNK; break; }
          if (this.sorted6 < this.v6.length) {
            const part = this.v6.slice(this.sorted6, this.sorted6 + CHUNK).sort();
            for (let i = 0; i < part.length; i++) this.v6[this.sorted6 + i] = part[i]!;
            this.sorted6 += CHUNK;
            break;
          }
          this.merge4 = new ChunkMerge(this.v4, this.n4);
          this.merge6 = new ChunkMerge(this.v6, this.v6.length);
          this.phase = 'ready';
          break;
      }
    }
    return true;
  }

  /** The next prefix in network order (after prepare() returned true); undefined at the end. */
  next(): Prefix | undefined {
    const k4 = this.merge4?.next();
    if (k4 !== undefined) return v4Prefix(Math.floor(k4 / 64), k4 % 64);
    const k6 = this.merge6?.next();
    if (k6 === undefined) return undefined;
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = k6.charCodeAt(i);
    return { family: 6, bytes, length: k6.charCodeAt(16) };
  }
}
