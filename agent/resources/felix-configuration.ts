/**
 * FelixConfiguration (calico-compat.md §1.5). Routing, tunnel, MTU, iptables/NAT and health
 * fields are typed and validated; other Calico fields are accepted unchanged (so an existing
 * Calico manifest applies) but not used by Tortie; anything else is refused as unknown.
 * Defaults are applied by `effectiveFelixConfiguration()`, not written into the object.
 */
import { z } from 'zod';
import { duration, ipAddress, port } from './fields.js';
import { ROUTE_PROGRAMMING } from './bgp-configuration.js';

const mtu = z.int().min(0).max(65535);
const enabledDisabled = z.enum(['Enabled', 'Disabled']);

const typed = {
  routeRefreshInterval: duration, interfaceRefreshInterval: duration,
  deviceRouteProtocol: z.int().min(0).max(255),
  deviceRouteSourceAddress: ipAddress, deviceRouteSourceAddressIPv6: ipAddress,
  removeExternalRoutes: z.boolean(),
  routeTableRanges: z.array(z.strictObject({ min: z.int().min(1), max: z.int().min(1) })),
  routeTableRange: z.strictObject({ min: z.int().min(1), max: z.int().min(1) }),
  routeSyncDisabled: z.boolean(),
  routeSource: z.enum(['CalicoIPAM', 'WorkloadIPs']),
  programClusterRoutes: z.enum(ROUTE_PROGRAMMING),
  ipv4NormalRoutePriority: z.int().min(1), ipv4ElevatedRoutePriority: z.int().min(1),
  ipv6NormalRoutePriority: z.int().min(1), ipv6ElevatedRoutePriority: z.int().min(1),
  netlinkTimeout: duration,
  ipForwarding: enabledDisabled,
  ipipEnabled: z.boolean(), ipipMTU: mtu,
  vxlanEnabled: z.boolean(), vxlanMTU: mtu, vxlanMTUV6: mtu, vxlanPort: port,
  vxlanVNI: z.int().min(1).max(16777215),
  allowIPIPPacketsFromWorkloads: z.boolean(), allowVXLANPacketsFromWorkloads: z.boolean(),
  externalNodesList: z.array(z.string()),
  wireguardEnabled: z.boolean(), wireguardEnabledV6: z.boolean(), wireguardMTU: mtu, wireguardMTUV6: mtu,
  wireguardListeningPort: port, wireguardListeningPortV6: port,
  mtuIfacePattern: z.string().refine((s) => { try { new RegExp(s); return true; } catch { return false; } }, { message: 'must be a regular expression' }),
  iptablesBackend: z.enum(['Legacy', 'NFT', 'Auto', 'legacy', 'nft', 'auto']),
  chainInsertMode: z.enum(['Insert', 'Append']),
  iptablesMarkMask: z.int().min(0).max(4294967295),
  iptablesRefreshInterval: duration, iptablesPostWriteCheckInterval: duration, ipsetsRefreshInterval: duration,
  iptablesLockTimeout: duration, iptablesLockProbeInterval: duration,
  natOutgoingAddress: ipAddress,
  natOutgoingExclusions: z.enum(['IPPoolsOnly', 'IPPoolsAndHostIPs']),
  natPortRange: z.union([z.string().regex(/^\d+(:\d+)?$/, 'must be a port or port range "a:b"'), z.int()]),
  iptablesNATOutgoingInterfaceFilter: z.string(),
  interfacePrefix: z.string().min(1), interfaceExclude: z.string(),
  serviceLoopPrevention: z.enum(['Drop', 'Reject', 'Disabled']),
  healthEnabled: z.boolean(), healthHost: z.string(), healthPort: port,
  prometheusMetricsEnabled: z.boolean(), prometheusMetricsHost: z.string(), prometheusMetricsPort: port,
  prometheusGoMetricsEnabled: z.boolean(), prometheusProcessMetricsEnabled: z.boolean(),
  reportingInterval: duration, reportingTTL: duration,
  logSeverityScreen: z.string(), logSeverityFile: z.string(), logSeveritySys: z.string(), logFilePath: z.string(),
};

