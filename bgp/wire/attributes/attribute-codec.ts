/**
 * The shape of one path-attribute codec row (BIRD's `bgp_attr_table` idea) and the state a
 * row decodes into. RFC 4271 §4.3 attribute header:
 *
 *   +---------------+---------------+----------------------------------+
 *   | Attr. Flags   |Attr. Type Code| Length (1, or 2 with Ext. Length)|  value ...
 *   +---------------+---------------+----------------------------------+
 *   Flags: O(ptional) T(ransitive) P(artial) E(xtended length) 0 0 0 0
 */
import { BgpWireError, ErrorCode, type ErrorAction } from '../errors.js';
import type { Reader } from '../reader.js';
import type {
  AsPathSegment, CodecContext, MpReach, MpUnreach, PathAttributes, UnknownAttribute,
} from '../types.js';
import type { Writer } from '../writer.js';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What the attribute driver builds while walking the attribute list. */
export interface AttrDecodeState {
  readonly ctx: CodecContext;
  readonly attrs: Mutable<PathAttributes>;
  readonly unknown: UnknownAttribute[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** Raw AS4_PATH / AS4_AGGREGATOR from a 2-octet peer, merged after the walk (RFC 6793). */
  as4Path?: AsPathSegment[];
  as4Aggregator?: { readonly asn: number; readonly address: Uint8Array };
  /** Problems that do not stop the walk (discard, treat-as-withdraw, afi-safi-disable). */
  readonly problems: BgpWireError[];
}

/** What the encoder draws from: the attribute struct plus the UPDATE's MP fields. */
export interface AttrEncodeInput {
  readonly attributes: PathAttributes;
  readonly mpReach?: MpReach | undefined;
  readonly mpUnreach?: MpUnreach | undefined;
  /** Overrides `attributes.nextHop` when set; null omits NEXT_HOP (bulk encoder, MP families). */
  readonly nextHop?: Uint8Array | null | undefined;
}

export interface AttributeCodec {
  readonly typeCode: number;
  /** IANA name, e.g. "AS_PATH". */
  readonly name: string;
  /** The Optional and Transitive bits this attribute must carry. */
  readonly flags: number;
  /** RFC 7606 action when this attribute is malformed (also used for flag conflicts, §3(c)). */
  malformedAction(ctx: CodecContext): ErrorAction;
  /** Decode the value in `r` (bounded by the attribute length) into `st`; throws BgpWireError. */
  decode(r: Reader, st: AttrDecodeState): void;
  /** True when `input` carries this attribute for a peer under `ctx`. */
  present(input: AttrEncodeInput, ctx: CodecContext): boolean;
  /** Write the value (no header). */
  encode(input: AttrEncodeInput, ctx: CodecContext, w: Writer): void;
}

/** A malformed-attribute error with the row's RFC 7606 action (data is filled in by the driver). */
export function malformed(row: AttributeCodec, ctx: CodecContext, subcode: number, message: string,
  action: ErrorAction = row.malformedAction(ctx)): BgpWireError {
  return new BgpWireError(ErrorCode.UPDATE_MESSAGE, subcode, `${row.name}: ${message}`, { action });
}
