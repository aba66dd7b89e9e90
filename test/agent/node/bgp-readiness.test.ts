/** calico-node `-bird-ready` semantics (calico-compat §2.11) as bgpReadiness decides them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bgpReadiness } from '../../../agent/node/bgp-readiness.js';

const peer = (address: string, state: string): { name: string; address: string; state: string } => ({ name: `Node_${address.replace(/\./g, '_')}`, address, state });

test('no peers: ready; all Established: ready at any time', () => {
  assert.equal(bgpReadiness([], 0).ready, true);
  assert.deepEqual(bgpReadiness([peer('10.0.0.1', 'Established'), peer('10.0.0.2', 'Established')], 0),
    { live: true, ready: true, detail: '2/2 BGP sessions established' });
});

test('within the start-up threshold every configured peer must be Established, and the body names the others', () => {
  const r = bgpReadiness([peer('10.0.0.1', 'Established'), peer('10.0.0.2', 'Active')], 29_000, 30_000);
  assert.equal(r.ready, false);
  assert.match(r.detail ?? '', /^BGP not established with 10\.0\.0\.2 \(Node_10_0_0_2: Active\)/);
});

test('after it: ready while one peer is up (the down ones named), not ready when none is', () => {
  const some = bgpReadiness([peer('10.0.0.1', 'Established'), peer('10.0.0.2', 'Connect')], 31_000, 30_000);
  assert.deepEqual([some.ready, some.detail], [true, '1/2 BGP sessions established; not established with 10.0.0.2 (Node_10_0_0_2: Connect)']);
  const none = bgpReadiness([peer('10.0.0.1', 'Idle'), peer('10.0.0.2', 'Connect')], 31_000, 30_000);
  assert.equal(none.ready, false);
  assert.match(none.detail ?? '', /^BGP not established with 10\.0\.0\.1 \(Node_10_0_0_1: Idle\), 10\.0\.0\.2/);
});

test('a large mesh: the body names ten peers and counts the rest', () => {
  const peers = Array.from({ length: 50 }, (_, i) => peer(`10.0.1.${i}`, 'Active'));
  assert.match(bgpReadiness(peers, 60_000).detail ?? '', /10\.0\.1\.9 \(Node_10_0_1_9: Active\) and 40 more$/);
});
