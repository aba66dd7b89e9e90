/**
 * Loc-RIB: model-based test against a naive reference under random announce / withdraw / peer
 * down / originate sequences from several peers (best, ECMP, change stream, counts, interner
 * reclaimed), plus the import rules (AS-path, ORIGINATOR_ID and CLUSTER_LIST loops, allowas-in,
 * import policy, eBGP LOCAL_PREF), ADD-PATH, treat-as-withdraw and stale sweeping.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatPrefix, ipv4ToInt, type Prefix } from '../../../common/prefix.js';
import { attributesKey } from '../../../bgp/rib/attr-intern.js';
import { selectBest } from '../../../bgp/rib/best-path.js';
import { LocRib, type BestChange } from '../../../bgp/rib/loc-rib.js';
import { localPeer, Route, type PeerInfo } from '../../../bgp/rib/route.js';
import { RibError } from '../../../bgp/rib/rib-error.js';
import { compilePolicy } from '../../../bgp/policy/compile-policy.js';
import type { Ipv4Prefixes, Nlri, PathAttributes } from '../../../bgp/wire/types.js';
import { attrs, LOCAL_AS, p, peer, ROUTER_ID, seq } from './fixtures.js';

const PREFIXES = ['10.0.0.0/24', '10.0.1.0/24', '10.0.0.0/16', '192.168.0.0/32', '0.0.0.0/0', '2001:db8::/48'].map(p);
const ATTRS: PathAttributes[] = [
  attrs({ asPath: seq(65101) }),
  attrs({ asPath: seq(65101, 65102) }),
  attrs({ asPath: seq(65101), localPref: 150 }),
  attrs({ asPath: seq(65101), med: 5, communities: [1, 2] }),
];
const PEERS: PeerInfo[] = [peer('e1', 'ebgp', 1), peer('e2', 'ebgp', 2), peer('i3', 'ibgp', 3)];
/** e2 imports through a prefix-dependent policy that rejects some prefixes and rewrites others. */
const E2_POLICY = compilePolicy({ rules: [
  { match: { prefixList: [{ prefix: p('192.168.0.0/16'), le: 32 }] }, result: 'reject' },
  { match: { prefixList: [{ prefix: p('10.0.0.0/16'), le: 24 }] }, actions: [{ type: 'set-local-pref', value: 120 }] },
] });
const IMPORT = new Map([['e2', E2_POLICY]]);

type Op =
  | { type: 'announce'; peer: number; prefixes: number[]; attr: number; pathId: number; compact: boolean }
  | { type: 'withdraw'; peer: number; prefixes: number[]; pathId: number; compact: boolean }
  | { type: 'down'; peer: number }
  | { type: 'originate'; prefix: number; attr: number }
  | { type: 'unoriginate'; prefix: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constant('announce' as const), peer: fc.nat(2), prefixes: fc.array(fc.nat(5), { minLength: 1, maxLength: 4 }), attr: fc.nat(3), pathId: fc.nat(1), compact: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('withdraw' as const), peer: fc.nat(2), prefixes: fc.array(fc.nat(5), { minLength: 1, maxLength: 4 }), pathId: fc.nat(1), compact: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('down' as const), peer: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('originate' as const), prefix: fc.nat(5), attr: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('unoriginate' as const), prefix: fc.nat(5) }) },
);

/** Naive reference: per source a Map "prefix#pathId" → attrs, selection over fresh Route objects. */
class Reference {
  readonly bySource = new Map<string, Map<string, { prefix: Prefix; pathId: number; a: PathAttributes }>>();
  private readonly local = localPeer(LOCAL_AS, ROUTER_ID);
  set(src: string, prefix: Prefix, pathId: number, a: PathAttributes | undefined): void {
    const m = this.bySource.get(src) ?? new Map();
    this.bySource.set(src, m);
    const k = `${formatPrefix(prefix)}#${pathId}`;
    if (a) m.set(k, { prefix, pathId, a }); else m.delete(k);
  }
  best(prefix: Prefix, maxPaths: number): { best: string | undefined; ecmp: string[] } {
    const cands: Route[] = [];
    for (const [src, m] of this.bySource) {
      const info = src === 'local' ? this.local : PEERS.find((x) => x.id === src)!;
      for (const e of m.values()) if (formatPrefix(e.prefix) === formatPrefix(prefix)) {
        const { localPref: _l, ...stripped } = e.a;
        let a = info.kind === 'ebgp' ? stripped : e.a;
        const pol = IMPORT.get(src);
        if (pol) {
          const r = pol.evaluate(e.prefix, a, { sourceKind: info.kind, sourcePeer: src, localAs: LOCAL_AS });
          if (r.type === 'reject') continue;
          a = r.attrs;
        }
        cands.push(new Route(info, e.pathId, a, a.nextHop));
      }
    }
    const sel = selectBest(cands, { maxPaths });
    return { best: sel.best && describeRoute(sel.best), ecmp: sel.ecmp.map(describeRoute) };
  }
}

