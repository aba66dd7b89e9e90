/** Small helpers for bgp/wire tests: annotated hex, message builders, contexts. */
import { INITIAL_CONTEXT, type CodecContext } from '../../../bgp/wire/types.js';

/** Join annotated hex lines: each entry is [hex with optional spaces, comment]. */
export function annotated(lines: ReadonlyArray<readonly [string, string]>): Uint8Array {
  return hex(lines.map(([h]) => h).join(''));
}

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${text}`);
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export const MARKER = 'ff'.repeat(16);

/** A whole message: marker, computed length, type, body hex. */
export function message(type: number, bodyHex: string): Uint8Array {
  const body = hex(bodyHex);
  const len = 19 + body.length;
  return hex(`${MARKER}${len.toString(16).padStart(4, '0')}${type.toString(16).padStart(2, '0')}${toHex(body)}`);
}

/** An UPDATE from hex parts, lengths computed. */
export function update(parts: { withdrawn?: string; attrs?: string; nlri?: string }): Uint8Array {
  const w = toHex(hex(parts.withdrawn ?? ''));
  const a = toHex(hex(parts.attrs ?? ''));
  const n = toHex(hex(parts.nlri ?? ''));
  const u16 = (x: number) => x.toString(16).padStart(4, '0');
  return message(2, `${u16(w.length / 2)}${w}${u16(a.length / 2)}${a}${n}`);
}

/** One attribute: flags, type, length (extended when the flag says so), value. */
export function attr(flags: number, type: number, valueHex: string): string {
  const v = toHex(hex(valueHex));
  const len = v.length / 2;
  const ext = (flags & 0x10) !== 0;
  const b = (x: number) => x.toString(16).padStart(2, '0');
  return `${b(flags)}${b(type)}${ext ? len.toString(16).padStart(4, '0') : b(len)}${v}`;
}

export const EBGP4: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true };
export const IBGP4: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true, ibgp: true };
export const EBGP2: CodecContext = INITIAL_CONTEXT;

/** ORIGIN IGP, AS_PATH [65001] (4-octet), NEXT_HOP 192.0.2.1 */
export const BASE_ATTRS = attr(0x40, 1, '00') + attr(0x40, 2, '0201 0000fde9') + attr(0x40, 3, 'c0000201');
/** 198.51.100.0/24 */
export const ONE_PREFIX = '18 c63364';
