/** The UDP backend's per-packet functions (ipip/udp-packet.ts), against models and checksums. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAddress, parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import { checkInner, decrementTtl, internetChecksum, netUnreachable, RemoteTable, type UdpRemote } from '../../ipip/udp-packet.js';

/** An IPv4 packet with a valid header checksum. */
function ipv4(o: { ttl: number; proto?: number; src?: string; dst?: string; payload?: Uint8Array; tos?: number; id?: number }): Uint8Array {
  const payload = o.payload ?? new Uint8Array(8);
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45; p[1] = o.tos ?? 0; p[2] = p.length >> 8; p[3] = p.length & 0xff;
  p[4] = (o.id ?? 0) >> 8; p[5] = (o.id ?? 0) & 0xff;
  p[8] = o.ttl; p[9] = o.proto ?? 17;
  p.set(parseAddress(o.src ?? '10.244.1.5').bytes, 12);
  p.set(parseAddress(o.dst ?? '10.244.2.7').bytes, 16);
  const c = internetChecksum(p.subarray(0, 20));
  p[10] = c >> 8; p[11] = c & 0xff;
  p.set(payload, 20);
  return p;
}

const ipv6 = (hopLimit: number, payloadLen = 8, src = 'fd00::1', nextHeader = 17): Uint8Array => {
  const p = new Uint8Array(40 + payloadLen);
  p[0] = 0x60; p[4] = payloadLen >> 8; p[5] = payloadLen & 0xff; p[6] = nextHeader; p[7] = hopLimit;
  p.set(parseAddress(src).bytes, 8);
  p.set(parseAddress('fd00::2').bytes, 24);
  return p;
};

test('decrementTtl keeps the IPv4 header checksum valid (RFC 1624) and refuses TTL 0 and 1', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }),
    fc.ipV4(), fc.ipV4(), (ttl, proto, id, tos, src, dst) => {
      const p = ipv4({ ttl, proto, id, tos, src, dst });
      const before = Uint8Array.from(p);
      const ok = decrementTtl(p, 4);
      if (ttl <= 1) { assert.equal(ok, false); assert.deepEqual(p, before); return; }
      assert.equal(ok, true);
      assert.equal(p[8], ttl - 1);
      assert.equal(internetChecksum(p.subarray(0, 20)), 0, 'a valid header sums to zero');
    }));
  const v6 = ipv6(2);
  assert.equal(decrementTtl(v6, 6), true);
  assert.equal(v6[7], 1);
  assert.equal(decrementTtl(v6, 6), false);
});

test('checkInner accepts whole IPv4 and IPv6 packets only', () => {
  const cases: Array<[string, Uint8Array, ReturnType<typeof checkInner>]> = [
    ['IPv4', ipv4({ ttl: 64 }), { ok: true, family: 4 }],
    ['IPv6', ipv6(64), { ok: true, family: 6 }],
    ['empty', new Uint8Array(0), { ok: false, reason: 'short' }],
    ['19 bytes', new Uint8Array(19).fill(0x45), { ok: false, reason: 'short' }],
    ['version 5', Uint8Array.from(ipv4({ ttl: 64 }), (b, i) => (i === 0 ? 0x55 : b)), { ok: false, reason: 'version' }],
    ['IPv4 truncated', ipv4({ ttl: 64 }).subarray(0, 25), { ok: false, reason: 'length' }],
    ['IPv4 with trailing bytes', Uint8Array.from([...ipv4({ ttl: 64 }), 0]), { ok: false, reason: 'length' }],
    ['IPv4 IHL 4', Uint8Array.from(ipv4({ ttl: 64 }), (b, i) => (i === 0 ? 0x44 : b)), { ok: false, reason: 'length' }],
    ['IPv6 payload length wrong', ipv6(64, 8).subarray(0, 44), { ok: false, reason: 'length' }],
    ['IPv6 header only 30 bytes', ipv6(64, 0).subarray(0, 30), { ok: false, reason: 'short' }],
  ];
  for (const [name, p, want] of cases) assert.deepEqual(checkInner(p), want, name);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { checkInner(b); }));
});

