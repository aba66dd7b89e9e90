/**
 * tortie-bgpd policy: extended and large communities (match, and set / add / remove), the
 * zod schemas and their conversion to the speaker's PolicyRule. Text forms: bgp/policy/communities.ts.
 *
 *   match: { extendedCommunities: ["rt:65000:*"], largeCommunities: ["65000:1:*"] }     any of them
 *   set:   { communities: { set: [...] }, largeCommunities: { set, add, remove },
 *            extendedCommunities: { set, add, remove } }     set first, then remove, then add
 */
import { z } from 'zod';
import {
  parseExtCommunity, parseExtCommunityPattern, parseLargeCommunity, parseLargeCommunityPattern,
} from '../policy/communities.js';
import type { PolicyRule } from '../speaker/peer-config.js';

/** A zod string checked (and converted) by one of the parsers, their message as the issue. */
function parsed<T>(parse: (s: string) => T) {
  return z.string().transform((s, ctx) => {
    try { return parse(s); } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as { reason?: string }).reason ?? String(err) });
      return z.NEVER;
    }
  });
}

const ext = parsed(parseExtCommunity);
const extPattern = parsed(parseExtCommunityPattern);
const large = parsed(parseLargeCommunity);
const largePattern = parsed(parseLargeCommunityPattern);

export const communityMatchFields = {
  extendedCommunities: z.array(extPattern).optional(),
  largeCommunities: z.array(largePattern).optional(),
};

export const communitySetFields = {
  largeCommunities: z.strictObject({ set: z.array(large).optional(), add: z.array(large).optional(), remove: z.array(largePattern).optional() }).optional(),
  extendedCommunities: z.strictObject({ set: z.array(ext).optional(), add: z.array(ext).optional(), remove: z.array(extPattern).optional() }).optional(),
};

type MatchIn = { readonly [K in keyof typeof communityMatchFields]?: z.output<(typeof communityMatchFields)[K]> };
type SetIn = { readonly [K in keyof typeof communitySetFields]?: z.output<(typeof communitySetFields)[K]> };

export function communityMatch(m: MatchIn | undefined): NonNullable<PolicyRule['match']> {
  return {
    ...(m?.extendedCommunities?.length ? { extendedCommunities: m.extendedCommunities } : {}),
    ...(m?.largeCommunities?.length ? { largeCommunityPatterns: m.largeCommunities } : {}),
  };
}

export function communitySet(s: SetIn | undefined, setCommunities: readonly number[] | undefined): NonNullable<PolicyRule['set']> {
  const l = s?.largeCommunities, x = s?.extendedCommunities;
  return {
    ...(setCommunities ? { setCommunities } : {}),
    ...(l?.set ? { setLargeCommunities: l.set } : {}),
    ...(l?.add?.length ? { addLargeCommunities: l.add } : {}),
    ...(l?.remove?.length ? { removeLargeCommunities: l.remove } : {}),
    ...(x?.set ? { setExtendedCommunities: x.set } : {}),
    ...(x?.add?.length ? { addExtendedCommunities: x.add } : {}),
    ...(x?.remove?.length ? { removeExtendedCommunities: x.remove } : {}),
  };
}
