/**
 * UpdateGroup model-based: random announce / withdraw / peer down / originate / member join /
 * route refresh with flushes at random points, several members at once (some of them also
 * sources of routes). A simulated receiver per member applies every batch it is given; at the
 * end each must hold exactly exportRoute() of each Loc-RIB best minus the routes it sent itself,
 * every withdraw must name something it had, and the advertised counters must match.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix } from '../../../common/prefix.js';
import { attributesKey } from '../../../bgp/rib/attr-intern.js';
import { exportRoute, type ExportTarget } from '../../../bgp/rib/export.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { PeerInfo } from '../../../bgp/rib/route.js';
import { expandBatch, isSelfNextHop, NEXT_HOP_SELF_V4, UpdateGroup, type MemberBatch } from '../../../bgp/rib/update-group.js';
import { PrefixList } from '../../../bgp/rib/prefix-list.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { WellKnownCommunity, type PathAttributes } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ribDriver, ribOpArbs, ROUTER_ID, seq, type RibOp } from './fixtures.js';

const PREFIXES = ['10.0.0.0/24', '10.0.1.0/24', '10.1.0.0/16', '172.16.0.0/12', '10.0.0.0/25', '2001:db8::/32'].map(p);
const ATTRS: PathAttributes[] = [
  attrs({ asPath: seq(65101) }), attrs({ asPath: seq(65101, 7), med: 3 }), attrs({ localPref: 300 }),
  attrs({ communities: [WellKnownCommunity.NO_EXPORT] }), attrs({ communities: [WellKnownCommunity.NO_ADVERTISE] }),
  attrs({ communities: [9] }),
];
const PEERS: PeerInfo[] = [peer('e1', 'ebgp', 1), peer('e2', 'ebgp', 2), peer('i3', 'ibgp', 3), peer('c4', 'ibgp', 4, { rrClient: true })];
const MEMBERS = ['e1', 'e2', 'i3', 'c4', 'x9'];
const prefixPolicy = compilePolicy({ rules: [{ match: { prefixList: [{ prefix: p('10.0.0.0/24'), ge: 25 }] }, result: 'reject' }, { match: { communities: [9] }, actions: [{ type: 'set-med', value: 1 }] }] });
const attrPolicy = compilePolicy({ rules: [{ match: { communities: [9] }, actions: [{ type: 'set-med', value: 1 }] }] });
const base = { localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: NEXT_HOP_SELF_V4 };
const TARGETS: ExportTarget[] = [
  { kind: 'ebgp', ...base },
  { kind: 'ebgp', ...base, policy: prefixPolicy },
  { kind: 'ebgp', ...base, policy: attrPolicy },
  { kind: 'ibgp', ...base, routeReflector: true, rrClient: true },
  { kind: 'ibgp', ...base, nextHopSelf: true },
];

type Op =
  | RibOp | { t: 'flush' } | { t: 'join'; m: number } | { t: 'leave'; m: number } | { t: 'refresh'; m: number };
const ops: fc.Arbitrary<Op> = fc.oneof(
  ...ribOpArbs(PEERS.length, PREFIXES.length, ATTRS.length),
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('join' as const), m: fc.nat(MEMBERS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), m: fc.nat(MEMBERS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('refresh' as const), m: fc.nat(MEMBERS.length - 1) }) },
);

describe('UpdateGroup', () => {
  it('every member ends up with exactly the exported Loc-RIB minus its own routes (property)', () => {
    fc.assert(fc.property(fc.nat(TARGETS.length - 1), fc.array(ops, { maxLength: 50 }), (ti, seqOps) => {
      const target = TARGETS[ti]!;
      const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
      const group = new UpdateGroup(target);
      rib.onBestChange((c) => group.apply(c));
      const receivers = new Map<string, Map<string, string>>();
      const apply = (id: string, mb: MemberBatch) => {
        const r = receivers.get(id);
        assert.ok(r, `batch for ${id}, which is not a member`);
        const b = expandBatch(mb);
        for (const w of b.withdraw) assert.ok(r.delete(formatPrefix(w)), `withdraw of unknown ${formatPrefix(w)} to ${id}`);
        for (const a of b.announce) for (const x of a.prefixes) r.set(formatPrefix(x), attributesKey(a.attrs));
      };
      const flush = () => group.flush(apply);
      const join = (id: string) => {
        if (receivers.has(id)) return;
        flush();
        group.addMember(id);
        receivers.set(id, new Map());
        apply(id, group.table(id, rib));
      };
      join('e2');
      const drv = ribDriver(rib, PEERS, PREFIXES, ATTRS);
      for (const op of seqOps) {
        if (drv.step(op)) continue;
        switch (op.t) {
          case 'flush': flush(); break;
          case 'join': join(MEMBERS[op.m]!); break;
          case 'leave': group.removeMember(MEMBERS[op.m]!); receivers.delete(MEMBERS[op.m]!); break;
          case 'refresh': {
            const id = MEMBERS[op.m]!;
            if (!receivers.has(id)) break;
            flush();
            apply(id, group.table(id, rib));
            break;
          }
        }
      }
      flush();
      for (const [id, r] of receivers) {
        const want = new Map<string, string>();
        rib.forEachBest((prefix, best) => {
          if (best.source.id === id) return;
          const x = exportRoute(prefix, best, target);
          if (x.type === 'export') want.set(formatPrefix(prefix), attributesKey(x.attrs));
        });
        assert.deepEqual(r, want, `member ${id}`);
        assert.equal(group.advertised(id), want.size, `advertised count of ${id}`);
        assert.equal(group.advertised6(id), [...want.keys()].filter((k) => k.includes(':')).length, `IPv6 advertised count of ${id}`);
      }
    }), { numRuns: 400 });
  });

  it('members on different addresses share one batch; the next hop is a placeholder', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new UpdateGroup({ kind: 'ebgp', ...base });
    rib.onBestChange((c) => group.apply(c));
    for (const id of ['a', 'b', 'c']) group.addMember(id);
    rib.addPeer(PEERS[0]!).update([{ prefix: PREFIXES[0]! }, { prefix: PREFIXES[1]! }], ATTRS[0]!);
    const got = new Map<string, MemberBatch>();
    group.flush((id, b) => got.set(id, b));
    assert.equal(got.size, 3);
    assert.ok(got.get('a') === got.get('b') && got.get('b') === got.get('c'), 'one batch object for all three');
    const ann = expandBatch(got.get('a')!).announce;
    assert.equal(ann.length, 1);
    assert.equal(ann[0]!.prefixes.length, 2);
    assert.ok(isSelfNextHop(ann[0]!.attrs.nextHop), 'NEXT_HOP left for the sender to fill in');
    // a group of IPv4-only members exports (and counts) no IPv6 route
    const v4only = new UpdateGroup({ kind: 'ebgp', ...base }, { v4: true, v6: false });
    v4only.addMember('m');
    rib.addPeer(PEERS[1]!).update([{ prefix: PREFIXES[5]! }], ATTRS[0]!);
    const t4 = expandBatch(v4only.table('m', rib));
    assert.deepEqual(t4.announce.flatMap((a) => a.prefixes.map(formatPrefix)).sort(), ['10.0.0.0/24', '10.0.1.0/24']);
    assert.equal(v4only.advertised('m'), 2);
    // the source member gets nothing for its own routes
    group.flush(() => undefined);
    group.addMember('e1');
    const t = expandBatch(group.table('e1', rib));
    assert.deepEqual(t.announce.flatMap((a) => a.prefixes.map(formatPrefix)), ['2001:db8::/32'], 'only e2\'s route, none of its own');
  });
});

describe('PrefixList', () => {
  it('pushUnique finds every earlier entry across index growth, IPv4 and IPv6 (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({ v6: fc.boolean(), n: fc.nat(300), len: fc.integer({ min: 8, max: 32 }) }), { maxLength: 400 }), (raw) => {
      const list = new PrefixList(2);
      const seen = new Map<string, number>();
      for (const r of raw) {
        const prefix = r.v6 ? p(`2001:db8:${r.n.toString(16)}::/48`) : p(`10.${r.n >> 8}.${r.n & 255}.0/24`);
        const key = formatPrefix(prefix);
        const got = list.pushUnique(prefix);
        const want = seen.get(key);
        assert.equal(got, want ?? -1, key);
        if (want === undefined) seen.set(key, list.length - 1);
        assert.equal(formatPrefix(list.prefix(seen.get(key)!)), key);
      }
      assert.equal(list.length, seen.size);
    }), { numRuns: 100 });
  });
  it('pushUnique: a run in address order (no index kept) then any order still finds every earlier entry (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({ n: fc.nat(300), len: fc.integer({ min: 8, max: 32 }) }), { maxLength: 200 }),
      fc.array(fc.record({ v6: fc.boolean(), n: fc.nat(300), len: fc.integer({ min: 8, max: 32 }) }), { maxLength: 200 }), (run, rest) => {
        const sorted = [...run].sort((x, y) => x.n - y.n || x.len - y.len);
        const list = new PrefixList(2);
        const seen = new Map<string, number>();
        for (const r of [...sorted.map((x) => ({ ...x, v6: false })), ...rest]) {
          const prefix = r.v6 ? p(`2001:db8:${r.n.toString(16)}::/48`) : { family: 4 as const, bytes: Uint8Array.of(10, r.n >> 8, r.n & 255, 0), length: r.len };
          const key = r.v6 ? formatPrefix(prefix) : `10.${r.n}/${r.len}`; // the list compares address bytes as given
          const got = list.pushUnique(prefix);
          const want = seen.get(key);
          assert.equal(got, want ?? -1, key);
          if (want === undefined) seen.set(key, list.length - 1);
        }
        assert.equal(list.length, seen.size);
      }), { numRuns: 200 });
  });
});
