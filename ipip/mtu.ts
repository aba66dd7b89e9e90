/**
 * Pod MTU (calico-compat.md §3.6): host MTU = MTU of the interface carrying the node address
 * (else the smallest oper-up interface matching the pattern, else 1460); pod MTU = host MTU minus
 * the largest overhead among enabled encapsulations; written to /var/lib/calico/mtu for the CNI.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Netlink } from '../felix/netlink/types.js';

/** Bytes each encapsulation adds; udp is the userspace UDP backend (IPv4 + UDP headers, IPv6 + UDP over an IPv6 underlay). */
export const ENCAP_OVERHEAD = { none: 0, ipip: 20, vxlan: 50, vxlan6: 70, wireguard: 60, wireguard6: 80, udp: 28, udp6: 48 } as const;
export type Encapsulation = keyof typeof ENCAP_OVERHEAD;
export const DEFAULT_MTU_FILE = '/var/lib/calico/mtu';
export const FALLBACK_HOST_MTU = 1460;

export function podMtu(hostMtu: number, enabled: readonly Encapsulation[]): number {
  const overhead = Math.max(0, ...enabled.map((e) => ENCAP_OVERHEAD[e]));
  return hostMtu - overhead;
}

/**
 * MTU of the interface that holds `nodeIp`; when no interface holds it, the smallest MTU among
 * oper-up interfaces whose name matches `ifacePattern` (loopback and our own devices excluded).
 */
export async function detectHostMtu(netlink: Netlink, nodeIp: string | undefined,
  ifacePattern: RegExp = /^(?!lo$|cali|vxlan[.-]|tunl|wireguard|kube-ipvs|docker)/): Promise<number> {
  const links = await netlink.listLinks();
  if (nodeIp !== undefined) {
    const addr = (await netlink.listAddresses()).find((a) => a.cidr.slice(0, a.cidr.indexOf('/')) === nodeIp);
    const link = addr === undefined ? undefined : links.find((l) => l.index === addr.ifindex);
    if (link !== undefined) return link.mtu;
  }
  const mtus = links.filter((l) => l.operUp && ifacePattern.test(l.name)).map((l) => l.mtu);
  return mtus.length === 0 ? FALLBACK_HOST_MTU : Math.min(...mtus);
}

/** Write the MTU atomically (temp file + rename), creating the directory. */
export async function writeMtuFile(mtu: number, path: string = DEFAULT_MTU_FILE): Promise<void> {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new RangeError(`pod MTU ${mtu} out of range 68..65535`);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${mtu}\n`);
  await rename(tmp, path);
}
