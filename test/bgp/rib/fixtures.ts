/** Small builders shared by the RIB tests. */
import fc from 'fast-check';
import { parsePrefix, type Prefix } from '../../../common/prefix.js';
import { Route, type PeerInfo, type SourceKind } from '../../../bgp/rib/route.js';
import type { AdjRibIn } from '../../../bgp/rib/adj-rib-in.js';
import type { LocRib } from '../../../bgp/rib/loc-rib.js';
import type { PathAttributes } from '../../../bgp/wire/types.js';

export const LOCAL_AS = 65000;
export const ROUTER_ID = 0x0a000001;

export function p(text: string): Prefix { return parsePrefix(text); }

export function peer(id: string, kind: SourceKind, n: number, over: Partial<PeerInfo> = {}): PeerInfo {
  return {
    id, kind, asn: kind === 'ebgp' ? 65100 + n : LOCAL_AS, routerId: 0x0a000100 + n,
    address: Uint8Array.of(10, 0, 1, n), ...over,
  };
}

export function seq(...asns: number[]): PathAttributes['asPath'] & object {
  return [{ type: 2, asns }];
}

export function attrs(over: Partial<PathAttributes> = {}): PathAttributes {
  return { origin: 0, asPath: seq(65101), nextHop: Uint8Array.of(10, 0, 1, 1), ...over };
}

export function route(src: PeerInfo, a: PathAttributes, pathId = 0): Route {
  return new Route(src, pathId, a, a.nextHop);
}

/** RIB-side steps of the random export model tests (announce, withdraw, peer down, originate). */
export type RibOp =
  | { t: 'ann'; peer: number; pre: number[]; a: number } | { t: 'wd'; peer: number; pre: number[] }
  | { t: 'down'; peer: number } | { t: 'orig'; pre: number; a: number };

/** Applies RibOps to `rib` with the given peers, prefixes and attribute sets (by index). */
export function ribDriver(rib: LocRib, peers: readonly PeerInfo[], prefixes: readonly Prefix[], attrSets: readonly PathAttributes[]) {
  const live = new Map<string, AdjRibIn>();
  const adj = (i: number): AdjRibIn => {
    const info = peers[i]!;
    let a = live.get(info.id);
    if (!a) { a = rib.addPeer(info); live.set(info.id, a); }
    return a;
  };
  return {
    live,
    /** Applies `op` when it is a RibOp; false otherwise (the caller handles it). */
    step(op: { readonly t: string }): boolean {
      const o = op as RibOp;
      switch (o.t) {
        case 'ann': adj(o.peer).update(o.pre.map((i) => ({ prefix: prefixes[i]! })), attrSets[o.a]!); return true;
        case 'wd': adj(o.peer).withdraw(o.pre.map((i) => ({ prefix: prefixes[i]! }))); return true;
        case 'down': rib.removePeer(peers[o.peer]!.id); live.delete(peers[o.peer]!.id); return true;
        case 'orig': rib.originate(prefixes[o.pre]!, attrSets[o.a]!); return true;
        default: return false;
      }
    },
  };
}

/** Weighted arbitraries of RibOps over `peers` peers, `prefixes` prefixes and `attrSets` attribute sets. */
export function ribOpArbs(peers: number, prefixes: number, attrSets: number): Array<fc.WeightedArbitrary<RibOp>> {
  const pre = fc.array(fc.nat(prefixes - 1), { minLength: 1, maxLength: 3 });
  return [
    { weight: 5, arbitrary: fc.record({ t: fc.constant('ann' as const), peer: fc.nat(peers - 1), pre, a: fc.nat(attrSets - 1) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('wd' as const), peer: fc.nat(peers - 1), pre }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('down' as const), peer: fc.nat(peers - 1) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('orig' as const), pre: fc.nat(prefixes - 1), a: fc.nat(attrSets - 1) }) },
  ];
}
