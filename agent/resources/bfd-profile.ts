/**
 * BFDProfile (tortie.io/v1): Tortie's own kind, since Calico has no BFD field. A profile holds
 * the timers (MetalLB's BFDProfile and FRR's `bfd profile` names, milliseconds); a BGPPeer, or
 * BGPConfiguration `default` for the node-to-node mesh, turns BFD on by naming a profile in the
 * annotation `tortie.io/bfd-profile`. So Calico YAML stays valid for Calico (it keeps unknown
 * annotations and never sees the tortie.io kind), and `tortiectl apply/get/delete` round-trips it.
 */
import { z } from 'zod';
import { isValidName } from './fields.js';

export const TORTIE_API_VERSION = 'tortie.io/v1';
export const BFD_PROFILE_ANNOTATION = 'tortie.io/bfd-profile';

const interval = z.int().min(10).max(60_000);

export const bfdProfileSpec = z.strictObject({
  /** Required Min RX Interval, ms (default 300). */
  receiveInterval: interval.optional(),
  /** Desired Min TX Interval, ms (default 300). */
  transmitInterval: interval.optional(),
  /** Detect Mult (default 3). */
  detectMultiplier: z.int().min(2).max(255).optional(),
  /** RFC 5883 multihop (UDP 4784); unset: multihop exactly when the peer is outside the node's own subnet. */
  multihop: z.boolean().optional(),
  /** Send nothing until the peer has been heard from (RFC 5880 §6.1 passive role). */
  passive: z.boolean().optional(),
});

export type BFDProfileSpec = z.output<typeof bfdProfileSpec>;

export const BFD_DEFAULTS = { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 } as const;

/** The annotation on a BGPPeer or BGPConfiguration: a profile name, or nothing to say. */
export function checkBfdAnnotation(kind: 'BGPPeer' | 'BGPConfiguration') {
  return (annotations: Readonly<Record<string, string>> | undefined, _spec: Record<string, unknown>, name?: string): Array<{ path: string; message: string }> => {
    const value = annotations?.[BFD_PROFILE_ANNOTATION];
    if (value === undefined) return [];
    const path = `metadata.annotations.${BFD_PROFILE_ANNOTATION}`;
    if (!isValidName(value)) return [{ path, message: `must name a BFDProfile (a lowercase RFC 1123 subdomain), got ${JSON.stringify(value)}` }];
    if (kind === 'BGPConfiguration' && name !== undefined && name !== 'default') {
      return [{ path, message: 'only BGPConfiguration "default" selects the node-to-node mesh\'s BFD profile' }];
    }
    return [];
  };
}
