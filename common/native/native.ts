/**
 * The native helper (tortie-native.c): the socket options and device calls Node.js has no API
 * for. Built by scripts/build-native.sh (setup and the Dockerfile) from the Node headers on the
 * machine; the build copies it to dist/native/tortie_native.node. Loaded lazily on first use,
 * so programs that never need it run without it; when it is missing the caller gets a
 * TortieError saying how to build it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TortieError } from '../errors.js';

export interface NativeHelper {
  /** An unconnected, non-blocking, close-on-exec TCP socket of that family. */
  tcpSocket(family: 4 | 6): number;
  /** SO_REUSEADDR, then bind; an IPv6 socket stays dual-stack. IPv4 on an IPv6 socket is mapped. */
  bind(fd: number, address: string, port: number): void;
  /** TCP_MD5SIG for `peer` (RFC 2385); null removes the key. Keys are 1..80 bytes. */
  setMd5(fd: number, peer: string, key: string | null): void;
  /** IP_TTL (and IPV6_UNICAST_HOPS on an IPv6 socket), 1..255. */
  setTtl(fd: number, ttl: number): void;
  /** IP_MINTTL (and IPV6_MINHOPCOUNT on an IPv6 socket), 0..255; 0 turns the check off. */
  setMinTtl(fd: number, minTtl: number): void;
  /**
   * Classic BPF on a listening socket: drop segments from each address that arrive with a TTL /
   * hop limit below its minTtl (GTSM for the handshake, see tortie-native.c). [] detaches it.
   */
  setTtlFilter(fd: number, entries: ReadonlyArray<{ readonly address: string; readonly minTtl: number }>): void;
  /** A TUN device without packet information (IFF_TUN | IFF_NO_PI); non-blocking fd. */
  openTun(name: string): { readonly fd: number; readonly name: string };
  /**
   * Poll a TUN fd on the calling thread's event loop (a worker thread's, for the UDP backend);
   * each wake-up hands over every queued packet, up to a batch. Returns close().
   */
  readTun(fd: number, onPackets: (err: Error | null, packets: Buffer[]) => void): () => void;
  close(fd: number): void;
}

const ADDON = 'tortie_native.node';

/** Where the addon is looked for, in order: $TORTIE_NATIVE_ADDON, dist/native/, the source tree's build/. */
export function nativeAddonCandidates(): string[] {
  const env = process.env['TORTIE_NATIVE_ADDON'];
  // This module sits two levels below dist/ (dist/common/native/native.js), as do the bundles
  // (dist/bgp/bgpd/tortie-bgpd.cjs), so one relative path serves both.
  return [
    ...(env !== undefined && env !== '' ? [env] : []),
    fileURLToPath(new URL(`../../native/${ADDON}`, import.meta.url)),
    fileURLToPath(new URL(`../../../common/native/build/Release/${ADDON}`, import.meta.url)),
  ];
}

let cached: NativeHelper | undefined;

export function loadNative(): NativeHelper {
  if (cached !== undefined) return cached;
  cached = loadNativeFrom(nativeAddonCandidates());
  return cached;
}

/** Load the first existing candidate (uncached; loadNative() is what programs use). */
export function loadNativeFrom(candidates: readonly string[]): NativeHelper {
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new TortieError('NATIVE_HELPER_MISSING',
      `the native helper ${ADDON} is not built (looked in ${candidates.join(', ')}): run scripts/build-native.sh ` +
      '(part of scripts/setup.sh) then npm run build, or set TORTIE_NATIVE_ADDON', { where: 'common/native' });
  }
  try {
    return createRequire(import.meta.url)(path) as NativeHelper;
  } catch (err) {
    throw new TortieError('NATIVE_HELPER_MISSING', `cannot load the native helper ${path}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, where: 'common/native' });
  }
}
