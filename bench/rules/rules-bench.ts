/**
 * B9 rules benchmark (performance.md §3, §6): load N rules / a set of N elements with each backend
 * and make one incremental change, side by side with hand-written `nft -f` / iptables-restore /
 * ipset input of the same content, each in a fresh network namespace, in the same run.
 *
 *   node dist/bench/rules/rules-bench.js [--rules 1000,10000] [--sets 1000,100000] [--reps 3]
 *
 * Ours = RulesProgrammer.apply(): load = the startup apply (read-back of the empty namespace, plan,
 * render, write); change = the middle rule of the chain edited (setDesiredRulesets) or one element
 * added (updateSetElements), then apply; read-back = one resync apply (read what we own, compare,
 * nothing written). Needs root.
 */
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../common/logger.js';
import { formatAddress, intToIpv4 } from '../../common/prefix.js';
import { spawnExec, type Exec } from '../../felix/rules/exec.js';
import { IptablesBackend } from '../../felix/rules/iptables-backend.js';
import { NftBackend } from '../../felix/rules/nft-backend.js';
import type { RulesBackend } from '../../felix/rules/rules-backend.js';
import { RulesProgrammer } from '../../felix/rules/rules-programmer.js';
import { systemClock } from '../../common/clock.js';
import { hashRules, type Ruleset } from '../../felix/rules/rule-model.js';
import { Topology } from '../../test/helpers/netns.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? dflt : dflt;
}
const RULE_SIZES = arg('rules', '1000,10000').split(',').map(Number);
const SET_SIZES = arg('sets', '1000,100000').split(',').map(Number);
const REPS = Number(arg('reps', '3'));

function rulesRuleset(n: number, changed = -1): Ruleset {
  const specs = Array.from({ length: n }, (_, i) => ({
    matches: [{ type: 'udp-dport' as const, port: 1024 + i }],
    action: i === changed ? { type: 'drop' as const } : { type: 'accept' as const },
  }));
  return { family: 4, chains: [{ name: 'bench', table: 'filter', rules: hashRules('bench', specs) }], sets: [] };
}

const addr = (i: number): string => formatAddress(intToIpv4(0x0a000000 + i));

function setRuleset(n: number): Ruleset {
  const elements = new Set<string>();
  for (let i = 0; i < n; i++) elements.add(addr(i));
  return { family: 4, chains: [], sets: [{ name: 'bench', kind: 'addr', elements }] };
}