/** An UPDATE's prefixes as the speaker's codec gives them: IPv4 in typed arrays, IPv6 as Nlri. */
function compactSplit(nlri: readonly Nlri[]): [Ipv4Prefixes, Nlri[]] {
  const v4 = nlri.filter((n) => n.prefix.family === 4);
  return [{
    length: v4.length,
    addrs: Uint32Array.from(v4, (n) => ipv4ToInt(n.prefix.bytes)),
    lens: Uint8Array.from(v4, (n) => n.prefix.length),
  }, nlri.filter((n) => n.prefix.family === 6)];
}

function describeRoute(r: Route): string {
  return `${r.source.id}#${r.pathId}:${attributesKey(r.attrs)}`;
}

describe('Loc-RIB model-based', () => {
  it('matches a naive reference under random sequences; the change stream reproduces the table', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), fc.integer({ min: 1, max: 3 }), (ops, maxPaths) => {
      const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, bestPath: { maxPaths } });
      const view = new Map<string, string>();
      const viewEcmp = new Map<string, string[]>();
      rib.onBestChange((cs: Iterable<BestChange>) => {
        for (const c of cs) {
          const k = formatPrefix(c.prefix);
          assert.ok(c.best !== undefined || c.previous !== undefined, 'a change has a best or a previous');
          if (c.best) view.set(k, describeRoute(c.best)); else view.delete(k);
          viewEcmp.set(k, c.ecmp.map(describeRoute));
        }
      });
      const ref = new Reference();
      const live = new Map<string, ReturnType<LocRib['addPeer']>>();
      const adj = (i: number) => {
        const info = PEERS[i]!;
        let a = live.get(info.id);
        const policy = IMPORT.get(info.id);
        if (!a) { a = rib.addPeer(info, policy ? { policy } : {}); live.set(info.id, a); }
        return a;
      };
      for (const op of ops) {
        switch (op.type) {
          case 'announce': {
            const nlri = op.prefixes.map((i) => ({ prefix: PREFIXES[i]!, pathId: op.pathId }));
            // the speaker's form: IPv4 prefixes in typed arrays (path id 0), the rest as Nlri
            if (op.compact && op.pathId === 0) {
              const [v4, other] = compactSplit(nlri);
              adj(op.peer).update(v4, ATTRS[op.attr]!);
              if (other.length) adj(op.peer).update(other, ATTRS[op.attr]!);
            } else adj(op.peer).update(nlri, ATTRS[op.attr]!);
            for (const n of nlri) ref.set(PEERS[op.peer]!.id, n.prefix, op.pathId, ATTRS[op.attr]!);
            break;
          }
          case 'withdraw': {
            const nlri = op.prefixes.map((i) => ({ prefix: PREFIXES[i]!, pathId: op.pathId }));
            if (op.compact && op.pathId === 0) {
              const [v4, other] = compactSplit(nlri);
              adj(op.peer).withdraw(v4);
              if (other.length) adj(op.peer).withdraw(other);
            } else adj(op.peer).withdraw(nlri);
            for (const n of nlri) ref.set(PEERS[op.peer]!.id, n.prefix, op.pathId, undefined);
            break;
          }
          case 'down': rib.removePeer(PEERS[op.peer]!.id); live.delete(PEERS[op.peer]!.id); ref.bySource.delete(PEERS[op.peer]!.id); break;
          case 'originate': rib.originate(PREFIXES[op.prefix]!, ATTRS[op.attr]!); ref.set('local', PREFIXES[op.prefix]!, 0, { origin: 0, ...ATTRS[op.attr]! }); break;
          case 'unoriginate': rib.withdrawOriginated(PREFIXES[op.prefix]!); ref.set('local', PREFIXES[op.prefix]!, 0, undefined); break;
        }
      }
      for (const prefix of PREFIXES) {
        const want = ref.best(prefix, maxPaths);
        const b = rib.best(prefix);
        assert.equal(b && describeRoute(b), want.best, `best ${formatPrefix(prefix)}`);
        assert.deepEqual(rib.ecmp(prefix).map(describeRoute), want.ecmp, `ecmp ${formatPrefix(prefix)}`);
        assert.equal(view.get(formatPrefix(prefix)), want.best, `change stream ${formatPrefix(prefix)}`);
        assert.deepEqual(viewEcmp.get(formatPrefix(prefix)) ?? [], want.ecmp, `change stream ecmp ${formatPrefix(prefix)}`);
      }
      for (const [id, a] of live) assert.equal(a.received, ref.bySource.get(id)?.size ?? 0, `received ${id}`);
      // every attribute set still interned is used by a live route; all gone after everything is withdrawn
      const used = new Set<PathAttributes>();
      for (const prefix of PREFIXES) for (const r of rib.candidates(prefix)) used.add(r.attrs);
      assert.equal(rib.interner.size, used.size);
      for (const id of live.keys()) rib.removePeer(id);
      for (const prefix of PREFIXES) rib.withdrawOriginated(prefix);
      assert.equal(rib.size, 0);
      assert.equal(view.size, 0);
      assert.equal(rib.interner.size, 0, 'every attribute set released once nothing uses it');
    }), { numRuns: 300 });
  });
});

