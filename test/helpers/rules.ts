/** Helpers for felix/rules topology tests: program a namespace and read it back independently. */
import { silentLogger } from '../../common/logger.js';
import { systemClock } from '../../common/clock.js';
import { spawnExec } from '../../felix/rules/exec.js';
import { NftBackend } from '../../felix/rules/nft-backend.js';
import { IptablesBackend } from '../../felix/rules/iptables-backend.js';
import type { RulesBackend } from '../../felix/rules/rules-backend.js';
import { RulesProgrammer, type RulesProgrammerOptions } from '../../felix/rules/rules-programmer.js';
import { watchedTables } from '../../felix/rules/nft-monitor.js';
import { NftMonitor } from '../../felix/rules/nft-monitor.js';
import { sh } from './sh.js';
import { spawn } from 'node:child_process';

export type BackendKind = 'nft' | 'iptables';

export function backendIn(ns: string, kind: BackendKind): RulesBackend {
  const exec = spawnExec(['ip', 'netns', 'exec', ns]);
  return kind === 'nft' ? new NftBackend({ exec, logger: silentLogger() }) : new IptablesBackend({ exec, logger: silentLogger() });
}

export function programmerIn(ns: string, kind: BackendKind, options: RulesProgrammerOptions = {}, watch = false): RulesProgrammer {
  return new RulesProgrammer({ backend: backendIn(ns, kind), clock: systemClock, logger: silentLogger(),
    ...(watch ? { watcher: monitorIn(ns, kind) } : {}) }, { refreshIntervalMs: 0, ...options });
}

/** `nft monitor` in the namespace, watching the tables the agent watches for this backend. */
export function monitorIn(ns: string, kind: BackendKind): NftMonitor {
  return new NftMonitor({ spawnMonitor: () => spawn('ip', ['netns', 'exec', ns, 'nft', 'monitor'], { stdio: ['ignore', 'pipe', 'pipe'] }),
    clock: systemClock, logger: silentLogger() }, { tables: watchedTables(kind) });
}

/** Every `tortie:` comment hash per chain, read with the stock tools (not our parser). */
export function kernelHashes(ns: string, kind: BackendKind, family: 4 | 6): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (kind === 'nft') {
    const text = sh('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', family === 4 ? 'ip' : 'ip6', 'tortie']);
    const items = (JSON.parse(text) as { nftables: Array<Record<string, { chain?: string; name?: string; comment?: string }>> }).nftables;
    for (const it of items) {
      if (it['chain']?.name !== undefined) out[it['chain'].name] ??= [];
      const r = it['rule'];
      if (r?.chain !== undefined) (out[r.chain] ??= []).push((r.comment ?? '').replace(/^tortie:/, ''));
    }
    return out;
  }
  for (const table of ['filter', 'nat']) {
    const text = sh('ip', ['netns', 'exec', ns, family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', table]);
    for (const line of text.split('\n')) {
      const decl = /^:(tortie-\S+)/.exec(line);
      if (decl?.[1] !== undefined) out[decl[1].slice(7)] ??= [];
      const m = /^-A (tortie-\S+) .*--comment "?tortie:([\w-]+)/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) (out[m[1].slice(7)] ??= []).push(m[2]);
    }
  }
  return out;
}
