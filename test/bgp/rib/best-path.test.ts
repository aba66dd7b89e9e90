/**
 * RFC 4271 §9.1.2 best-path: one test per elimination step, each asserting the winner and the
 * step (and reason) the other route lost at; ECMP set and max-paths.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asPathLength, explainBest, selectBest, type BestPathOptions, type BestPathStep } from '../../../bgp/rib/best-path.js';
import { localPeer, type Route } from '../../../bgp/rib/route.js';
import { attrs, LOCAL_AS, peer, ROUTER_ID, route, seq } from './fixtures.js';

const e1 = peer('e1', 'ebgp', 1);
const e2 = peer('e2', 'ebgp', 2);
const i3 = peer('i3', 'ibgp', 3);
const i4 = peer('i4', 'ibgp', 4);

function duel(winner: Route, loser: Route, step: BestPathStep, why: RegExp, o: BestPathOptions = {}): void {
  for (const order of [[winner, loser], [loser, winner]]) {
    const ex = explainBest(order, o);
    assert.equal(ex.best, winner, `winner for ${step}`);
    assert.equal(selectBest(order, o).best, winner);
    assert.equal(ex.losers.length, 1);
    assert.equal(ex.losers[0]!.route, loser);
    assert.equal(ex.losers[0]!.step, step);
    assert.match(ex.losers[0]!.why, why);
  }
}

describe('best path, one step at a time', () => {
  it('excludes routes whose next hop is unreachable', () => {
    const a = route(e1, attrs({ nextHop: Uint8Array.of(10, 0, 1, 1) }));
    const b = route(e2, attrs({ nextHop: Uint8Array.of(192, 0, 2, 1), localPref: 500 }));
    duel(a, b, 'next-hop-unreachable', /unreachable/, { nextHopReachable: (nh) => nh?.[0] === 10 });
    assert.equal(selectBest([b], { nextHopReachable: () => false }).best, undefined);
  });
  it('a route carrying LLGR_STALE is least preferred, before LOCAL_PREF (RFC 9494 §4.3)', () => {
    duel(route(i3, attrs({ asPath: seq(1, 2, 3, 4) })), route(i4, attrs({ localPref: 500, communities: [0xffff0006] })), 'llgr-stale', /LLGR_STALE/);
  });
  it('highest LOCAL_PREF (absent counts as 100)', () => {
    duel(route(i3, attrs({ localPref: 200, asPath: seq(1, 2, 3) })), route(i4, attrs({})), 'local-pref', /LOCAL_PREF 100 vs LOCAL_PREF 200/);
  });
  it('locally originated over learned', () => {
    const local = localPeer(LOCAL_AS, ROUTER_ID);
    duel(route(local, attrs({ asPath: [] , origin: 2 })), route(e1, attrs({ asPath: [] })), 'local-origin', /learned from e1/);
  });
  it('shortest AS_PATH; AS_SET counts one, confederation segments zero', () => {
    assert.equal(asPathLength([{ type: 2, asns: [1, 2] }, { type: 1, asns: [3, 4, 5] }, { type: 3, asns: [6, 7] }]), 3);
    duel(route(e1, attrs({ asPath: [{ type: 2, asns: [1] }, { type: 1, asns: [7, 8, 9] }, { type: 3, asns: [5, 5, 5] }] })),
      route(e2, attrs({ asPath: seq(1, 2, 3) })), 'as-path-length', /AS_PATH length 3 vs AS_PATH length 2/);
  });
  it('lowest ORIGIN', () => {
    duel(route(e1, attrs({ origin: 1 })), route(e2, attrs({ origin: 2 })), 'origin', /INCOMPLETE vs ORIGIN EGP/);
  });
  it('lowest MED only between routes from the same neighbour AS, unless always-compare-med', () => {
    const a = route(e1, attrs({ asPath: seq(65200, 1), med: 10 }));
    const b = route(e2, attrs({ asPath: seq(65200, 2), med: 20 }));
    duel(a, b, 'med', /MED 20 vs 10 from AS 65200/);
    // different neighbour AS: MED not compared, falls through to router id
    const c = route(e2, attrs({ asPath: seq(65300, 2), med: 5 }));
    duel(a, c, 'router-id', /router id/);
    duel(c, a, 'med', /MED 10 vs 5/, { alwaysCompareMed: true });
    // missing MED counts as 0 (RFC 4271 §9.1.2.2 c)
    duel(route(e2, attrs({ asPath: seq(65200, 3) })), a, 'med', /MED 10 vs 0/);
  });
  it('the MED rule is applied per neighbour AS group (non-transitive case is deterministic)', () => {
    const a = route(peer('x', 'ebgp', 7), attrs({ asPath: seq(100), med: 50 }));
    const b = route(peer('y', 'ebgp', 8), attrs({ asPath: seq(100), med: 10 }));
    const c = route(peer('z', 'ebgp', 9), attrs({ asPath: seq(200), med: 0 }));
    const perms = [[a, b, c], [a, c, b], [b, a, c], [b, c, a], [c, a, b], [c, b, a]];
    const winners = new Set(perms.map((pp) => selectBest(pp).best));
    assert.equal(winners.size, 1);
    assert.equal([...winners][0], b);
    assert.equal(explainBest([a, b, c]).losers.find((l) => l.route === a)?.step, 'med');
  });
  it('eBGP over iBGP', () => {
    duel(route(e1, attrs()), route(i3, attrs()), 'ebgp-over-ibgp', /ibgp vs ebgp/);
  });
  it('lowest IGP cost (hook)', () => {
    const near = route(i3, attrs({ nextHop: Uint8Array.of(10, 9, 9, 1) }));
    const far = route(i4, attrs({ nextHop: Uint8Array.of(10, 9, 9, 2) }));
    duel(near, far, 'igp-cost', /IGP cost 20 vs IGP cost 10/, { igpCost: (nh) => (nh?.[3] === 1 ? 10 : 20) });
  });
  it('lowest router id, ORIGINATOR_ID standing in for reflected routes', () => {
    duel(route(i3, attrs()), route(i4, attrs()), 'router-id', /router id/);
    // i4 carries an ORIGINATOR_ID lower than i3's router id
    duel(route(i4, attrs({ originatorId: 5 })), route(i3, attrs()), 'router-id', /router id 167772419 vs router id 5/);
  });
  it('shortest CLUSTER_LIST', () => {
    duel(route(i3, attrs({ originatorId: 9, clusterList: [1] })), route(i4, attrs({ originatorId: 9, clusterList: [2, 1] })), 'cluster-list-length', /CLUSTER_LIST length 2 vs CLUSTER_LIST length 1/);
  });
  it('lowest peer address', () => {
    const lo = peer('lo', 'ibgp', 3, { routerId: 77 });
    const hi = peer('hi', 'ibgp', 4, { routerId: 77 });
    duel(route(lo, attrs()), route(hi, attrs()), 'peer-address', /hi address higher than lo/);
  });
  it('lowest path id as the last tie-break (ADD-PATH from one peer)', () => {
    duel(route(e1, attrs(), 1), route(e1, attrs(), 2), 'path-id', /path id 2 vs 1/);
  });
});

describe('ECMP', () => {
  it('routes equal down to IGP cost form the set, best first, capped by maxPaths', () => {
    const rs = [1, 2, 3, 4].map((n) => route(peer(`e${n}`, 'ebgp', n, { routerId: 100 - n }), attrs({ asPath: seq(65100 + n) })));
    const worse = route(peer('e9', 'ebgp', 9), attrs({ asPath: seq(65109, 1) }));
    const sel = selectBest([...rs, worse], { maxPaths: 3 });
    assert.equal(sel.best, rs[3]);
    assert.deepEqual(sel.ecmp, [rs[3], rs[2], rs[1]]);
    assert.deepEqual(selectBest([...rs, worse]).ecmp, [rs[3]]);
    const ex = explainBest([...rs, worse], { maxPaths: 8 });
    assert.equal(ex.ecmp.length, 4);
    assert.equal(ex.losers.find((l) => l.route === worse)?.step, 'as-path-length');
  });
  it('multipathSameAsPath keeps only routes with the best one\'s AS_PATH (FRR without multipath-relax)', () => {
    const a = route(peer('t1', 'ebgp', 1, { routerId: 1 }), attrs({ asPath: seq(65001, 65100) }));
    const b = route(peer('t2', 'ebgp', 2, { routerId: 2 }), attrs({ asPath: seq(65001, 65100) }));
    const c = route(peer('t3', 'ebgp', 3, { routerId: 3 }), attrs({ asPath: seq(65002, 65100) }));
    assert.deepEqual(selectBest([c, b, a], { maxPaths: 4 }).ecmp, [a, b, c]);
    assert.deepEqual(selectBest([c, b, a], { maxPaths: 4, multipathSameAsPath: true }).ecmp, [a, b]);
    assert.deepEqual(explainBest([c, b, a], { maxPaths: 4, multipathSameAsPath: true }).ecmp, [a, b]);
    const lone = selectBest([c, a], { maxPaths: 4, multipathSameAsPath: true });
    assert.equal(lone.ecmp, a.alone, 'a set of one is the route\'s own [route]');
  });
  it('a route with a higher IGP cost is not in the set', () => {
    const a = route(i3, attrs({ nextHop: Uint8Array.of(1, 1, 1, 1) }));
    const b = route(i4, attrs({ nextHop: Uint8Array.of(2, 2, 2, 2) }));
    const c = route(peer('i5', 'ibgp', 5), attrs({ nextHop: Uint8Array.of(1, 1, 1, 1) }));
    const sel = selectBest([a, b, c], { maxPaths: 4, igpCost: (nh) => nh?.[0] ?? 0 });
    assert.deepEqual(sel.ecmp, [a, c]);
  });
});

describe('fast selection', () => {
  it('agrees with the step-by-step explanation on random candidate sets (property)', async () => {
    const fc = (await import('fast-check')).default;
    const peers = [e1, e2, i3, i4, peer('c5', 'ibgp', 5, { rrClient: true }), localPeer(LOCAL_AS, ROUTER_ID)];
    const routeArb = fc.record({
      src: fc.nat(peers.length - 1), lp: fc.option(fc.constantFrom(100, 200), { nil: undefined }),
      path: fc.array(fc.constantFrom(100, 200, 300), { maxLength: 3 }), set: fc.boolean(), origin: fc.nat(2),
      med: fc.option(fc.nat(3), { nil: undefined }), nh: fc.nat(3), oid: fc.option(fc.nat(3), { nil: undefined }),
      cl: fc.nat(2), pathId: fc.nat(2),
    }).map((x) => route(peers[x.src]!, attrs({
      origin: x.origin as 0 | 1 | 2,
      asPath: [...(x.path.length ? [{ type: 2 as const, asns: x.path }] : []), ...(x.set ? [{ type: 1 as const, asns: [1, 2] }] : [])],
      nextHop: Uint8Array.of(10, 0, 0, x.nh),
      ...(x.lp !== undefined ? { localPref: x.lp } : {}), ...(x.med !== undefined ? { med: x.med } : {}),
      ...(x.oid !== undefined ? { originatorId: x.oid } : {}), clusterList: Array.from({ length: x.cl }, (_, i) => i),
    }), x.pathId));
    fc.assert(fc.property(fc.array(routeArb, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean(), fc.boolean(), (cands, always, maxPaths, igp, reach, sameAsPath) => {
      const o: BestPathOptions = {
        alwaysCompareMed: always, maxPaths, multipathSameAsPath: sameAsPath,
        ...(igp ? { igpCost: (nh: Uint8Array | undefined) => (nh?.[3] ?? 0) % 2 } : {}),
        ...(reach ? { nextHopReachable: (nh: Uint8Array | undefined) => nh?.[3] !== 3 } : {}),
      };
      const fast = selectBest(cands, o);
      const slow = explainBest(cands, o);
      assert.equal(fast.best, slow.best);
      assert.deepEqual(fast.ecmp, slow.ecmp);
      assert.equal(slow.losers.length + (slow.best ? 1 : 0), cands.length, 'every other candidate has a reason');
    }), { numRuns: 1000 });
  });
});