async function must(exec: Exec, cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await exec(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Cell { load: number; change: number; read?: number }

async function inFreshNs<T>(fn: (exec: Exec) => Promise<T>): Promise<T> {
  const topo = new Topology('bench');
  try {
    const ns = topo.ns('b');
    return await fn(spawnExec(['ip', 'netns', 'exec', ns]));
  } finally {
    await topo.cleanup();
  }
}

async function ours(kind: 'nft' | 'iptables', before: Ruleset, change: (p: RulesProgrammer) => void): Promise<Cell> {
  return inFreshNs(async (exec) => {
    const backend: RulesBackend = kind === 'nft' ? new NftBackend({ exec, logger: silentLogger() })
      : new IptablesBackend({ exec, logger: silentLogger() });
    const p = new RulesProgrammer({ backend, clock: systemClock, logger: silentLogger() }, { families: [4], refreshIntervalMs: 0 });
    p.setDesiredRulesets([before]);
    let t = performance.now();
    await p.apply(); // startup: read back (empty namespace) + plan + render + one write
    const load = performance.now() - t;
    t = performance.now();
    change(p);
    await p.apply();
    const changeMs = performance.now() - t;
    p.queueResync('bench');
    t = performance.now();
    await p.apply(); // full read-back of what we own + compare, nothing to write
    return { load, change: changeMs, read: performance.now() - t };
  });
}

async function refNftRules(n: number): Promise<Cell> {
  return inFreshNs(async (exec) => {
    const lines = ['table ip ref {', ' chain c {'];
    for (let i = 0; i < n; i++) lines.push(`  udp dport ${1024 + i} counter accept`);
    lines.push(' }', '}');
    let t = performance.now();
    await must(exec, 'nft', ['-f', '-'], `${lines.join('\n')}\n`);
    const load = performance.now() - t;
    const j = JSON.parse(await must(exec, 'nft', ['-j', '-a', 'list', 'chain', 'ip', 'ref', 'c'])) as
      { nftables: Array<{ rule?: { handle: number } }> };
    const handle = j.nftables.filter((x) => x.rule !== undefined)[Math.floor(n / 2)]?.rule?.handle;
    t = performance.now();
    await must(exec, 'nft', ['replace', 'rule', 'ip', 'ref', 'c', 'handle', String(handle),
      'udp', 'dport', String(1024 + Math.floor(n / 2)), 'counter', 'drop']);
    return { load, change: performance.now() - t };
  });
}

async function refIptablesRules(n: number): Promise<Cell> {
  return inFreshNs(async (exec) => {
    const lines = ['*filter', ':REF - [0:0]'];
    for (let i = 0; i < n; i++) lines.push(`-A REF -p udp -m udp --dport ${1024 + i} -j ACCEPT`);
    lines.push('COMMIT');
    let t = performance.now();
    await must(exec, 'iptables-restore', ['--noflush', '--wait', '10'], `${lines.join('\n')}\n`);
    const load = performance.now() - t;
    t = performance.now();
    await must(exec, 'iptables', ['-w', '10', '-R', 'REF', String(Math.floor(n / 2) + 1), '-p', 'udp', '-m', 'udp',
      '--dport', String(1024 + Math.floor(n / 2)), '-j', 'DROP']);
    return { load, change: performance.now() - t };
  });
}

async function refNftSet(n: number): Promise<Cell> {
  return inFreshNs(async (exec) => {
    const els: string[] = [];
    for (let i = 0; i < n; i++) els.push(addr(i));
    let t = performance.now();
    await must(exec, 'nft', ['-f', '-'], `table ip ref {\n set s { type ipv4_addr; elements = { ${els.join(', ')} } }\n}\n`);
    const load = performance.now() - t;
    t = performance.now();
    await must(exec, 'nft', ['add', 'element', 'ip', 'ref', 's', `{ ${addr(n)} }`]);
    return { load, change: performance.now() - t };
  });
}

async function refIpset(n: number): Promise<Cell> {
  return inFreshNs(async (exec) => {
    const lines = ['create ref hash:ip family inet maxelem 1048576'];
    for (let i = 0; i < n; i++) lines.push(`add ref ${addr(i)}`);
    let t = performance.now();
    await must(exec, 'ipset', ['restore', '-exist'], `${lines.join('\n')}\n`);
    const load = performance.now() - t;
    t = performance.now();
    await must(exec, 'ipset', ['add', 'ref', addr(n)]);
    return { load, change: performance.now() - t };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function measure(fn: () => Promise<Cell>): Promise<Cell> {
  const cells: Cell[] = [];
  for (let r = 0; r < REPS; r++) cells.push(await fn());
  const reads = cells.map((c) => c.read).filter((x): x is number => x !== undefined);
  const out: Cell = { load: median(cells.map((c) => c.load)), change: median(cells.map((c) => c.change)) };
  return reads.length > 0 ? { ...out, read: median(reads) } : out;
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function main(): Promise<void> {
  const rows: string[] = [
    '| workload | N | ours load | ref load | ratio | ours change | ref change | ratio | ours read-back |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const row = (w: string, n: number, o: Cell, r: Cell): void => {
    rows.push(`| ${w} | ${n} | ${fmt(o.load)} | ${fmt(r.load)} | ${(o.load / r.load).toFixed(2)}x | ${fmt(o.change)} | `
      + `${fmt(r.change)} | ${(o.change / r.change).toFixed(2)}x | ${o.read === undefined ? '' : fmt(o.read)} |`);
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  };
  for (const n of RULE_SIZES) {
    const before = rulesRuleset(n);
    const after = rulesRuleset(n, Math.floor(n / 2));
    const edit = (p: RulesProgrammer): void => p.setDesiredRulesets([after]);
    row('nft rules (ref: nft -f / replace rule)', n, await measure(() => ours('nft', before, edit)), await measure(() => refNftRules(n)));
    row('iptables rules (ref: iptables-restore / -R)', n, await measure(() => ours('iptables', before, edit)), await measure(() => refIptablesRules(n)));
  }
  for (const n of SET_SIZES) {
    const before = setRuleset(n);
    const add = (p: RulesProgrammer): void => p.updateSetElements(4, 'bench', [addr(n)]);
    row('nft set (ref: nft -f / add element)', n, await measure(() => ours('nft', before, add)), await measure(() => refNftSet(n)));
    row('ipset (ref: ipset restore / add)', n, await measure(() => ours('iptables', before, add)), await measure(() => refIpset(n)));
  }
  process.stdout.write(`B9 rules, median of ${REPS}, ${new Date().toISOString()}\n${rows.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`rules-bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
