/**
 * Sliced stale marking (AdjRibIn.beginMarkStale / markStaleSome) and long-lived stale marking
 * (longLivedStaleSome): what the peer sends while the walk is under way stays fresh, a walk that
 * the Loc-RIB's growth (a resize) re-laid out still marks every route, the other family is
 * withdrawn when asked; LLGR_STALE is added per route (NO_LLGR ones withdrawn) and interned
 * attribute counts stay right.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { intToIpv4, type Prefix } from '../../../common/prefix.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { Nlri } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID, seq } from './fixtures.js';

const v4 = (i: number, second = 0): Prefix => ({ family: 4, bytes: intToIpv4(((10 << 24) + (second << 22) + i * 256) >>> 0), length: 24 });
const nlri = (from: number, n: number, second = 0): Nlri[] => Array.from({ length: n }, (_x, k) => ({ prefix: v4(from + k, second) }));

describe('AdjRibIn sliced stale marking', () => {
  it('marks in slices; re-sent routes stay fresh; a resize mid-walk misses nothing; other family withdrawn', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = rib.addPeer(peer('a', 'ebgp', 1));
    const b = rib.addPeer(peer('b', 'ebgp', 2));
    a.update(nlri(0, 5000), attrs({ asPath: seq(65001) }));
    a.update([{ prefix: p('2001:db8::/48') }, { prefix: p('2001:db8:1::/48') }], attrs({ asPath: seq(65001) }), p('2001:db8::1/128').bytes);
    a.beginMarkStale(new Set([4]), true);
    assert.equal(a.markStaleSome(500), false, 'not done after one slice');
    assert.ok(a.marking);
    const layout = rib.layout;
    b.update(nlri(0, 60_000, 1), attrs({ asPath: seq(65002) })); // grows the Loc-RIB: entries move
    assert.notEqual(rib.layout, layout, 'the Loc-RIB was re-laid out mid-walk');
    a.update(nlri(0, 100), attrs({ asPath: seq(65001), med: 1 })); // the peer re-sends some (walked or not) mid-walk
    let slices = 1;
    while (!a.markStaleSome(500)) slices++;
    assert.ok(slices > 5, `sliced (${slices} slices)`);
    assert.equal(a.marking, false);
    for (let i = 0; i < 100; i++) assert.equal(a.isStale(v4(i)), false, `re-sent ${i} is fresh`);
    for (let i = 100; i < 5000; i++) assert.equal(a.isStale(v4(i)), true, `${i} stale`);
    assert.equal(a.staleCount, 4900);
    assert.equal(rib.candidates(p('2001:db8::/48')).length, 0, 'IPv6 (not kept) withdrawn');
    assert.equal(a.received, 5000);
    a.withdraw(nlri(4999, 1)); // the peer withdraws a stale route: no longer counted as kept
    assert.equal(a.staleCount, 4899);
    assert.equal(a.sweepStale(4), 4899);
    assert.equal(a.received, 100);
    assert.equal(a.staleCount, 0);
  });

  it('long-lived: LLGR_STALE added, least preferred, NO_LLGR withdrawn, attribute sets released when re-sent', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = rib.addPeer(peer('a', 'ebgp', 1));
    const b = rib.addPeer(peer('b', 'ebgp', 2));
    const plain = attrs({ asPath: seq(65001) });
    a.update(nlri(0, 3000), plain);
    a.update(nlri(3000, 10), attrs({ asPath: seq(65001), communities: [0xffff0007] }));
    b.update(nlri(0, 5), attrs({ asPath: seq(65002, 65009, 65008) }));
    assert.equal(rib.best(v4(0))?.source.id, 'a');
    const sets = rib.interner.size;
    a.markStale(new Set([4]));
    let cursor = 0, marked = 0, withdrawn = 0;
    do { const r = a.longLivedStaleSome(4, cursor, 700); cursor = r.cursor; marked += r.marked; withdrawn += r.withdrawn; } while (cursor !== -1);
    assert.deepEqual({ marked, withdrawn }, { marked: 3000, withdrawn: 10 });
    assert.deepEqual(rib.candidates(v4(7)).find((r) => r.source.id === 'a')?.attrs.communities, [0xffff0006]);
    assert.equal(rib.best(v4(0))?.source.id, 'b', 'b\'s longer path wins over the LLGR_STALE route');
    assert.equal(rib.best(v4(7))?.source.id, 'a', 'still best where it is the only route');
    assert.equal(rib.candidates(v4(3000)).length, 0, 'NO_LLGR route withdrawn');
    assert.equal(a.received, 3000);
    a.update(nlri(0, 3000), plain); // back: fresh routes replace the LLGR_STALE ones
    assert.equal(a.staleCount, 0);
    assert.equal(rib.best(v4(0))?.source.id, 'a');
    assert.equal(rib.interner.size, sets - 1, 'the LLGR_STALE and NO_LLGR attribute sets are released');
  });
});
