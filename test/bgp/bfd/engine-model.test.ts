/**
 * Model tests: two BfdEngines wired back to back through a fake network on a fake clock, with
 * fast-check choosing timers, multipliers, passive roles, one-way delays and when the link is
 * cut. Checked against the RFC's promises rather than against our own code:
 *   - both ends come Up within a few slow (1 s) intervals and then never flap while the link works;
 *   - the negotiated rate is max(our Desired Min TX, peer Required Min RX) on each side;
 *   - after a cut each end declares Down with diag 1 no later than its detection time after the
 *     last packet it received, and never earlier than (Detect Mult - 1) x the agreed interval;
 *   - after the link heals both are Up again; a timer change while Up never takes the session down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BfdEngine, type BfdStateEvent } from '../../../bgp/bfd/engine.js';
import type { BfdSessionParams } from '../../../bgp/bfd/session.js';
import { FakeClock } from '../../fakes/fake-clock.js';

interface Side { readonly addr: string; readonly params: BfdSessionParams; readonly engine: BfdEngine; readonly events: Array<BfdStateEvent & { at: number }>; lastRx: number }

function pair(clock: FakeClock, seed: number, a: BfdSessionParams, b: BfdSessionParams, delayMs: number) {
  let linkUp = true;
  let s = seed >>> 0;
  const random = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 0x100000000; };
  const mk = (addr: string, params: BfdSessionParams): Side => {
    const side: Side = {
      addr, params, events: [], lastRx: 0,
      engine: new BfdEngine({
        clock, random,
        send: (_id, spec, bytes) => {
          if (!linkUp) return;
          const to = spec.peer === A.addr ? A : B;
          clock.setTimeout(() => { if (linkUp) { to.lastRx = clock.now(); to.engine.receive(bytes, addr, false); } }, delayMs);
        },
        onState: (e) => side.events.push({ ...e, at: clock.now() }),
      }),
    };
    return side;
  };
  const A = mk('10.0.0.1', a);
  const B = mk('10.0.0.2', b);
  A.engine.add('b', { peer: B.addr, multihop: false, params: a });
  B.engine.add('a', { peer: A.addr, multihop: false, params: b });
  return { A, B, cut: () => { linkUp = false; }, heal: () => { linkUp = true; } };
}

const paramsArb = (passive: boolean) => fc.record({
  desiredMinTxUs: fc.integer({ min: 10, max: 2000 }).map((ms) => ms * 1000),
  requiredMinRxUs: fc.integer({ min: 10, max: 2000 }).map((ms) => ms * 1000),
  detectMult: fc.integer({ min: 1, max: 10 }),
  passive: fc.constant(passive),
});
const stateOf = (s: Side) => s.engine.list()[0]?.state;

test('model: Up, stable, negotiated rates, Down within detection time after a cut, Up again after healing', () => {
  fc.assert(fc.property(
    fc.boolean(), paramsArb(false), fc.boolean().chain((p) => paramsArb(p)), fc.integer({ min: 0, max: 5 }),
    fc.integer(), fc.integer({ min: 0, max: 5000 }),
    (swap, pa, pb, delayMs, seed, cutAfterMs) => {
      const clock = new FakeClock();
      const [a, b] = swap ? [pb, pa] : [pa, pb];
      const { A, B, cut, heal } = pair(clock, seed, a, b, delayMs);
      clock.advance(4000 + 4 * delayMs);
      assert.deepEqual([stateOf(A), stateOf(B)], ['Up', 'Up'], 'Up within 4 s');
      const upEvents = A.events.length + B.events.length;
      clock.advance(cutAfterMs + 30_000);
      assert.equal(A.events.length + B.events.length, upEvents, `no flap while the link works: ${JSON.stringify([...A.events, ...B.events].slice(upEvents - 2))}`);
      for (const [x, y] of [[A, B], [B, A]] as const) {
        const v = x.engine.list()[0];
        assert.equal(v?.txIntervalUs, Math.max(x.params.desiredMinTxUs, y.params.requiredMinRxUs), 'tx = max(our tx, peer rx)');
        assert.equal(v?.detectTimeUs, y.params.detectMult * Math.max(x.params.requiredMinRxUs, y.params.desiredMinTxUs), 'detect time');
      }
      cut();
      const cutAt = clock.now();
      clock.advance(25_000);
      for (const [x, y] of [[A, B], [B, A]] as const) {
        const down = x.events.find((e) => e.to === 'Down' && e.at >= cutAt);
        assert.ok(down, 'Down after the cut');
        assert.equal(down.diag, 1, 'Control Detection Time Expired');
        const detect = (y.params.detectMult * Math.max(x.params.requiredMinRxUs, y.params.desiredMinTxUs)) / 1000;
        assert.ok(down.at <= x.lastRx + detect + 1e-6, `Down at ${down.at - x.lastRx} ms after the last packet, detection time ${detect}`);
        const interval = Math.max(y.params.desiredMinTxUs, x.params.requiredMinRxUs) / 1000;
        assert.ok(down.at - cutAt >= (y.params.detectMult - 1) * interval * 0.75 - 1e-6 - delayMs, 'not earlier than the missed packets allow');
      }
      heal();
      clock.advance(6000 + 4 * delayMs);
      assert.deepEqual([stateOf(A), stateOf(B)], ['Up', 'Up'], 'Up again after healing');
    }), { numRuns: 150 });
});

test('model: changing timers while Up (Poll/Final) never takes the session down, and the new rates apply', () => {
  fc.assert(fc.property(paramsArb(false), paramsArb(false), paramsArb(false), fc.integer({ min: 0, max: 5 }), fc.integer(),
    (pa, pb, pa2, delayMs, seed) => {
      const clock = new FakeClock();
      const { A, B } = pair(clock, seed, pa, pb, delayMs);
      clock.advance(4000);
      assert.deepEqual([stateOf(A), stateOf(B)], ['Up', 'Up']);
      const n = A.events.length + B.events.length;
      A.engine.update('b', pa2);
      clock.advance(30_000);
      assert.equal(A.events.length + B.events.length, n, 'no state change');
      const va = A.engine.list()[0], vb = B.engine.list()[0];
      assert.equal(va?.pollPending, false, 'poll ended');
      assert.equal(va?.txIntervalUs, Math.max(pa2.desiredMinTxUs, pb.requiredMinRxUs));
      assert.equal(vb?.txIntervalUs, Math.max(pb.desiredMinTxUs, pa2.requiredMinRxUs));
      assert.equal(vb?.detectTimeUs, pa2.detectMult * Math.max(pb.requiredMinRxUs, pa2.desiredMinTxUs));
    }), { numRuns: 100 });
});

test('engine: remove sends AdminDown, the peer goes Down/3 at once (not a detection timeout)', () => {
  const clock = new FakeClock();
  const p: BfdSessionParams = { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false };
  const { A, B } = pair(clock, 1, p, p, 1);
  clock.advance(4000);
  A.engine.remove('b');
  clock.advance(2);
  assert.deepEqual(B.events.at(-1) && { to: B.events.at(-1)?.to, diag: B.events.at(-1)?.diag }, { to: 'Down', diag: 3 });
  assert.equal(A.engine.list().length, 0);
});

test('engine demux: Your Discriminator unknown or from the wrong address, and Up with discriminator 0, are discarded', () => {
  const clock = new FakeClock();
  const discards: string[] = [];
  const e = new BfdEngine({ clock, random: () => 0.5, send: () => undefined, onState: () => undefined, onDiscard: (r) => discards.push(r) });
  e.add('x', { peer: '2001:db8::1', multihop: true, params: { desiredMinTxUs: 1e5, requiredMinRxUs: 1e5, detectMult: 3, passive: false } });
  const discr = e.list()[0]?.localDiscr ?? 0;
  const pkt = (state: number, your: number) => { const b = new Uint8Array(24); b[0] = 0x20; b[1] = state << 6; b[2] = 3; b[3] = 24; new DataView(b.buffer).setUint32(4, 9); new DataView(b.buffer).setUint32(8, your); return b; };
  e.receive(pkt(3, discr + 1), '2001:db8::1', true);
  e.receive(pkt(3, discr), '2001:db8::2', true);
  e.receive(pkt(3, 0), '2001:db8::1', true);
  e.receive(pkt(1, 0), '2001:db8::1', false);
  assert.equal(discards.length, 4, discards.join('; '));
  e.receive(pkt(1, 0), '2001:0db8:0::1', true);
  assert.equal(e.list()[0]?.state, 'Init', 'address match is on the canonical form');
});

test('engine: a detection timer that fires while a packet waits unread does not take the session down', () => {
  const clock = new FakeClock();
  const deferred: Array<() => void> = [];
  const events: BfdStateEvent[] = [];
  const sent: Uint8Array[] = [];
  const e = new BfdEngine({
    clock, random: () => 0.5, send: (_id, _spec, b) => sent.push(b), onState: (ev) => events.push(ev),
    afterPendingInput: (fn) => deferred.push(fn),
  });
  const params: BfdSessionParams = { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false };
  e.add('p', { peer: '10.0.0.9', multihop: false, params });
  const discr = e.list()[0]?.localDiscr ?? 0;
  const pkt = (state: number) => {
    const b = new Uint8Array(24); const dv = new DataView(b.buffer);
    b[0] = 0x20; b[1] = state << 6; b[2] = 3; b[3] = 24; dv.setUint32(4, 77); dv.setUint32(8, discr);
    dv.setUint32(12, 100_000); dv.setUint32(16, 100_000);
    return b;
  };
  e.receive(pkt(2), '10.0.0.9', false);
  assert.equal(e.list()[0]?.state, 'Up');
  clock.advance(300); // the detection time passes: the timer fires, its decision deferred
  assert.equal(deferred.length, 1);
  e.receive(pkt(3), '10.0.0.9', false); // the packet that had been waiting in the socket
  deferred.shift()?.();
  assert.equal(e.list()[0]?.state, 'Up', 'the deferred expiry saw the re-armed timer');
  clock.advance(300);
  deferred.shift()?.();
  assert.deepEqual(events.map((x) => `${x.to}/${x.diag}`), ['Up/0', 'Down/1'], 'a real silence still ends in Down/1');
});
