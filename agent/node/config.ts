/**
 * tortie-node configuration from the environment, named like calico-node's
 * (documented in agent/node/CONFIG.md; deploy/tortie.yaml sets them). Every bad value is a NodeConfigError
 * naming the variable and what it accepts.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TortieError } from '../../common/errors.js';
import { isValidAddress, isValidPrefix, parseAddress, parsePrefix } from '../../common/prefix.js';
import { etcdConfigFromEnv, type EtcdConnectionConfig } from '../datastore/datastore-config.js';
import { parseAsNumber } from '../resources/fields.js';
import { parseSelector } from '../resources/selector.js';
import type { EncapMode } from '../resources/ip-pool.js';
import { DEFAULT_SECRETS_DIR } from './mounted-secrets.js';

export class NodeConfigError extends TortieError {
  constructor(variable: string, message: string) { super('invalid-config', message, { where: variable }); }
}

export type AutodetectMethod =
  | { readonly type: 'first-found' }
  | { readonly type: 'interface'; readonly regex: RegExp }
  | { readonly type: 'skip-interface'; readonly regex: RegExp }
  | { readonly type: 'can-reach'; readonly destination: string }
  | { readonly type: 'cidr'; readonly cidrs: readonly string[] };

export type IpSetting =
  | { readonly type: 'autodetect'; readonly method: AutodetectMethod }
  | { readonly type: 'explicit'; readonly address: string; readonly length: number | undefined }
  | { readonly type: 'none' };

export interface DefaultPoolConfig {
  readonly cidr: string;
  readonly blockSize: number;
  readonly vxlanMode: EncapMode;
  readonly ipipMode: EncapMode;
  readonly natOutgoing: boolean;
  readonly nodeSelector: string;
  readonly disableBGPExport: boolean;
}

export interface NodeConfig {
  readonly etcd: EtcdConnectionConfig;
  readonly nodeName: string;
  /** CALICO_ROUTER_ID: 'hash' (from the node name) or an IPv4 address; unset = the node's IPv4 address. */
  readonly routerId?: string;
  readonly ip: IpSetting;
  /** IPv6 node address (calico-node IP6): off unless set, like Calico. */
  readonly ip6: IpSetting;
  /** Default IPv6 pool, created when IP6 is on and no IPv6 pool exists. */
  readonly defaultPool6: DefaultPoolConfig | undefined;
  readonly asNumber: number | undefined;
  readonly backend: 'bird' | 'vxlan' | 'none';
  readonly defaultPool: DefaultPoolConfig | undefined;
  readonly runDir: string;
  readonly stateDir: string;
  readonly cniSocket: string;
  readonly ctlSocket: string;
  readonly mtuFile: string;
  readonly health: { readonly enabled: boolean; readonly host: string; readonly port: number };
  /** perPeer: BGP series per peer (off for large meshes: peer-less sums only); processMetrics: prom-client defaults. */
  readonly metrics: { readonly enabled: boolean; readonly port: number; readonly perPeer: boolean; readonly processMetrics: boolean };
  readonly rulesBackend: 'nft' | 'iptables';
  readonly logLevel: string;
  /** TORTIE_SECRETS_DIR: mounted Secrets, `<dir>/<name>/<key>` (BGP passwords). */
  readonly secretsDir: string;
  /** calico-node's `--threshold-time`: every configured BGP peer must be up to be ready this long after start. */
  readonly bgpReadyThresholdSeconds: number;
  /** TORTIE_WITHDRAW_ON_STOP: SIGTERM withdraws this node's routes from every peer (a drain for good) instead of a graceful restart. */
  readonly withdrawOnStop: boolean;
  /** TORTIE_BGP_MAX_PATHS: equal BGP paths installed as one ECMP kernel route (default 16, BIRD's merge paths limit; 1 = best only). */
  readonly bgpMaxPaths: number;
  /**
   * TORTIE_BFD_ENGINE: BFD in the tortie-bfd process at TORTIE_BFD_SOCKET, started by the agent when
   * nothing serves it (`process`, default) or served by the DaemonSet's container / a systemd unit
   * (`sidecar`: never started here); or a worker `thread` of the agent.
   */
  readonly bfd: { readonly engine: 'process' | 'sidecar' | 'thread'; readonly socket: string };
}

