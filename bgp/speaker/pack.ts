/**
 * UPDATE packing for update-group batches. The NLRI of one announcement (or of the withdrawals)
 * are encoded once per batch into an NlriBlob shared by every member; each member's messages
 * are then assembled by copying runs of that blob behind its own attribute block (encoded once
 * per attribute set and session by bgp/wire's prepareAttributes), leaving out the entries it
 * must skip. All messages for one member go into one buffer (one write, no concatenation).
 * IPv4 withdrawals use the classic field, IPv6 MP_UNREACH_NLRI (RFC 4760); ADD-PATH send
 * (RFC 7911) writes the batch's path id of each entry (add-path-group.ts), else 0.
 *
 *   batch entries ──once──► NlriBlob (bytes + offset per entry)
 *   member: [header | attrs(member) | blob runs] × messages ──► one Uint8Array
 */
import { maxMessageLength } from '../wire/header.js';
import { putPrefix, putV4 } from '../wire/nlri.js';
import { preparedOverhead, withdrawOverhead, writePreparedFrame, writeWithdrawFrame, type PreparedAttributes } from '../wire/update-encoder.js';
import type { PrefixList } from '../rib/prefix-list.js';
import { afiSafiKey, MessageType, type AfiSafi, type CodecContext } from '../wire/types.js';

const IPV4_UNICAST: AfiSafi = { afi: 1, safi: 1 };
const IPV6_UNICAST: AfiSafi = { afi: 2, safi: 1 };
const IPV4_KEY = afiSafiKey(1, 1);
const IPV6_KEY = afiSafiKey(2, 1);

function entryBytes(all: PrefixList, i: number, addPath: boolean): number {
  const len = all.family(i) === 4 ? all.len(i) : all.v6At(i).length;
  return (addPath ? 5 : 1) + ((len + 7) >>> 3);
}

function putEntry(m: Uint8Array, at: number, all: PrefixList, i: number, addPath: boolean, id: number): number {
  if (all.family(i) !== 4) return putPrefix(m, at, all.v6At(i), addPath, id);
  let o = at;
  if (addPath) { m[o++] = id >>> 24; m[o++] = (id >>> 16) & 0xff; m[o++] = (id >>> 8) & 0xff; m[o++] = id & 0xff; }
  return putV4(m, o, all.addr(i), all.len(i));
}

/** The NLRI encodings of a list of batch entries (one family), with each entry's offset. */
export interface NlriBlob {
  readonly bytes: Uint8Array;
  /** off[k]..off[k+1] are the bytes of idx[k] (empty when it is of the other family). */
  readonly off: Int32Array;
}

/** `ids`: the path id of each entry of `all` (ADD-PATH batches); absent: 0. */
export function nlriBlob(all: PrefixList, idx: readonly number[], family: 4 | 6, addPath: boolean, ids?: readonly number[]): NlriBlob {
  const n = idx.length;
  const off = new Int32Array(n + 1);
  let size = 0;
  for (let k = 0; k < n; k++) {
    off[k] = size;
    const i = idx[k]!;
    if (all.family(i) === family) size += entryBytes(all, i, addPath);
  }
  off[n] = size;
  const bytes = new Uint8Array(size);
  let p = 0;
  for (let k = 0; k < n; k++) { const i = idx[k]!; if (all.family(i) === family) p = putEntry(bytes, p, all, i, addPath, ids === undefined ? 0 : ids[i]!); }
  return { bytes, off };
}

/** One UPDATE to assemble: entries [from, to) of a blob, `size` NLRI bytes after skipping. */
interface Piece {
  readonly kind: 'announce' | 'withdraw';
  readonly prep: PreparedAttributes | undefined;
  readonly family: 4 | 6;
  readonly blob: NlriBlob;
  readonly idx: readonly number[];
  readonly from: number;
  readonly to: number;
  readonly size: number;
  readonly length: number;
  readonly skip: Uint32Array | undefined;
  readonly stamp: number;
}

