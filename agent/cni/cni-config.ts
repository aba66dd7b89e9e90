/**
 * The plugin's inputs: the network configuration on stdin and the CNI_* environment
 * (CNI spec 1.0 §"Parameters"), validated into one typed request.
 */
import { CniError, CniErrorCode } from './cni-error.js';
import type { AddressRequest } from './agent-protocol.js';
import { parseAddress } from '../../common/prefix.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

export interface NetworkConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  /** 0 = read the MTU tortie-node computed from `mtuFile`. */
  readonly mtu: number;
  readonly mtuFile: string;
  readonly agentSocket: string;
  /** How long ADD waits for tortie-node to listen (starting, restarting) before code 11 (default 15 s). */
  readonly agentWaitMs: number;
  /** etcd as Calico's CNI config names it (etcd_endpoints, ...): DEL releases there when the agent is down. */
  readonly etcd?: { readonly endpoints: readonly string[]; readonly caCertFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly ipamType: string;
  /** The `ipam` section's pool and family requests (Calico's ipv4_pools, ipv6_pools, assign_ipv4, assign_ipv6). */
  readonly ipam: Omit<AddressRequest, 'ips'>;
  readonly logLevel: string;
  /** The previous result (CHECK, and DEL when the runtime has one). */
  readonly prevResult?: unknown;
  /** CNI 1.1 GC: attachments that must be kept. */
  readonly validAttachments?: ReadonlyArray<{ readonly containerId: string; readonly ifname: string }>;
  readonly raw: Record<string, unknown>;
}

export interface CniRequest {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly path: string;
  /** Parsed CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, ...). */
  readonly args: Readonly<Record<string, string>>;
  readonly config: NetworkConfig;
}

export const DEFAULT_AGENT_SOCKET = '/var/run/tortie/cni.sock';
export const DEFAULT_MTU_FILE = '/var/lib/calico/mtu';

function str(obj: Record<string, unknown>, key: string, fallback?: string): string {
  const v = obj[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v === '') {
    throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "${key}" must be a non-empty string`);
  }
  return v;
}

export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CniError(CniErrorCode.DECODE, 'network configuration on stdin is not valid JSON', String(err));
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(CniErrorCode.DECODE, 'network configuration on stdin must be a JSON object');
  }
  const o = raw as Record<string, unknown>;
  const cniVersion = str(o, 'cniVersion', '0.3.1');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniError(CniErrorCode.INCOMPATIBLE_VERSION, `cniVersion ${cniVersion} is not supported`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const mtuRaw = o['mtu'] ?? 0;
  const mtu = typeof mtuRaw === 'string' ? Number(mtuRaw) : mtuRaw;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 0 || mtu > 65535 || (mtu > 0 && mtu < 576)) {
    throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "mtu" must be 0 (auto) or 576..65535, got ${JSON.stringify(mtuRaw)}`);
  }
  const ipam = o['ipam'];
  const ipamType = ipam !== null && typeof ipam === 'object' && typeof (ipam as Record<string, unknown>)['type'] === 'string'
    ? String((ipam as Record<string, unknown>)['type']) : 'tortie-ipam';
  const ipamRequest = parseIpamSection(ipam);
  const valid = o['cni.dev/valid-attachments'] ?? o['validAttachments'];
  const waitRaw = o['agent_wait_ms'] ?? 15_000;
  if (typeof waitRaw !== 'number' || !Number.isInteger(waitRaw) || waitRaw < 0 || waitRaw > 600_000) {
    throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "agent_wait_ms" must be 0..600000, got ${JSON.stringify(waitRaw)}`);
  }
  // install-cni fills the placeholders with '' when a value is not set: '' means absent.
  const opt = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "${k}" must be a string`);
    return v;
  };
  const endpoints = (opt('etcd_endpoints') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const ep of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(ep)) throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: etcd endpoint ${JSON.stringify(ep)} must look like http://host:port`);
  }
  const [ca, cert, key] = [opt('etcd_ca_cert_file'), opt('etcd_cert_file'), opt('etcd_key_file')];
  const config: NetworkConfig = {
    cniVersion,
    name: str(o, 'name'),
    type: str(o, 'type'),
    mtu,
    mtuFile: str(o, 'mtu_file', DEFAULT_MTU_FILE),
    agentSocket: str(o, 'agent_socket', DEFAULT_AGENT_SOCKET),
    ipamType,
    ipam: ipamRequest,
    logLevel: str(o, 'log_level', 'info'),
    agentWaitMs: waitRaw,
    ...(endpoints.length === 0 ? {} : { etcd: { endpoints, ...(ca === undefined ? {} : { caCertFile: ca }),
      ...(cert === undefined ? {} : { certFile: cert }), ...(key === undefined ? {} : { keyFile: key }) } }),
    raw: o,
    ...(o['prevResult'] !== undefined ? { prevResult: o['prevResult'] } : {}),
    ...(Array.isArray(valid) ? { validAttachments: valid.map((v: unknown) => ({
      containerId: String((v as Record<string, unknown>)['containerID'] ?? ''),
      ifname: String((v as Record<string, unknown>)['ifname'] ?? ''),
    })) } : {}),
  };
  return config;
}