describe('Adj-RIB-In import rules', () => {
  const mk = () => new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, clusterId: 0x01010101 });
  it('rejects our own AS in AS_PATH unless allowas-in permits it, counting received vs accepted', () => {
    const rib = mk();
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    assert.equal(e1.update([{ prefix: p('10.1.0.0/24') }], attrs({ asPath: seq(65101, LOCAL_AS, 7) })), 'as-path-loop');
    assert.equal(rib.best(p('10.1.0.0/24')), undefined);
    assert.equal(e1.received, 1);
    assert.equal(e1.accepted, 0);
    e1.withdraw([{ prefix: p('10.1.0.0/24') }]);
    assert.equal(e1.received, 0);
    const e2 = rib.addPeer(peer('e2', 'ebgp', 2), { allowAsIn: 1 });
    assert.equal(e2.update([{ prefix: p('10.1.0.0/24') }], attrs({ asPath: seq(65102, LOCAL_AS) })), 'accept');
    assert.equal(e2.update([{ prefix: p('10.2.0.0/24') }], attrs({ asPath: seq(65102, LOCAL_AS, LOCAL_AS) })), 'as-path-loop');
    assert.equal(rib.best(p('10.1.0.0/24'))?.source.id, 'e2');
    assert.equal(rib.interner.size, 1);
    // local-as: that session's own AS is the one looked for
    const e3 = rib.addPeer(peer('e3', 'ebgp', 3), { localAs: 64999 });
    assert.equal(e3.update([{ prefix: p('10.3.0.0/24') }], attrs({ asPath: seq(65103, 64999) })), 'as-path-loop');
    assert.equal(e3.update([{ prefix: p('10.3.0.0/24') }], attrs({ asPath: seq(65103, LOCAL_AS) })), 'accept');
  });
  it('rejects reflected routes carrying our router id as ORIGINATOR_ID or our cluster id in CLUSTER_LIST (RFC 4456 §8)', () => {
    const rib = mk();
    const i3 = rib.addPeer(peer('i3', 'ibgp', 3));
    assert.equal(i3.update([{ prefix: p('10.3.0.0/24') }], attrs({ originatorId: ROUTER_ID })), 'originator-id-loop');
    assert.equal(i3.update([{ prefix: p('10.3.0.0/24') }], attrs({ originatorId: 9, clusterList: [5, 0x01010101] })), 'cluster-list-loop');
    assert.equal(i3.update([{ prefix: p('10.3.0.0/24') }], attrs({ originatorId: 9, clusterList: [5] })), 'accept');
    assert.equal(i3.accepted, 1);
  });
  it('drops LOCAL_PREF from eBGP routes and applies the import policy (prefix-dependent and not)', () => {
    const rib = mk();
    const policy = compilePolicy({
      rules: [
        { match: { prefixList: [{ prefix: p('10.0.0.0/8'), le: 24 }] }, actions: [{ type: 'set-local-pref', value: 300 }] },
        { match: { prefixList: [{ prefix: p('0.0.0.0/0'), ge: 25 }] }, result: 'reject' },
      ],
    });
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1), { policy });
    e1.update([{ prefix: p('10.9.0.0/24') }, { prefix: p('172.16.0.0/16') }, { prefix: p('10.9.9.0/25') }], attrs({ localPref: 999 }));
    assert.equal(rib.best(p('10.9.0.0/24'))?.attrs.localPref, 300);
    assert.equal(rib.best(p('172.16.0.0/16'))?.attrs.localPref, undefined);
    assert.equal(rib.best(p('10.9.9.0/25')), undefined);
    assert.deepEqual([e1.received, e1.accepted], [3, 2]);
    const reject = compilePolicy({ rules: [{ match: { communities: [42] }, result: 'reject' }] });
    const e2 = rib.addPeer(peer('e2', 'ebgp', 2), { policy: reject });
    e2.update([{ prefix: p('10.10.0.0/24') }, { prefix: p('10.11.0.0/24') }], attrs({ communities: [42] }));
    assert.deepEqual([e2.received, e2.accepted], [2, 0]);
  });
  it('keeps ADD-PATH paths apart and treat-as-withdraw removes only the named path', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, bestPath: { maxPaths: 4 } });
    const i3 = rib.addPeer(peer('i3', 'ibgp', 3));
    i3.update([{ prefix: p('10.5.0.0/24'), pathId: 1 }], attrs({ nextHop: Uint8Array.of(10, 0, 0, 1) }));
    i3.update([{ prefix: p('10.5.0.0/24'), pathId: 2 }], attrs({ nextHop: Uint8Array.of(10, 0, 0, 2) }));
    assert.equal(rib.candidates(p('10.5.0.0/24')).length, 2);
    assert.equal(rib.ecmp(p('10.5.0.0/24')).length, 2);
    i3.withdraw([{ prefix: p('10.5.0.0/24'), pathId: 1 }]);
    assert.deepEqual(rib.candidates(p('10.5.0.0/24')).map((r) => r.pathId), [2]);
    assert.equal(i3.received, 1);
  });
  it('graceful-restart hooks: markStale then sweepStale withdraws only what was not refreshed', () => {
    const rib = mk();
    const changes: BestChange[] = [];
    rib.onBestChange((c) => changes.push(...c));
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    e1.update([{ prefix: p('10.7.0.0/24') }, { prefix: p('10.8.0.0/24') }], attrs());
    e1.markStale();
    assert.equal(e1.staleCount, 2);
    e1.update([{ prefix: p('10.7.0.0/24') }], attrs({ med: 1 }));
    changes.length = 0;
    assert.equal(e1.sweepStale(), 1);
    assert.deepEqual(changes.map((c) => [formatPrefix(c.prefix), c.best]), [['10.8.0.0/24', undefined]]);
    assert.equal(rib.best(p('10.7.0.0/24'))?.attrs.med, 1);
  });
  it('graceful restart with ADD-PATH: a path id not re-sent is swept although another path of its prefix was', () => {
    const rib = mk();
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    e1.update([1, 2].map((pathId) => ({ prefix: p('10.7.0.0/24'), pathId })), attrs());
    e1.markStale();
    e1.update([{ prefix: p('10.7.0.0/24'), pathId: 1 }], attrs({ med: 1 }));
    assert.equal(e1.sweepStale(), 1);
    assert.deepEqual(rib.candidates(p('10.7.0.0/24')).map((r) => [r.pathId, r.attrs.med]), [[1, 1]]);
    assert.equal(e1.staleCount, 0);
  });
  it('re-evaluates when the next-hop hook changes its answer', () => {
    const down = new Set<number>();
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, bestPath: { nextHopReachable: (nh) => !down.has(nh?.[3] ?? -1) } });
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    const e2 = rib.addPeer(peer('e2', 'ebgp', 2));
    e1.update([{ prefix: p('10.6.0.0/24') }], attrs({ nextHop: Uint8Array.of(10, 0, 1, 1) }));
    e2.update([{ prefix: p('10.6.0.0/24') }], attrs({ nextHop: Uint8Array.of(10, 0, 1, 2), asPath: seq(65102, 1) }));
    assert.equal(rib.best(p('10.6.0.0/24'))?.source.id, 'e1');
    down.add(1);
    rib.reevaluate();
    assert.equal(rib.best(p('10.6.0.0/24'))?.source.id, 'e2');
    down.add(2);
    rib.reevaluate();
    assert.equal(rib.best(p('10.6.0.0/24')), undefined);
    assert.equal(rib.candidates(p('10.6.0.0/24')).length, 2);
    assert.equal(rib.explain(p('10.6.0.0/24')).losers.every((l) => l.step === 'next-hop-unreachable'), true);
  });
  it('removes a big peer in slices, notifying once per slice', () => {
    const rib = mk();
    const batches: number[] = [];
    rib.onBestChange((c) => batches.push(c.length));
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    const nlri = Array.from({ length: 25_000 }, (_, i) => ({ prefix: { family: 4 as const, bytes: Uint8Array.of(30, (i >> 8) & 0xff, i & 0xff, 0), length: 24 } }));
    e1.update(nlri, attrs());
    e1.update([{ prefix: p('2001:db8:9::/48') }], attrs(), p('fd00::9/128').bytes);
    batches.length = 0;
    let calls = 0;
    while (!rib.removePeerSome('e1', 1000)) { calls++; assert.ok(rib.adjRibIn('e1'), 'still registered while slicing'); }
    assert.ok(calls >= 24, `${calls} slices`);
    assert.equal(rib.size, 0);
    assert.equal(rib.adjRibIn('e1'), undefined);
    assert.equal(batches.reduce((a, b) => a + b, 0), 25_001);
    assert.ok(Math.max(...batches) <= 1001, `largest batch ${Math.max(...batches)}`);
    assert.equal(rib.interner.size, 0);
  });
  it('removes a peer in slices while another peer grows the Loc-RIB between slices', () => {
    // The Adj-RIB-In keeps no table of accepted paths: its slices walk the Loc-RIB, which the
    // other peer's routes resize in between; nothing of the removed peer may be left behind.
    const rib = mk();
    const e1 = rib.addPeer(peer('e1', 'ebgp', 1));
    const e2 = rib.addPeer(peer('e2', 'ebgp', 2));
    const v4 = (a: number, b: number, c: number) => ({ prefix: { family: 4 as const, bytes: Uint8Array.of(a, b, c, 0), length: 24 } });
    e1.update(Array.from({ length: 5000 }, (_, i) => v4(31, i >> 8, i & 0xff)), attrs());
    e2.update(Array.from({ length: 100 }, (_, i) => v4(31, i >> 8, i & 0xff)), attrs({ asPath: seq(65102, 1) })); // shared prefixes: two candidates
    let round = 0;
    while (!rib.removePeerSome('e1', 300)) {
      round++;
      e2.update(Array.from({ length: 4000 }, (_, i) => v4(40 + round, i >> 8, i & 0xff)), attrs({ asPath: seq(65102) }));
    }
    assert.ok(round >= 5, `${round} slices`);
    assert.equal(rib.adjRibIn('e1'), undefined);
    assert.equal(e1.received, 0);
    assert.equal(rib.size, e2.received);
    for (let i = 0; i < 5000; i++) {
      const c = rib.candidates(v4(31, i >> 8, i & 0xff).prefix);
      assert.ok(c.every((r) => r.source.id === 'e2'), `e1's route for 31.${i >> 8}.${i & 0xff}.0/24 left behind`);
    }
    assert.equal(rib.best(p('31.0.5.0/24'))?.source.id, 'e2');
  });
  it('refuses a duplicate peer id with a clear error', () => {
    const rib = mk();
    rib.addPeer(peer('e1', 'ebgp', 1));
    assert.throws(() => rib.addPeer(peer('e1', 'ebgp', 1)), (e: unknown) => e instanceof RibError && e.code === 'duplicate-peer' && /peer "e1" is already in the RIB/.test(e.message));
    assert.throws(() => rib.removePeer('local'), /local origin cannot be removed/);
  });
});
