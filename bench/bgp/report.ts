/**
 * Medians over repetitions and the markdown table: per tester and load, one row per target with
 * announce s, withdraw s, CPU-s (announce+withdraw), peak RSS, and ratios of the announce and
 * withdraw times to the best of BIRD/FRR/GoBGP in the same run and to the floor.
 */
import type { CellResult, CellTarget } from './harness.js';

export interface Summary {
  readonly tester: string;
  readonly load: string;
  readonly target: CellTarget;
  readonly reps: number;
  readonly failed: number;
  readonly announceS?: number;
  readonly withdrawS?: number;
  readonly announceWorstS?: number;
  readonly announceBestS?: number;
  readonly cpuS?: number;
  readonly peakRssMB?: number;
  readonly bytesPerRoute?: number;
  /** RSS with the sessions up, before any route. */
  readonly readyRssMB?: number;
  /** tortie-bgpd's JIT warm-up, as it logged it. */
  readonly warmUpCpuMs?: number;
  readonly errors: readonly string[];
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export function summarize(results: readonly CellResult[]): Summary[] {
  const groups = new Map<string, CellResult[]>();
  for (const r of results) {
    const k = `${r.spec.tester}|${r.spec.load.label}|${r.spec.target}`;
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]); else g.push(r);
  }
  const out: Summary[] = [];
  for (const g of groups.values()) {
    const first = g[0];
    if (first === undefined) continue;
    const ok = g.flatMap((r) => (r.ok ? [r] : []));
    const nums = (f: (r: (typeof ok)[number]) => number | undefined): number[] => ok.map(f).filter((x): x is number => x !== undefined);
    const ann = median(nums((r) => r.announce.seconds));
    const cpu = median(nums((r) => (r.announce.cpuS === undefined || r.withdraw.cpuS === undefined ? undefined : r.announce.cpuS + r.withdraw.cpuS)));
    const rss = median(nums((r) => r.peakRssBytes));
    const ready = median(nums((r) => r.readyRssBytes));
    const warm = median(nums((r) => r.warmUp?.cpuMs));
    const routes = first.spec.load.peers * first.spec.load.routes;
    const wd = median(nums((r) => r.withdraw.seconds));
    const worst = nums((r) => r.announce.seconds);
    out.push({
      tester: first.spec.tester, load: first.spec.load.label, target: first.spec.target, reps: g.length, failed: g.length - ok.length,
      ...(ann !== undefined ? { announceS: ann } : {}),
      ...(wd !== undefined ? { withdrawS: wd } : {}),
      ...(worst.length > 0 ? { announceWorstS: Math.max(...worst), announceBestS: Math.min(...worst) } : {}),
      ...(cpu !== undefined ? { cpuS: cpu } : {}),
      ...(rss !== undefined ? { peakRssMB: rss / 1e6, bytesPerRoute: rss / routes } : {}),
      ...(ready !== undefined ? { readyRssMB: ready / 1e6 } : {}),
      ...(warm !== undefined ? { warmUpCpuMs: warm } : {}),
      errors: g.flatMap((r) => (r.ok ? [] : [`${r.phase}: ${r.error}`])),
    });
  }
  return out;
}

const f2 = (x: number | undefined): string => (x === undefined ? '—' : x < 0.1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b <= 0 ? '—' : `${(a / b).toFixed(2)}x`);

/**
 * performance.md §6: ahead when the median is ≤ 0.9x the best peer's and the worst repetition
 * beats the best peer's best; in a floor-bound cell, within 1.05x of the floor.
 */
function tortieVerdict(r: Summary, peers: readonly Summary[], bestA: number | undefined, floorS: number | undefined): string {
  if (r.announceS === undefined || bestA === undefined) return r.failed > 0 ? 'failed' : '';
  if (floorS !== undefined) return r.announceS <= 1.05 * floorS ? 'ahead (≤1.05x floor)' : 'behind';
  const bestOfBests = Math.min(...peers.map((p) => p.announceBestS ?? Infinity));
  if (r.announceS <= 0.9 * bestA && (r.announceWorstS ?? Infinity) < bestOfBests) return 'ahead';
  const beaten = peers.filter((p) => p.announceS !== undefined && r.announceS !== undefined && r.announceS < p.announceS).map((p) => p.target);
  return beaten.length === 0 ? 'behind all' : `behind; faster than ${beaten.join(', ')}`;
}

export function markdownTable(sums: readonly Summary[], notes: readonly string[]): string {
  const lines: string[] = [];
  const testers = [...new Set(sums.map((s) => s.tester))];
  for (const tester of testers) {
    lines.push(`### tester: ${tester}`, '',
      '| load | target | announce s | withdraw s | CPU-s (ann+wd) | peak RSS MB | RSS MB, sessions up | B/route | announce vs best peer | withdraw vs best peer | announce vs floor | verdict |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|');
    const loads = [...new Set(sums.filter((s) => s.tester === tester).map((s) => s.load))];
    for (const load of loads) {
      const rows = sums.filter((s) => s.tester === tester && s.load === load);
      const peers = rows.filter((r) => r.target === 'bird' || r.target === 'frr' || r.target === 'gobgp');
      const best = (f: (s: Summary) => number | undefined): number | undefined => {
        const v = peers.map(f).filter((x): x is number => x !== undefined);
        return v.length === 0 ? undefined : Math.min(...v);
      };
      const bestA = best((s) => s.announceS); const bestW = best((s) => s.withdrawS);
      const fl = rows.find((r) => r.target === 'floor');
      const floorBound = bestA !== undefined && fl?.announceS !== undefined && bestA <= 1.2 * fl.announceS;
      for (const r of rows) {
        const verdict = r.target === 'floor' ? (floorBound ? 'floor-bound cell' : '')
          : r.target === 'tortie' || r.target === 'tortie-cold' ? tortieVerdict(r, peers, bestA, floorBound ? fl?.announceS : undefined) : '';
        const fail = r.failed > 0 ? ` (${r.failed}/${r.reps} failed)` : '';
        lines.push(`| ${load} | ${r.target}${fail} | ${f2(r.announceS)} | ${f2(r.withdrawS)} | ${f2(r.cpuS)} | ${r.peakRssMB === undefined ? '—' : r.peakRssMB.toFixed(0)} | ${r.readyRssMB === undefined ? '—' : r.readyRssMB.toFixed(0)} | ` +
          `${r.bytesPerRoute === undefined ? '—' : r.bytesPerRoute.toFixed(0)} | ${r.target === 'floor' ? '' : ratio(r.announceS, bestA)} | ` +
          `${r.target === 'floor' ? '' : ratio(r.withdrawS, bestW)} | ${r.target === 'floor' ? '' : ratio(r.announceS, fl?.announceS)} | ${verdict} |`);
      }
    }
    lines.push('');
  }
  const warm = sums.filter((s) => s.warmUpCpuMs !== undefined).map((s) => `${s.load} ${s.warmUpCpuMs!.toFixed(0)}`);
  if (warm.length > 0) lines.push(`tortie-bgpd's JIT warm-up (its log, median CPU ms per load): ${warm.join(', ')}.`, '');
  const errs = sums.flatMap((s) => s.errors.map((e) => `- ${s.tester} ${s.load} ${s.target}: ${e.replace(/\n/g, ' ').slice(0, 400)}`));
  if (notes.length > 0) lines.push('Notes:', ...notes.map((n) => `- ${n}`), '');
  if (errs.length > 0) lines.push('Failures:', ...errs, '');
  return lines.join('\n');
}
