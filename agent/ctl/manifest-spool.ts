/**
 * Validated resources between reading a manifest and writing it: all-or-nothing needs every
 * document checked before the first write, but not every resource held in memory. The first
 * IN_MEMORY resources stay in an array; past that they go, one JSON line each, to a private
 * temporary file (mode 0600) that is read back line by line while writing, then removed.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Resource } from '../resources/kinds.js';

const IN_MEMORY = 1000;
const CHUNK = 1 << 20;

/** Text of a file descriptor in chunks (UTF-8 split safely), never the whole input at once. */
export function* readChunks(fd: number): Generator<string> {
  const buf = Buffer.allocUnsafe(CHUNK);
  const dec = new StringDecoder('utf8');
  for (;;) {
    let n: number;
    try { n = readSync(fd, buf, 0, CHUNK, null); } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; } // non-blocking stdin
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    yield dec.write(buf.subarray(0, n));
  }
  const tail = dec.end();
  if (tail !== '') yield tail;
}

export class ManifestSpool implements Iterable<Resource> {
  private readonly memory: Resource[] = [];
  private dir: string | undefined;
  private fd: number | undefined;
  private n = 0;
  readonly kinds = new Set<string>();

  get count(): number { return this.n; }
  get firstKind(): string | undefined { return this.kinds.values().next().value; }

  add(r: Resource): void {
    this.n++;
    this.kinds.add(r.kind);
    if (this.fd === undefined && this.memory.length < IN_MEMORY) { this.memory.push(r); return; }
    if (this.fd === undefined) {
      this.dir = mkdtempSync(join(tmpdir(), 'tortiectl-'));
      this.fd = openSync(join(this.dir, 'resources.jsonl'), 'w+', 0o600);
    }
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
  }

  *[Symbol.iterator](): Iterator<Resource> {
    yield* this.memory;
    if (this.fd === undefined) return;
    const buf = Buffer.allocUnsafe(CHUNK);
    const dec = new StringDecoder('utf8');
    let pos = 0, rest = '';
    for (;;) {
      const n = readSync(this.fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      const lines = (rest + dec.write(buf.subarray(0, n))).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) yield JSON.parse(l) as Resource;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.fd = undefined;
    this.dir = undefined;
  }
}
