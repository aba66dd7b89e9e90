/**
 * PrefixTable micro-benchmark: ns per setV4/getV4/deleteV4 of N IPv4 /24s, keys in address order
 * (a peer's table dump, its withdrawal) or shuffled (another daemon's hash order).
 *   node --expose-gc dist/bench/rib/prefix-table-bench.js                 # every scenario, a fresh process each
 *   node --expose-gc dist/bench/rib/prefix-table-bench.js 100k-addr       # one: {100k,1M}-{addr,shuffled}
 *   ... --reps 5                        # each scenario in 5 fresh processes (cold numbers are noisy)
 *   ... --impl /path/to/prefix-table.js # measure another build of the table (A/B in one run)
 * Each process runs 3 rounds on a new table: round 1 is cold (fresh process, as in the 1x100k
 * speaker cell), round 3 warm. One JSON line per round: set/get/delete ns/op; resizeMs, the time
 * spent in resize() while growing from empty (timed by wrapping the method; null if the
 * implementation has none); setPresizedNs, set into a table constructed for N; bytesPerEntry,
 * heap + array buffers after gc with N entries, minus before (values are allocated beforehand).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Table {
  setV4(addr: number, len: number, value: object): unknown;
  getV4(addr: number, len: number): unknown;
  deleteV4(addr: number, len: number): unknown;
  readonly size: number;
}
type TableClass = new (initialCapacity?: number) => Table;

const SCENARIOS = ['100k-addr', '100k-shuffled', '1M-addr', '1M-shuffled'];

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  g(); g();
}

function heap(): number { gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; }

function keysFor(n: number, shuffled: boolean): Uint32Array {
  const k = new Uint32Array(n);
  for (let i = 0; i < n; i++) k[i] = ((10 << 24) + i * 256) >>> 0;
  if (shuffled) {
    let s = 0x2545f491;
    for (let i = n - 1; i > 0; i--) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const j = (s >>> 0) % (i + 1);
      const t = k[i]!; k[i] = k[j]!; k[j] = t;
    }
  }
  return k;
}

function ns(t0: bigint, n: number): number { return Math.round(Number(process.hrtime.bigint() - t0) / n * 10) / 10; }

async function child(scenario: string, impl: string): Promise<void> {
  const m = /^(100k|1M)-(addr|shuffled)$/.exec(scenario);
  if (!m) throw new Error(`unknown scenario '${scenario}' (one of ${SCENARIOS.join(', ')})`);
  const n = m[1] === '1M' ? 1_000_000 : 100_000;
  const mod = await import(impl) as { PrefixTable: TableClass };
  const Ctor = mod.PrefixTable;
  // time resize() by wrapping it, before any table exists (so no call site sees two shapes)
  const proto = Ctor.prototype as unknown as Record<string, unknown>;
  const inner = proto['resize'];
  let resizeNs = 0n, resizes = 0;
  if (typeof inner === 'function') {
    proto['resize'] = function (this: unknown, ...args: unknown[]): unknown {
      const t0 = process.hrtime.bigint();
      const r: unknown = inner.apply(this, args);
      resizeNs += process.hrtime.bigint() - t0; resizes++;
      return r;
    };
  }
  const keys = keysFor(n, m[2] === 'shuffled');
  const vals = Array.from({ length: n }, (_, i) => ({ i }));
  for (let round = 1; round <= 3; round++) {
    resizeNs = 0n; resizes = 0;
    const base = heap();
    const t = new Ctor();
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) t.setV4(keys[i]!, 24, vals[i]!);
    const setNs = ns(t0, n);
    const grow = { resizeMs: typeof inner === 'function' ? Math.round(Number(resizeNs) / 1e4) / 100 : null, resizes };
    const bytesPerEntry = Math.round((heap() - base) / n * 10) / 10;
    let hits = 0;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (t.getV4(keys[i]!, 24) !== undefined) hits++;
    const getNs = ns(t0, n);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (t.deleteV4(keys[i]!, 24) !== undefined) hits++;
    const deleteNs = ns(t0, n);
    if (hits !== 2 * n || t.size !== 0) throw new Error(`table lost entries: ${hits} hits of ${2 * n}, ${t.size} left`);
    const p = new Ctor(n);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) p.setV4(keys[i]!, 24, vals[i]!);
    const setPresizedNs = ns(t0, n);
    console.log(JSON.stringify({ scenario, round, setNs, getNs, deleteNs, ...grow, setPresizedNs, bytesPerEntry }));
  }
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => { const i = args.indexOf(name); if (i < 0) return undefined; const v = args[i + 1]; args.splice(i, 2); return v; };
const implArg = opt('--impl');
const reps = Number(opt('--reps') ?? '1');
const impl = implArg ? pathToFileURL(implArg).href : new URL('../../bgp/rib/prefix-table.js', import.meta.url).href;
if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps wants a positive integer');
if (args[0] === '--child') await child(args[1] ?? '', impl);
else {
  const list = args.length > 0 ? args : SCENARIOS;
  for (let r = 0; r < reps; r++) {
    for (const s of list) {
      const res = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', s, ...(implArg ? ['--impl', implArg] : [])], { stdio: 'inherit' });
      if (res.status !== 0) { process.exitCode = 1; break; }
    }
  }
}
