/**
 * The interface a peer's session runs over (the one holding the session's local address), for
 * the kernel section's IPv6 link-local next hops: a link-local address means nothing without its
 * link (RFC 4291 §2.5.6), and RFC 2545 §3 puts it on the link of the session, so the route
 * goes out of that interface (BIRD resolves it from the session's interface likewise).
 * Looked up per peer from the speaker's status and the host's interfaces, cached; a peer not in
 * the cache (a session just up) rebuilds it, at most every MIN_REBUILD_MS.
 */
import { networkInterfaces } from 'node:os';
import type { BgpSpeaker } from '../speaker/speaker.js';
import { canonicalAddress } from '../session/listener.js';

const MAX_AGE_MS = 5000;
const MIN_REBUILD_MS = 100;

export function sessionInterfaces(speaker: Pick<BgpSpeaker, 'status'>, now: () => number = () => performance.now()): (peer: string) => string | undefined {
  let cache = new Map<string, string>();
  let builtAt = -Infinity;
  const rebuild = (): void => {
    builtAt = now();
    const byAddress = new Map<string, string>();
    for (const [name, addrs] of Object.entries(networkInterfaces())) {
      for (const a of addrs ?? []) { const c = canonicalAddress(a.address); if (c !== undefined && !byAddress.has(c)) byAddress.set(c, name); }
    }
    cache = new Map();
    for (const p of speaker.status()) {
      const ifname = p.localAddress === undefined ? undefined : byAddress.get(p.localAddress);
      if (ifname !== undefined) cache.set(p.name, ifname);
    }
  };
  return (peer) => {
    const age = now() - builtAt;
    if (age > MAX_AGE_MS || (!cache.has(peer) && age > MIN_REBUILD_MS)) rebuild();
    return cache.get(peer);
  };
}
