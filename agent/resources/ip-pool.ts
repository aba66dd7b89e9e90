/** IPPool (calico-compat.md §1.1): fields, defaults and validation as in Calico's ippool.go. */
import { z } from 'zod';
import { parsePrefix } from '../../common/prefix.js';
import { cidr, overlapsLinkLocal, selector } from './fields.js';

export const ENCAP_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];
export const ALLOWED_USES = ['Workload', 'Tunnel', 'LoadBalancer'] as const;
export type AllowedUse = (typeof ALLOWED_USES)[number];

export const ipPoolSpec = z.strictObject({
  cidr,
  blockSize: z.int().optional(),
  ipipMode: z.enum(ENCAP_MODES).optional(),
  vxlanMode: z.enum(ENCAP_MODES).default('Never'),
  /** Deprecated v3.0 form, still accepted by Calico: `ipip: {enabled: true, mode: cross-subnet}`. */
  ipip: z.strictObject({ enabled: z.boolean().optional(), mode: z.enum(['always', 'cross-subnet']).optional() }).optional(),
  /** Deprecated v3.0 spelling of natOutgoing. */
  'nat-outgoing': z.boolean().optional(),
  natOutgoing: z.boolean().optional(),
  disabled: z.boolean().optional(),
  disableBGPExport: z.boolean().optional(),
  nodeSelector: selector.default('all()'),
  namespaceSelector: selector.optional(),
  allowedUses: z.array(z.enum(ALLOWED_USES)).default(['Workload', 'Tunnel']),
  assignmentMode: z.enum(['Automatic', 'Manual']).default('Automatic'),
}).transform((input, ctx) => {
  const legacyIpip = input.ipip?.enabled === true ? (input.ipip.mode === 'cross-subnet' ? 'CrossSubnet' : 'Always') : undefined;
  const spec = {
    ...input,
    ipipMode: input.ipipMode ?? legacyIpip ?? 'Never',
    ...(input.natOutgoing === undefined && input['nat-outgoing'] !== undefined ? { natOutgoing: input['nat-outgoing'] } : {}),
  };
  if (input.ipipMode !== undefined && legacyIpip !== undefined && input.ipipMode !== legacyIpip) {
    ctx.addIssue({ code: 'custom', path: ['ipip'], message: `the deprecated ipip field says ${legacyIpip} but ipipMode says ${input.ipipMode}` });
  }
  const family = parsePrefix(spec.cidr).family;
  const prefixLen = parsePrefix(spec.cidr).length;
  const blockSize = spec.blockSize ?? (family === 4 ? 26 : 122);
  const [lo, hi] = family === 4 ? [20, 32] : [116, 128];
  const issue = (path: string, message: string): void => { ctx.addIssue({ code: 'custom', path: [path], message }); };
  if (blockSize < lo || blockSize > hi) issue('blockSize', `must be ${lo}-${hi} for an IPv${family} pool`);
  if (prefixLen > blockSize) issue('blockSize', `the pool prefix length /${prefixLen} must not be longer than blockSize ${blockSize}`);
  if (overlapsLinkLocal(parsePrefix(spec.cidr))) issue('cidr', 'must not overlap the link-local range (169.254.0.0/16, fe80::/10)');
  if (family === 6 && spec.ipipMode !== 'Never') issue('ipipMode', 'IPIP is not supported on IPv6 pools');
  if (spec.ipipMode !== 'Never' && spec.vxlanMode !== 'Never') issue('vxlanMode', 'ipipMode and vxlanMode cannot both be enabled');
  if (/\bglobal\(\)/.test(spec.nodeSelector)) issue('nodeSelector', 'global() is not allowed in an IP pool nodeSelector');
  if (spec.allowedUses.includes('LoadBalancer')) {
    if (spec.allowedUses.length > 1) issue('allowedUses', 'LoadBalancer cannot be combined with other uses');
    if (spec.ipipMode !== 'Never' || spec.vxlanMode !== 'Never') issue('allowedUses', 'LoadBalancer pools cannot use IPIP or VXLAN');
    if (spec.nodeSelector.trim() !== 'all()') issue('nodeSelector', 'LoadBalancer pools require nodeSelector: all()');
    if (spec.disableBGPExport === true) issue('disableBGPExport', 'not allowed on LoadBalancer pools');
  }
  return { ...spec, blockSize };
});

export type IPPoolSpec = z.output<typeof ipPoolSpec>;

/**
 * Tortie's one IPPool extension, an annotation so the YAML stays valid for Calico: `udp` carries
 * the pool's vxlanMode (or ipipMode) over the userspace UDP backend (ipip/udp-tunnel.ts) instead
 * of the kernel's VXLAN or IPIP device, with the same Always / CrossSubnet meaning. Calico itself
 * ignores the annotation and uses its VXLAN or IPIP, which is why the mode is still set.
 */
export const ENCAPSULATION_ANNOTATION = 'tortie.io/encapsulation';

export function checkIpPoolMetadata(annotations: Readonly<Record<string, string>> | undefined, spec: Record<string, unknown>): Array<{ path: string; message: string }> {
  const value = annotations?.[ENCAPSULATION_ANNOTATION];
  if (value === undefined) return [];
  const path = `metadata.annotations.${ENCAPSULATION_ANNOTATION}`;
  if (value !== 'udp') return [{ path, message: `must be "udp" (the only encapsulation it selects), got ${JSON.stringify(value)}` }];
  if (spec['vxlanMode'] === 'Never' && spec['ipipMode'] === 'Never') {
    return [{ path, message: 'udp carries the pool\'s vxlanMode or ipipMode: set one of them to Always or CrossSubnet' }];
  }
  return [];
}

/** Fields that Calico marks immutable (CEL self == oldSelf). */
export const IPPOOL_IMMUTABLE = ['cidr', 'blockSize'] as const;
