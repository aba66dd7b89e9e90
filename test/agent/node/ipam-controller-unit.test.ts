/** IpamController against a fake election: sweeps only while elected; a lost lease stops them and campaigns again. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { silentLogger } from '../../../common/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import type { LeaderCampaign, LeaderElection } from '../../../agent/datastore/kv-store.js';
import { IpamController } from '../../../agent/node/ipam-controller.js';
import type { IpamGcDeps, SweepResult } from '../../../agent/ipam/ipam-gc.js';

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
  const clock = new FakeClock(0);
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
  await clock.advanceAsync(120_000);
  assert.equal(sweeps(), 0, 'not leader: never sweeps');
  elector.campaigns[0]?.elected();
  await clock.advanceAsync(0);
  assert.equal(sweeps(), 1, 'sweeps when elected');
  names.nodes = ['a'];
  ctl.kick();
  await clock.advanceAsync(999);
  assert.equal(sweeps(), 1, 'debounced');
  await clock.advanceAsync(2);
  assert.equal(sweeps(), 2, 'a deleted Node triggers a sweep');
  ctl.kick();
  await clock.advanceAsync(59_000);
  assert.equal(sweeps(), 2, 'nothing gone, no sweep before the interval');
  await clock.advanceAsync(2000);
  assert.equal(sweeps(), 3, 'the safety-net interval');
  await ctl.stop();
  assert.equal(elector.campaigns[0]?.resigned, true, 'stop resigns');
});

test('a lost lease ends leadership at once and a new campaign starts', async () => {
  const { clock, elector, ctl, sweeps } = setup();
  ctl.start();
  elector.campaigns[0]?.elected();
  await clock.advanceAsync(0);
  assert.equal(sweeps(), 1);
  elector.campaigns[0]?.error(new Error('lease lost'));
  assert.equal(ctl.isLeader, false);
  await clock.advanceAsync(300_000);
  assert.equal(sweeps(), 1, 'no sweep without the lease');
  assert.equal(elector.campaigns.length, 2, 'campaigning again');
  elector.campaigns[1]?.elected();
  await clock.advanceAsync(0);
  assert.equal(sweeps(), 2);
  await ctl.stop();
});
