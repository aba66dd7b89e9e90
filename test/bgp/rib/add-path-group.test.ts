/**
 * AddPathGroup (ADD-PATH send, RFC 7911) model-based: random announce / withdraw with received
 * path ids (ADD-PATH receive: several paths per neighbour), peer down, originate, member join /
 * leave / refresh, flushes at random points. A simulated receiver per member keeps (prefix, path
 * id) → attributes and applies every batch; at the end it must hold exactly the `limit` best
 * exportable candidates of every prefix (all when 0) minus the paths it is the source of, every
 * withdraw must name a path it had, and the advertised counters must match.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix } from '../../../common/prefix.js';
import { attributesKey } from '../../../bgp/rib/attr-intern.js';
import { exportRoute, type ExportTarget } from '../../../bgp/rib/export.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import { selectBest } from '../../../bgp/rib/best-path.js';
import { AddPathGroup } from '../../../bgp/rib/add-path-group.js';
import { PathIds } from '../../../bgp/rib/path-ids.js';
import type { AdjRibIn } from '../../../bgp/rib/adj-rib-in.js';
import type { PeerInfo, Route } from '../../../bgp/rib/route.js';
import { NEXT_HOP_SELF_V4, type MemberBatch } from '../../../bgp/rib/update-group.js';
import { WellKnownCommunity, type PathAttributes } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID, seq } from './fixtures.js';

const PREFIXES = ['10.0.0.0/24', '10.0.1.0/24', '10.1.0.0/16', '2001:db8::/32'].map(p);
const ATTRS: PathAttributes[] = [
  attrs({ asPath: seq(65101) }), attrs({ asPath: seq(65101, 7), med: 3 }), attrs({ localPref: 300 }),
  attrs({ communities: [WellKnownCommunity.NO_EXPORT] }), attrs({ asPath: seq(65102, 8, 9) }),
];
const PEERS: PeerInfo[] = [peer('e1', 'ebgp', 1), peer('e2', 'ebgp', 2), peer('i3', 'ibgp', 3)];
const MEMBERS = ['e1', 'e2', 'i3', 'x9'];
const base = { localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: NEXT_HOP_SELF_V4 };
const TARGETS: ExportTarget[] = [{ kind: 'ebgp', ...base }, { kind: 'ibgp', ...base, routeReflector: true, rrClient: true }];

type Op =
  | { t: 'ann'; peer: number; pre: number; id: number; a: number } | { t: 'wd'; peer: number; pre: number; id: number }
  | { t: 'down'; peer: number } | { t: 'orig'; pre: number; a: number } | { t: 'flush' }
  | { t: 'join'; m: number } | { t: 'leave'; m: number } | { t: 'refresh'; m: number };
const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('ann' as const), peer: fc.nat(PEERS.length - 1), pre: fc.nat(PREFIXES.length - 1), id: fc.nat(2), a: fc.nat(ATTRS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wd' as const), peer: fc.nat(PEERS.length - 1), pre: fc.nat(PREFIXES.length - 1), id: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('down' as const), peer: fc.nat(PEERS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('orig' as const), pre: fc.nat(PREFIXES.length - 1), a: fc.nat(ATTRS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('join' as const), m: fc.nat(MEMBERS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), m: fc.nat(MEMBERS.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('refresh' as const), m: fc.nat(MEMBERS.length - 1) }) },
);

/** A member batch as (prefix|id) → attributes key, and the withdrawn (prefix|id) keys. */
function expand(mb: MemberBatch): { announce: Map<string, string>; withdraw: string[] } {
  const b = mb.base;
  const skip = new Set(mb.skip);
  const key = (i: number) => `${formatPrefix(b.prefixes.prefix(i))}|${b.pathIds?.[i] ?? 0}`;
  const announce = new Map<string, string>();
  for (const a of b.announce) for (const i of a.idx) if (!skip.has(i)) announce.set(key(i), attributesKey(a.attrs));
  return { announce, withdraw: b.withdraw.filter((i) => !skip.has(i)).map(key) };
}

/** What a member must hold: the `limit` best exportable candidates (repeated best-path), not its own. */
function expected(rib: LocRib, target: ExportTarget, limit: number, ids: PathIds, member: string): Map<string, string> {
  const want = new Map<string, string>();
  rib.forEachPaths((prefix, cands) => {
    const exp = new Map<Route, string>();
    for (const r of cands) { const x = exportRoute(prefix, r, target); if (x.type === 'export') exp.set(r, attributesKey(x.attrs)); }
    let rest = [...exp.keys()];
    const sel: Route[] = [];
    while (rest.length > 0 && (limit === 0 || sel.length < limit)) { const b = selectBest(rest).best!; sel.push(b); rest = rest.filter((r) => r !== b); }
    for (const r of sel) if (r.source.id !== member) want.set(`${formatPrefix(prefix)}|${ids.of(r)}`, exp.get(r)!);
  });
  return want;
}

