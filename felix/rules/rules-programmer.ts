/**
 * The rules reconciler: desired rulesets (per family) and believed kernel state side by side.
 * `apply()` writes only the difference (whole chains whose hash list changed; set elements one by
 * one); a resync (first apply, `queueResync()`, the periodic refresh, any failed write) first reads
 * our own objects back and replaces the believed state, so drift is found and repaired.
 *
 *   setDesired(config) ─► buildRuleset ─► planWrite(desired, believed) ─► backend.write ─► believed
 *                                              ▲ resync: backend.read ──────┘
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { Family } from '../../common/prefix.js';
import type { HealthReporter } from '../health/health-aggregator.js';
import type { DataplaneMetrics } from '../metrics/dataplane-metrics.js';
import type { RulesWatcher } from './nft-monitor.js';
import { buildRuleset, type RulesConfig } from './desired-rules.js';
import { RulesConfigError } from './errors.js';
import { canonicalElement } from './rule-model.js';
import {
  emptyKernelState, planIsEmpty, planWrite, stateAfter, type KernelRulesState, type RulesBackend, type WritePlan,
} from './rules-backend.js';
import type { Ruleset } from './rule-model.js';

export interface RulesProgrammerDeps {
  readonly backend: RulesBackend;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: DataplaneMetrics;
  readonly health?: HealthReporter;
  /**
   * Tells us when our objects may have changed (`nft monitor`, nft-monitor.ts): the read-back
   * runs within `watchDebounceMs` instead of at the next post-write check or refresh.
   */
  readonly watcher?: RulesWatcher;
}

export interface RulesProgrammerOptions {
  /** Families to program (default both). */
  readonly families?: readonly Family[];
  /** Full read-back period (default 90 s, Felix ipsetsRefreshInterval); 0 disables. */
  readonly refreshIntervalMs?: number;
  /** First retry delay after a failure, doubled up to `retryMaxMs` (defaults 1 s / 30 s). */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /**
   * Felix iptablesPostWriteCheckInterval: re-read our objects this long after a write, then at
   * doubling intervals while nothing changes, up to the refresh interval (default 1 s; 0 = off).
   * Catches another program clobbering us soon after we wrote. Only while start()ed.
   */
  readonly postWriteCheckMs?: number;
  /** Delay between a watcher's change report and the read-back (default 50 ms: one per burst). */
  readonly watchDebounceMs?: number;
  /**
   * Period of the backend's cheap fingerprint check (`RulesBackend.fingerprint`, e.g. ipset
   * sizes), for objects no watcher sees; a change triggers a read-back (default 500 ms, so a
   * change is seen and repaired within 1 s; 0 = off).
   */
  readonly fingerprintCheckMs?: number;
}

export interface FamilyApplyReport {
  readonly family: Family;
  readonly resynced: boolean;
  /** The kernel differed from what we believed (someone changed it) and we rewrote it. */
  readonly repaired: boolean;
  readonly chainsWritten: readonly string[];
  readonly elementsAdded: number;
  readonly elementsDeleted: number;
}

export interface ApplyReport {
  readonly families: readonly FamilyApplyReport[];
  readonly durationMs: number;
}

function countElements(m: ReadonlyMap<string, readonly string[]>): number {
  let n = 0;
  for (const v of m.values()) n += v.length;
  return n;
}

/**
 * planWrite skips a set whose believed contents are the very object we desire (O(1)); element
 * changes made in place since then are recorded as pending ops and added here.
 */
function withPendingSetOps(plan: WritePlan, desired: Ruleset, believed: KernelRulesState,
  pending: ReadonlyMap<string, { add: ReadonlySet<string>; del: ReadonlySet<string> }>): WritePlan {
  const setAdds = new Map(plan.setAdds);
  const setDels = new Map(plan.setDels);
  for (const s of desired.sets) {
    const ops = pending.get(s.name);
    if (ops === undefined || believed.sets.get(s.name) !== s.elements) continue;
    if (ops.add.size > 0) setAdds.set(s.name, [...ops.add]);
    if (ops.del.size > 0) setDels.set(s.name, [...ops.del]);
  }
  return { ...plan, setAdds, setDels };
}