type Env = Readonly<Record<string, string | undefined>>;

const get = (env: Env, k: string): string | undefined => { const v = env[k]?.trim(); return v === undefined || v === '' ? undefined : v; };

function bool(env: Env, k: string, dflt: boolean): boolean {
  const v = get(env, k);
  if (v === undefined) return dflt;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new NodeConfigError(k, `must be true or false, got ${JSON.stringify(v)}`);
}

function int(env: Env, k: string, dflt: number, min: number, max: number): number {
  const v = get(env, k);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new NodeConfigError(k, `must be an integer ${min}-${max}, got ${JSON.stringify(v)}`);
  return n;
}

function regex(k: string, text: string): RegExp {
  try { return new RegExp(text); } catch (err) { throw new NodeConfigError(k, `invalid regular expression ${JSON.stringify(text)}: ${(err as Error).message}`); }
}

export function parseAutodetectMethod(text: string | undefined, k = 'IP_AUTODETECTION_METHOD'): AutodetectMethod {
  if (text === undefined || text === 'first-found') return { type: 'first-found' };
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq), arg = eq < 0 ? '' : text.slice(eq + 1);
  switch (name) {
    case 'interface': return { type: 'interface', regex: regex(k, arg) };
    case 'skip-interface': return { type: 'skip-interface', regex: regex(k, arg) };
    case 'can-reach':
      if (!isValidAddress(arg)) throw new NodeConfigError(k, `can-reach needs an IP address, got ${JSON.stringify(arg)}`);
      return { type: 'can-reach', destination: arg };
    case 'cidr': {
      const cidrs = arg.split(',').map((c) => c.trim()).filter(Boolean);
      if (cidrs.length === 0 || cidrs.some((c) => !isValidPrefix(c, { allowHostBits: true }))) throw new NodeConfigError(k, `cidr= needs CIDRs like 10.0.0.0/8, got ${JSON.stringify(arg)}`);
      return { type: 'cidr', cidrs };
    }
    default:
      throw new NodeConfigError(k, `unknown method ${JSON.stringify(text)} (first-found, interface=REGEX, skip-interface=REGEX, can-reach=ADDR, cidr=CIDR[,CIDR])`);
  }
}

function defaultPool6(env: Env, ip6: IpSetting): DefaultPoolConfig | undefined {
  if (ip6.type === 'none' || bool(env, 'NO_DEFAULT_POOLS', false)) return undefined;
  const cidr = get(env, 'CALICO_IPV6POOL_CIDR') ?? 'fd00:10:244::/48';
  if (!isValidPrefix(cidr) || parsePrefix(cidr).family !== 6) throw new NodeConfigError('CALICO_IPV6POOL_CIDR', `must be an IPv6 CIDR with no host bits, got ${JSON.stringify(cidr)}`);
  const vxlanMode = encap(env, 'CALICO_IPV6POOL_VXLAN');
  return { cidr, blockSize: int(env, 'CALICO_IPV6POOL_BLOCK_SIZE', 122, 116, 128), vxlanMode, ipipMode: 'Never',
    natOutgoing: bool(env, 'CALICO_IPV6POOL_NAT_OUTGOING', false), nodeSelector: get(env, 'CALICO_IPV6POOL_NODE_SELECTOR') ?? 'all()', disableBGPExport: false };
}

/**
 * IP / IP6 as calico-node reads them: autodetect, none, or an address with an optional /len.
 * Unset means autodetect for IPv4 and none for IPv6.
 */
