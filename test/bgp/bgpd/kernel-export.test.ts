/**
 * KernelExport's reload logic against a recording sink and a stand-in speaker (status, listeners,
 * a streamed table): what each kind of reload does to the sinks, in which order. The real kernel
 * and real peers are in kernel-reload.test.ts; these are the orderings that test cannot reach.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/logger.js';
import { FakeClock } from '../../fakes/fake-clock.js';
import { KernelExport, kernelNextHops, type KernelSink } from '../../../bgp/bgpd/kernel-export.js';
import type { BgpdKernel } from '../../../bgp/bgpd/config.js';
import type { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import type { BestPathChange, RouteView } from '../../../bgp/speaker/views.js';

const view = (prefix: string, from: string, nextHop: string, best: boolean, multipath = false): RouteView => ({
  prefix, from, nextHop, asPath: [], asPathText: '', origin: 'IGP', communities: [], ibgp: false, accepted: true, best,
  reason: '', since: 0, ...(multipath ? { multipath: true as const } : {}),
});

/** The parts of BgpSpeaker KernelExport uses. */
class StandInSpeaker {
  listeners: Array<(c: BestPathChange) => void> = [];
  table: RouteView[] = [];
  synced = false;
  status() { return [{ enabled: true, state: this.synced ? 'Established' : 'Active', eorReceived: this.synced ? ['ipv4-unicast'] : [] }]; }
  onBestPathChange(cb: (c: BestPathChange) => void) { this.listeners.push(cb); return () => { this.listeners = this.listeners.filter((l) => l !== cb); }; }
  async streamRoutes(_q: unknown, sink: (b: RouteView[]) => void | Promise<void>) { await sink(this.table); return this.table.length; }
}

class RecordingSink implements KernelSink {
  programmed = false;
  stopped: boolean | undefined;
  readonly routes = new Map<string, readonly string[]>();
  constructor(readonly name: string, readonly log: string[]) {}
  async start() { this.log.push(`${this.name} start`); }
  program() { this.programmed = true; this.log.push(`${this.name} program`); }
  set(prefix: string, hops: readonly string[] | undefined) { if (hops === undefined) this.routes.delete(prefix); else this.routes.set(prefix, hops); }
  async stop(persist: boolean) { this.stopped = persist; this.log.push(`${this.name} stop persist=${persist}`); }
}

const K = (o: Partial<BgpdKernel> = {}): BgpdKernel => ({ table: 254, protocol: 186, mergePaths: true, persist: false, families: [4], ...o });

function setup() {
  const speaker = new StandInSpeaker();
  speaker.table = [view('10.1.0.0/24', 'a', '10.0.1.1', true, true), view('10.1.0.0/24', 'b', '10.0.2.1', false, true), view('10.2.0.0/24', 'a', '10.0.1.1', true)];
  const log: string[] = [];
  const sinks: RecordingSink[] = [];
  const clock = new FakeClock();
  const ke = new KernelExport(speaker as unknown as BgpSpeaker, async () => { const s = new RecordingSink(`s${sinks.length + 1}`, log); sinks.push(s); return s; },
    { logger: silentLogger(), clock });
  return { speaker, log, sinks, ke };
}

describe('KernelExport reloads', () => {
  it('merge paths off replays the current table into the same sink (best only), on widens it again', async () => {
    const { ke, sinks, speaker } = setup();
    await ke.attach(K());
    ke.begin();
    assert.equal(await ke.reconfigure(K({ mergePaths: false })), 'replayed');
    assert.deepEqual(sinks[0]!.routes.get('10.1.0.0/24'), ['10.0.1.1']);
    assert.equal(await ke.reconfigure(K()), 'replayed');
    assert.deepEqual(sinks[0]!.routes.get('10.1.0.0/24'), ['10.0.1.1', '10.0.2.1']);
    assert.deepEqual(sinks[0]!.routes.get('10.2.0.0/24'), ['10.0.1.1']);
    assert.equal(sinks.length, 1);
    assert.equal(speaker.listeners.length, 1, 'one listener, not one per reload');
  });

  it('another table: the old sink removes its routes first, then the new one is filled and programmed', async () => {
    const { ke, sinks, log } = setup();
    await ke.attach(K());
    ke.begin();
    assert.equal(await ke.reconfigure(K({ table: 100 })), 'restarted');
    assert.deepEqual(log, ['s1 start', 's1 program', 's1 stop persist=false', 's2 start', 's2 program']);
    assert.equal(sinks[1]!.routes.size, 2, 'filled before programming');
  });

  it('removing the section with persist leaves the routes; adding one programs at once', async () => {
    const { ke, sinks } = setup();
    await ke.attach(K({ persist: true }));
    assert.equal(await ke.reconfigure(undefined), 'removed');
    assert.equal(sinks[0]!.stopped, true);
    assert.equal(await ke.reconfigure(K()), 'added');
    assert.equal(sinks[1]!.programmed, true);
    assert.equal(await ke.reconfigure(K({ persist: true })), 'updated');
  });

  it('a merge-paths reload during the persist wait for End-of-RIB keeps that wait: programmed once the peers are in', async () => {
    const { ke, sinks, speaker } = setup();
    await ke.attach(K({ persist: true }));
    ke.begin();
    assert.equal(await ke.reconfigure(K({ persist: true, mergePaths: false })), 'replayed');
    speaker.synced = true;
    const t0 = Date.now();
    while (!sinks[0]!.programmed && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(sinks[0]!.programmed, true, 'programmed after End-of-RIB');
    await ke.stop();
  });
});

describe('kernelNextHops', () => {
  it('a link-local next hop gets the interface of the session it came over', () => {
    const best = view('fd99::/64', 'exa', 'fe80::99', true);
    assert.deepEqual(kernelNextHops({ prefix: 'fd99::/64', best }, true, (p) => (p === 'exa' ? 'eth3' : undefined)), ['fe80::99%eth3']);
    assert.deepEqual(kernelNextHops({ prefix: 'fd99::/64', best }, true, () => undefined), ['fe80::99'], 'unknown: left to the sink, which refuses it');
  });
});
