/**
 * Per-session TCP socket options: TTL (single-hop eBGP 1, multihop N, GTSM 255), minimum TTL
 * (RFC 5082 GTSM) and TCP-MD5 (RFC 2385), set through common/native (Node's net.Socket has no
 * setsockopt).
 *
 * Outgoing connections: Node creates a TCP socket's fd only inside connect(), and the kernel
 * sends the SYN from there, yet the MD5 key (the SYN is signed), the TTL and the minimum TTL
 * must be on the socket before it. So connectTcp() creates the socket natively (unconnected,
 * non-blocking), sets the options, binds the local address, wraps the fd in a net.Socket and
 * lets Node connect it: net.Socket.connect() reuses the handle it already has (uv_tcp_connect on
 * the opened fd), so errors, 'connect' and timeouts behave exactly as with net.connect(). The
 * wrap and the connect happen in the same tick: a net.Socket built on an fd starts reading at
 * once, and an unconnected socket polled for input would report a hang-up.
 *
 * Incoming connections: MD5 keys live on the listening socket (setListenerMd5: the kernel checks
 * the SYN against them and copies them to the accepted socket); TTL and minimum TTL are set on
 * the accepted socket (applySocketOptions) before the first byte is read, as BIRD does. That
 * alone leaves GTSM open during the handshake: the kernel queues the peer's first segments (its
 * OPEN) before accept() returns, so a peer too far away would see our OPEN and KEEPALIVE and
 * call the session Established. The listener therefore also carries a socket filter with every
 * GTSM peer's minimum (setListenerTtlFilter), which the kernel runs on the SYN and the ACK.
 */
import { connect as netConnect, Socket, type Server } from 'node:net';
import { isIPv6 } from 'node:net';
import { TortieError, describeError } from '../../common/errors.js';
import { loadNative, type NativeHelper } from '../../common/native/native.js';

export interface SocketOptions {
  /** IP TTL / IPv6 hop limit of what we send, 1..255 (absent: the kernel default, 64). */
  readonly ttl?: number;
  /** Drop segments that arrive with a lower TTL, 1..255 (GTSM: 256 - hops). */
  readonly minTtl?: number;
  /** TCP-MD5 key for the peer address, 1..80 bytes. */
  readonly md5Password?: string;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  readonly socketOptions?: SocketOptions;
}

/** Hook applied to accepted sockets (TTL and minimum TTL; MD5 is on the listener). */
export type ApplySocketOptions = (socket: Socket, options: SocketOptions, where: string) => void;

/** Range checks, with the session in the message. */
export function validateSocketOptions(o: SocketOptions, where: string): void {
  for (const [k, v] of [['ttl', o.ttl], ['minTtl', o.minTtl]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 255)) {
      throw new TortieError('BAD_TTL', `${k} ${v} must be an integer 1..255`, { where });
    }
  }
  if (o.md5Password !== undefined) {
    const n = Buffer.byteLength(o.md5Password, 'utf8');
    if (n < 1 || n > 80) throw new TortieError('BAD_PASSWORD', `the TCP-MD5 password must be 1..80 bytes (it is ${n})`, { where });
  }
}

function needsNative(o: SocketOptions | undefined): o is SocketOptions {
  return o !== undefined && (o.ttl !== undefined || o.minTtl !== undefined || o.md5Password !== undefined);
}

/**
 * Open a connection with the options set before the SYN (see the header). Without options it
 * is plain net.connect(), so the native helper is needed only by sessions that use it.
 */
export function connectTcp(o: ConnectOptions, native: () => NativeHelper = loadNative): Socket {
  if (!needsNative(o.socketOptions)) {
    return netConnect({ host: o.host, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) });
  }
  const opts = o.socketOptions;
  const where = `connection to ${o.host}`;
  validateSocketOptions(opts, where);
  const n = native();
  const fd = n.tcpSocket(isIPv6(o.host) ? 6 : 4);
  let socket: Socket;
  try {
    if (opts.ttl !== undefined) n.setTtl(fd, opts.ttl);
    if (opts.minTtl !== undefined) n.setMinTtl(fd, opts.minTtl);
    if (opts.md5Password !== undefined) n.setMd5(fd, o.host, opts.md5Password);
    if (o.localAddress !== undefined) n.bind(fd, o.localAddress, 0);
    socket = new Socket({ fd, readable: true, writable: true });
  } catch (err) {
    n.close(fd);
    throw new TortieError('SOCKET_OPTIONS_FAILED', `cannot prepare the socket: ${describeError(err)}`, { cause: err, where });
  }
  socket.connect({ host: o.host, port: o.port });
  return socket;
}

/** The fd under a Node socket or server (Node exposes it on its TCP handles on Unix as `_handle.fd`). */
export function fdOf(s: Socket | Server): number {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new TortieError('NO_FD', 'the socket has no file descriptor (closed, or not a TCP socket)');
  return fd;
}

/** Set TTL and minimum TTL on an accepted socket. Throws when they cannot be set: refuse the connection then. */
export const applySocketOptions: ApplySocketOptions = (socket, options, where) => {
  validateSocketOptions(options, where);
  if (options.ttl === undefined && options.minTtl === undefined) return;
  const n = loadNative();
  const fd = fdOf(socket);
  if (options.ttl !== undefined) n.setTtl(fd, options.ttl);
  if (options.minTtl !== undefined) n.setMinTtl(fd, options.minTtl);
};

/** Replace the listener's GTSM filter: per peer address, the minimum TTL of what it may send us. */
export function setListenerTtlFilter(server: Server, entries: ReadonlyArray<{ readonly address: string; readonly minTtl: number }>,
  native: () => NativeHelper = loadNative): void {
  native().setTtlFilter(fdOf(server), entries);
}

/** Add (key) or remove (undefined) the TCP-MD5 key for `peer` on a listening server. */
export function setListenerMd5(server: Server, peer: string, key: string | undefined, native: () => NativeHelper = loadNative): void {
  if (key !== undefined) validateSocketOptions({ md5Password: key }, `listener key for ${peer}`);
  native().setMd5(fdOf(server), peer, key ?? null);
}

/**
 * Why a session's MD5-signed SYN went unanswered for a whole connect retry time, most likely: a
 * peer whose key differs (or who has none) drops it without a word. Its kernel counts
 * TcpExtTCPMD5Failure (or TCPMD5Unexpected); ours does for its SYNs to us.
 */
export function md5UnansweredText(connectRetrySecs: number): string {
  return `TCP connection not answered in ${connectRetrySecs} s with TCP-MD5 configured: a wrong or missing password on the peer ` +
    'drops our SYN silently (nstat TcpExtTCPMD5Failure / TcpExtTCPMD5Unexpected on the peer, TcpExtTCPMD5Failure here for its SYNs)';
}
