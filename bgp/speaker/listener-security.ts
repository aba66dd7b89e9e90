/**
 * What the speaker's one listening socket must know per peer: its TCP-MD5 key (RFC 2385; the
 * kernel checks an incoming SYN against it and copies it to the accepted socket) and, for a GTSM
 * peer (RFC 5082), its minimum TTL in the listener's socket filter (socket-options.ts says why a
 * filter and not IP_MINTTL after accept). Setting one peer's entry leaves every other session,
 * and its key, untouched.
 */
import type { Server } from 'node:net';
import { describeError } from '../../common/errors.js';
import { setListenerMd5, setListenerTtlFilter } from '../session/socket-options.js';

export class ListenerSecurity {
  /** Peer address → TCP-MD5 key set on the listener. */
  private readonly keys = new Map<string, string>();
  /** GTSM peer address → minimum TTL, in the listener's socket filter. */
  private readonly gtsm = new Map<string, number>();

  constructor(private readonly server: () => Server | undefined) {}

  /**
   * A peer's key and GTSM hop count as its config says (undefined: none). Returns what could not
   * be set, for the peer's last error; the caller logs it.
   */
  set(address: string, password: string | undefined, ttlSecurityHops: number | undefined): string | undefined {
    const problems: string[] = [];
    if (password !== undefined || this.keys.has(address)) {
      const p = this.setKey(address, password);
      if (p !== undefined) problems.push(p);
    }
    const minTtl = ttlSecurityHops === undefined ? undefined : 256 - ttlSecurityHops;
    if (minTtl !== undefined || this.gtsm.has(address)) {
      const p = this.setGtsm(address, minTtl);
      if (p !== undefined) problems.push(p);
    }
    return problems.length === 0 ? undefined : problems.join('; ');
  }

  private setKey(address: string, key: string | undefined): string | undefined {
    if (key === undefined) this.keys.delete(address); else this.keys.set(address, key);
    const server = this.server();
    if (server === undefined) return undefined;
    try {
      setListenerMd5(server, address, key);
      return undefined;
    } catch (err) {
      return `cannot ${key === undefined ? 'remove' : 'set'} the TCP-MD5 key on the listener (incoming connections from this peer will fail): ${describeError(err)}`;
    }
  }

  private setGtsm(address: string, minTtl: number | undefined): string | undefined {
    if (minTtl === undefined) this.gtsm.delete(address); else this.gtsm.set(address, minTtl);
    const server = this.server();
    if (server === undefined) return undefined;
    try {
      setListenerTtlFilter(server, [...this.gtsm].map(([a, min]) => ({ address: a, minTtl: min })));
      return undefined;
    } catch (err) {
      return `cannot set the GTSM filter on the listener (the minimum TTL is checked only after accept): ${describeError(err)}`;
    }
  }
}
