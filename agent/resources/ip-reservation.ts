/**
 * IPReservation (projectcalico.org/v3, Calico v3.22+): addresses Calico IPAM never hands out,
 * written as IPs or CIDRs (`cidrOrIP` in Calico's validator). Blocks may still cover them; IPAM
 * skips them when assigning (agent/ipam).
 */
import { z } from 'zod';
import { parseAddress, parsePrefix } from '../../common/prefix.js';

export const cidrOrIp = z.string().superRefine((v, ctx) => {
  try { if (v.includes('/')) parsePrefix(v, { allowHostBits: true }); else parseAddress(v); } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not an IP address or CIDR` });
  }
});

export const ipReservationSpec = z.strictObject({
  reservedCIDRs: z.array(cidrOrIp).optional(),
});

export type IPReservationSpec = z.output<typeof ipReservationSpec>;
