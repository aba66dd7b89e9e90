/**
 * What a session does with a TCP connection the peer opened to us, by the session's state:
 * the decision table of BgpSession.acceptConnection, kept apart so it can be read (and tested)
 * as one piece.
 */
import type { FsmState } from '../fsm/fsm-types.js';

/**
 * adopt: the session was waiting for the peer (Active, no connection of its own);
 * second: our own attempt is in progress, both run until the OPENs settle the collision;
 * restart: a graceful-restart capable peer reconnected while Established (RFC 4724 §4.2);
 * collision: refused with Cease/7 (RFC 4271 §6.8); idle: refused, the session is stopped.
 */
export type IncomingAction = 'adopt' | 'second' | 'restart' | 'collision' | 'idle';

/**
 * How long after Established a new connection from a GR-capable peer is taken as a collision
 * rather than a restart: the peer's own attempt that crossed ours as the session came up,
 * delayed by a retransmitted SYN (1 s) or a loaded event loop. Taking it for a restart would
 * drop the session the peer has just established, and a peer that sees a second restart before
 * our End-of-RIB (BIRD) sweeps the routes it kept for us. A peer that really restarts this soon
 * is refused once and replaces the session on its next attempt.
 */
export const COLLISION_WINDOW_MS = 3000;

export interface IncomingContext {
  readonly state: FsmState;
  /** The session's FSM has a connection (ours, or one adopted before). */
  readonly hasConnection: boolean;
  /** A second FSM already runs an incoming connection. */
  readonly hasSecond: boolean;
  /** The peer sent the graceful-restart capability on the Established session. */
  readonly peerGracefulRestart: boolean;
  /** Milliseconds since Established (undefined when not Established). */
  readonly establishedForMs: number | undefined;
}

export function incomingAction(c: IncomingContext): IncomingAction {
  if (c.state === 'Active' && !c.hasConnection) return 'adopt';
  if (c.state === 'Idle') return 'idle';
  if (c.hasSecond) return 'collision';
  if (c.state !== 'Established') return 'second';
  const settled = c.establishedForMs === undefined || c.establishedForMs >= COLLISION_WINDOW_MS;
  return c.peerGracefulRestart && settled ? 'restart' : 'collision';
}