function parseIp(env: Env, family: 4 | 6): IpSetting {
  const name = family === 4 ? 'IP' : 'IP6';
  const v = get(env, name) ?? (family === 4 ? 'autodetect' : 'none');
  if (v === 'none') return { type: 'none' };
  if (v === 'autodetect') return { type: 'autodetect', method: parseAutodetectMethod(get(env, `${name}_AUTODETECTION_METHOD`), `${name}_AUTODETECTION_METHOD`) };
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  if (!isValidAddress(addr) || parseAddress(addr).family !== family) {
    throw new NodeConfigError(name, `must be autodetect, none or an IPv${family} address (optionally /len), got ${JSON.stringify(v)}`);
  }
  if (slash < 0) return { type: 'explicit', address: addr, length: undefined };
  const len = Number(v.slice(slash + 1));
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(len) || len < 0 || len > max) throw new NodeConfigError(name, `prefix length must be 0-${max}, got ${JSON.stringify(v)}`);
  return { type: 'explicit', address: addr, length: len };
}

function encap(env: Env, k: string): EncapMode {
  const v = get(env, k)?.toLowerCase();
  if (v === undefined || v === 'off' || v === 'never') return 'Never';
  if (v === 'always') return 'Always';
  if (v === 'crosssubnet' || v === 'cross-subnet') return 'CrossSubnet';
  throw new NodeConfigError(k, `must be Never, Always or CrossSubnet, got ${JSON.stringify(get(env, k))}`);
}

function defaultPool(env: Env): DefaultPoolConfig | undefined {
  if (bool(env, 'NO_DEFAULT_POOLS', false)) return undefined;
  const cidr = get(env, 'CALICO_IPV4POOL_CIDR') ?? '192.168.0.0/16';
  if (!isValidPrefix(cidr) || parsePrefix(cidr).family !== 4) throw new NodeConfigError('CALICO_IPV4POOL_CIDR', `must be an IPv4 CIDR with no host bits, got ${JSON.stringify(cidr)}`);
  const blockSize = int(env, 'CALICO_IPV4POOL_BLOCK_SIZE', 26, 20, 32);
  const vxlanMode = encap(env, 'CALICO_IPV4POOL_VXLAN');
  const ipipMode = encap(env, 'CALICO_IPV4POOL_IPIP');
  if (vxlanMode !== 'Never' && ipipMode !== 'Never') throw new NodeConfigError('CALICO_IPV4POOL_IPIP', 'cannot be enabled together with CALICO_IPV4POOL_VXLAN');
  const nodeSelector = get(env, 'CALICO_IPV4POOL_NODE_SELECTOR') ?? 'all()';
  try { parseSelector(nodeSelector); } catch (err) { throw new NodeConfigError('CALICO_IPV4POOL_NODE_SELECTOR', (err as Error).message); }
  return { cidr, blockSize, vxlanMode, ipipMode, natOutgoing: bool(env, 'CALICO_IPV4POOL_NAT_OUTGOING', true), nodeSelector,
    disableBGPExport: bool(env, 'CALICO_IPV4POOL_DISABLE_BGP_EXPORT', false) };
}