export class RulesProgrammer {
  private readonly log: Logger;
  private readonly families: readonly Family[];
  private readonly refreshMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly postWriteBaseMs: number;
  private readonly watchDebounceMs: number;
  private readonly fingerprintMs: number;
  private fingerprintTimer: TimerHandle | undefined;
  /** The backend's fingerprint per family right after our last successful apply. */
  private readonly fingerprints = new Map<Family, string>();
  private applying = false;
  private postWriteDelay = 0;
  private postWriteTimer: TimerHandle | undefined;
  private desired = new Map<Family, Ruleset>();
  private believed = new Map<Family, KernelRulesState>();
  private resyncReason: string | undefined = 'startup';
  private queue: Promise<unknown> = Promise.resolve();
  private refreshTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private failures = 0;
  private running = false;
  /** Element changes made through updateSetElements() since the last write, per family and set. */
  private pendingSetOps = new Map<Family, Map<string, { add: Set<string>; del: Set<string> }>>();

  constructor(private readonly deps: RulesProgrammerDeps, options: RulesProgrammerOptions = {}) {
    this.log = deps.logger.child({ component: 'rules', backend: deps.backend.kind });
    this.families = options.families ?? [4, 6];
    this.refreshMs = options.refreshIntervalMs ?? 90_000;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.postWriteBaseMs = options.postWriteCheckMs ?? 1000;
    this.watchDebounceMs = options.watchDebounceMs ?? 50;
    this.fingerprintMs = options.fingerprintCheckMs ?? 500;
  }

  /** Validate and take the configuration (throws RulesConfigError naming the field). */
  setDesired(config: RulesConfig): void {
    const next = new Map<Family, Ruleset>();
    for (const f of this.families) next.set(f, buildRuleset(config, f));
    this.desired = next;
    this.pendingSetOps.clear();
  }

  /** Take prebuilt rulesets (benchmarks, extra chains); set contents are copied. */
  setDesiredRulesets(rulesets: readonly Ruleset[]): void {
    this.desired = new Map(rulesets.filter((r) => this.families.includes(r.family)).map((r) => [r.family,
      { ...r, sets: r.sets.map((s) => ({ ...s, elements: new Set(s.elements) })) }]));
    this.pendingSetOps.clear();
  }

  /**
   * Add/remove elements of one desired set at a cost independent of the set's size (a node
   * joining among 100k): the next apply writes exactly these element operations.
   * Throws RulesConfigError for an unknown set or a malformed element.
   */
  updateSetElements(family: Family, set: string, add: readonly string[], del: readonly string[] = []): void {
    const def = this.desired.get(family)?.sets.find((s) => s.name === set);
    if (def === undefined) throw new RulesConfigError(`no desired set ${JSON.stringify(set)} for IPv${family}`, 'set');
    const canon = (e: string, what: string): string => {
      try { return canonicalElement(e, def.kind); } catch (err) {
        throw new RulesConfigError(err instanceof Error ? err.message : String(err), `${set}.${what}`);
      }
    };
    const a = add.map((e) => canon(e, 'add'));
    const d = del.map((e) => canon(e, 'del'));
    // Sets in rulesets held here are our own copies (built here or copied above): safe to mutate.
    const elements = def.elements as Set<string>;
    const byFamily = this.pendingSetOps.get(family) ?? new Map<string, { add: Set<string>; del: Set<string> }>();
    const ops = byFamily.get(set) ?? { add: new Set<string>(), del: new Set<string>() };
    for (const e of d) { if (elements.delete(e)) { if (!ops.add.delete(e)) ops.del.add(e); } }
    for (const e of a) { if (!elements.has(e)) { elements.add(e); if (!ops.del.delete(e)) ops.add.add(e); } }
    byFamily.set(set, ops);
    this.pendingSetOps.set(family, byFamily);
  }

