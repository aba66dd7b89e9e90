/**
 * The one wire error class (RFC 4271 §6, RFC 7606). Every decoder failure is a BgpWireError
 * carrying the NOTIFICATION code/subcode/data and the RFC 7606 action; a parser never lets a
 * RangeError (or anything else) escape.
 */
export const ErrorCode = {
  MESSAGE_HEADER: 1, OPEN_MESSAGE: 2, UPDATE_MESSAGE: 3, HOLD_TIMER_EXPIRED: 4, FSM: 5, CEASE: 6,
  ROUTE_REFRESH: 7, SEND_HOLD_TIMER_EXPIRED: 8,
} as const;

export const HeaderSubcode = { CONNECTION_NOT_SYNCHRONIZED: 1, BAD_MESSAGE_LENGTH: 2, BAD_MESSAGE_TYPE: 3 } as const;
export const OpenSubcode = {
  UNSUPPORTED_VERSION: 1, BAD_PEER_AS: 2, BAD_BGP_IDENTIFIER: 3, UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6, UNSUPPORTED_CAPABILITY: 7, ROLE_MISMATCH: 11,
} as const;
export const UpdateSubcode = {
  MALFORMED_ATTRIBUTE_LIST: 1, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2, MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4, ATTRIBUTE_LENGTH_ERROR: 5, INVALID_ORIGIN: 6, INVALID_NEXT_HOP: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9, INVALID_NETWORK_FIELD: 10, MALFORMED_AS_PATH: 11,
} as const;
export const FsmSubcode = {
  UNSPECIFIED: 0, UNEXPECTED_IN_OPENSENT: 1, UNEXPECTED_IN_OPENCONFIRM: 2, UNEXPECTED_IN_ESTABLISHED: 3,
} as const;
export const CeaseSubcode = {
  MAX_PREFIXES: 1, ADMINISTRATIVE_SHUTDOWN: 2, PEER_DECONFIGURED: 3, ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5, OTHER_CONFIGURATION_CHANGE: 6, CONNECTION_COLLISION: 7, OUT_OF_RESOURCES: 8,
  HARD_RESET: 9, BFD_DOWN: 10,
} as const;

/** RFC 7606 approaches, weakest last: the strongest action collected while parsing wins. */
export type ErrorAction = 'session-reset' | 'afi-safi-disable' | 'treat-as-withdraw' | 'attribute-discard';

const ACTION_STRENGTH: Record<ErrorAction, number> = {
  'session-reset': 3, 'afi-safi-disable': 2, 'treat-as-withdraw': 1, 'attribute-discard': 0,
};

export function strongerAction(a: ErrorAction, b: ErrorAction): ErrorAction {
  return ACTION_STRENGTH[a] >= ACTION_STRENGTH[b] ? a : b;
}

export class BgpWireError extends Error {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
  readonly action: ErrorAction;
  /** The address family concerned, when `action` is 'afi-safi-disable'. */
  readonly afiSafi: { readonly afi: number; readonly safi: number } | undefined;
  constructor(code: number, subcode: number, message: string,
    options: {
      data?: Uint8Array; action?: ErrorAction; cause?: unknown;
      afiSafi?: { readonly afi: number; readonly safi: number };
    } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BgpWireError';
    this.code = code;
    this.subcode = subcode;
    this.data = options.data ?? new Uint8Array(0);
    this.action = options.action ?? 'session-reset';
    this.afiSafi = options.afiSafi;
  }
}