/**
 * Collects the UPDATEs for one member: add() splits a blob into messages that fit (skipping
 * entries marked `stamp` in `skip`), finish() writes them all into one buffer.
 */
export class UpdateAssembler {
  private readonly pieces: Piece[] = [];
  private total = 0;

  constructor(private readonly ctx: CodecContext) {}

  get messages(): number { return this.pieces.length; }

  /**
   * Announce the blob's entries behind `prep` (its family), or withdraw them when `prep` is
   * undefined; entries i with skip[i] === stamp are left out.
   */
  add(blob: NlriBlob, idx: readonly number[], family: 4 | 6, prep: PreparedAttributes | undefined, skip: Uint32Array | undefined, stamp: number): void {
    const classic = family === 4 && (prep === undefined || prep.classic);
    let fixed: number, max: number;
    if (prep) {
      max = prep.max;
      fixed = preparedOverhead(prep);
    } else {
      max = maxMessageLength(MessageType.UPDATE, this.ctx);
      fixed = withdrawOverhead(classic);
    }
    const room = max - fixed;
    const { off } = blob;
    const n = idx.length;
    let k = 0;
    while (k < n) {
      let size = 0, j = k;
      for (; j < n; j++) {
        const sz = off[j + 1]! - off[j]!;
        if (sz === 0 || (skip !== undefined && skip[idx[j]!] === stamp)) continue;
        if (size + sz > room) break;
        size += sz;
      }
      if (size === 0) {
        if (j >= n) return;
        throw new Error(`path attributes of ${prep?.block.length ?? 0} bytes leave no room for a prefix in a ${max}-byte UPDATE`);
      }
      const length = fixed + size;
      this.pieces.push({ kind: prep ? 'announce' : 'withdraw', prep, family, blob, idx, from: k, to: j, size, length, skip, stamp });
      this.total += length;
      k = j;
    }
  }

  /** Bytes finish() writes. */
  get byteLength(): number { return this.total; }

  /**
   * All messages in one buffer (undefined when there are none): a view of `into` when it is
   * large enough (every byte is written, so it may hold old bytes), else a new buffer.
   */
  finish(into?: Uint8Array): Uint8Array | undefined {
    if (this.pieces.length === 0) return undefined;
    const out = into !== undefined && into.length >= this.total ? into.subarray(0, this.total) : new Uint8Array(this.total);
    let at = 0;
    for (const pc of this.pieces) { this.write(out, at, pc); at += pc.length; }
    return out;
  }

  private write(m: Uint8Array, start: number, pc: Piece): void {
    const { size, prep } = pc;
    const at = prep ? writePreparedFrame(m, start, prep, size)
      : writeWithdrawFrame(m, start, pc.family === 4 ? IPV4_UNICAST : IPV6_UNICAST, pc.family === 4, size);
    this.copy(m, at, pc);
  }

  /** Copy the selected entries of [from, to) in runs. */
  private copy(m: Uint8Array, at: number, pc: Piece): number {
    const { bytes, off } = pc.blob;
    const { skip, stamp, idx } = pc;
    let p = at;
    let runStart = -1;
    for (let k = pc.from; k < pc.to; k++) {
      const keep = off[k + 1]! > off[k]! && (skip === undefined || skip[idx[k]!] !== stamp);
      if (keep) { if (runStart < 0) runStart = off[k]!; continue; }
      if (runStart >= 0) { const end = off[k]!; m.set(bytes.subarray(runStart, end), p); p += end - runStart; runStart = -1; }
    }
    if (runStart >= 0) { const end = off[pc.to]!; m.set(bytes.subarray(runStart, end), p); p += end - runStart; }
    return p;
  }
}

/** Whether a session sends ADD-PATH identifiers for this family. */
export function addPathSend(ctx: CodecContext, family: 4 | 6): boolean {
  return ctx.addPathSend.has(family === 4 ? IPV4_KEY : IPV6_KEY);
}
