/**
 * Per-session TCP socket options, applied through an injectable hook. TTL (eBGP multihop, GTSM
 * sending side), minTtl (RFC 5082 GTSM) and TCP-MD5 (RFC 2385) all need setsockopt calls that
 * Node's net.Socket does not expose (setTTL exists only on dgram sockets): the default hook
 * validates and refuses them with a clear error until a native helper provides them. A TTL of
 * 64 (the kernel default) is accepted as a no-op.
 */
import type { Socket } from 'node:net';
import { TortieError } from '../../common/errors.js';

export interface SocketOptions {
  readonly ttl?: number;
  readonly minTtl?: number;
  readonly md5Password?: string;
}

export type ApplySocketOptions = (socket: Socket, options: SocketOptions, where: string) => void;

export const applySocketOptions: ApplySocketOptions = (socket, options, where) => {
  if (options.ttl !== undefined) {
    if (!Number.isInteger(options.ttl) || options.ttl < 1 || options.ttl > 255) {
      throw new TortieError('BAD_TTL', `ttl ${options.ttl} must be an integer 1..255`, { where });
    }
    if (options.ttl !== 64) {
      throw new TortieError('UNSUPPORTED_SOCKET_OPTION', `ttl ${options.ttl} (IP_TTL) needs the native socket helper, not available yet`, { where });
    }
  }
  void socket;
  if (options.minTtl !== undefined) {
    throw new TortieError('UNSUPPORTED_SOCKET_OPTION', 'minTtl (GTSM, IP_MINTTL) needs the native socket helper, not available yet', { where });
  }
  if (options.md5Password !== undefined) {
    throw new TortieError('UNSUPPORTED_SOCKET_OPTION', 'md5Password (TCP_MD5SIG) needs the native socket helper, not available yet', { where });
  }
};