  /** Read the kernel back on the next apply (netlink hint, suspicion of drift, operator request). */
  queueResync(reason = 'requested'): void {
    this.resyncReason ??= reason;
    // Event-driven repair: when the loop runs, act on the hint now rather than at the next refresh.
    if (this.running) this.kick(0);
  }

  /** Bring the kernel to the desired state. Serialised; rejects with RulesApplyError/RulesReadError. */
  apply(): Promise<ApplyReport> {
    const run = this.queue.then(() => this.applyOnce());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Periodic refresh and automatic retry with back-off; the agent also calls apply() on changes. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.watcher?.start((reason) => this.onWatcherChange(reason));
    this.kick(0);
    this.armFingerprintCheck();
  }

  /** Poll the backend's cheap fingerprint; a difference from the one after our last apply is drift. */
  private armFingerprintCheck(): void {
    const backend = this.deps.backend;
    if (!this.running || this.fingerprintMs <= 0 || backend.fingerprint === undefined) return;
    this.fingerprintTimer = this.deps.clock.setTimeout(() => {
      this.fingerprintTimer = undefined;
      void this.checkFingerprints().finally(() => this.armFingerprintCheck());
    }, this.fingerprintMs);
  }

  private async checkFingerprints(): Promise<void> {
    const fp = this.deps.backend.fingerprint?.bind(this.deps.backend);
    if (fp === undefined || this.applying) return;
    for (const [family, before] of this.fingerprints) {
      let now: string;
      try { now = await fp(family); } catch { continue; }
      if (this.applying) return; // our own write may be under way: its apply records a fresh one
      if (now !== before) { this.onWatcherChange('fingerprint'); return; }
    }
  }

  /** A change somewhere in what the watcher sees: read back soon, once per burst. */
  private onWatcherChange(reason: string): void {
    if (!this.running) return;
    this.resyncReason ??= reason;
    // A pending run (retry, earlier report) will read back anyway: do not push it later.
    if (this.retryTimer === undefined) this.kick(this.watchDebounceMs);
  }

  stop(): void {
    this.running = false;
    this.deps.watcher?.stop();
    this.fingerprintTimer?.cancel();
    this.fingerprintTimer = undefined;
    this.refreshTimer?.cancel();
    this.retryTimer?.cancel();
    this.postWriteTimer?.cancel();
    this.refreshTimer = undefined;
    this.retryTimer = undefined;
    this.postWriteTimer = undefined;
  }

  /** Remove everything we own in every family (uninstall / backend switch). */
  async removeAll(): Promise<void> {
    await this.queue;
    for (const f of this.families) await this.deps.backend.removeAll(f);
    this.believed.clear();
    this.resyncReason = 'removed';
  }

