/**
 * Which kernel tunnel devices this host can create, found by creating a throw-away device of each
 * kind and deleting it again. When it can create neither VXLAN nor IPIP (a kernel built without
 * both, as some minimal and sandboxed kernels are), every pool's vxlanMode/ipipMode is carried by
 * the userspace UDP backend instead, the one overlay that needs nothing but TUN. Nodes decide
 * alike only on alike kernels: a cluster mixing kernels annotates its pools explicitly.
 */
import type { Netlink } from '../felix/netlink/types.js';
import { describeError } from '../common/errors.js';
import { errnoOf } from '../felix/netlink/netlink-error.js';

export interface TunnelSupport {
  /** undefined when the kernel creates the device; otherwise what it said. */
  readonly vxlan: string | undefined;
  readonly ipip: string | undefined;
}

const PROBES = [
  { kind: 'vxlan' as const, name: 'tortie-probe-vx', spec: { type: 'vxlan', name: 'tortie-probe-vx', vxlan: { vni: 1, port: 4789, learning: false } } as const },
  { kind: 'ipip' as const, name: 'tortie-probe-ip', spec: { type: 'ipip', name: 'tortie-probe-ip' } as const },
];

export async function probeTunnelSupport(netlink: Netlink): Promise<TunnelSupport> {
  const out: { vxlan: string | undefined; ipip: string | undefined } = { vxlan: undefined, ipip: undefined };
  for (const p of PROBES) {
    // A leftover from a crash in the middle of a probe.
    const stale = await netlink.getLink(p.name);
    if (stale !== undefined) await netlink.deleteLink(stale.index);
    try {
      await netlink.addLink(p.spec);
    } catch (err) {
      out[p.kind] = `${errnoOf(err)}: ${describeError(err)}`;
      continue;
    }
    const made = await netlink.getLink(p.name);
    if (made !== undefined) await netlink.deleteLink(made.index);
  }
  return out;
}

/** The UDP backend replaces both kernel tunnels only when neither can be created. */
export function udpFallbackNeeded(s: TunnelSupport): boolean {
  return s.vxlan !== undefined && s.ipip !== undefined;
}
