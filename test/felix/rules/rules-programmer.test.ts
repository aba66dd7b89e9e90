/**
 * The reconciler against an in-memory fake backend: only differences are written, drift made
 * "behind our back" is found on resync and repaired, a failed write rejects with the typed error,
 * degrades readiness and forces a resync, and the periodic refresh re-reads the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, TimerHandle } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import type { Family } from '../../../common/prefix.js';
import { HealthAggregator } from '../../../felix/health/health-aggregator.js';
import { RulesApplyError } from '../../../felix/rules/errors.js';
import type { ChainSeen, HookRuleSeen, KernelRulesState, RulesBackend, WritePlan } from '../../../felix/rules/rules-backend.js';
import { chainHashes } from '../../../felix/rules/rule-model.js';
import { RulesProgrammer } from '../../../felix/rules/rules-programmer.js';
import type { RulesConfig } from '../../../felix/rules/desired-rules.js';

class FakeClock implements Clock {
  t = 0;
  timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number { return this.t; }
  wallNow(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const e = { at: this.t + ms, fn, live: true };
    this.timers.push(e);
    return { cancel: () => { e.live = false; } };
  }
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= this.t);
      if (due.length === 0) return;
      for (const e of due) { e.live = false; e.fn(); }
    }
  }
}

/** A kernel in memory: chains → hashes, sets → elements; writes apply the plan like a real backend. */
class FakeBackend implements RulesBackend {
  readonly kind = 'nft' as const;
  readonly usesHooks = false;
  chains = new Map<string, ChainSeen>();
  sets = new Map<string, Set<string>>();
  writes: WritePlan[] = [];
  reads = 0;
  failNext = false;
  async read(_family: Family): Promise<KernelRulesState> {
    this.reads++;
    return { chains: new Map(this.chains), sets: new Map([...this.sets].map(([k, v]) => [k, new Set(v)])),
      hooks: new Map<string, HookRuleSeen[]>() };
  }
  async write(plan: WritePlan): Promise<void> {
    if (this.failNext) { this.failNext = false; throw new RulesApplyError('nft -f -', 1, 'Error: Could not process rule'); }
    this.writes.push(plan);
    for (const name of plan.chainsToWrite) {
      const c = plan.ruleset.chains.find((x) => x.name === name);
      if (c) this.chains.set(name, { table: c.table, hashes: chainHashes(c) });
    }
    for (const c of plan.chainsToDelete) this.chains.delete(c.name);
    for (const s of plan.setsToCreate) this.sets.set(s.name, new Set(s.elements));
    for (const [s, els] of plan.setDels) for (const e of els) this.sets.get(s)?.delete(e);
    for (const [s, els] of plan.setAdds) for (const e of els) this.sets.get(s)?.add(e);
    for (const s of plan.setsToDelete) this.sets.delete(s);
  }
  async removeAll(): Promise<void> { this.chains.clear(); this.sets.clear(); }
}

const config: RulesConfig = {
  pools: [{ cidr: '10.65.0.0/16', natOutgoing: true }, { cidr: '10.66.0.0/16', natOutgoing: false }],
  nodeAddresses: ['192.168.1.2', '192.168.1.3'], ipipEnabled: true, vxlanEnabled: true,
};

function setup() {
  const clock = new FakeClock();
  const backend = new FakeBackend();
  const health = new HealthAggregator({ clock });
  const reporter = health.register('rules', { live: true, ready: true, timeoutMs: 0 });
  const p = new RulesProgrammer({ backend, clock, logger: silentLogger(), health: reporter },
    { families: [4], refreshIntervalMs: 90_000, retryBaseMs: 1000, postWriteCheckMs: 0 });
  return { clock, backend, health, p };
}

test('first apply reads then writes everything; a second apply writes nothing and reads nothing', async () => {
  const { backend, p, health } = setup();
  assert.equal(health.summary().ready, false);
  p.setDesired(config);
  const r1 = await p.apply();
  assert.equal(backend.reads, 1);
  assert.equal(r1.families[0]?.chainsWritten.length, 5);
  assert.deepEqual([...(backend.sets.get('all-hosts-net') ?? [])], ['192.168.1.2', '192.168.1.3']);
  assert.equal(health.summary().ready, true);
  const r2 = await p.apply();
  assert.equal(backend.reads, 1);
  assert.equal(backend.writes.length, 1);
  assert.deepEqual(r2.families[0]?.chainsWritten, []);
});

test('a node leaving and one joining is two element operations, no chain rewrite', async () => {
  const { backend, p } = setup();
  p.setDesired(config);
  await p.apply();
  p.setDesired({ ...config, nodeAddresses: ['192.168.1.2', '192.168.1.9'] });
  const r = await p.apply();
  assert.deepEqual(r.families[0], { family: 4, resynced: false, repaired: false, chainsWritten: [], elementsAdded: 1, elementsDeleted: 1 });
  assert.deepEqual([...(backend.sets.get('all-hosts-net') ?? [])].sort(), ['192.168.1.2', '192.168.1.9']);
});

