/**
 * The pod's interface as Calico makes it: a veth pair, host side `cali<11 hex>` with MAC
 * ee:ee:ee:ee:ee:ee, proxy ARP and forwarding on; container side with the pod's /32 (/128),
 * a link route to 169.254.1.1 and the default route through it (IPv6: through the host side's
 * link-local fe80::ecee:eeff:feee:eeee). Kernel changes are two `ip -batch` runs (host, then
 * container namespace through nsenter) and a few /proc/sys writes: no netlink library load, so
 * the plugin starts fast, and no look-before-create (a taken name is sorted out on failure).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CniError, CniErrorCode } from './cni-error.js';

export const HOST_SIDE_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY_V4 = '169.254.1.1';
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

export interface ExecResult { readonly status: number; readonly stdout: string; readonly stderr: string }

export interface InterfaceDeps {
  exec(cmd: string, args: readonly string[], input?: string): ExecResult;
  writeFile(path: string, data: string): void;
  exists(path: string): boolean;
}

/** Calico's host-side name: "cali" + the first 11 hex digits of sha1("<namespace>.<pod>"). */
export function hostInterfaceName(id: { namespace?: string; pod?: string; containerId: string }): string {
  const key = id.namespace !== undefined && id.pod !== undefined ? `${id.namespace}.${id.pod}` : id.containerId;
  return `cali${createHash('sha1').update(key).digest('hex').slice(0, 11)}`;
}

/** A random locally administered unicast MAC for the container side. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * The container already has an interface of that name (CNI 1.0 §ADD: the plugin must return an
 * error and leave it as it is). Thrown before anything was created or deleted, so whoever
 * catches it knows there is nothing of this ADD to roll back on the host.
 */
export class InterfaceExistsError extends CniError {
  constructor(readonly netns: string, readonly ifname: string) {
    super(CniErrorCode.NETWORK_SETUP_FAILED, `interface ${ifname} already exists in ${netns} (the runtime must DEL before a second ADD)`);
  }
}

/** The MAC of the container side, for the result of an ADD that finds its attachment in place. */
export function containerInterfaceMac(deps: InterfaceDeps, netns: string, ifname: string): string | undefined {
  const r = deps.exec('nsenter', [`--net=${netns}`, 'ip', '-j', 'link', 'show', 'dev', ifname]);
  if (r.status !== 0) return undefined;
  try { return (JSON.parse(r.stdout || '[]') as Array<{ address?: string }>)[0]?.address; } catch { return undefined; }
}

export interface WorkloadInterfaceSpec {
  readonly netns: string;
  readonly ifname: string;
  readonly hostIfname: string;
  readonly mtu: number;
  /** "10.244.1.5/32", "fd00:10:244::5/128". */
  readonly addresses: readonly string[];
  readonly containerMac: string;
}

function batch(deps: InterfaceDeps, where: string, prefix: readonly string[], lines: readonly string[]): void {
  const r = deps.exec(prefix[0] ?? 'ip', [...prefix.slice(1), '-batch', '-'], `${lines.join('\n')}\n`);
  if (r.status !== 0) {
    throw new CniError(CniErrorCode.NETWORK_SETUP_FAILED, `setting up the ${where} failed: ${r.stderr.trim() || `exit ${r.status}`}`,
      lines.join('; '));
  }
}

/** True when a link of that name exists in the namespace (`netns` = '' for the host). */
export function linkExists(deps: InterfaceDeps, netns: string, name: string): boolean {
  const args = netns === '' ? ['ip', 'link', 'show', 'dev', name] : ['nsenter', `--net=${netns}`, 'ip', 'link', 'show', 'dev', name];
  return deps.exec(args[0] ?? 'ip', args.slice(1)).status === 0;
}

