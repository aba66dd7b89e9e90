/**
 * Adj-RIB-Out model-based: random announce / withdraw / peer down / originate / route refresh
 * with drains at random points. A simulated receiver applies every drained batch; at the end it
 * must hold exactly exportRoute() of each Loc-RIB best (minus routes from itself), every
 * withdraw must name something it had, and nothing stays interned once everything is gone.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix } from '../../../common/prefix.js';
import { attributesKey } from '../../../bgp/rib/attr-intern.js';
import { ExportGroup } from '../../../bgp/rib/adj-rib-out.js';
import { exportRoute, type ExportTarget } from '../../../bgp/rib/export.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { PeerInfo } from '../../../bgp/rib/route.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { WellKnownCommunity, type PathAttributes } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID, seq } from './fixtures.js';

const PREFIXES = ['10.0.0.0/24', '10.0.1.0/24', '10.1.0.0/16', '172.16.0.0/12', '10.0.0.0/25'].map(p);
const ATTRS: PathAttributes[] = [
  attrs({ asPath: seq(65101) }), attrs({ asPath: seq(65101, 7), med: 3 }), attrs({ localPref: 300 }),
  attrs({ communities: [WellKnownCommunity.NO_EXPORT] }), attrs({ communities: [WellKnownCommunity.NO_ADVERTISE] }),
];
const PEERS: PeerInfo[] = [peer('e1', 'ebgp', 1), peer('e2', 'ebgp', 2), peer('i3', 'ibgp', 3), peer('c4', 'ibgp', 4, { rrClient: true })];
const policy = compilePolicy({ rules: [{ match: { prefixList: [{ prefix: p('10.0.0.0/24'), ge: 25 }] }, result: 'reject' }, { match: { communities: [9] }, actions: [{ type: 'set-med', value: 1 }] }] });
const TARGETS: ExportTarget[] = [
  { kind: 'ebgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: Uint8Array.of(192, 0, 2, 1) },
  { kind: 'ebgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: Uint8Array.of(192, 0, 2, 1), policy },
  { kind: 'ibgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: Uint8Array.of(192, 0, 2, 1), routeReflector: true, rrClient: true },
  { kind: 'ibgp', localAs: LOCAL_AS, routerId: ROUTER_ID, localAddress: Uint8Array.of(192, 0, 2, 1) },
];

type Op =
  | { t: 'ann'; peer: number; pre: number[]; a: number } | { t: 'wd'; peer: number; pre: number[] }
  | { t: 'down'; peer: number } | { t: 'orig'; pre: number; a: number } | { t: 'drain' } | { t: 'refresh' };
const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('ann' as const), peer: fc.nat(3), pre: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }), a: fc.nat(4) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wd' as const), peer: fc.nat(3), pre: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('down' as const), peer: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('orig' as const), pre: fc.nat(4), a: fc.nat(4) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('drain' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('refresh' as const) }) },
);

it('the receiver ends up with exactly the exported Loc-RIB (property)', () => {
  fc.assert(fc.property(fc.nat(TARGETS.length - 1), fc.nat(PEERS.length - 1), fc.array(ops, { maxLength: 40 }), (ti, mi, seqOps) => {
    const target = TARGETS[ti]!;
    const member = PEERS[mi]!.id;
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new ExportGroup(target, rib.interner);
    rib.onBestChange((c) => group.apply(c));
    const out = group.addMember(member, rib);
    const receiver = new Map<string, string>();
    const drain = () => {
      const b = out.drain();
      for (const w of b.withdraw) assert.ok(receiver.delete(formatPrefix(w)), `withdraw of unknown ${formatPrefix(w)}`);
      for (const a of b.announce) for (const x of a.prefixes) receiver.set(formatPrefix(x), attributesKey(a.attrs));
    };
    const live = new Map<string, ReturnType<LocRib['addPeer']>>();
    const adj = (i: number) => { const info = PEERS[i]!; let a = live.get(info.id); if (!a) { a = rib.addPeer(info); live.set(info.id, a); } return a; };
    for (const op of seqOps) {
      switch (op.t) {
        case 'ann': adj(op.peer).update(op.pre.map((i) => ({ prefix: PREFIXES[i]! })), ATTRS[op.a]!); break;
        case 'wd': adj(op.peer).withdraw(op.pre.map((i) => ({ prefix: PREFIXES[i]! }))); break;
        case 'down': rib.removePeer(PEERS[op.peer]!.id); live.delete(PEERS[op.peer]!.id); break;
        case 'orig': rib.originate(PREFIXES[op.pre]!, ATTRS[op.a]!); break;
        case 'drain': drain(); break;
        case 'refresh': out.resendAll(); break;
      }
    }
    drain();
    const want = new Map<string, string>();
    rib.forEachBest((prefix, best) => {
      if (best.source.id === member) return;
      const r = exportRoute(prefix, best, target);
      if (r.type === 'export') want.set(formatPrefix(prefix), attributesKey(r.attrs));
    });
    assert.deepEqual(receiver, want);
    assert.equal(out.size, want.size);
    for (const id of [...live.keys()]) rib.removePeer(id);
    for (const x of PREFIXES) rib.withdrawOriginated(x);
    drain();
    assert.equal(receiver.size, 0);
    group.removeMember(member);
    group.clearCache();
    assert.equal(rib.interner.size, 0, 'interned attribute sets leaked');
  }), { numRuns: 300 });
});
