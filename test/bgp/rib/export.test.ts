/**
 * Export transforms per session type (eBGP, iBGP, route reflection), well-known communities,
 * export policy, and the Adj-RIB-Out: not back to the source, coalescing, grouping by attribute
 * set, route refresh, a new member's initial table, shared transform for an update group.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix } from '../../../common/prefix.js';
import { TestUpdateGroup } from '../../helpers/update-group-member.js';
import { exportRoute, exportTargetKey, type ExportTarget } from '../../../bgp/rib/export.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import { localPeer, Route } from '../../../bgp/rib/route.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { WellKnownCommunity } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID, route, seq } from './fixtures.js';

const SELF = Uint8Array.of(192, 0, 2, 1);
const ebgp: ExportTarget = { kind: 'ebgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: SELF };
const ibgp: ExportTarget = { kind: 'ibgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: SELF };
const rrClients: ExportTarget = { ...ibgp, routeReflector: true, rrClient: true, clusterId: 0x0101 };
const rrNonClients: ExportTarget = { ...ibgp, routeReflector: true, rrClient: false, clusterId: 0x0101 };
const P = p('10.1.0.0/24');
const e1 = peer('e1', 'ebgp', 1);
const i3 = peer('i3', 'ibgp', 3);
const c4 = peer('c4', 'ibgp', 4, { rrClient: true });

function out(t: ExportTarget, r: ReturnType<typeof route>) {
  const x = exportRoute(P, r, t);
  if (x.type !== 'export') assert.fail(`refused: ${x.reason}`);
  return x.attrs;
}

describe('export transform', () => {
  it('eBGP: prepend own AS, next-hop-self, strip LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST and a received MED', () => {
    const a = out(ebgp, route(i3, attrs({ asPath: seq(65101), localPref: 200, med: 7, originatorId: 3, clusterList: [1] })));
    assert.deepEqual(a.asPath, seq(LOCAL_AS, 65101));
    assert.deepEqual(a.nextHop, SELF);
    assert.equal(a.localPref, undefined);
    assert.equal(a.med, undefined);
    assert.equal(a.originatorId, undefined);
    assert.equal(a.clusterList, undefined);
    assert.equal(out({ ...ebgp, sendMed: true }, route(e1, attrs({ med: 7 }))).med, 7);
    // a locally originated MED does leave the AS; local routes get origin IGP and our AS only
    const l = out(ebgp, route(localPeer(LOCAL_AS, ROUTER_ID), { med: 3 }));
    assert.deepEqual([l.med, l.origin, l.asPath, l.nextHop], [3, 0, seq(LOCAL_AS), SELF]);
  });
  it('eBGP with nextHopKeep: a learned route keeps its next hop (IPv4 and IPv6); one without a next hop gets ours; a different group key', () => {
    const nh = Uint8Array.of(10, 1, 0, 3);
    assert.deepEqual(out({ ...ebgp, nextHopKeep: true }, route(i3, attrs({ nextHop: nh }))).nextHop, nh);
    assert.deepEqual(out(ebgp, route(i3, attrs({ nextHop: nh }))).nextHop, SELF);
    const nh6 = Uint8Array.from([0xfd, 0, ...new Array<number>(13).fill(0), 3]);
    const self6 = Uint8Array.from([0xfd, 0, ...new Array<number>(13).fill(0), 1]);
    const x = exportRoute(p('fd00:9::/64'), new Route(i3, 0, { origin: 0, asPath: [] }, nh6), { ...ebgp, localAddress6: self6, nextHopKeep: true });
    assert.ok(x.type === 'export');
    assert.deepEqual(x.attrs.mpNextHop, nh6);
    assert.notEqual(exportTargetKey({ ...ebgp, nextHopKeep: true }), exportTargetKey(ebgp));
  });
  it('a locally originated route with an explicit next hop keeps it (eBGP, iBGP next-hop-self, IPv6); policy LOCAL_PREF never leaves the AS', () => {
    const nh = Uint8Array.of(198, 51, 100, 7);
    const local = new Route(localPeer(LOCAL_AS, ROUTER_ID), 0, { origin: 0, asPath: [], nextHop: nh }, nh);
    assert.deepEqual(out(ebgp, local).nextHop, nh);
    assert.deepEqual(out({ ...ibgp, nextHopSelf: true }, local).nextHop, nh);
    const nh6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 9]);
    const x = exportRoute(p('2001:db8:9::/48'), new Route(localPeer(LOCAL_AS, ROUTER_ID), 0, { origin: 0, asPath: [] }, nh6),
      { ...ebgp, localAddress6: Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]) });
    assert.ok(x.type === 'export');
    assert.deepEqual(x.attrs.mpNextHop, nh6);
    const setLp = compilePolicy({ rules: [{ actions: [{ type: 'set-local-pref', value: 300 }] }] });
    assert.equal(out({ ...ebgp, policy: setLp }, route(e1, attrs())).localPref, undefined);
    assert.equal(out({ ...ibgp, policy: setLp }, route(e1, attrs())).localPref, 300);
  });
  it('iBGP: AS_PATH untouched, LOCAL_PREF filled in, next hop kept unless next-hop-self', () => {
    const a = out(ibgp, route(e1, attrs({ asPath: seq(65101) })));
    assert.deepEqual(a.asPath, seq(65101));
    assert.equal(a.localPref, 100);
    assert.deepEqual(a.nextHop, Uint8Array.of(10, 0, 1, 1));
    assert.deepEqual(out({ ...ibgp, nextHopSelf: true }, route(e1, attrs())).nextHop, SELF);
  });
  it('iBGP split horizon: iBGP-learned routes are not sent to iBGP peers without reflection', () => {
    assert.deepEqual(exportRoute(P, route(i3, attrs()), ibgp), { type: 'refuse', reason: 'ibgp-split-horizon' });
    assert.equal(exportRoute(P, route(i3, attrs()), ebgp).type, 'export');
  });
  it('route reflection: client → all, non-client → clients only; ORIGINATOR_ID set once, cluster id prepended', () => {
    const fromClient = route(c4, attrs({ clusterList: [0x0202] }));
    const toNon = out(rrNonClients, fromClient);
    assert.equal(toNon.originatorId, c4.routerId);
    assert.deepEqual(toNon.clusterList, [0x0101, 0x0202]);
    assert.deepEqual(toNon.nextHop, Uint8Array.of(10, 0, 1, 1), 'reflection keeps the next hop');
    assert.equal(out(rrClients, fromClient).originatorId, c4.routerId);
    assert.equal(out(rrClients, route(i3, attrs({ originatorId: 77 }))).originatorId, 77);
    assert.deepEqual(exportRoute(P, route(i3, attrs()), rrNonClients), { type: 'refuse', reason: 'not-to-non-client' });
    assert.deepEqual(out({ ...rrNonClients, nextHopSelf: true }, fromClient).nextHop, Uint8Array.of(10, 0, 1, 1));
  });
  it('well-known communities: NO_ADVERTISE to nobody, NO_EXPORT and NO_EXPORT_SUBCONFED not to eBGP', () => {
    const na = route(e1, attrs({ communities: [WellKnownCommunity.NO_ADVERTISE] }));
    assert.deepEqual([exportRoute(P, na, ebgp).type, exportRoute(P, na, ibgp).type], ['refuse', 'refuse']);
    for (const c of [WellKnownCommunity.NO_EXPORT, WellKnownCommunity.NO_EXPORT_SUBCONFED]) {
      const r = route(e1, attrs({ communities: [c] }));
      assert.deepEqual(exportRoute(P, r, ebgp), { type: 'refuse', reason: 'no-export' });
      assert.deepEqual(out(ibgp, r).communities, [c]);
    }
  });
  it('export policy runs before our own additions (prepend lands after our AS)', () => {
    const policy = compilePolicy({ rules: [
      { match: { prefixList: [{ prefix: p('10.0.0.0/8'), le: 32 }] }, actions: [{ type: 'prepend', count: 2 }, { type: 'set-med', value: 50 }] },
      { result: 'reject', name: 'rest' },
    ] });
    const a = out({ ...ebgp, policy }, route(e1, attrs({ asPath: seq(65101) })));
    assert.deepEqual(a.asPath, seq(LOCAL_AS, LOCAL_AS, LOCAL_AS, 65101));
    assert.equal(a.med, 50);
    assert.deepEqual(exportRoute(p('192.168.0.0/16'), route(e1, attrs()), { ...ebgp, policy }), { type: 'refuse', reason: 'policy', rule: 'rest' });
  });
  it('policy interface: a received route has its neighbour\'s interface, an originated one the interface it was originated with (LocRib keeps it)', () => {
    const policy = compilePolicy({ rules: [{ name: 'no-cali', match: { interface: 'cali*' }, result: 'reject' }, { name: 'no-eth1', match: { interface: 'eth1' }, result: 'reject' }] });
    const t = { ...ebgp, policy };
    assert.equal(exportRoute(P, route(peer('b', 'ebgp', 5, { interface: 'eth1' }), attrs()), t).type, 'refuse');
    assert.equal(exportRoute(P, route(peer('a', 'ebgp', 6, { interface: 'eth0' }), attrs()), t).type, 'export');
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    rib.originate(P, { origin: 0, asPath: [] }, undefined, 'cali0a1b2c');
    const borrowed = rib.best(P);
    assert.equal(borrowed?.iface, 'cali0a1b2c');
    assert.deepEqual(exportRoute(P, borrowed!, t), { type: 'refuse', reason: 'policy', rule: 'no-cali' });
    // The same attributes without an interface: a new route (a change), exported.
    rib.originate(P, { origin: 0, asPath: [] });
    assert.notEqual(rib.best(P), borrowed);
    assert.equal(exportRoute(P, rib.best(P)!, t).type, 'export');
  });
});

describe('Adj-RIB-Out and export groups', () => {
  function setup(target: ExportTarget = ebgp) {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new TestUpdateGroup(target);
    rib.onBestChange((c) => group.apply(c));
    return { rib, group };
  }
  it('groups NLRI by attribute set, coalesces, never sends back to the source, withdraws only what was sent', () => {
    const { rib, group } = setup();
    const o1 = group.addMember('e1');
    const o2 = group.addMember('e2');
    const in1 = rib.addPeer(e1);
    in1.update(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'].map((x) => ({ prefix: p(x) })), attrs({ med: 1 }));
    in1.update([{ prefix: p('10.0.3.0/24') }], attrs({ med: 2 }));
    rib.originate(p('10.9.0.0/16'), { med: 5 });
    rib.originate(p('10.8.0.0/16'), {});
    rib.withdrawOriginated(p('10.8.0.0/16')); // coalesces away
    const b2 = o2.drain();
    assert.equal(b2.announce.length, 2);
    const learned = b2.announce.find((g) => g.prefixes.length === 4)!;
    assert.deepEqual(learned.prefixes.map(formatPrefix).sort(), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24']);
    assert.deepEqual(learned.attrs.asPath, seq(LOCAL_AS, 65101));
    assert.equal(learned.attrs.med, undefined, 'both MEDs stripped → one attribute set');
    assert.deepEqual(b2.withdraw, []);
    const b1 = o1.drain();
    assert.deepEqual(b1.announce.map((g) => g.prefixes.map(formatPrefix)), [['10.9.0.0/16']], 'e1 gets none of its own routes');
    assert.equal(o2.size, 5);
    in1.withdraw([{ prefix: p('10.0.0.0/24') }]);
    assert.deepEqual(o2.drain(), { announce: [], withdraw: [p('10.0.0.0/24')] });
    assert.equal(o1.hasPending, false, 'nothing to withdraw from the source peer');
    // announce then withdraw before a drain: nothing on the wire
    in1.update([{ prefix: p('10.0.7.0/24') }], attrs());
    in1.withdraw([{ prefix: p('10.0.7.0/24') }]);
    assert.equal(o2.hasPending, false);
  });
  it('a new member gets the current table; route refresh resends; removal releases interned attributes', () => {
    const { rib, group } = setup(ibgp);
    const in1 = rib.addPeer(e1);
    in1.update([{ prefix: p('10.0.0.0/24') }, { prefix: p('10.0.1.0/24') }], attrs());
    const o = group.addMember('i3', rib);
    const first = o.drain();
    assert.equal(first.announce[0]?.prefixes.length, 2);
    assert.equal(first.announce[0]?.attrs.localPref, 100);
    assert.equal(o.drain().announce.length, 0);
    o.resendAll();
    assert.equal(o.drain().announce[0]?.prefixes.length, 2);
    rib.removePeer('e1');
    assert.equal(o.drain().withdraw.length, 2);
    
    group.removeMember('i3');
    assert.equal(rib.interner.size, 0, 'no attribute set left behind');
  });
  it('runs the transform once per (attribute set, source) for the whole group', () => {
    let calls = 0;
    const counting = compilePolicy({ rules: [{ match: { communities: [1] }, result: 'continue' }] });
    const policy = { ...counting, evaluate: (...args: Parameters<typeof counting.evaluate>) => { calls++; return counting.evaluate(...args); } };
    const { rib, group } = setup({ ...ebgp, policy });
    for (const m of ['a', 'b', 'c', 'd']) group.addMember(m);
    rib.addPeer(e1).update(Array.from({ length: 100 }, (_, i) => ({ prefix: p(`10.2.${i}.0/24`) })), attrs());
    for (const m of ['a', 'b', 'c', 'd']) assert.equal(group.member(m)!.drain().announce[0]?.prefixes.length, 100);
    assert.equal(calls, 1, 'one policy evaluation (at the flush) for 4 members and 100 prefixes');
  });
});

describe('IPv6 next hop on export', () => {
  const V6 = p('2001:db8:1::/48');
  const SELF6 = p('fd00::1/128').bytes;
  const NH_A = p('fd00::a/128').bytes;
  const NH_B = p('fd00::b/128').bytes;
  const t6 = (t: ExportTarget): ExportTarget => ({ ...t, localAddress6: SELF6 });
  const v6route = (src: typeof e1, nh: Uint8Array | undefined) => new Route(src, 0, { origin: 0, asPath: seq(65101) }, nh);
  function exp(t: ExportTarget, r: Route) {
    const x = exportRoute(V6, r, t);
    if (x.type !== 'export') assert.fail(x.reason);
    return x.attrs;
  }
  it('eBGP: our address; iBGP: the learned next hop unless next-hop-self; reflection keeps it; local routes use ours', () => {
    const a = exp(t6(ebgp), v6route(e1, NH_A));
    assert.deepEqual([a.mpNextHop, a.nextHop], [SELF6, undefined]);
    assert.deepEqual(exp(t6(ibgp), v6route(e1, NH_A)).mpNextHop, NH_A);
    assert.deepEqual(exp(t6({ ...ibgp, nextHopSelf: true }), v6route(e1, NH_A)).mpNextHop, SELF6);
    assert.deepEqual(exp(t6({ ...rrNonClients, nextHopSelf: true }), v6route(c4, NH_A)).mpNextHop, NH_A);
    assert.deepEqual(exp(t6(ibgp), new Route(localPeer(LOCAL_AS, ROUTER_ID), 0, {}, undefined)).mpNextHop, SELF6);
  });
  it('announcements are grouped per next hop', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new TestUpdateGroup(t6(ibgp));
    rib.onBestChange((c) => group.apply(c));
    const o = group.addMember('i3');
    const v6attrs = { origin: 0 as const, asPath: seq(65101) };
    rib.addPeer(e1).update([{ prefix: p('2001:db8:1::/48') }, { prefix: p('2001:db8:2::/48') }], v6attrs, NH_A);
    rib.addPeer(peer('e2', 'ebgp', 2)).update([{ prefix: p('2001:db8:3::/48') }], v6attrs, NH_B);
    const got = o.drain().announce.map((a) => [formatPrefix({ family: 6, bytes: a.attrs.mpNextHop!, length: 128 }), a.prefixes.map(formatPrefix)]);
    assert.deepEqual(got.sort(), [['fd00::a/128', ['2001:db8:1::/48', '2001:db8:2::/48']], ['fd00::b/128', ['2001:db8:3::/48']]]);
  });
  it('one neighbour, same attributes, different MP_REACH next hops: each keeps its own (cache is per Route)', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new TestUpdateGroup(t6(ibgp));
    rib.onBestChange((c) => group.apply(c));
    const o = group.addMember('i3');
    const v6attrs = { origin: 0 as const, asPath: seq(65101) };
    const e = rib.addPeer(e1);
    e.update([{ prefix: p('2001:db8:1::/48') }], v6attrs, NH_A);
    e.update([{ prefix: p('2001:db8:2::/48') }], v6attrs, NH_B);
    const got = o.drain().announce.map((a) => [formatPrefix({ family: 6, bytes: a.attrs.mpNextHop!, length: 128 }), a.prefixes.map(formatPrefix)]);
    assert.deepEqual(got.sort(), [['fd00::a/128', ['2001:db8:1::/48']], ['fd00::b/128', ['2001:db8:2::/48']]]);
  });
});

describe('update groups', () => {
  it('equal targets share a key; any difference (including another policy object) splits them', () => {
    const pol = compilePolicy({ rules: [] });
    assert.equal(exportTargetKey({ ...ebgp, policy: pol }), exportTargetKey({ ...ebgp, localAddress: Uint8Array.of(192, 0, 2, 1), policy: pol }));
    assert.notEqual(exportTargetKey({ ...ebgp, policy: pol }), exportTargetKey({ ...ebgp, policy: compilePolicy({ rules: [] }) }));
    assert.notEqual(exportTargetKey(ebgp), exportTargetKey(ibgp));
    assert.notEqual(exportTargetKey(rrClients), exportTargetKey(rrNonClients));
    assert.notEqual(exportTargetKey(ebgp), exportTargetKey({ ...ebgp, sendMed: true }));
  });
});
