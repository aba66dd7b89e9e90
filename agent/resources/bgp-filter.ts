/** BGPFilter (calico-compat.md §1.6): ordered rules, first match decides, no match = Accept. */
import { z } from 'zod';
import { parsePrefix } from '../../common/prefix.js';
import { asNumber, cidr } from './fields.js';

const operation = z.strictObject({
  addCommunity: z.strictObject({ value: z.string().regex(/^\d+:\d+(:\d+)?$/, 'must be aa:nn or aa:nn:mm') }).optional(),
  prependASPath: z.strictObject({ prefix: z.array(asNumber).min(1) }).optional(),
  setPriority: z.strictObject({ value: z.int().min(1) }).optional(),
}).refine((o) => Object.keys(o).length === 1, { message: 'each operation sets exactly one of addCommunity, prependASPath, setPriority' });

const rule = (family: 4 | 6) => z.strictObject({
  action: z.enum(['Accept', 'Reject']),
  cidr: cidr.optional(),
  matchOperator: z.enum(['Equal', 'NotEqual', 'In', 'NotIn']).optional(),
  prefixLength: z.strictObject({ min: z.int().min(0).optional(), max: z.int().min(0).optional() }).optional(),
  source: z.enum(['RemotePeers']).optional(),
  interface: z.string().min(1).optional(),
  peerType: z.enum(['eBGP', 'iBGP']).optional(),
  communities: z.strictObject({ values: z.array(z.string().regex(/^\d+:\d+(:\d+)?$/, 'must be aa:nn or aa:nn:mm')).length(1, 'exactly one value') }).optional(),
  asPathPrefix: z.array(asNumber).optional(),
  priority: z.int().min(1).optional(),
  operations: z.array(operation).max(10).optional(),
}).superRefine((r, ctx) => {
  const issue = (path: string, message: string): void => { ctx.addIssue({ code: 'custom', path: [path], message }); };
  if ((r.cidr === undefined) !== (r.matchOperator === undefined)) issue(r.cidr === undefined ? 'cidr' : 'matchOperator', 'cidr and matchOperator must be set together');
  if (r.cidr !== undefined && parsePrefix(r.cidr).family !== family) issue('cidr', `must be an IPv${family} CIDR in a V${family} rule list`);
  const max = family === 4 ? 32 : 128;
  const pl = r.prefixLength;
  if (pl !== undefined) {
    if ((pl.min ?? 0) > max || (pl.max ?? 0) > max) issue('prefixLength', `must be within 0-${max}`);
    if (pl.min !== undefined && pl.max !== undefined && pl.min > pl.max) issue('prefixLength', 'min must not exceed max');
  }
  if (r.operations !== undefined && r.action !== 'Accept') issue('operations', 'only allowed on Accept rules');
});

export const bgpFilterSpec = z.strictObject({
  exportV4: z.array(rule(4)).optional(),
  importV4: z.array(rule(4)).optional(),
  exportV6: z.array(rule(6)).optional(),
  importV6: z.array(rule(6)).optional(),
});

export type BGPFilterSpec = z.output<typeof bgpFilterSpec>;