test('drift behind our back (rule deleted, set element removed) is repaired on resync', async () => {
  const { backend, p } = setup();
  p.setDesired(config);
  await p.apply();
  const input = backend.chains.get('INPUT');
  assert.ok(input);
  backend.chains.set('INPUT', { table: 'filter', hashes: input.hashes.slice(1) });
  backend.sets.get('all-ipam-pools')?.delete('10.66.0.0/16');
  backend.chains.set('stale', { table: 'filter', hashes: ['x'] });
  // Without a resync we trust the believed state (no read-back per sync).
  assert.deepEqual((await p.apply()).families[0]?.chainsWritten, []);
  p.queueResync('netlink-hint');
  const r = await p.apply();
  assert.equal(r.families[0]?.repaired, true);
  assert.deepEqual(r.families[0]?.chainsWritten, ['INPUT']);
  assert.deepEqual(backend.chains.get('INPUT'), input);
  assert.equal(backend.chains.has('stale'), false);
  assert.equal(backend.sets.get('all-ipam-pools')?.has('10.66.0.0/16'), true);
});

test('a failed write rejects typed, makes us unready, and the retry loop resyncs and recovers', async () => {
  const { backend, p, clock, health } = setup();
  p.setDesired(config);
  backend.failNext = true;
  await assert.rejects(p.apply(), (e: unknown) => e instanceof RulesApplyError && e.code === 'rules-apply-failed');
  const s = health.summary();
  assert.equal(s.ready, false);
  assert.equal(s.live, true);
  assert.match(s.reporters[0]?.detail ?? '', /Could not process rule/);
  const readsBefore = backend.reads;
  p.start();
  clock.advance(0);
  await new Promise((r) => setImmediate(r));
  await p.apply();
  assert.ok(backend.reads > readsBefore, 'the apply after a failure re-reads the kernel');
  assert.equal(health.summary().ready, true);
  // The periodic refresh re-reads the kernel and repairs.
  backend.sets.get('all-hosts-net')?.clear();
  const reads = backend.reads;
  clock.advance(90_000);
  await new Promise((r) => setImmediate(r));
  await p.apply();
  assert.ok(backend.reads > reads);
  assert.equal(backend.sets.get('all-hosts-net')?.size, 2);
  p.stop();
});

test('updateSetElements: cost independent of set size, exact element ops, no false repair on resync', async () => {
  const { backend, p } = setup();
  p.setDesired(config);
  await p.apply();
  p.updateSetElements(4, 'all-hosts-net', ['192.168.1.4', '192.168.1.5'], ['192.168.1.2']);
  p.updateSetElements(4, 'all-hosts-net', [], ['192.168.1.5', '192.168.1.99']);
  const r = await p.apply();
  assert.deepEqual(r.families[0], { family: 4, resynced: false, repaired: false, chainsWritten: [], elementsAdded: 1, elementsDeleted: 1 });
  const last = backend.writes.at(-1);
  assert.deepEqual([...(last?.setAdds ?? [])], [['all-hosts-net', ['192.168.1.4']]]);
  assert.deepEqual([...(last?.setDels ?? [])], [['all-hosts-net', ['192.168.1.2']]]);
  assert.deepEqual([...(backend.sets.get('all-hosts-net') ?? [])].sort(), ['192.168.1.3', '192.168.1.4']);
  // Pending ops then a resync: the read-back diff covers them; not reported as drift.
  p.updateSetElements(4, 'all-ipam-pools', ['10.70.0.0/16']);
  p.queueResync('hint');
  const r2 = await p.apply();
  assert.equal(r2.families[0]?.repaired, false);
  assert.equal(backend.sets.get('all-ipam-pools')?.has('10.70.0.0/16'), true);
  assert.throws(() => p.updateSetElements(4, 'nope', ['1.2.3.4']), /no desired set "nope"/);
  assert.throws(() => p.updateSetElements(4, 'all-hosts-net', ['1.2.3']), /all-hosts-net\.add/);
});

test('post-write checks: re-read 1 s after a write, then 2 s, 4 s…; clobbering right after a write is repaired', async () => {
  const clock = new FakeClock();
  const backend = new FakeBackend();
  const p = new RulesProgrammer({ backend, clock, logger: silentLogger() },
    { families: [4], refreshIntervalMs: 90_000, postWriteCheckMs: 1000 });
  p.setDesired(config);
  p.start();
  const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };
  clock.advance(0);
  await settle();
  assert.equal(backend.writes.length, 1);
  const readsAfterWrite = backend.reads;
  clock.advance(999);
  await settle();
  assert.equal(backend.reads, readsAfterWrite, 'no check before 1 s');
  clock.advance(1);
  await settle();
  assert.equal(backend.reads, readsAfterWrite + 1, 'checked at 1 s');
  // Someone flushes our FORWARD chain now; the next check (2 s later) repairs it.
  backend.chains.set('FORWARD', { table: 'filter', hashes: [] });
  clock.advance(2000);
  await settle();
  assert.equal(backend.reads, readsAfterWrite + 2);
  assert.equal(backend.writes.length, 2);
  assert.deepEqual(backend.writes[1]?.chainsToWrite, ['FORWARD']);
  p.stop();
});
