/** The WireCodec backed by bgp/wire/ (MessageFramer, decodeMessage, encodeMessage). */
import { MessageFramer } from '../wire/framer.js';
import { decodeMessage, encodeMessage } from '../wire/message.js';
import type { WireCodec } from './wire-codec.js';

export const wireCodec: WireCodec = {
  createFramer: (ctx) => new MessageFramer(ctx),
  decode: (bytes, ctx) => decodeMessage(bytes, ctx),
  encode: (message, ctx) => encodeMessage(message, ctx),
};

const COMPACT = { compactIpv4: true } as const;

/**
 * wireCodec, but UPDATEs carry their classic IPv4 prefixes in `compact4` (DecodeOptions.compactIpv4):
 * for a receiver that handles it, the speaker.
 */
export const compactWireCodec: WireCodec = {
  ...wireCodec,
  decode: (bytes, ctx) => decodeMessage(bytes, ctx, COMPACT),
};