export function nodeConfigFromEnv(env: Env = process.env): NodeConfig {
  const type = get(env, 'DATASTORE_TYPE');
  if (type !== undefined && type !== 'etcdv3') throw new NodeConfigError('DATASTORE_TYPE', `only etcdv3 is supported, got ${JSON.stringify(type)}`);
  let etcd: EtcdConnectionConfig;
  try { etcd = etcdConfigFromEnv(env as NodeJS.ProcessEnv); } catch (err) { throw new NodeConfigError('ETCD_*', (err as Error).message); }
  const nodeName = get(env, 'NODENAME') ?? hostname();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName) || nodeName.length > 253) {
    throw new NodeConfigError('NODENAME', `${JSON.stringify(nodeName)} is not a valid node name (lower-case letters, digits, '-' and '.')`);
  }
  const asText = get(env, 'AS');
  let asNumber: number | undefined;
  if (asText !== undefined) {
    asNumber = parseAsNumber(asText);
    if (asNumber === undefined) throw new NodeConfigError('AS', `must be an AS number (1-4294967295 or asdot a.b), got ${JSON.stringify(asText)}`);
  }
  const backendText = (get(env, 'CALICO_NETWORKING_BACKEND') ?? 'bird').toLowerCase();
  if (backendText !== 'bird' && backendText !== 'vxlan' && backendText !== 'none') {
    throw new NodeConfigError('CALICO_NETWORKING_BACKEND', `must be bird, vxlan or none, got ${JSON.stringify(backendText)}`);
  }
  const rules = (get(env, 'TORTIE_RULES_BACKEND') ?? 'nft').toLowerCase();
  if (rules !== 'nft' && rules !== 'iptables') throw new NodeConfigError('TORTIE_RULES_BACKEND', `must be nft or iptables, got ${JSON.stringify(rules)}`);
  const runDir = get(env, 'TORTIE_RUN_DIR') ?? '/var/run/tortie';
  const bfdEngine = (get(env, 'TORTIE_BFD_ENGINE') ?? 'process').toLowerCase();
  if (bfdEngine !== 'process' && bfdEngine !== 'sidecar' && bfdEngine !== 'thread') {
    throw new NodeConfigError('TORTIE_BFD_ENGINE', `must be process, sidecar or thread, got ${JSON.stringify(bfdEngine)}`);
  }
  const stateDir = get(env, 'TORTIE_STATE_DIR') ?? '/var/lib/calico';
  const ip6 = parseIp(env, 6);
  const routerId = get(env, 'CALICO_ROUTER_ID');
  if (routerId !== undefined && routerId !== 'hash' && !(isValidAddress(routerId) && !routerId.includes(':'))) {
    throw new NodeConfigError('CALICO_ROUTER_ID', `must be "hash" or an IPv4 address, got ${JSON.stringify(routerId)}`);
  }
  return {
    etcd, nodeName, ...(routerId === undefined ? {} : { routerId }), ip: parseIp(env, 4), ip6, defaultPool6: defaultPool6(env, ip6), asNumber, backend: backendText, defaultPool: defaultPool(env),
    runDir, stateDir, cniSocket: join(runDir, 'cni.sock'), ctlSocket: join(runDir, 'node.ctl'), mtuFile: join(stateDir, 'mtu'),
    health: { enabled: bool(env, 'FELIX_HEALTHENABLED', true), host: get(env, 'FELIX_HEALTHHOST') ?? '0.0.0.0', port: int(env, 'FELIX_HEALTHPORT', 9099, 0, 65535) },
    metrics: { enabled: bool(env, 'FELIX_PROMETHEUSMETRICSENABLED', true), port: int(env, 'FELIX_PROMETHEUSMETRICSPORT', 9091, 0, 65535),
      perPeer: bool(env, 'TORTIE_BGP_METRICS_PER_PEER', true), processMetrics: bool(env, 'FELIX_PROMETHEUSPROCESSMETRICSENABLED', true) },
    rulesBackend: rules, logLevel: get(env, 'TORTIE_LOG_LEVEL') ?? 'info',
    secretsDir: get(env, 'TORTIE_SECRETS_DIR') ?? DEFAULT_SECRETS_DIR,
    bgpReadyThresholdSeconds: int(env, 'TORTIE_BGP_READY_THRESHOLD_SECONDS', 30, 0, 3600),
    withdrawOnStop: bool(env, 'TORTIE_WITHDRAW_ON_STOP', false),
    bgpMaxPaths: int(env, 'TORTIE_BGP_MAX_PATHS', 16, 1, 256),
    bfd: { engine: bfdEngine, socket: get(env, 'TORTIE_BFD_SOCKET') ?? join(runDir, 'bfd.sock') },
  };
}
