/** RestartConvergence: inherited routes are kept until every peer is up and best paths are quiet. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { kernelToDesired, RestartConvergence } from '../../../agent/node/restart-convergence.js';

const bh = { dst: '10.244.0.0/26', type: 'blackhole' as const };
const remote = { dst: '10.244.1.0/26', type: 'unicast' as const, iface: 'eth0', gateway: '10.0.0.2', onlink: true };

test('nothing inherited: converged from the start', () => {
  const c = new RestartConvergence(0);
  c.inherit([]);
  assert.equal(c.converged, true);
});

const up = (eor: string[] = []): { state: string; families: string[]; eorReceived: string[] } => ({ state: 'Established', families: ['ipv4-unicast'], eorReceived: eor });

test('kept until every peer sent its End-of-RIB', () => {
  const c = new RestartConvergence(0, 30_000, 3000);
  c.inherit([bh, remote]);
  assert.deepEqual(c.withInherited([bh]).map((r) => r.dst), ['10.244.0.0/26', '10.244.1.0/26'], 'the desired one wins, the inherited one fills in');
  assert.equal(c.check(100, { bgpOff: false, peers: undefined }), false, 'speaker not running');
  assert.equal(c.check(200, { bgpOff: false, peers: [up(), { state: 'Active' }] }), false);
  assert.equal(c.check(300, { bgpOff: false, peers: [up(['ipv4-unicast']), up()] }), false, 'one table still arriving');
  assert.equal(c.check(400, { bgpOff: false, peers: [up(['ipv4-unicast']), up(['ipv4-unicast'])] }), true);
  assert.equal(c.converged, true);
  assert.deepEqual(c.withInherited([bh]).map((r) => r.dst), ['10.244.0.0/26']);
});

test('peers that send no End-of-RIB: all up and best paths quiet for quietMs', () => {
  const c = new RestartConvergence(0, 30_000, 1000);
  c.inherit([remote]);
  assert.equal(c.check(300, { bgpOff: false, peers: [up(), up()] }), false, 'just came up');
  c.bestPathChanged(900);
  assert.equal(c.check(1400, { bgpOff: false, peers: [up(), up()] }), false, 'table still arriving');
  assert.equal(c.check(1950, { bgpOff: false, peers: [up(), up()] }), true);
});

test('a peer dropping resets the wait; the deadline ends it anyway', () => {
  const c = new RestartConvergence(0, 5000, 1000);
  c.inherit([remote]);
  assert.equal(c.check(100, { bgpOff: false, peers: [up()] }), false);
  assert.equal(c.check(1000, { bgpOff: false, peers: [{ state: 'Idle' }] }), false);
  assert.equal(c.check(1500, { bgpOff: false, peers: [up()] }), false);
  assert.equal(c.check(2000, { bgpOff: false, peers: [up()] }), false, 'only 500 ms since all up again');
  assert.equal(c.check(5001, { bgpOff: false, peers: [{ state: 'Active' }] }), true, 'deadline');
});

test('BGP off or no peers: converged at the first check', () => {
  const a = new RestartConvergence(0); a.inherit([remote]);
  assert.equal(a.check(1, { bgpOff: true, peers: undefined }), true);
  const b = new RestartConvergence(0); b.inherit([remote]);
  assert.equal(b.check(1, { bgpOff: false, peers: [] }), true);
});

test('kernel routes become desired routes that compare equal after resolution', () => {
  const links = new Map([[3, 'eth0'], [7, 'cali1234']]);
  assert.deepEqual(kernelToDesired({ family: 4, dst: '10.244.1.0/26', table: 254, protocol: 80, type: 'unicast', scope: 'universe', metric: 0, ifindex: 3, gateway: '10.0.0.2', onlink: true }, links),
    { dst: '10.244.1.0/26', type: 'unicast', iface: 'eth0', onlink: true, scope: 'universe', gateway: '10.0.0.2' });
  assert.deepEqual(kernelToDesired({ family: 4, dst: '10.244.0.0/26', table: 254, protocol: 80, type: 'blackhole', scope: 'universe', metric: 0, onlink: false }, links), bh);
  assert.equal(kernelToDesired({ family: 4, dst: '10.9.0.0/26', table: 254, protocol: 80, type: 'unicast', scope: 'universe', metric: 0, ifindex: 99, onlink: false }, links), undefined, 'unknown interface');
});
