/**
 * Kubernetes Secrets as a DaemonSet mounts them: one directory per Secret, one file per key
 * (`<dir>/<secret name>/<key>`, the layout of a `secret` volume; the files are symlinks into
 * `..data/`, swapped atomically when the Secret changes, so a read sees the old or the new value).
 * Calico reads BGP passwords through the API server; tortie-node reads only what is mounted, so
 * it needs no RBAC on Secrets. Values are returned byte for byte (a trailing newline is part of
 * the password, as in the Secret) and never logged: errors name the Secret, key and file only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretReader } from '../calc/bgp-peers.js';

/** Where tortie-node looks unless TORTIE_SECRETS_DIR says otherwise. */
export const DEFAULT_SECRETS_DIR = '/etc/tortie/secrets';

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export function mountedSecretReader(dir: string): SecretReader {
  return (name, key) => {
    // Names come from BGPPeer resources: never let one walk out of the secrets directory.
    if (!SECRET_NAME.test(name)) throw new Error(`${JSON.stringify(name)} is not a valid Secret name`);
    if (!SECRET_KEY.test(key) || key === '.' || key === '..') throw new Error(`${JSON.stringify(key)} is not a valid Secret key`);
    const file = join(dir, name, key);
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(code === 'ENOENT'
        ? `${file} does not exist: mount Secret ${name} at ${join(dir, name)} (a secret volume) in the tortie-node DaemonSet`
        : `cannot read ${file} (${code})`);
    }
  };
}
