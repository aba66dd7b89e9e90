/** Snapshot → felix/rules RulesConfig: pool CIDRs (natOutgoing), node addresses, tunnels in use. */
import { parsePrefix } from '../../common/prefix.js';
import type { RulesConfig } from '../../felix/rules/desired-rules.js';
import type { Snapshot } from './snapshot.js';

export function rulesConfig(s: Snapshot): RulesConfig {
  const pools = s.pools.filter((p) => !p.disabled).map((p) => ({ cidr: p.cidr, natOutgoing: p.natOutgoing }));
  const nodeAddresses = [...new Set([...s.nodes.values()].flatMap((n) => [n.ipv4, n.ipv6].filter((a): a is string => a !== undefined)))].sort();
  return {
    pools,
    nodeAddresses,
    ipipEnabled: s.pools.some((p) => !p.disabled && p.ipipMode !== 'Never' && parsePrefix(p.cidr).family === 4),
    vxlanEnabled: s.pools.some((p) => !p.disabled && p.vxlanMode !== 'Never'),
  };
}
