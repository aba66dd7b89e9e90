/**
 * What the session driver feeds its FSM for a timer that fired and for a message it could not
 * decode: the RFC 4271 §8.1 event names.
 */
import { describeError } from '../../common/errors.js';
import { BgpWireError, ErrorCode, HeaderSubcode } from '../wire/errors.js';
import type { FsmInput, TimerName } from '../fsm/fsm-types.js';

export const TIMER_INPUT = {
  connectRetry: 'ConnectRetryTimer_Expires', hold: 'HoldTimer_Expires',
  keepalive: 'KeepaliveTimer_Expires', idleHold: 'IdleHoldTimer_Expires',
} as const satisfies Record<TimerName, FsmInput['type']>;

/** Map a decoder failure to the FSM event RFC 4271 §8.1 names for it. */
export function errorInput(err: unknown, messageType: number): FsmInput {
  const e = err instanceof BgpWireError
    ? err
    : new BgpWireError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, `undecodable message: ${describeError(err)}`, { cause: err });
  if (e.code === ErrorCode.MESSAGE_HEADER) return { type: 'BGPHeaderErr', error: e };
  if (e.code === ErrorCode.OPEN_MESSAGE || messageType === 1) return { type: 'BGPOpenMsgErr', error: e };
  return { type: 'UpdateMsgErr', error: e };
}
