/** calico-node's BGP readiness rule (calico-compat.md §2.11) over our peer status. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bgpReadiness } from '../../../bgp/speaker/readiness.js';

const p = (name: string, state: 'Established' | 'Active', enabled = true) => ({ name, state, enabled });

describe('bgpReadiness', () => {
  it('no peers → ready', () => assert.equal(bgpReadiness([], 0).ready, true));
  it('within the threshold: all enabled peers must be Established', () => {
    assert.equal(bgpReadiness([p('a', 'Established'), p('b', 'Active')], 5_000).ready, false);
    assert.match(bgpReadiness([p('a', 'Established'), p('b', 'Active')], 5_000).reason, /b Active/);
    assert.equal(bgpReadiness([p('a', 'Established'), p('b', 'Active', false)], 5_000).ready, true);
  });
  it('after the threshold: one Established peer is enough, none is not', () => {
    assert.equal(bgpReadiness([p('a', 'Established'), p('b', 'Active')], 31_000).ready, true);
    assert.equal(bgpReadiness([p('a', 'Active'), p('b', 'Active')], 31_000).ready, false);
  });
});
