/** Mounted Secrets (`<dir>/<secret>/<key>`, the layout of a secret volume with its ..data symlinks). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountedSecretReader } from '../../../agent/node/mounted-secrets.js';
import { nodeConfigFromEnv } from '../../../agent/node/config.js';

describe('mounted Secrets', () => {
  it('reads a key through the ..data symlink, byte for byte; errors name the file and never the value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-secrets-'));
    try {
      const sec = join(dir, 'bgp-tor');
      mkdirSync(join(sec, '..2026_data'), { recursive: true });
      writeFileSync(join(sec, '..2026_data', 'password'), 'pa ss\n');
      symlinkSync('..2026_data', join(sec, '..data'));
      symlinkSync('..data/password', join(sec, 'password'));
      const read = mountedSecretReader(dir);
      assert.equal(read('bgp-tor', 'password'), 'pa ss\n');
      assert.throws(() => read('bgp-tor', 'nope'), (e: unknown) => e instanceof Error && e.message.includes(join(sec, 'nope')) && /mount Secret bgp-tor/.test(e.message));
      assert.throws(() => read('../etc', 'passwd'), /not a valid Secret name/);
      assert.throws(() => read('bgp-tor', '..'), /not a valid Secret key/);
      assert.throws(() => read('bgp-tor', 'a/b'), /not a valid Secret key/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('TORTIE_SECRETS_DIR sets the directory (default /etc/tortie/secrets)', () => {
    assert.equal(nodeConfigFromEnv({ NODENAME: 'n1' }).secretsDir, '/etc/tortie/secrets');
    assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', TORTIE_SECRETS_DIR: '/run/s' }).secretsDir, '/run/s');
  });
});
