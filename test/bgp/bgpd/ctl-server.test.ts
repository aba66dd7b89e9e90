/** The control socket never crashes on bad input and answers with errors that say what is wrong. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, connect, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/logger.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import { resolveGroup, startCtlServer } from '../../../bgp/bgpd/ctl-server.js';

const CTL = new URL('../../../bgp/bgpd/tortie-bgpctl.cjs', import.meta.url).pathname;

function ask(path: string, line: string): Promise<{ ok: boolean; data?: unknown; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', reject);
    s.on('connect', () => s.write(line));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) { s.end(); resolve(JSON.parse(buf.slice(0, nl)) as { ok: boolean; data?: unknown; error?: string }); }
    });
  });
}

describe('bgpd control server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-ctl-'));
  const path = join(dir, 'bgpd.ctl');
  let server: Server;
  let oldUmask = 0o022;
  const speaker = new BgpSpeaker({
    clock: systemClock, logger: silentLogger(),
    connect: (o) => connect({ host: o.host, port: o.port }),
    listen: () => Promise.reject(new Error('not used')),
  }, { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port: 0 }, peers: [] });

  // asynchronously: the server runs in this process
  const bgpctl = (...args: string[]) => new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CTL, '-s', path, ...args], { encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });

  before(async () => {
    oldUmask = process.umask(0); // the mode must not come from the umask
    await speaker.start();
    speaker.originate('10.1.0.0/24');
    server = await startCtlServer(path, { speaker: () => speaker, reload: () => { throw new Error('no config file'); }, startedAt: 0, now: () => 1 }, silentLogger());
  });
  after(async () => {
    process.umask(oldUmask);
    await speaker.stop();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the socket is 0600 whatever the umask; --ctl-group makes it 0660 for that group', async () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const old = process.umask(0);
    const other = join(dir, 'grp.ctl');
    let srv: Server | undefined;
    try {
      srv = await startCtlServer(other, { speaker: () => speaker, reload: () => undefined, startedAt: 0, now: () => 1 }, silentLogger(), { group: 4242 });
      assert.equal(statSync(other).mode & 0o777, 0o660);
      assert.equal(statSync(other).gid, 4242);
    } finally {
      process.umask(old);
      const s = srv;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    }
    writeFileSync(join(dir, 'group'), 'root:x:0:\nbgp:x:4243:alice\n');
    assert.equal(resolveGroup('bgp', join(dir, 'group')), 4243);
    assert.equal(resolveGroup('77', join(dir, 'group')), 77);
    assert.throws(() => resolveGroup('nobody-here', join(dir, 'group')), /--ctl-group: no group "nobody-here"/);
  });

  it('answers well-formed requests', async () => {
    assert.deepEqual(await ask(path, '{"cmd":"show-protocols"}\n'), { ok: true, data: [] });
    const routes = await ask(path, '{"cmd":"show-route","prefix":"10.1.0.0/24"}\n');
    assert.equal((routes.data as Array<{ prefix: string; best: boolean }>)[0]?.best, true);
    assert.deepEqual((await ask(path, '{"cmd":"show-status"}\n')).data, { routerId: '10.0.0.1', asn: 65001, ready: true, reason: 'no BGP peers configured' });
  });

  it('show-bfd-sessions: [] without BFD; answers in request order when one of them is asynchronous', async () => {
    assert.deepEqual(await ask(path, '{"cmd":"show-bfd-sessions"}\n'), { ok: true, data: [] });
    const lines = await new Promise<string[]>((resolve, reject) => {
      const s = createConnection(path);
      let buf = '';
      s.setEncoding('utf8');
      s.on('error', reject);
      s.on('connect', () => s.write('{"cmd":"show-bfd-sessions"}\n{"cmd":"show-status"}\nnot json\n'));
      s.on('data', (d: string) => { buf += d; const l = buf.split('\n'); if (l.length > 3) { s.end(); resolve(l.slice(0, 3)); } });
    });
    assert.deepEqual(lines.map((l) => Object.keys(JSON.parse(l) as object).join()), ['ok,data', 'ok,data', 'ok,error']);
    assert.deepEqual((JSON.parse(lines[0] ?? '') as { data: unknown }).data, []);
  });

  it('show-route streams a long list as "more" lines (bounded batches), then a last line; show-route-count from counters', async () => {
    for (let i = 0; i < 1500; i++) speaker.originate(`10.200.${i >> 8}.${i & 255}/32`);
    try {
      const lines = await new Promise<Array<{ ok: boolean; data: Array<{ prefix: string }>; more?: boolean }>>((resolve, reject) => {
        const s = createConnection(path);
        let buf = '';
        const got: Array<{ ok: boolean; data: Array<{ prefix: string }>; more?: boolean }> = [];
        s.setEncoding('utf8');
        s.on('error', reject);
        s.on('connect', () => s.write('{"cmd":"show-route"}\n'));
        s.on('data', (d: string) => {
          buf += d;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const l = JSON.parse(buf.slice(0, nl)) as { ok: boolean; data: Array<{ prefix: string }>; more?: boolean };
            buf = buf.slice(nl + 1);
            got.push(l);
            if (l.more !== true) { s.end(); resolve(got); }
          }
        });
      });
      assert.ok(lines.length >= 5, `${lines.length} lines`);
      assert.ok(lines.slice(0, -1).every((l) => l.ok && l.more === true && l.data.length <= 256));
      assert.equal(lines.at(-1)?.more, undefined);
      const all = lines.flatMap((l) => l.data.map((r) => r.prefix));
      assert.equal(all.length, 1501);
      assert.equal(all[0], '10.1.0.0/24');
      assert.deepEqual((await ask(path, '{"cmd":"show-route-count"}\n')).data, { routes: 1501, best: 1501, networks: 1501, ipv4: 1501, ipv6: 0, networks4: 1501, networks6: 0 });
      const one = await ask(path, '{"cmd":"show-route","for":"10.1.0.77"}\n');
      assert.deepEqual((one.data as Array<{ prefix: string }>).map((r) => r.prefix), ['10.1.0.0/24']);

      // the real client prints the stream as it comes: text, and JSON as one array
      const text = (await bgpctl('show', 'route'));
      assert.equal(text.stdout.split('\n').filter((l) => / static \[local /.test(l)).length, 1501);
      assert.equal(text.stdout.split('\n').filter((l) => l === 'Table master4:').length, 1, 'one table header across batches');
      const json = JSON.parse((await bgpctl('-o', 'json', 'show', 'route')).stdout) as Array<{ prefix: string }>;
      assert.equal(json.length, 1501);
      assert.equal(json[1500]?.prefix, '10.200.5.219/32');
      assert.match((await bgpctl('show', 'route', 'for', '10.200.0.3')).stdout, /^10\.200\.0\.3\/32 +static \[local /m);
      assert.match((await bgpctl('show', 'route', 'count')).stdout, /^1501 of 1501 routes for 1501 networks \(1501 IPv4, 0 IPv6\)$/m);
      const bad = (await bgpctl('show', 'route', 'export', 'nobody'));
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /no such peer "nobody"/);
    } finally {
      for (let i = 0; i < 1500; i++) speaker.withdraw(`10.200.${i >> 8}.${i & 255}/32`);
    }
  });

  it('reports bad input precisely and keeps serving', async () => {
    assert.deepEqual(await ask(path, 'not json\n'), { ok: false, error: 'request is not JSON' });
    assert.deepEqual(await ask(path, '{"cmd":"explode"}\n'), { ok: false, error: 'unknown command "explode"' });
    assert.deepEqual(await ask(path, '{"cmd":"enable"}\n'), { ok: false, error: 'enable needs "name"' });
    assert.match((await ask(path, '{"cmd":"restart","name":"x"}\n')).error ?? '', /no such peer "x" \(peers: none\)/);
    assert.match((await ask(path, '{"cmd":"show-route","prefix":"10.1.0.0/99"}\n')).error ?? '', /invalid IP address or prefix "10\.1\.0\.0\/99"/);
    assert.match((await ask(path, '{"cmd":"show-route","export":"x"}\n')).error ?? '', /no such peer "x"/);
    assert.deepEqual(await ask(path, '{"cmd":"reload"}\n'), { ok: false, error: 'no config file' });
    assert.match((await ask(path, 'x'.repeat(70_000))).error ?? '', /longer than 64 KiB/);
    assert.equal((await ask(path, '{"cmd":"show-protocols"}\n')).ok, true);
  });
});
