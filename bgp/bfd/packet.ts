/**
 * BFD Control packet codec (RFC 5880 §4.1) and the reception checks that need no session
 * (§6.8.6, the first seven). A decoder never throws anything but BfdPacketError.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       My Discriminator                        |
 * |                      Your Discriminator                       |
 * |                    Desired Min TX Interval                    |
 * |                   Required Min RX Interval                    |
 * |                 Required Min Echo RX Interval                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Auth Type   |   Auth Len    |    Authentication Data...     |   (A bit set)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Intervals are in microseconds.
 */

/** RFC 5880 §4.1 Sta field. */
export const BfdState = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type BfdStateName = keyof typeof BfdState;
export type BfdStateValue = (typeof BfdState)[BfdStateName];
export const BFD_STATE_NAMES: readonly BfdStateName[] = ['AdminDown', 'Down', 'Init', 'Up'];

/** RFC 5880 §4.1 Diagnostic codes (IANA "BFD Diagnostic Codes"). */
export const BfdDiag = {
  NoDiagnostic: 0, ControlDetectionTimeExpired: 1, EchoFunctionFailed: 2, NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4, PathDown: 5, ConcatenatedPathDown: 6, AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
export type BfdDiagValue = (typeof BfdDiag)[keyof typeof BfdDiag];
const DIAG_TEXT: readonly string[] = [
  'No Diagnostic', 'Control Detection Time Expired', 'Echo Function Failed', 'Neighbor Signaled Session Down',
  'Forwarding Plane Reset', 'Path Down', 'Concatenated Path Down', 'Administratively Down',
  'Reverse Concatenated Path Down',
];
export function diagText(d: number): string { return DIAG_TEXT[d] ?? `Reserved (${d})`; }

/** RFC 5880 §4.1 Auth Type (IANA "BFD Authentication Types"). */
export const BfdAuthType = {
  SimplePassword: 1, KeyedMd5: 2, MeticulousKeyedMd5: 3, KeyedSha1: 4, MeticulousKeyedSha1: 5,
} as const;

export const BFD_VERSION = 1;
export const BFD_HEADER_LENGTH = 24;
/** Keyed SHA1 section (RFC 5880 §4.4): type, len, key id, reserved, sequence, 20-byte hash. */
export const BFD_SHA1_AUTH_LENGTH = 28;

/** The authentication section as carried (hash checked by auth.ts, which needs the whole packet). */
export interface BfdAuthSection {
  readonly type: number;
  readonly keyId: number;
  readonly sequence: number;
  /** The 20-byte digest for the SHA1 types, the raw data after Key ID for others. */
  readonly digest: Uint8Array;
}

export interface BfdControlPacket {
  readonly diag: number;
  readonly state: BfdStateValue;
  readonly poll: boolean;
  readonly final: boolean;
  /** C bit: our control plane is independent of the forwarding plane (we set it false: RFC 5882 §5). */
  readonly cpi: boolean;
  readonly demand: boolean;
  readonly detectMult: number;
  readonly myDiscr: number;
  readonly yourDiscr: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly requiredMinEchoRxUs: number;
  readonly auth?: BfdAuthSection;
}

/** Why a received packet was discarded (§6.8.6); never reaches the peer, only logs and counters. */
export class BfdPacketError extends Error {
  constructor(readonly code: BfdDiscardReason, message: string) {
    super(message);
    this.name = 'BfdPacketError';
  }
}
export type BfdDiscardReason = 'truncated' | 'version' | 'length' | 'detect-mult' | 'multipoint' | 'my-discr' | 'auth-section';

export function decodeControl(buf: Uint8Array): BfdControlPacket {
  if (buf.length < BFD_HEADER_LENGTH) throw new BfdPacketError('truncated', `packet of ${buf.length} bytes is shorter than the 24-byte header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const b0 = buf[0] ?? 0, b1 = buf[1] ?? 0;
  const version = b0 >>> 5;
  if (version !== BFD_VERSION) throw new BfdPacketError('version', `version ${version}, expected 1`);
  const hasAuth = (b1 & 0x04) !== 0;
  const length = buf[3] ?? 0;
  if (length < (hasAuth ? BFD_HEADER_LENGTH + 2 : BFD_HEADER_LENGTH)) throw new BfdPacketError('length', `Length field ${length} is below the minimum ${hasAuth ? 26 : 24}`);
  if (length > buf.length) throw new BfdPacketError('length', `Length field ${length} exceeds the ${buf.length} bytes received`);
  const detectMult = buf[2] ?? 0;
  if (detectMult === 0) throw new BfdPacketError('detect-mult', 'Detect Mult is zero');
  if ((b1 & 0x01) !== 0) throw new BfdPacketError('multipoint', 'Multipoint (M) bit is set');
  const myDiscr = dv.getUint32(4);
  if (myDiscr === 0) throw new BfdPacketError('my-discr', 'My Discriminator is zero');
  let auth: BfdAuthSection | undefined;
  if (hasAuth) {
    const type = buf[24] ?? 0, authLen = buf[25] ?? 0;
    if (authLen < 2 || BFD_HEADER_LENGTH + authLen > length) throw new BfdPacketError('auth-section', `Auth Len ${authLen} does not fit the packet Length ${length}`);
    if (type === BfdAuthType.KeyedSha1 || type === BfdAuthType.MeticulousKeyedSha1 || type === BfdAuthType.KeyedMd5 || type === BfdAuthType.MeticulousKeyedMd5) {
      const want = type >= BfdAuthType.KeyedSha1 ? BFD_SHA1_AUTH_LENGTH : 24;
      if (authLen !== want) throw new BfdPacketError('auth-section', `Auth Len ${authLen} for auth type ${type}, expected ${want}`);
      auth = { type, keyId: buf[26] ?? 0, sequence: dv.getUint32(28), digest: buf.slice(32, 24 + authLen) };
    } else {
      auth = { type, keyId: authLen >= 3 ? buf[26] ?? 0 : 0, sequence: 0, digest: buf.slice(27, 24 + authLen) };
    }
  }
  return {
    diag: b0 & 0x1f,
    state: ((b1 >>> 6) & 3) as BfdStateValue,
    poll: (b1 & 0x20) !== 0,
    final: (b1 & 0x10) !== 0,
    cpi: (b1 & 0x08) !== 0,
    demand: (b1 & 0x02) !== 0,
    detectMult,
    myDiscr,
    yourDiscr: dv.getUint32(8),
    desiredMinTxUs: dv.getUint32(12),
    requiredMinRxUs: dv.getUint32(16),
    requiredMinEchoRxUs: dv.getUint32(20),
    ...(auth ? { auth } : {}),
  };
}

/**
 * Encode a Control packet. With `auth` (SHA1 types only) the digest field is written as given:
 * auth.ts fills it with the key first and the hash over the whole packet after.
 */
export function encodeControl(p: BfdControlPacket): Uint8Array {
  const authLen = p.auth ? BFD_SHA1_AUTH_LENGTH : 0;
  const buf = new Uint8Array(BFD_HEADER_LENGTH + authLen);
  const dv = new DataView(buf.buffer);
  buf[0] = (BFD_VERSION << 5) | (p.diag & 0x1f);
  buf[1] = (p.state << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) | (p.cpi ? 0x08 : 0)
    | (p.auth ? 0x04 : 0) | (p.demand ? 0x02 : 0);
  buf[2] = p.detectMult & 0xff;
  buf[3] = buf.length;
  dv.setUint32(4, p.myDiscr >>> 0);
  dv.setUint32(8, p.yourDiscr >>> 0);
  dv.setUint32(12, p.desiredMinTxUs >>> 0);
  dv.setUint32(16, p.requiredMinRxUs >>> 0);
  dv.setUint32(20, p.requiredMinEchoRxUs >>> 0);
  if (p.auth) {
    buf[24] = p.auth.type;
    buf[25] = BFD_SHA1_AUTH_LENGTH;
    buf[26] = p.auth.keyId & 0xff;
    dv.setUint32(28, p.auth.sequence >>> 0);
    buf.set(p.auth.digest.subarray(0, 20), 32);
  }
  return buf;
}
