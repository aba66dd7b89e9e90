/**
 * BGPConfiguration (calico-compat.md §1.3): `default` holds the global settings, `node.<name>`
 * may only set prefixAdvertisements, listenPort and logSeverityScreen. Defaults are not
 * written into the stored object (Calico leaves them unset); `effectiveBgpConfiguration()`
 * applies them for consumers.
 */
import { z } from 'zod';
import { parseAddress } from '../../common/prefix.js';
import { asNumber, cidr, duration, ipAddress, port, secretKeyRef } from './fields.js';

const cidrList = z.array(z.strictObject({ cidr }));
const COMMUNITY = /^(\d+):(\d+)(?::(\d+))?$/;
function isCommunity(v: string): boolean {
  const m = COMMUNITY.exec(v);
  if (m === null) return false;
  const large = m[3] !== undefined;
  const max = large ? 4294967295 : 65535;
  return [m[1], m[2], m[3]].every((x) => x === undefined || Number(x) <= max);
}
const community = z.string().refine(isCommunity, { message: 'must be aa:nn (standard) or aa:nn:mm (large community)' });

export const ROUTE_PROGRAMMING = ['Enabled', 'Disabled', 'EnabledIPIPOnly', 'EnabledNoEncapOnly'] as const;

export const bgpConfigurationSpec = z.strictObject({
  logSeverityScreen: z.string().optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  asNumber: asNumber.optional(),
  listenPort: port.optional(),
  bindMode: z.enum(['None', 'NodeIP']).optional(),
  serviceClusterIPs: cidrList.optional(),
  serviceExternalIPs: cidrList.optional(),
  serviceLoadBalancerIPs: cidrList.optional(),
  serviceLoadBalancerAggregation: z.enum(['Enabled', 'Disabled']).optional(),
  communities: z.array(z.strictObject({ name: z.string().min(1), value: community })).max(500).optional(),
  prefixAdvertisements: z.array(z.strictObject({ cidr, communities: z.array(z.string().min(1)).optional() })).optional(),
  nodeMeshPassword: secretKeyRef.optional(),
  nodeMeshMaxRestartTime: duration.optional(),
  ignoredInterfaces: z.array(z.string().min(1)).optional(),
  localWorkloadPeeringIPV4: ipAddress.optional(),
  localWorkloadPeeringIPV6: ipAddress.optional(),
  programClusterRoutes: z.enum(ROUTE_PROGRAMMING).optional(),
  ipv4NormalRoutePriority: z.int().min(1).optional(),
  ipv6NormalRoutePriority: z.int().min(1).optional(),
}).superRefine((s, ctx) => {
  const names = new Set((s.communities ?? []).map((c) => c.name));
  (s.prefixAdvertisements ?? []).forEach((pa, i) => (pa.communities ?? []).forEach((c, j) => {
    if (!names.has(c) && !isCommunity(c)) {
      ctx.addIssue({ code: 'custom', path: ['prefixAdvertisements', i, 'communities', j], message: `${JSON.stringify(c)} is neither a community value nor a name defined in communities` });
    }
  }));
  if (s.nodeMeshPassword !== undefined && s.nodeToNodeMeshEnabled === false) {
    ctx.addIssue({ code: 'custom', path: ['nodeMeshPassword'], message: 'only valid when nodeToNodeMeshEnabled is true' });
  }
  if (s.localWorkloadPeeringIPV4 !== undefined && parseAddress(s.localWorkloadPeeringIPV4).family !== 4) {
    ctx.addIssue({ code: 'custom', path: ['localWorkloadPeeringIPV4'], message: 'must be an IPv4 address' });
  }
  if (s.localWorkloadPeeringIPV6 !== undefined && parseAddress(s.localWorkloadPeeringIPV6).family !== 6) {
    ctx.addIssue({ code: 'custom', path: ['localWorkloadPeeringIPV6'], message: 'must be an IPv6 address' });
  }
});

export type BGPConfigurationSpec = z.output<typeof bgpConfigurationSpec>;

export const PER_NODE_BGP_FIELDS: readonly string[] = ['prefixAdvertisements', 'listenPort', 'logSeverityScreen'];

export interface EffectiveBgpConfiguration {
  readonly logSeverityScreen: string;
  readonly nodeToNodeMeshEnabled: boolean;
  readonly asNumber: number;
  readonly listenPort: number;
  readonly bindMode: 'None' | 'NodeIP';
  readonly serviceLoadBalancerAggregation: 'Enabled' | 'Disabled';
  readonly programClusterRoutes: (typeof ROUTE_PROGRAMMING)[number];
  readonly ipv4NormalRoutePriority: number;
  readonly ipv6NormalRoutePriority: number;
}

/** Calico's defaults applied over `default`, then the per-node instance's allowed fields. */
export function effectiveBgpConfiguration(global: BGPConfigurationSpec | undefined, perNode?: BGPConfigurationSpec): EffectiveBgpConfiguration {
  const g = global ?? {};
  return {
    logSeverityScreen: perNode?.logSeverityScreen ?? g.logSeverityScreen ?? 'Info',
    nodeToNodeMeshEnabled: g.nodeToNodeMeshEnabled ?? true,
    asNumber: g.asNumber ?? 64512,
    listenPort: perNode?.listenPort ?? g.listenPort ?? 179,
    bindMode: g.bindMode ?? 'None',
    serviceLoadBalancerAggregation: g.serviceLoadBalancerAggregation ?? 'Enabled',
    programClusterRoutes: g.programClusterRoutes ?? 'EnabledNoEncapOnly',
    ipv4NormalRoutePriority: g.ipv4NormalRoutePriority ?? 1024,
    ipv6NormalRoutePriority: g.ipv6NormalRoutePriority ?? 1024,
  };
}