  private kick(delayMs: number): void {
    this.retryTimer?.cancel();
    this.retryTimer = this.deps.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.running) return;
      this.apply().then(() => this.armRefresh(), () => {
        const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(20, this.failures - 1));
        this.log.warn({ delayMs: delay, failures: this.failures }, 'rules apply failed; retrying');
        this.kick(delay);
      });
    }, delayMs);
  }

  private armRefresh(): void {
    this.refreshTimer?.cancel();
    if (!this.running || this.refreshMs <= 0) return;
    this.refreshTimer = this.deps.clock.setTimeout(() => {
      this.refreshTimer = undefined;
      this.queueResync('refresh');
      this.kick(0);
    }, this.refreshMs);
  }

  private schedulePostWriteCheck(wrote: boolean, reason: string | undefined): void {
    if (!this.running || this.postWriteBaseMs <= 0) return;
    if (wrote) this.postWriteDelay = this.postWriteBaseMs;
    else if (reason === 'post-write-check') this.postWriteDelay *= 2;
    else return;
    if (this.refreshMs > 0 && this.postWriteDelay >= this.refreshMs) return;
    this.postWriteTimer?.cancel();
    this.postWriteTimer = this.deps.clock.setTimeout(() => {
      this.postWriteTimer = undefined;
      this.queueResync('post-write-check');
    }, this.postWriteDelay);
  }

  private async applyOnce(): Promise<ApplyReport> {
    const start = this.deps.clock.now();
    const { backend, metrics } = this.deps;
    const reason = this.resyncReason;
    this.resyncReason = undefined;
    const reports: FamilyApplyReport[] = [];
    this.applying = true;
    try {
      for (const family of this.families) {
        const desired = this.desired.get(family);
        if (desired === undefined) continue;
        let believed = this.believed.get(family) ?? emptyKernelState;
        let repaired = false;
        const pending = this.pendingSetOps.get(family);
        if (reason !== undefined) {
          metrics?.countResync('rules', reason);
          const wasInSync = this.believed.has(family) && (pending === undefined || pending.size === 0)
            && planIsEmpty(planWrite(desired, believed, backend.usesHooks));
          believed = await backend.read(family);
          this.believed.set(family, believed);
          const drift = planWrite(desired, believed, backend.usesHooks);
          if (wasInSync && !planIsEmpty(drift)) {
            repaired = true;
            metrics?.countRepair('rules', 'drift');
            this.log.warn({ family, chains: drift.chainsToWrite, hooks: drift.hooksToFix.length,
              setAdds: countElements(drift.setAdds), setDels: countElements(drift.setDels) },
            'rules drifted from what we wrote; repairing');
          }
        }
        let plan: WritePlan = planWrite(desired, believed, backend.usesHooks);
        if (pending !== undefined) plan = withPendingSetOps(plan, desired, believed, pending);
        if (!planIsEmpty(plan)) {
          const t0 = this.deps.clock.now();
          await backend.write(plan);
          metrics?.observeRulesApply(backend.kind, (this.deps.clock.now() - t0) / 1000);
        }
        // The kernel now matches `desired`; sharing its set objects makes the next check O(1).
        this.believed.set(family, stateAfter(desired, backend.usesHooks));
        this.pendingSetOps.delete(family);
        if (this.running && this.fingerprintMs > 0 && backend.fingerprint !== undefined) {
          this.fingerprints.set(family, await backend.fingerprint(family));
        }
        metrics?.setRuleCount(backend.kind, family, desired.chains.reduce((n, c) => n + c.rules.length, 0));
        for (const s of desired.sets) metrics?.setSetElements(s.name, family, s.elements.size);
        reports.push({
          family, resynced: reason !== undefined, repaired, chainsWritten: plan.chainsToWrite,
          elementsAdded: countElements(plan.setAdds) + plan.setsToCreate.reduce((n, s) => n + s.elements.size, 0),
          elementsDeleted: countElements(plan.setDels),
        });
      }
    } catch (err) {
      this.failures++;
      this.resyncReason = 'error';
      metrics?.countError('rules', err instanceof Error && 'code' in err ? String(err.code) : 'unknown');
      this.deps.health?.report({ live: this.failures < 10, ready: false,
        detail: `rules apply failed ${this.failures} time(s): ${err instanceof Error ? err.message : String(err)}` });
      throw err;
    } finally {
      this.applying = false;
    }
    this.failures = 0;
    this.schedulePostWriteCheck(reports.some((r) => r.chainsWritten.length > 0 || r.elementsAdded > 0
      || r.elementsDeleted > 0), reason);
    const durationMs = this.deps.clock.now() - start;
    metrics?.observeApply('rules', durationMs / 1000);
    this.deps.health?.report({ live: true, ready: true, detail: `in sync (${this.deps.backend.kind})` });
    return { families: reports, durationMs };
  }
}
