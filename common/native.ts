/**
 * The native helper (common/native/*.c): the system calls Node.js does not expose. Built by
 * scripts/setup.sh and the Dockerfile with node-gyp from the Node headers on the machine; loaded
 * lazily so that code paths which never need it run without it, and a missing build is a clear
 * error naming the command that makes it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TortieError } from './errors.js';

export interface NativeHelper {
  /** Create (or attach to) TUN device `name` without packet information; a non-blocking fd. */
  openTun(name: string): number;
  /** Poll `fd` on the calling thread's event loop; each wake-up hands over every queued packet. Returns close(). */
  readTun(fd: number, onPackets: (err: Error | null, packets: Buffer[]) => void): () => void;
}

const ADDON = 'tortie_native.node';
let loaded: NativeHelper | undefined;

/** Where the built addon may sit: TORTIE_NATIVE, beside a bundle, or the source tree's build dir. */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const env = process.env['TORTIE_NATIVE'];
  return [
    ...(env === undefined ? [] : [env]),
    join(here, ADDON),
    join(here, '..', '..', 'common', 'native', 'build', 'Release', ADDON),
    join(here, '..', 'common', 'native', 'build', 'Release', ADDON),
  ];
}

export function nativeHelper(): NativeHelper {
  if (loaded !== undefined) return loaded;
  const path = candidates().find((p) => existsSync(p));
  if (path === undefined) {
    throw new TortieError('native-helper-missing', `the native helper ${ADDON} is not built (looked in ${candidates().join(', ')}); run scripts/setup.sh`);
  }
  loaded = createRequire(import.meta.url)(path) as NativeHelper;
  return loaded;
}
