/**
 * A real etcd (Debian etcd-server 3.4) for tests: free loopback ports, a temp data dir, health
 * polled with a deadline, and `stop()` kills exactly the PID it started and removes the dir.
 * `restart()` stops and starts the same member (same dir and ports) to test reconnects.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, Proc, trySh } from './sh.js';
import { pollUntil } from './poll.js';

export function etcdSkipReason(): string | undefined {
  return hasCommand('etcd') && hasCommand('etcdctl') ? undefined : 'etcd/etcdctl not installed (Debian etcd-server, etcd-client)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Server-side TLS for etcd: with `caFile`, clients must present a certificate signed by it. */
export interface EtcdTls { readonly certFile: string; readonly keyFile: string; readonly caFile: string }

export class EtcdServer {
  private proc: Proc | undefined;
  private constructor(readonly dir: string, readonly clientPort: number, readonly peerPort: number, readonly tls?: EtcdTls,
    private readonly clientTls?: { cert: string; key: string }) {}

  get endpoint(): string { return `${this.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.clientPort}`; }
  get pid(): number | undefined { return this.proc?.pid; }

  /** `tls` + `clientTls` (a certificate etcdctl uses for health checks) for a mutual-TLS member. */
  static async start(options: { tls?: EtcdTls; clientTls?: { cert: string; key: string } } = {}): Promise<EtcdServer> {
    const dir = mkdtempSync(join(tmpdir(), 'tortie-etcd-'));
    const srv = new EtcdServer(dir, await freePort(), await freePort(), options.tls, options.clientTls);
    try {
      await srv.launch();
    } catch (err) {
      await srv.stop();
      throw err;
    }
    return srv;
  }

  private async launch(): Promise<void> {
    const client = this.endpoint;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.proc = new Proc('etcd', ['--name', 'tortie-test', '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `tortie-test=${peer}`, '--log-level', 'error',
      ...(this.tls === undefined ? [] : ['--cert-file', this.tls.certFile, '--key-file', this.tls.keyFile,
        '--trusted-ca-file', this.tls.caFile, '--client-cert-auth'])]);
    const proc = this.proc;
    await pollUntil(async () => {
      if (proc.exited) throw new Error(`etcd exited: ${proc.output.slice(-500)}`);
      if (this.tls !== undefined) {
        try { this.ctl(['endpoint', 'health']); return true; } catch { return false; }
      }
      const res = await fetch(`${client}/health`).catch(() => undefined);
      if (res === undefined) return false;
      const body = await res.json().catch(() => ({})) as { health?: string };
      return body.health === 'true';
    }, { timeoutMs: 20_000, what: 'etcd health' });
  }

  /** etcdctl against this member; throws on failure. */
  ctl(args: readonly string[]): string {
    const tlsArgs = this.tls === undefined ? [] : ['--cacert', this.tls.caFile,
      ...(this.clientTls === undefined ? [] : ['--cert', this.clientTls.cert, '--key', this.clientTls.key])];
    const r = trySh('etcdctl', ['--endpoints', this.endpoint, ...tlsArgs, ...args]);
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Current head revision of the store. */
  headRevision(): number {
    const out = JSON.parse(this.ctl(['endpoint', 'status', '-w', 'json'])) as Array<{ Status: { header: { revision: number } } }>;
    return out[0]?.Status.header.revision ?? 0;
  }

  async restart(): Promise<void> {
    await this.proc?.stop('SIGTERM');
    await this.launch();
  }

  /** Stop the process only (keep the data), for outage tests. */
  async kill(): Promise<void> { await this.proc?.stop('SIGTERM'); }
  async resume(): Promise<void> { await this.launch(); }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A throw-away PKI made with openssl: `ca`, a server certificate for 127.0.0.1, a client
 * certificate (CN=root), and a second, untrusted CA with its own client certificate.
 */
export function makeTestPki(dir: string): Record<'caCert' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCaCert' | 'rogueClientCert' | 'rogueClientKey', string> {
  const p = (n: string): string => join(dir, n);
  const run = (args: string[]): void => {
    const r = trySh('openssl', args);
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  const ca = (name: string): void => run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`)]);
  const leaf = (name: string, caName: string, ext: string): void => {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name === 'server' ? '127.0.0.1' : 'root'}`,
      '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), ext);
    run(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`), '-CAcreateserial',
      '-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)]);
  };
  ca('ca'); ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  return { caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key'),
    rogueCaCert: p('rogue-ca.crt'), rogueClientCert: p('rogue-client.crt'), rogueClientKey: p('rogue-client.key') };
}

/** A loopback TCP proxy that can cut every connection and refuse new ones, to simulate a partition. */
export class TcpProxy {
  private server: import('node:net').Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  private constructor(readonly port: number, private readonly target: number) {}

  get endpoint(): string { return `http://127.0.0.1:${this.port}`; }

  static async start(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), targetPort);
    await p.up();
    return p;
  }

  async up(): Promise<void> {
    const { createServer: create, connect } = await import('node:net');
    const server = create((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client); this.sockets.add(upstream);
      const drop = (): void => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
      client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop);
      client.pipe(upstream); upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', () => resolve()); });
  }

  /** Refuse new connections and reset the existing ones. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
  }
}
