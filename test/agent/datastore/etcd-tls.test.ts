/**
 * Mutual TLS to a real etcd (--client-cert-auth) with a throw-away openssl PKI (robustness.md
 * §6.4, E9): the right CA + client certificate works, through the library and through
 * tortiectl's ETCD_* variables; no client certificate, a wrong CA, or a certificate from an
 * untrusted CA is refused with a clear error; https without a CA is refused up front.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdServer, etcdSkipReason, makeTestPki } from '../../helpers/etcd.js';
import { hasCommand } from '../../helpers/sh.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { etcdConfigFromEnv } from '../../../agent/datastore/datastore-config.js';
import { isDatastoreError } from '../../../agent/datastore/errors.js';
import { silentLogger } from '../../../common/logger.js';

const skip = etcdSkipReason() ?? (hasCommand('openssl') ? undefined : 'openssl not installed');
const logger = silentLogger();
const MAIN = new URL('../../../agent/ctl/main.js', import.meta.url).pathname;

describe('etcd mutual TLS', { skip }, () => {
  let dir: string;
  let pki: ReturnType<typeof makeTestPki>;
  let etcd: EtcdServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tortie-pki-'));
    pki = makeTestPki(dir);
    etcd = await EtcdServer.start({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
      clientTls: { cert: pki.clientCert, key: pki.clientKey } });
  });
  after(async () => {
    await etcd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the right CA and client certificate (from ETCD_* variables) work', async () => {
    const cfg = etcdConfigFromEnv({ DATASTORE_TYPE: 'etcdv3', ETCD_ENDPOINTS: etcd.endpoint, ETCD_CA_CERT_FILE: pki.caCert,
      ETCD_CERT_FILE: pki.clientCert, ETCD_KEY_FILE: pki.clientKey });
    const store = await EtcdKvStore.connect(cfg, { logger });
    try {
      await store.create('/t/tls/k', 'v');
      assert.equal((await store.get('/t/tls/k'))?.value, 'v');
    } finally { await store.close(); }
  });

  const refused: Array<[string, () => { caCertFile: string; certFile?: string; keyFile?: string }, RegExp]> = [
    ['no client certificate', () => ({ caCertFile: pki.caCert }), /etcd refused our client certificate/],
    ['a CA that did not sign the server', () => ({ caCertFile: pki.rogueCaCert, certFile: pki.clientCert, keyFile: pki.clientKey }), /cannot verify etcd's server certificate/],
    ['a client certificate from an untrusted CA', () => ({ caCertFile: pki.caCert, certFile: pki.rogueClientCert, keyFile: pki.rogueClientKey }), /etcd refused our client certificate/],
  ];
  for (const [what, tls, reason] of refused) {
    it(`refused: ${what}`, async () => {
      const store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint], requestTimeoutMs: 3000, ...tls() }, { logger });
      try {
        await assert.rejects(store.get('/t/tls/k'), (e: unknown) => isDatastoreError(e) && e.code === 'unavailable'
          && e.message.startsWith(`etcd (${etcd.endpoint}) get /t/tls/k: `) && reason.test(e.message));
      } finally { await store.close(); }
    });
  }

  it('https without a CA file is refused before connecting (no plaintext or system-CA fallback)', async () => {
    await assert.rejects(EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger }), (e: unknown) => isDatastoreError(e, 'invalid') && /ETCD_CA_CERT_FILE/.test(e.message));
    assert.throws(() => etcdConfigFromEnv({ ETCD_ENDPOINTS: etcd.endpoint, ETCD_CERT_FILE: pki.clientCert }), /both the certificate and the key/);
  });

  it('tortiectl connects with the ETCD_* TLS variables', async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, 'get', 'ippools', '-o', 'json'], { env: { PATH: process.env['PATH'] ?? '', ETCD_ENDPOINTS: etcd.endpoint,
        ETCD_CA_CERT_FILE: pki.caCert, ETCD_CERT_FILE: pki.clientCert, ETCD_KEY_FILE: pki.clientKey } },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }));
    });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual((JSON.parse(out.stdout) as { items: unknown[] }).items, []);
  });
});
