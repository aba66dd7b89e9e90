/** Small builders shared by the RIB tests. */
import { parsePrefix, type Prefix } from '../../../common/prefix.js';
import { Route, type PeerInfo, type SourceKind } from '../../../bgp/rib/route.js';
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