describe('AddPathGroup', () => {
  it('every member ends up with exactly the N best exportable paths per prefix minus its own (property)', () => {
    fc.assert(fc.property(fc.nat(TARGETS.length - 1), fc.constantFrom(0, 1, 2), fc.array(ops, { maxLength: 60 }), (ti, limit, seqOps) => {
      const target = TARGETS[ti]!;
      const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
      rib.trackPaths = true;
      const ids = new PathIds();
      const group = new AddPathGroup(target, { v4: true, v6: true }, limit, ids);
      rib.onBestChange((c) => group.apply(c));
      const receivers = new Map<string, Map<string, string>>();
      const apply = (id: string, mb: MemberBatch) => {
        const r = receivers.get(id);
        assert.ok(r, `batch for ${id}, which is not a member`);
        const b = expand(mb);
        for (const w of b.withdraw) assert.ok(r.delete(w), `withdraw of unknown path ${w} to ${id}`);
        for (const [k, v] of b.announce) r.set(k, v);
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
      const live = new Map<string, AdjRibIn>();
      const adj = (i: number): AdjRibIn => {
        const info = PEERS[i]!;
        let a = live.get(info.id);
        if (!a) { a = rib.addPeer(info); live.set(info.id, a); }
        return a;
      };
      for (const op of seqOps) {
        switch (op.t) {
          case 'ann': adj(op.peer).update([{ prefix: PREFIXES[op.pre]!, pathId: op.id }], ATTRS[op.a]!); break;
          case 'wd': adj(op.peer).withdraw([{ prefix: PREFIXES[op.pre]!, pathId: op.id }]); break;
          case 'down': rib.removePeer(PEERS[op.peer]!.id); live.delete(PEERS[op.peer]!.id); break;
          case 'orig': rib.originate(PREFIXES[op.pre]!, ATTRS[op.a]!); break;
          case 'flush': flush(); break;
          case 'join': join(MEMBERS[op.m]!); break;
          case 'leave': group.removeMember(MEMBERS[op.m]!); receivers.delete(MEMBERS[op.m]!); break;
          case 'refresh': {
            const id = MEMBERS[op.m]!;
            if (!receivers.has(id)) break;
            flush();
            receivers.set(id, new Map());
            apply(id, group.table(id, rib));
            break;
          }
        }
      }
      flush();
      for (const [id, r] of receivers) {
        const want = expected(rib, target, limit, ids, id);
        assert.deepEqual(r, want, `member ${id}`);
        assert.equal(group.advertised(id), want.size, `advertised count of ${id}`);
        assert.equal(group.advertised6(id), [...want.keys()].filter((k) => k.includes(':')).length, `IPv6 advertised count of ${id}`);
      }
    }), { numRuns: 400 });
  });

  it('three paths of one neighbour are three entries with distinct, stable ids; one withdrawn by its id', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    rib.trackPaths = true;
    const group = new AddPathGroup(TARGETS[0]!, { v4: true, v6: true }, 0);
    rib.onBestChange((c) => group.apply(c));
    group.addMember('x9');
    const a = rib.addPeer(PEERS[0]!);
    a.update([1, 2, 3].map((pathId) => ({ prefix: PREFIXES[0]!, pathId })), ATTRS[0]!);
    let got: ReturnType<typeof expand> | undefined;
    group.flush((_id, b) => { got = expand(b); });
    const keys = [...got!.announce.keys()].sort();
    assert.equal(keys.length, 3);
    assert.equal(new Set(keys).size, 3);
    a.update([{ prefix: PREFIXES[0]!, pathId: 2 }], ATTRS[1]!);
    group.flush((_id, b) => { got = expand(b); });
    assert.equal(got!.announce.size, 1, 'only the changed path');
    assert.ok(keys.includes([...got!.announce.keys()][0]!), 'under the id it had');
    a.withdraw([{ prefix: PREFIXES[0]!, pathId: 3 }]);
    group.flush((_id, b) => { got = expand(b); });
    assert.equal(got!.announce.size, 0);
    assert.equal(got!.withdraw.length, 1);
    assert.ok(keys.includes(got!.withdraw[0]!));
    assert.equal(group.advertised('x9'), 2);
  });
});
