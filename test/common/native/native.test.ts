/**
 * common/native: the helper loads (or says how to build it), sets TCP-MD5 / TTL / minimum TTL on
 * real sockets with errors shaped like Node's, and openTun creates a TUN device without packet
 * information inside a network namespace (the packet read from it starts with the IPv4 header).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { sh } from '../../helpers/sh.js';
import { loadNative, loadNativeFrom, nativeAddonCandidates } from '../../../common/native/native.js';
import { TortieError } from '../../../common/errors.js';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';

const built = nativeAddonCandidates().find((p) => existsSync(p));
const skip = built === undefined ? 'the native helper is not built (scripts/build-native.sh)' : undefined;

describe('common/native', () => {
  it('a missing addon is a TortieError naming where it looked and what to run', () => {
    assert.throws(() => loadNativeFrom(['/nonexistent/tortie_native.node']), (e: unknown) =>
      e instanceof TortieError && e.code === 'NATIVE_HELPER_MISSING' && /\/nonexistent\/tortie_native\.node/.test(e.message) && /build-native\.sh/.test(e.message));
  });

  it('TCP-MD5, TTL and minimum TTL on IPv4 and IPv6 sockets; bad arguments and errors are thrown, never fatal', { skip }, () => {
    const n = loadNative();
    for (const [fam, peer, local] of [[4, '192.0.2.1', '127.0.0.1'], [6, '2001:db8::1', '::1'], [6, '192.0.2.1', '::']] as const) {
      const fd = n.tcpSocket(fam);
      try {
        n.setMd5(fd, peer, 'k'.repeat(80));
        n.setMd5(fd, peer, null);
        n.setMd5(fd, peer, null); // clearing twice is fine
        n.setTtl(fd, 1);
        n.setTtl(fd, 255);
        n.setMinTtl(fd, 254);
        n.setMinTtl(fd, 0);
        n.bind(fd, local, 0);
        assert.throws(() => n.setMd5(fd, peer, 'k'.repeat(81)), /1\.\.80 bytes/);
        assert.throws(() => n.setTtl(fd, 0), TypeError);
        assert.throws(() => n.setMinTtl(fd, 256), TypeError);
        if (fam === 4) assert.throws(() => n.setMd5(fd, '2001:db8::1', 'x'), (e: unknown) => (e as { code?: string }).code === 'EAFNOSUPPORT');
        n.setTtlFilter(fd, [{ address: '192.0.2.7', minTtl: 255 }, { address: '2001:db8::7', minTtl: 254 }]);
        n.setTtlFilter(fd, []);
        assert.throws(() => n.setTtlFilter(fd, [{ address: 'nope', minTtl: 1 }]), TypeError);
      } finally { n.close(fd); }
    }
    assert.throws(() => n.setTtl(999_999, 5), (e: unknown) => (e as { code?: string; syscall?: string }).code === 'EBADF');
    assert.throws(() => n.tcpSocket(5 as 4), TypeError);
  });

  it('openTun creates a TUN device without packet information inside a namespace', { skip: skip ?? topologySkipReason('ip', 'ping') }, async () => {
    const topo = new Topology('tun');
    try {
      const ns = topo.ns('a');
      // no IPv6 on the new device: the first packet read is then our ping, not a router solicitation
      topo.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
      // A child in the namespace opens the device and prints the first bytes it reads from it.
      const child = `const n = require(${JSON.stringify(built)}); const fs = require('fs');
        const t = n.openTun('ttun0'); console.log('open ' + t.name);
        const buf = Buffer.alloc(2000); const end = Date.now() + 8000;
        const poll = () => { try { const k = fs.readSync(t.fd, buf, 0, buf.length, null); console.log('packet ' + buf.subarray(0, k).toString('hex')); process.exit(0); }
          catch (e) { if (e.code !== 'EAGAIN' || Date.now() > end) { console.log('error ' + e.code); process.exit(1); } setTimeout(poll, 20); } };
        poll();`;
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', child], { stdio: ['ignore', 'pipe', 'pipe'] });
      topo.defer(() => { p.kill('SIGKILL'); });
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      await pollUntil(() => /open ttun0/.test(out), { what: () => `the child to open the device (${out})` });
      const link = topo.exec(ns, 'ip', ['-d', 'link', 'show', 'ttun0']);
      assert.match(link, /tun type tun pi off/, 'IFF_TUN without IFF_PI');
      assert.doesNotMatch(sh('ip', ['link', 'show']), /ttun0/, 'created in the namespace, not on the host');
      topo.exec(ns, 'ip', ['addr', 'add', '10.98.0.1/24', 'dev', 'ttun0']);
      topo.exec(ns, 'ip', ['link', 'set', 'ttun0', 'up']);
      topo.exec(ns, 'sh', ['-c', 'ping -c1 -W1 10.98.0.2 >/dev/null 2>&1 || true']);
      const m = await pollUntil(() => /packet ([0-9a-f]+)/.exec(out) ?? undefined, { what: () => `a packet from the device (${out})` });
      const hex = m[1] ?? '';
      assert.equal(hex.slice(0, 1), '4', 'the first byte is the IPv4 version nibble: no packet-information header');
      assert.equal(hex.slice(32, 40), '0a620002', 'destination 10.98.0.2');
    } finally { await topo.cleanup(); }
  });
});