/** Calico's `ipam` keys: `ipv4_pools`/`ipv6_pools` (names or CIDRs), `assign_ipv4`/`assign_ipv6` ("true"/"false"). */
function parseIpamSection(ipam: unknown): Omit<AddressRequest, 'ips'> {
  if (ipam === undefined || ipam === null) return {};
  if (typeof ipam !== 'object' || Array.isArray(ipam)) throw new CniError(CniErrorCode.INVALID_CONFIG, 'network configuration: "ipam" must be an object');
  const o = ipam as Record<string, unknown>;
  const out: { -readonly [K in keyof AddressRequest]: AddressRequest[K] } = {};
  for (const [key, field] of [['ipv4_pools', 'ipv4Pools'], ['ipv6_pools', 'ipv6Pools']] as const) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string' && x !== '')) {
      throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "ipam.${key}" must be a list of IP pool names or CIDRs, got ${JSON.stringify(v)}`);
    }
    if (v.length > 0) out[field] = v;
  }
  for (const [key, field] of [['assign_ipv4', 'assignIpv4'], ['assign_ipv6', 'assignIpv6']] as const) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (v !== 'true' && v !== 'false') throw new CniError(CniErrorCode.INVALID_CONFIG, `network configuration: "ipam.${key}" must be "true" or "false", got ${JSON.stringify(v)}`);
    out[field] = v === 'true';
  }
  if (out.assignIpv4 === false && out.assignIpv6 === false) throw new CniError(CniErrorCode.INVALID_CONFIG, 'network configuration: "ipam.assign_ipv4" and "assign_ipv6" are both "false": no address to assign');
  return out;
}

/** CNI_ARGS `IP=` (CNI CONVENTIONS.md): one address, or one per family separated by a comma. */
export function requestedIps(args: Readonly<Record<string, string>>): string[] | undefined {
  const text = args['IP'];
  if (text === undefined || text === '') return undefined;
  const ips = text.split(',').map((x) => x.trim());
  const families = new Set<number>();
  for (const ip of ips) {
    let family: number;
    try { family = parseAddress(ip).family; } catch {
      throw new CniError(CniErrorCode.INVALID_ENV, `CNI_ARGS: IP=${text}: ${JSON.stringify(ip)} is not an IP address`);
    }
    if (families.has(family)) throw new CniError(CniErrorCode.INVALID_ENV, `CNI_ARGS: IP=${text}: at most one IPv${family} address`);
    families.add(family);
  }
  return ips;
}

export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(CniErrorCode.INVALID_ENV, `CNI_ARGS: "${pair}" is not KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];

/** Build the request from the environment and stdin; VERSION needs neither container nor config. */
export function parseRequest(env: NodeJS.ProcessEnv, stdin: string): CniRequest {
  const command = env['CNI_COMMAND'];
  if (command === undefined || !(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CniErrorCode.INVALID_ENV, `CNI_COMMAND must be one of ${COMMANDS.join(', ')}, got ${JSON.stringify(command ?? '')}`);
  }
  const cmd = command as CniCommand;
  const config = cmd === 'VERSION' && stdin.trim() === ''
    ? parseNetworkConfig('{"cniVersion":"1.0.0","name":"version","type":"tortie"}')
    : parseNetworkConfig(stdin);
  const needsContainer = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const ifname = env['CNI_IFNAME'] ?? '';
  const netns = env['CNI_NETNS'] ?? '';
  if (needsContainer) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) {
      throw new CniError(CniErrorCode.INVALID_ENV, `CNI_CONTAINERID must be alphanumeric (plus _ . -), got ${JSON.stringify(containerId)}`);
    }
    if (!/^[^/\s:]{1,15}$/.test(ifname) || ifname === '.' || ifname === '..') {
      throw new CniError(CniErrorCode.INVALID_ENV, `CNI_IFNAME must be a valid interface name, got ${JSON.stringify(ifname)}`);
    }
    if ((cmd === 'ADD' || cmd === 'CHECK') && netns === '') {
      throw new CniError(CniErrorCode.INVALID_ENV, `CNI_NETNS is required for ${cmd}`);
    }
  }
  return {
    command: cmd, containerId, netns, ifname, path: env['CNI_PATH'] ?? '',
    args: parseCniArgs(env['CNI_ARGS']), config,
  };
}
