/**
 * AdjRibIn.setPolicy + refilter(): a new import policy is applied to what the Adj-RIB-In holds,
 * from the attributes as received (refused paths and paths the old policy changed included),
 * without the neighbour re-sending anything.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID } from './fixtures.js';

describe('AdjRibIn refilter', () => {
  it('re-runs import over held paths from the received attributes', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const strict = compilePolicy({ rules: [{ match: { communities: [9] }, result: 'reject' }, { actions: [{ type: 'set-med', value: 77 }] }] });
    const byPrefix = compilePolicy({ rules: [{ match: { prefixList: [{ prefix: p('10.0.1.0/24') }] }, result: 'reject' }] });
    const adj = rib.addPeer(peer('e1', 'ebgp', 1), { policy: strict });
    adj.update([{ prefix: p('10.0.0.0/24') }], attrs({ communities: [9] }));
    adj.update([{ prefix: p('10.0.1.0/24') }, { prefix: p('10.0.2.0/24') }], attrs({ med: 5 }));
    assert.equal(rib.best(p('10.0.0.0/24')), undefined, 'refused by the first policy');
    assert.equal(rib.best(p('10.0.1.0/24'))?.attrs.med, 77, 'changed by the first policy');
    assert.deepEqual([adj.received, adj.accepted], [3, 2]);

    adj.setPolicy(undefined);
    assert.equal(adj.refilter(), 3);
    assert.deepEqual(rib.best(p('10.0.0.0/24'))?.attrs.communities, [9], 'accepted now, as received');
    assert.equal(rib.best(p('10.0.1.0/24'))?.attrs.med, 5, 'received MED back');
    assert.deepEqual([adj.received, adj.accepted], [3, 3]);

    adj.setPolicy(byPrefix); // prefix-dependent policy: per-prefix path
    adj.refilter();
    assert.equal(rib.best(p('10.0.1.0/24')), undefined);
    assert.equal(rib.best(p('10.0.2.0/24'))?.attrs.med, 5);
    assert.deepEqual([adj.received, adj.accepted], [3, 2]);
    rib.removePeer('e1');
    assert.equal(rib.interner.size, 0, 'no interned attribute set leaked');
  });
});
