/**
 * RIB benchmark: Loc-RIB + Adj-RIB-In (+ optionally one Adj-RIB-Out) under bulk load.
 *   node --expose-gc dist/bench/rib/rib-bench.js            # all scenarios, one child process each
 *   node --expose-gc dist/bench/rib/rib-bench.js <scenario> # one scenario, JSON line on stdout
 * Scenarios: 1x1M-1attr, 1x1M-1000attr, 10x100k-same (10 peers announce the same 100k),
 * 1x1M-1attr-out (plus one eBGP Adj-RIB-Out, drained). Memory is measured after gc, relative
 * to a baseline taken before loading; NLRI arrive 1000 per UPDATE like a full 4 KiB message.
 * insertCpuS is process CPU (all threads, incl. GC helpers): steadier than wall time on a busy box.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { intToIpv4 } from '../../common/prefix.js';
import { UpdateGroup } from '../../bgp/rib/update-group.js';
import { LocRib } from '../../bgp/rib/loc-rib.js';
import type { PeerInfo } from '../../bgp/rib/route.js';
import type { Nlri, PathAttributes } from '../../bgp/wire/types.js';

const BATCH = 1000;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc');
  g(); g();
}

function mem(): { heap: number; rss: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss };
}

function attrsFor(i: number, peerAs: number): PathAttributes {
  return { origin: 0, asPath: [{ type: 2, asns: [peerAs, 64000 + (i % 1000)] }], nextHop: Uint8Array.of(10, 0, 0, 2), med: i };
}

function peer(n: number): PeerInfo {
  return { id: `peer${n}`, kind: 'ebgp', asn: 65100 + n, routerId: 0x0a000100 + n, address: Uint8Array.of(10, 0, 1, n) };
}

function batch(start: number, count: number): Nlri[] {
  const out: Nlri[] = [];
  for (let i = start; i < start + count; i++) out.push({ prefix: { family: 4, bytes: intToIpv4(((11 << 24) + i * 256) >>> 0), length: 24 } });
  return out;
}

interface Result { scenario: string; routes: number; insertS: number; insertCpuS: number; prefixesPerS: number; heapBytesPerRoute: number; rssBytesPerRoute: number; withdrawS: number; withdrawPerS: number; attrSets: number; bestChanges: number }

function run(scenario: string): Result {
  const peers = scenario.startsWith('10x') ? 10 : 1;
  const perPeer = peers === 10 ? 100_000 : 1_000_000;
  const attrSets = scenario.includes('1000attr') ? 1000 : 1;
  const withOut = scenario.endsWith('-out');
  const attrs = Array.from({ length: attrSets }, (_, i) => attrsFor(i, 65100));
  const before = mem();
  const rib = new LocRib({ localAs: 65000, routerId: 0x0a000001 });
  let changes = 0;
  rib.onBestChange((c) => { changes += c.length; });
  // '-out': the speaker's outbound path (an update group with one member, flushed per batch)
  const group = withOut ? new UpdateGroup({ kind: 'ebgp', localAs: 65000, routerId: 0x0a000001, localAddress: Uint8Array.of(10, 0, 0, 1) }) : undefined;
  group?.addMember('monitor');
  if (group) rib.onBestChange((c) => group.apply(c));
  let sent = 0;
  const out = group && { get hasPending() { return group.hasPending; }, drain: () => group.flush((_id, b) => { sent += b.base.prefixes.length; }) };
  const ins = peers === 1 ? [rib.addPeer(peer(1))] : Array.from({ length: peers }, (_, i) => rib.addPeer(peer(i + 1)));
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let u = 0;
  for (const adj of ins) {
    const pa = peers === 1 ? attrs : [attrsFor(adj.peer.asn, adj.peer.asn)];
    for (let s = 0; s < perPeer; s += BATCH) {
      adj.update(batch(s, Math.min(BATCH, perPeer - s)), pa[u++ % pa.length]!);
      if (out && out.hasPending) out.drain();
    }
  }
  const insertS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0);
  const after = mem();
  const routes = peers * perPeer;
  const attrCount = rib.interner.size;
  const t1 = process.hrtime.bigint();
  for (const adj of ins) { rib.removePeer(adj.peer.id); if (out && out.hasPending) out.drain(); }
  const withdrawS = Number(process.hrtime.bigint() - t1) / 1e9;
  if (rib.size !== 0) throw new Error(`Loc-RIB not empty after withdraw: ${rib.size}`);
  return {
    scenario, routes, insertS, insertCpuS: (cu.user + cu.system) / 1e6, prefixesPerS: Math.round(routes / insertS),
    heapBytesPerRoute: Math.round((after.heap - before.heap) / routes),
    rssBytesPerRoute: Math.round((after.rss - before.rss) / routes),
    withdrawS, withdrawPerS: Math.round(routes / withdrawS), attrSets: attrCount, bestChanges: changes,
  };
}

const SCENARIOS = ['1x1M-1attr', '1x1M-1000attr', '10x100k-same', '1x1M-1attr-out'];
const arg = process.argv[2];
if (arg) {
  process.stdout.write(`${JSON.stringify(run(arg))}\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  for (const s of SCENARIOS) {
    const r = spawnSync(process.execPath, ['--expose-gc', self, s], { encoding: 'utf8' });
    process.stdout.write(r.status === 0 ? r.stdout : `${s} failed: ${r.stderr}\n`);
  }
}
