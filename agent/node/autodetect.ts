/**
 * Node address autodetection like calico-node (autodetection_methods.go): first-found (skipping
 * Calico's default interface exclusions), interface=REGEX, skip-interface=REGEX,
 * can-reach=ADDR (the source address the kernel picks towards ADDR), cidr=CIDR[,CIDR].
 * Pure over a list of interface addresses; `systemInterfaces()` reads them from the OS.
 */
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import { TortieError } from '../../common/errors.js';
import type { AutodetectMethod } from './config.js';

export interface InterfaceAddress { readonly iface: string; readonly address: string; readonly prefixLength: number }

/** calico-node's DEFAULT_INTERFACES_TO_EXCLUDE. */
export const EXCLUDED_INTERFACES = [/^docker.*/, /^cbr.*/, /^dummy.*/, /^virbr.*/, /^lxcbr.*/, /^veth.*/, /^lo$/, /^cali.*/,
  /^tunl.*/, /^flannel.*/, /^kube-ipvs.*/, /^cni.*/, /^vxlan\.calico.*/, /^vxlan-v6\.calico.*/, /^wireguard\.cali.*/, /^nodelocaldns.*/, /^podman.*/];

export function systemInterfaces(family: 4 | 6 = 4): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [iface, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== (family === 4 ? 'IPv4' : 'IPv6') || a.cidr === null || a.address.toLowerCase().startsWith('fe80:')) continue;
      out.push({ iface, address: a.address, prefixLength: Number(a.cidr.split('/')[1]) });
    }
  }
  return out;
}

/** The local address the kernel would use towards `destination` (no packet is sent). */
export function sourceAddressTowards(destination: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket(parseAddress(destination).family === 6 ? 'udp6' : 'udp4');
    s.once('error', (err) => { s.close(); reject(err); });
    s.connect(9, destination, () => { const a = s.address().address; s.close(); resolve(a); });
  });
}

const usable = (a: InterfaceAddress): boolean => !a.address.startsWith('127.') && !a.address.startsWith('169.254.') && a.address !== '::1'
  && !a.address.toLowerCase().startsWith('fe80:');

export async function autodetectAddress(method: AutodetectMethod, addrs: readonly InterfaceAddress[],
  towards: (dst: string) => Promise<string> = sourceAddressTowards, variable = 'IP_AUTODETECTION_METHOD'): Promise<InterfaceAddress> {
  const fam = variable.startsWith('IP6') ? 'IPv6' : 'IPv4';
  const fail = (why: string): never => { throw new TortieError('autodetect-failed', `${why}; set ${variable.replace('_AUTODETECTION_METHOD', '')} or ${variable}`, { where: variable }); };
  const v4 = addrs.filter(usable);
  let found: InterfaceAddress | undefined;
  switch (method.type) {
    case 'first-found':
      found = v4.find((a) => !EXCLUDED_INTERFACES.some((r) => r.test(a.iface)));
      return found ?? fail(`first-found: no ${fam} address on any interface outside the default exclusions`);
    case 'interface':
      found = v4.find((a) => method.regex.test(a.iface));
      return found ?? fail(`interface=${method.regex.source}: no interface matching it has an ${fam} address`);
    case 'skip-interface':
      found = v4.find((a) => !method.regex.test(a.iface) && !EXCLUDED_INTERFACES.some((r) => r.test(a.iface)));
      return found ?? fail(`skip-interface=${method.regex.source}: no other interface has an ${fam} address`);
    case 'can-reach': {
      let src: string;
      try { src = await towards(method.destination); } catch (err) { return fail(`can-reach=${method.destination}: ${(err as Error).message}`); }
      found = v4.find((a) => a.address === src);
      return found ?? fail(`can-reach=${method.destination}: source address ${src} is on no interface`);
    }
    case 'cidr':
      found = v4.find((a) => method.cidrs.some((c) => prefixContains(parsePrefix(c, { allowHostBits: true }), parseAddress(a.address))));
      return found ?? fail(`cidr=${method.cidrs.join(',')}: no interface address inside`);
  }
}
