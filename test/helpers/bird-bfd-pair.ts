/**
 * The two-namespace topology the BFD process tests share:
 *   ns b: BIRD 2 `protocol bfd`, neighbor 10.0.0.2, 100 ms x 3  ── veth ──  ns t (10.0.0.2): the side under test
 * and a wait on BIRD's own view of that one session.
 */
import type { Topology } from './netns.js';
import { pollUntil } from './poll.js';
import { BirdPeer } from './bgp-peers.js';

const BIRD_BFD = `router id 10.0.0.1;
protocol device {}
protocol bfd bfd1 {
  interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
  neighbor 10.0.0.2 dev "veB" local 10.0.0.1;
}
`;

/** BIRD in ns b and the namespace for the side under test (ns t, 10.0.0.2 on veT). */
export async function birdBfdPair(topo: Topology): Promise<{ bird: BirdPeer; nsT: string }> {
  const nsB = topo.ns('b'), nsT = topo.ns('t');
  topo.link(nsB, 'veB', '10.0.0.1/24', nsT, 'veT', '10.0.0.2/24');
  return { bird: await BirdPeer.start(topo, nsB, BIRD_BFD), nsT };
}

/** Poll until BIRD shows its BFD session in `state`. */
export async function birdBfdState(bird: BirdPeer, state: string, timeoutMs: number): Promise<void> {
  await pollUntil(() => bird.bfdSessions()[0]?.state === state, { what: () => `BIRD ${state}: ${JSON.stringify(bird.bfdSessions())}`, timeoutMs });
}
