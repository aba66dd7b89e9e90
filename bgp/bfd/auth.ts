/**
 * Keyed SHA1 and Meticulous Keyed SHA1 authentication (RFC 5880 §6.7.4): the digest field holds
 * the key (zero-padded to 20 bytes) while SHA1 runs over the whole packet, then the hash.
 * Sequence numbers: keyed accepts [known, known + 3 x DetectMult], meticulous (known, ...].
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BFD_HEADER_LENGTH, BFD_SHA1_AUTH_LENGTH, BfdAuthType } from './packet.js';

export interface BfdAuthConfig {
  readonly type: 'keyed-sha1' | 'meticulous-keyed-sha1';
  readonly keyId: number;
  /** 1..20 bytes. */
  readonly key: Uint8Array;
}

export function authTypeCode(a: BfdAuthConfig): number {
  return a.type === 'keyed-sha1' ? BfdAuthType.KeyedSha1 : BfdAuthType.MeticulousKeyedSha1;
}

function paddedKey(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(20);
  k.set(key.subarray(0, 20));
  return k;
}

/** Fill in the digest of an encoded packet whose auth section is present (in place). */
export function signSha1(packet: Uint8Array, key: Uint8Array): void {
  const at = BFD_HEADER_LENGTH + 8;
  packet.set(paddedKey(key), at);
  const h = createHash('sha1').update(packet).digest();
  packet.set(h, at);
}

/** True when the packet's SHA1 digest matches `key`. */
export function verifySha1(packet: Uint8Array, key: Uint8Array): boolean {
  const at = BFD_HEADER_LENGTH + 8;
  const length = BFD_HEADER_LENGTH + BFD_SHA1_AUTH_LENGTH;
  if (packet[3] !== length || packet[25] !== BFD_SHA1_AUTH_LENGTH || packet.length < length) return false;
  const copy = Uint8Array.from(packet.subarray(0, length));
  const got = copy.slice(at, at + 20);
  copy.set(paddedKey(key), at);
  const h = createHash('sha1').update(copy).digest();
  return timingSafeEqual(h, got);
}

/** §6.7.4 sequence check; `known` undefined: the first packet of a session is accepted. */
export function sequenceAcceptable(type: number, seq: number, known: number | undefined, detectMult: number): boolean {
  if (known === undefined) return true;
  const meticulous = type === BfdAuthType.MeticulousKeyedSha1;
  const lo = meticulous ? known + 1 : known;
  const hi = known + 3 * detectMult;
  const d = (seq - lo) >>> 0; // modulo 2^32
  return d <= (hi - lo) >>> 0;
}
