/**
 * From the rules configuration (pools, node addresses, tunnel modes) to one `Ruleset` per
 * address family. Calico's semantics (calico-compat §3.8, §3.9):
 *   POSTROUTING → nat-outgoing: src in masq-ipam-pools and dst not in all-ipam-pools → MASQUERADE
 *     (or SNAT to natOutgoingAddress);
 *   INPUT: IPIP / VXLAN (udp vxlanPort) from all-hosts-net to a local address → accept, else drop;
 *   OUTPUT: IPIP / VXLAN to all-hosts-net → accept;
 *   FORWARD: traffic from or to a pool → accept.
 * Pure: validates and throws RulesConfigError naming the field.
 */
import {
  formatAddress, formatPrefix, parseAddress, parsePrefix, prefixContains, type Family, type Prefix,
} from '../../common/prefix.js';
import { RulesConfigError } from './errors.js';
import {
  hashRules, SetName, type ChainDef, type Match, type RuleSpec, type Ruleset, type SetDef,
} from './rule-model.js';

export interface PoolRuleConfig {
  readonly cidr: string;
  readonly natOutgoing: boolean;
}

export interface RulesConfig {
  readonly pools: readonly PoolRuleConfig[];
  /** Tunnel peers allowed to send IPIP/VXLAN: every node's address plus externalNodesList. */
  readonly nodeAddresses: readonly string[];
  readonly ipipEnabled: boolean;
  readonly vxlanEnabled: boolean;
  /** FelixConfiguration vxlanPort, default 4789. */
  readonly vxlanPort?: number;
  /** FelixConfiguration natOutgoingAddress: SNAT to it (its family only) instead of MASQUERADE. */
  readonly natOutgoingAddress?: string;
  /** FelixConfiguration natOutgoingExclusions: also never masquerade towards node addresses. */
  readonly natOutgoingExclusions?: 'IPPoolsOnly' | 'IPPoolsAndHostIPs';
  /** FelixConfiguration iptablesNATOutgoingInterfaceFilter, e.g. `eth+`: masquerade only out of it. */
  readonly natOutgoingInterfaceFilter?: string;
}

export const IPPROTO_IPIP = 4;
export const DEFAULT_VXLAN_PORT = 4789;

function netSet(name: string, prefixes: readonly Prefix[]): SetDef {
  // Interval sets refuse overlapping elements: keep only prefixes not inside another one.
  const kept = prefixes.filter((p, i) => !prefixes.some((q, j) => j !== i && prefixContains(q, p)
    && (q.length < p.length || j < i)));
  return { name, kind: 'net', elements: new Set(kept.map(formatPrefix)) };
}

/** Validate the configuration and build the ruleset of one family. */
export function buildRuleset(config: RulesConfig, family: Family): Ruleset {
  const pools = config.pools.map((p, i) => {
    try {
      return { prefix: parsePrefix(p.cidr), natOutgoing: p.natOutgoing };
    } catch (err) {
      throw new RulesConfigError(err instanceof Error ? err.message : String(err), `pools[${i}].cidr`);
    }
  }).filter((p) => p.prefix.family === family);
  const hosts = config.nodeAddresses.map((a, i) => {
    try { return parseAddress(a); } catch (err) {
      throw new RulesConfigError(err instanceof Error ? err.message : String(err), `nodeAddresses[${i}]`);
    }
  }).filter((a) => a.family === family);
  const port = config.vxlanPort ?? DEFAULT_VXLAN_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RulesConfigError(`must be an integer 1..65535, got ${String(port)}`, 'vxlanPort');
  }
  const ifFilter = config.natOutgoingInterfaceFilter;
  if (ifFilter !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}\+?$/.test(ifFilter)) {
    throw new RulesConfigError(`not an interface name or prefix ("eth0", "eth+"): ${JSON.stringify(ifFilter)}`,
      'natOutgoingInterfaceFilter');
  }
  let snatTo: string | undefined;
  if (config.natOutgoingAddress !== undefined) {
    let a;
    try { a = parseAddress(config.natOutgoingAddress); } catch (err) {
      throw new RulesConfigError(err instanceof Error ? err.message : String(err), 'natOutgoingAddress');
    }
    if (a.family === family) snatTo = formatAddress(a);
  }

  const sets: SetDef[] = [
    netSet(SetName.allIpamPools, pools.map((p) => p.prefix)),
    netSet(SetName.masqIpamPools, pools.filter((p) => p.natOutgoing).map((p) => p.prefix)),
    { name: SetName.allHostsNet, kind: 'addr', elements: new Set(hosts.map((h) => formatAddress(h))) },
  ];

  const fromHosts: Match = { type: 'src-set', set: SetName.allHostsNet, negate: false };
  const toHosts: Match = { type: 'dst-set', set: SetName.allHostsNet, negate: false };
  const ipip: Match = { type: 'ip-proto', proto: IPPROTO_IPIP };
  const vxlan: Match = { type: 'udp-dport', port };
  const local: Match = { type: 'dst-local' };
  // IPIP carries IPv4 only (Calico programs it for v4); VXLAN exists for both families.
  const doIpip = config.ipipEnabled && family === 4;

  const input: RuleSpec[] = [];
  const output: RuleSpec[] = [];
  if (doIpip) {
    input.push({ matches: [ipip, fromHosts, local], action: { type: 'accept' } });
    input.push({ matches: [ipip], action: { type: 'drop' } });
    output.push({ matches: [ipip, toHosts], action: { type: 'accept' } });
  }
  if (config.vxlanEnabled) {
    input.push({ matches: [vxlan, fromHosts, local], action: { type: 'accept' } });
    input.push({ matches: [vxlan], action: { type: 'drop' } });
    output.push({ matches: [vxlan, toHosts], action: { type: 'accept' } });
  }
  const forward: RuleSpec[] = [
    { matches: [{ type: 'src-set', set: SetName.allIpamPools, negate: false }], action: { type: 'accept' } },
    { matches: [{ type: 'dst-set', set: SetName.allIpamPools, negate: false }], action: { type: 'accept' } },
  ];
  const natMatches: Match[] = [
    { type: 'src-set', set: SetName.masqIpamPools, negate: false },
    { type: 'dst-set', set: SetName.allIpamPools, negate: true },
  ];
  if (config.natOutgoingExclusions === 'IPPoolsAndHostIPs') natMatches.push({ type: 'dst-set', set: SetName.allHostsNet, negate: true });
  if (ifFilter !== undefined) natMatches.push({ type: 'out-iface', name: ifFilter });
  const natOutgoing: RuleSpec[] = [{
    matches: natMatches,
    action: snatTo === undefined ? { type: 'masquerade' } : { type: 'snat', address: snatTo },
  }];
  const chains: ChainDef[] = [
    { name: 'INPUT', table: 'filter', hook: 'input', rules: hashRules('INPUT', input) },
    { name: 'FORWARD', table: 'filter', hook: 'forward', rules: hashRules('FORWARD', forward) },
    { name: 'OUTPUT', table: 'filter', hook: 'output', rules: hashRules('OUTPUT', output) },
    { name: 'POSTROUTING', table: 'nat', hook: 'postrouting',
      rules: hashRules('POSTROUTING', [{ matches: [], action: { type: 'jump', chain: 'nat-outgoing' } }]) },
    { name: 'nat-outgoing', table: 'nat', rules: hashRules('nat-outgoing', natOutgoing) },
  ];
  return { family, chains, sets };
}