export function createWorkloadInterface(deps: InterfaceDeps, spec: WorkloadInterfaceSpec): void {
  if (!deps.exists(spec.netns)) {
    throw new CniError(CniErrorCode.CONTAINER_UNKNOWN, `network namespace ${spec.netns} does not exist`);
  }
  // The fast path is one `ip -batch` for the host side: the veth (its peer straight into the pod's
  // namespace), up. Only when the kernel says a name is taken do we look at which one.
  const hostSide = [
    `link add ${spec.hostIfname} mtu ${spec.mtu} address ${HOST_SIDE_MAC} type veth peer name ${spec.ifname} mtu ${spec.mtu} address ${spec.containerMac} netns ${spec.netns}`,
    `link set ${spec.hostIfname} up`,
  ];
  const first = deps.exec('ip', ['-batch', '-'], `${hostSide.join('\n')}\n`);
  if (first.status !== 0) {
    if (!/exists/i.test(first.stderr)) {
      throw new CniError(CniErrorCode.NETWORK_SETUP_FAILED, `setting up the host side of ${spec.hostIfname} failed: ${first.stderr.trim() || `exit ${first.status}`}`, hostSide.join('; '));
    }
    if (linkExists(deps, spec.netns, spec.ifname)) throw new InterfaceExistsError(spec.netns, spec.ifname);
    // A host side left by an earlier sandbox of the same pod goes first (Calico does the same).
    if (linkExists(deps, '', spec.hostIfname)) deps.exec('ip', ['link', 'del', 'dev', spec.hostIfname]);
    batch(deps, `host side of ${spec.hostIfname}`, ['ip'], hostSide);
  }
  const has6 = spec.addresses.some((a) => a.includes(':'));
  const sys = `/proc/sys/net`;
  deps.writeFile(`${sys}/ipv4/conf/${spec.hostIfname}/proxy_arp`, '1');
  deps.writeFile(`${sys}/ipv4/neigh/${spec.hostIfname}/proxy_delay`, '0');
  deps.writeFile(`${sys}/ipv4/conf/${spec.hostIfname}/forwarding`, '1');
  if (has6 && deps.exists(`${sys}/ipv6/conf/${spec.hostIfname}`)) {
    deps.writeFile(`${sys}/ipv6/conf/${spec.hostIfname}/proxy_ndp`, '1');
    deps.writeFile(`${sys}/ipv6/conf/${spec.hostIfname}/forwarding`, '1');
  }
  const inside = ['link set lo up', `link set ${spec.ifname} up`];
  for (const a of spec.addresses) inside.push(`addr add ${a} dev ${spec.ifname}${a.includes(':') ? ' nodad' : ''}`);
  if (spec.addresses.some((a) => !a.includes(':'))) {
    inside.push(`route add ${GATEWAY_V4} dev ${spec.ifname} scope link`, `route add default via ${GATEWAY_V4} dev ${spec.ifname}`);
  }
  // ip -batch takes no per-line -6: the ::/0 prefix makes it an IPv6 route.
  if (has6) inside.push(`route add ::/0 via ${GATEWAY_V6} dev ${spec.ifname}`);
  batch(deps, `container side (${spec.ifname} in ${spec.netns})`, ['nsenter', `--net=${spec.netns}`, 'ip'], inside);
}

/** Remove the host side (which takes the container side with it). Missing is success. */
export function deleteWorkloadInterface(deps: InterfaceDeps, hostIfname: string): void {
  if (!linkExists(deps, '', hostIfname)) return;
  const r = deps.exec('ip', ['link', 'del', 'dev', hostIfname]);
  if (r.status !== 0 && linkExists(deps, '', hostIfname)) {
    throw new CniError(CniErrorCode.NETWORK_SETUP_FAILED, `deleting ${hostIfname} failed: ${r.stderr.trim()}`);
  }
}

/** What CHECK verifies inside the container: the interface, its addresses and the default route. */
export function checkWorkloadInterface(deps: InterfaceDeps, spec: Omit<WorkloadInterfaceSpec, 'mtu' | 'containerMac'>): void {
  const fail = (what: string): never => { throw new CniError(CniErrorCode.CHECK_FAILED, what); };
  if (!deps.exists(spec.netns)) fail(`network namespace ${spec.netns} is gone`);
  if (!linkExists(deps, '', spec.hostIfname)) fail(`host interface ${spec.hostIfname} is missing`);
  const addrs = deps.exec('nsenter', [`--net=${spec.netns}`, 'ip', '-j', 'addr', 'show', 'dev', spec.ifname]);
  if (addrs.status !== 0) fail(`interface ${spec.ifname} is missing in ${spec.netns}`);
  const have = new Set<string>();
  for (const link of JSON.parse(addrs.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>) {
    for (const a of link.addr_info ?? []) have.add(`${a.local}/${a.prefixlen}`);
  }
  for (const a of spec.addresses) if (!have.has(a)) fail(`address ${a} is missing from ${spec.ifname} in ${spec.netns}`);
  for (const [fam, gw] of [['-4', GATEWAY_V4], ['-6', GATEWAY_V6]] as const) {
    if (!spec.addresses.some((a) => a.includes(':') === (fam === '-6'))) continue;
    const r = deps.exec('nsenter', [`--net=${spec.netns}`, 'ip', fam, '-j', 'route', 'show', 'default']);
    const routes = JSON.parse(r.stdout || '[]') as Array<{ gateway?: string; dev?: string }>;
    if (!routes.some((x) => x.gateway === gw && x.dev === spec.ifname)) fail(`default route via ${gw} is missing in ${spec.netns}`);
  }
}
