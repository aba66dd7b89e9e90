/**
 * Update group model-based, seen from one member (the production UpdateGroup through
 * test/helpers/update-group-member.ts): random announce / withdraw / peer down / originate /
 * route refresh with drains at random points. A simulated receiver applies every drained batch; at the end it
 * must hold exactly exportRoute() of each Loc-RIB best (minus routes from itself), every
 * withdraw must name something it had, and nothing stays interned once everything is gone.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix } from '../../../common/prefix.js';
import { attributesKey } from '../../../bgp/rib/attr-intern.js';
import { TestUpdateGroup } from '../../helpers/update-group-member.js';
import { exportRoute, type ExportTarget } from '../../../bgp/rib/export.js';
import { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { PeerInfo } from '../../../bgp/rib/route.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import { WellKnownCommunity, type PathAttributes } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ribDriver, ribOpArbs, ROUTER_ID, seq, type RibOp } from './fixtures.js';

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
  | RibOp | { t: 'drain' } | { t: 'refresh' };
const ops: fc.Arbitrary<Op> = fc.oneof(
  ...ribOpArbs(PEERS.length, PREFIXES.length, ATTRS.length),
  { weight: 3, arbitrary: fc.record({ t: fc.constant('drain' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('refresh' as const) }) },
);

it('the receiver ends up with exactly the exported Loc-RIB (property)', () => {
  fc.assert(fc.property(fc.nat(TARGETS.length - 1), fc.nat(PEERS.length - 1), fc.array(ops, { maxLength: 40 }), (ti, mi, seqOps) => {
    const target = TARGETS[ti]!;
    const member = PEERS[mi]!.id;
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const group = new TestUpdateGroup(target);
    rib.onBestChange((c) => group.apply(c));
    const out = group.addMember(member, rib);
    const receiver = new Map<string, string>();
    const drain = () => {
      const b = out.drain();
      for (const w of b.withdraw) assert.ok(receiver.delete(formatPrefix(w)), `withdraw of unknown ${formatPrefix(w)}`);
      for (const a of b.announce) for (const x of a.prefixes) receiver.set(formatPrefix(x), attributesKey(a.attrs));
    };
    const drv = ribDriver(rib, PEERS, PREFIXES, ATTRS);
    const live = drv.live;
    for (const op of seqOps) {
      if (drv.step(op)) continue;
      switch (op.t) {
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
    
    assert.equal(rib.interner.size, 0, 'interned attribute sets leaked');
  }), { numRuns: 300 });
});