test('netUnreachable: ICMP 3/0 (ICMPv6 1/0) back to the sender with valid checksums; never for an ICMP error or a multicast source', () => {
  const orig = ipv4({ ttl: 63, proto: 6, payload: new Uint8Array(100).fill(7) });
  const icmp = netUnreachable(orig, 4, parseAddress('192.168.77.1').bytes);
  assert.ok(icmp !== undefined);
  assert.equal(internetChecksum(icmp.subarray(0, 20)), 0);
  assert.equal(internetChecksum(icmp.subarray(20)), 0);
  assert.deepEqual([icmp[9], icmp[20], icmp[21]], [1, 3, 0]);
  assert.equal(formatAddress(icmp.subarray(12, 16)), '192.168.77.1');
  assert.equal(formatAddress(icmp.subarray(16, 20)), '10.244.1.5');
  assert.deepEqual(icmp.subarray(28), orig.subarray(0, 28), 'the original header and 8 bytes are quoted');
  assert.equal(checkInner(icmp).ok, true);
  // An ICMP error (type 3) is never answered; an echo request is.
  const err = ipv4({ ttl: 63, proto: 1, payload: Uint8Array.from([3, 0, 0, 0, 0, 0, 0, 0]) });
  assert.equal(netUnreachable(err, 4, parseAddress('192.168.77.1').bytes), undefined);
  const echo = ipv4({ ttl: 63, proto: 1, payload: Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0]) });
  assert.ok(netUnreachable(echo, 4, parseAddress('192.168.77.1').bytes) !== undefined);
  assert.equal(netUnreachable(ipv4({ ttl: 9, src: '224.0.0.5' }), 4, parseAddress('192.168.77.1').bytes), undefined);
  assert.equal(netUnreachable(ipv4({ ttl: 9, src: '0.0.0.0' }), 4, parseAddress('192.168.77.1').bytes), undefined);

  const o6 = ipv6(63, 16);
  const i6 = netUnreachable(o6, 6, parseAddress('fd00::99').bytes);
  assert.ok(i6 !== undefined);
  assert.deepEqual([i6[6], i6[40], i6[41]], [58, 1, 0]);
  // ICMPv6 checksum covers the pseudo-header (source, destination, length, next header).
  let pseudo = 0;
  for (let i = 8; i < 40; i += 2) pseudo += ((i6[i] ?? 0) << 8) | (i6[i + 1] ?? 0);
  pseudo += (i6.length - 40) + 58;
  assert.equal(internetChecksum(i6.subarray(40), pseudo), 0);
  assert.equal(checkInner(i6).ok, true);
  assert.equal(netUnreachable(ipv6(9, 8, 'ff02::1'), 6, parseAddress('fd00::99').bytes), undefined);
  assert.equal(netUnreachable(ipv6(9, 8, 'fd00::1', 58).fill(1, 40, 41), 6, parseAddress('fd00::99').bytes), undefined);
});

test('RemoteTable finds the longest matching block, as a linear scan does', () => {
  const v4Remote = fc.record({ addr: fc.ipV4(), len: fc.constantFrom(8, 16, 24, 26, 31, 32), node: fc.ipV4() });
  fc.assert(fc.property(fc.array(v4Remote, { maxLength: 30 }), fc.array(fc.ipV4(), { minLength: 1, maxLength: 30 }), (rs, probes) => {
    const remotes: UdpRemote[] = rs.map((r) => ({ cidr: `${r.addr}/${r.len}`, nodeIp: r.node }));
    const table = new RemoteTable(remotes);
    // Targets: random addresses and the remotes' own addresses (so hits are common).
    for (const dst of [...probes, ...rs.map((r) => r.addr)]) {
      const parsed = remotes.map((r) => ({ p: parsePrefix(r.cidr, { allowHostBits: true }), node: r.nodeIp }));
      const want = parsed.filter((x) => prefixContains(x.p, parseAddress(dst)))
        // Longest wins; among equal prefixes the last one set wins, as Map.set does.
        .reduce<{ len: number; node: string | undefined; key: string }>((best, x) => (x.p.length >= best.len ? { len: x.p.length, node: x.node, key: '' } : best), { len: -1, node: undefined, key: '' }).node;
      assert.equal(table.lookup(ipv4({ ttl: 64, dst }), 4), want === undefined ? undefined : formatAddress(parseAddress(want)), dst);
    }
  }));
  const t6 = new RemoteTable([{ cidr: 'fd00:244::/48', nodeIp: '10.0.0.1' }, { cidr: 'fd00:244:0:1::/64', nodeIp: '10.0.0.2' }]);
  const probe = (dst: string): Uint8Array => { const p = ipv6(64); p.set(parseAddress(dst).bytes, 24); return p; };
  assert.equal(t6.lookup(probe('fd00:244:0:1::5'), 6), '10.0.0.2');
  assert.equal(t6.lookup(probe('fd00:244:0:2::5'), 6), '10.0.0.1');
  assert.equal(t6.lookup(probe('fd00:245::1'), 6), undefined);
});
