/** The decision table for a connection the peer opens to us (bgp/session/incoming.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { COLLISION_WINDOW_MS, incomingAction, type IncomingContext } from '../../../bgp/session/incoming.js';

const base: IncomingContext = { state: 'Established', hasConnection: true, hasSecond: false, peerGracefulRestart: true, establishedForMs: COLLISION_WINDOW_MS };

describe('incomingAction', () => {
  const cases: Array<[string, Partial<IncomingContext>, string]> = [
    ['Active without a connection: adopted', { state: 'Active', hasConnection: false, establishedForMs: undefined }, 'adopt'],
    ['Connect (our attempt under way): second FSM', { state: 'Connect', establishedForMs: undefined }, 'second'],
    ['OpenConfirm: second FSM', { state: 'OpenConfirm', establishedForMs: undefined }, 'second'],
    ['OpenSent with a second FSM already: collision', { state: 'OpenSent', hasSecond: true, establishedForMs: undefined }, 'collision'],
    ['Established, GR peer, settled: restart', {}, 'restart'],
    ['Established, GR peer, just up: collision', { establishedForMs: COLLISION_WINDOW_MS - 1 }, 'collision'],
    ['Established, no GR: collision', { peerGracefulRestart: false }, 'collision'],
    ['Established with a second FSM: collision', { hasSecond: true }, 'collision'],
    ['Idle: refused', { state: 'Idle', hasConnection: false, establishedForMs: undefined }, 'idle'],
  ];
  for (const [name, over, want] of cases) it(name, () => assert.equal(incomingAction({ ...base, ...over }), want));
});
