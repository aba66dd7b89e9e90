/**
 * Best-path selection (RFC 4271 §9.1.2.2, the usual BIRD/GoBGP order) as an ordered list of
 * comparator steps; each step can say why a route lost. Interim until bgp/rib's LocRib.
 */
import type { Prefix } from '../../common/prefix.js';
import type { PathAttributes } from '../wire/types.js';

export interface Candidate {
  readonly prefix: Prefix;
  /** Canonical prefix text. */
  readonly key: string;
  readonly attrs: PathAttributes;
  readonly nextHop: Uint8Array | undefined;
  /** Peer name, or "local". */
  readonly peer: string;
  readonly peerAsn: number;
  readonly peerId: number;
  readonly peerAddress: string;
  readonly ibgp: boolean;
  readonly accepted: boolean;
  /** Wall-clock ms when received. */
  readonly since: number;
  readonly rrClient: boolean;
}

type Step = (a: Candidate, b: Candidate) => { cmp: number; reason: string };

const pathLen = (c: Candidate) => (c.attrs.asPath ?? []).reduce((n, s) => n + (s.type === 1 ? 1 : s.asns.length), 0);
const neighborAs = (c: Candidate) => c.attrs.asPath?.[0]?.asns[0] ?? 0;

/** Negative cmp: a is better. */
const STEPS: readonly Step[] = [
  (a, b) => ({ cmp: Number(b.peer === 'local') - Number(a.peer === 'local'), reason: 'locally originated' }),
  (a, b) => ({ cmp: (b.attrs.localPref ?? 100) - (a.attrs.localPref ?? 100), reason: 'higher local preference' }),
  (a, b) => ({ cmp: pathLen(a) - pathLen(b), reason: 'shorter AS path' }),
  (a, b) => ({ cmp: (a.attrs.origin ?? 2) - (b.attrs.origin ?? 2), reason: 'lower origin' }),
  (a, b) => ({ cmp: neighborAs(a) === neighborAs(b) ? (a.attrs.med ?? 0) - (b.attrs.med ?? 0) : 0, reason: 'lower MED' }),
  (a, b) => ({ cmp: Number(a.ibgp) - Number(b.ibgp), reason: 'eBGP preferred over iBGP' }),
  (a, b) => ({ cmp: ((a.attrs.originatorId ?? a.peerId) >>> 0) - ((b.attrs.originatorId ?? b.peerId) >>> 0), reason: 'lower router ID' }),
  (a, b) => ({ cmp: a.peerAddress < b.peerAddress ? -1 : a.peerAddress > b.peerAddress ? 1 : 0, reason: 'lower neighbor address' }),
];

/** Which of two candidates for the same prefix wins, and by which step. */
export function compareCandidates(a: Candidate, b: Candidate): { winner: 'a' | 'b'; reason: string } {
  for (const step of STEPS) {
    const r = step(a, b);
    if (r.cmp < 0) return { winner: 'a', reason: r.reason };
    if (r.cmp > 0) return { winner: 'b', reason: r.reason };
  }
  return { winner: 'b', reason: 'older route kept' };
}