/** Calico FelixConfiguration fields Tortie accepts as-is but does not act on. */
export const FELIX_ACCEPTED_UNUSED = [
  'bpfEnabled', 'bpfLogLevel', 'bpfExternalServiceMode', 'bpfKubeProxyIptablesCleanupEnabled', 'bpfDataIfacePattern',
  'bpfConnectTimeLoadBalancing', 'bpfHostNetworkedNATWithoutCTLB', 'bpfConntrackTimeouts', 'bpfMapSizeConntrack',
  'failsafeInboundHostPorts', 'failsafeOutboundHostPorts', 'defaultEndpointToHostAction', 'policySyncPathPrefix',
  'floatingIPs', 'xdpEnabled', 'xdpRefreshInterval', 'usageReportingEnabled', 'usageReportingInitialDelay',
  'usageReportingInterval', 'endpointReportingEnabled', 'endpointReportingDelay', 'iptablesFilterAllowAction',
  'iptablesMangleAllowAction', 'iptablesFilterDenyAction', 'logPrefix', 'logDebugFilenameRegex', 'maxIpsetSize',
  'netlinkTimeout', 'openstackRegion', 'sidecarAccelerationEnabled', 'debugMemoryProfilePath', 'debugDisableLogDropping',
  'kubeNodePortRanges', 'nftablesMode', 'flowLogsFlushInterval', 'genericXDPEnabled', 'awsSrcDstCheck',
  'featureDetectOverride', 'featureGates', 'dataplaneWatchdogTimeout', 'healthTimeoutOverrides', 'workloadSourceSpoofing',
  'ipv6Support', 'bpfPSNATPorts', 'bpfDisableUnprivileged', 'l7LogsFlushInterval', 'wireguardHostEncryptionEnabled',
  'wireguardRoutingRulePriority', 'wireguardInterfaceName', 'wireguardInterfaceNameV6', 'wireguardKeepAlive',
  'wireguardThreadingEnabled', 'routeTableRangeV6', 'iptablesPostWriteCheckIntervalSecs', 'vxlanVNIV6',
] as const;

const accepted: Record<string, z.ZodOptional<z.ZodUnknown>> = {};
for (const f of FELIX_ACCEPTED_UNUSED) if (!(f in typed)) accepted[f] = z.unknown().optional();

const typedOptional = Object.fromEntries(Object.entries(typed).map(([k, v]) => [k, v.optional()])) as
  { [K in keyof typeof typed]: z.ZodOptional<(typeof typed)[K]> };

export const felixConfigurationSpec = z.strictObject({ ...typedOptional, ...accepted });
export type FelixConfigurationSpec = z.output<typeof felixConfigurationSpec>;

export const FELIX_DEFAULTS = {
  routeRefreshInterval: '90s', interfaceRefreshInterval: '90s', deviceRouteProtocol: 3, removeExternalRoutes: true,
  routeSource: 'CalicoIPAM', programClusterRoutes: 'EnabledIPIPOnly', ipv4NormalRoutePriority: 1024, ipv4ElevatedRoutePriority: 512,
  ipv6NormalRoutePriority: 1024, ipv6ElevatedRoutePriority: 512, netlinkTimeout: '10s', ipForwarding: 'Enabled',
  ipipMTU: 0, vxlanMTU: 0, vxlanMTUV6: 0, vxlanPort: 4789, vxlanVNI: 4096,
  allowIPIPPacketsFromWorkloads: false, allowVXLANPacketsFromWorkloads: false,
  wireguardEnabled: false, wireguardMTU: 0, wireguardListeningPort: 51820,
  mtuIfacePattern: '^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)', iptablesBackend: 'auto', chainInsertMode: 'Insert',
  iptablesMarkMask: 0xffff0000, iptablesRefreshInterval: '180s', iptablesPostWriteCheckInterval: '1s', ipsetsRefreshInterval: '90s',
  natOutgoingExclusions: 'IPPoolsOnly', interfacePrefix: 'cali', interfaceExclude: 'kube-ipvs0', serviceLoopPrevention: 'Drop',
  healthEnabled: false, healthHost: 'localhost', healthPort: 9099, prometheusMetricsEnabled: false, prometheusMetricsHost: '',
  prometheusMetricsPort: 9091, reportingInterval: '30s', reportingTTL: '90s',
} as const;

/** Defaults, overlaid by `default`, overlaid by `node.<name>` (Felix's precedence). */
export function effectiveFelixConfiguration(global?: FelixConfigurationSpec, perNode?: FelixConfigurationSpec): FelixConfigurationSpec & typeof FELIX_DEFAULTS {
  return { ...FELIX_DEFAULTS, ...(global ?? {}), ...(perNode ?? {}) } as FelixConfigurationSpec & typeof FELIX_DEFAULTS;
}
