/** Node (calico-compat.md §1.4): BGP and tunnel fields; labels live in metadata.labels. */
import { z } from 'zod';
import { parseAddress } from '../../common/prefix.js';
import { addressWithPrefix, asNumber, cidr, ipAddress } from './fields.js';

const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address aa:bb:cc:dd:ee:ff');
const fam = (a: string): number => { try { return parseAddress(a).family; } catch { return 0; } };
const v4 = (field: string) => ipAddress.refine((a) => fam(a) === 4, { message: `${field} must be an IPv4 address` });
const v6 = (field: string) => ipAddress.refine((a) => fam(a) === 6, { message: `${field} must be an IPv6 address` });

export const nodeSpec = z.strictObject({
  bgp: z.strictObject({
    asNumber: asNumber.optional(),
    ipv4Address: addressWithPrefix(4).optional(),
    ipv6Address: addressWithPrefix(6).optional(),
    ipv4IPIPTunnelAddr: v4('ipv4IPIPTunnelAddr').optional(),
    routeReflectorClusterID: v4('routeReflectorClusterID').optional(),
  }).optional(),
  ipv4VXLANTunnelAddr: v4('ipv4VXLANTunnelAddr').optional(),
  vxlanTunnelMACAddr: mac.optional(),
  ipv6VXLANTunnelAddr: v6('ipv6VXLANTunnelAddr').optional(),
  vxlanTunnelMACAddrV6: mac.optional(),
  wireguard: z.strictObject({ interfaceIPv4Address: v4('interfaceIPv4Address').optional(), interfaceIPv6Address: v6('interfaceIPv6Address').optional() }).optional(),
  addresses: z.array(z.strictObject({ address: z.string().min(1), type: z.string().optional() })).optional(),
  orchRefs: z.array(z.strictObject({ nodeName: z.string().optional(), orchestrator: z.string().min(1) })).optional(),
}).default({});

export const nodeStatus = z.strictObject({
  podCIDRs: z.array(cidr).optional(),
  wireguardPublicKey: z.string().optional(),
  wireguardPublicKeyV6: z.string().optional(),
}).optional();

export type NodeSpec = z.output<typeof nodeSpec>;
