/** IpamController against a fake election: sweeps only while elected; a lost lease stops them and campaigns again. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { Clock, TimerHandle } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import type { LeaderCampaign, LeaderElection } from '../../../agent/datastore/kv-store.js';
import { IpamController } from '../../../agent/node/ipam-controller.js';
import type { IpamGcDeps, SweepResult } from '../../../agent/ipam/ipam-gc.js';

class StepClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number { return this.t; }
  wallNow(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const e = { at: this.t + ms, fn, live: true };
    this.timers.push(e);
    return { cancel: () => { e.live = false; } };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const next = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.t = next.at;
      next.live = false;
      next.fn();
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}

class FakeElection implements LeaderElection {
  readonly campaigns: Array<{ elected: () => void; error: (e: Error) => void; resigned: boolean }> = [];
  campaign(): LeaderCampaign {
    const c = { elected: (): void => undefined, error: (_e: Error): void => undefined, resigned: false };
    this.campaigns.push(c);
    return { onElected: (cb) => { c.elected = cb; }, onError: (cb) => { c.error = cb; }, resign: async () => { c.resigned = true; } };
  }
}

const none: SweepResult = { nodes: {}, pools: { blocksDeleted: [], blocksUnaffined: [], addressesReleased: [] } };

function setup() {
  const clock = new StepClock();
  const elector = new FakeElection();
  let sweeps = 0;
  const names = { nodes: ['a', 'b'], pools: ['p'] };
  const ctl = new IpamController({ elector, gc: {} as IpamGcDeps, clock, logger: silentLogger(), names: () => names,
    sweep: async () => { sweeps++; return none; } }, { nodeName: 'a', intervalMs: 60_000, debounceMs: 1000 });
  return { clock, elector, ctl, names, sweeps: () => sweeps };
}

test('no sweep before election; one at election, after a Node disappears, and on the interval', async () => {
  const { clock, elector, ctl, names, sweeps } = setup();
  ctl.kick();
  ctl.start();
  await clock.advance(120_000);
  assert.equal(sweeps(), 0, 'not leader: never sweeps');
  elector.campaigns[0]?.elected();
  await clock.advance(0);
  assert.equal(sweeps(), 1, 'sweeps when elected');
  names.nodes = ['a'];
  ctl.kick();
  await clock.advance(999);
  assert.equal(sweeps(), 1, 'debounced');
  await clock.advance(2);
  assert.equal(sweeps(), 2, 'a deleted Node triggers a sweep');
  ctl.kick();
  await clock.advance(59_000);
  assert.equal(sweeps(), 2, 'nothing gone, no sweep before the interval');
  await clock.advance(2000);
  assert.equal(sweeps(), 3, 'the safety-net interval');
  await ctl.stop();
  assert.equal(elector.campaigns[0]?.resigned, true, 'stop resigns');
});

test('a lost lease ends leadership at once and a new campaign starts', async () => {
  const { clock, elector, ctl, sweeps } = setup();
  ctl.start();
  elector.campaigns[0]?.elected();
  await clock.advance(0);
  assert.equal(sweeps(), 1);
  elector.campaigns[0]?.error(new Error('lease lost'));
  assert.equal(ctl.isLeader, false);
  await clock.advance(300_000);
  assert.equal(sweeps(), 1, 'no sweep without the lease');
  assert.equal(elector.campaigns.length, 2, 'campaigning again');
  elector.campaigns[1]?.elected();
  await clock.advance(0);
  assert.equal(sweeps(), 2);
  await ctl.stop();
});
