/** rt-codec and nlattr: byte-level encodings the `netlink` package leaves raw, checked both ways. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rt } from 'netlink';
import { decodeMultipath, encodeMultipath, encodeLinkSpec, encodeRoute, decodeRoute, decodeLink, encodeRoutePayload, decodeRoutePayload, routeFingerprint } from '../../../felix/netlink/rt-codec.js';
import { decodeAttrs, encodeAttrs } from '../../../felix/netlink/nlattr.js';
import { RequestQueue } from '../../../felix/netlink/request-queue.js';
import { NetlinkError, errnoOf } from '../../../felix/netlink/netlink-error.js';
import type { KernelRoute } from '../../../felix/netlink/types.js';

test('RTA_MULTIPATH: two onlink next hops, field by field', () => {
  const buf = encodeMultipath(4, [{ ifindex: 3, gateway: '10.0.0.2', onlink: true }, { ifindex: 4, gateway: '10.0.0.3', onlink: false, weight: 2 }]);
  assert.deepEqual([...buf], [
    16, 0, /* rtnh_len */ 4, /* RTNH_F_ONLINK */ 0, /* hops (weight−1) */ 3, 0, 0, 0, /* ifindex */
    8, 0, 5, 0, /* RTA_GATEWAY */ 10, 0, 0, 2,
    16, 0, 0, 1, 4, 0, 0, 0, 8, 0, 5, 0, 10, 0, 0, 3,
  ]);
  assert.deepEqual(decodeMultipath(buf), [{ ifindex: 3, gateway: '10.0.0.2', onlink: true, weight: 1 }, { ifindex: 4, gateway: '10.0.0.3', onlink: false, weight: 2 }]);
});

test('vxlan link request: VNI, big-endian port, learning off, parent and local', () => {
  const { attrs } = encodeLinkSpec({ type: 'vxlan', name: 'vxlan.calico', mac: '66:00:00:00:00:01', mtu: 1450,
    vxlan: { vni: 4096, port: 4789, local: '192.168.1.1', parentIndex: 2, learning: false } });
  const info = decodeAttrs(attrs.linkinfo ?? Buffer.alloc(0));
  const data = decodeAttrs(info.find((a) => a.type === 2)?.value ?? new Uint8Array());
  const get = (t: number): number[] => [...(data.find((a) => a.type === t)?.value ?? [])];
  assert.deepEqual(get(1), [0, 16, 0, 0]); // IFLA_VXLAN_ID 4096, host order
  assert.deepEqual(get(15), [0x12, 0xb5]); // IFLA_VXLAN_PORT 4789, network order
  assert.deepEqual(get(7), [0]); // learning off
  assert.deepEqual(get(3), [2, 0, 0, 0]);
  assert.deepEqual(get(4), [192, 168, 1, 1]);
  assert.deepEqual([...(attrs.address ?? [])], [0x66, 0, 0, 0, 0, 1]);
  // And the decode side reads back what the kernel would report.
  const link = decodeLink({ data: { index: 9, flags: { up: true } }, attrs: { ifname: 'vxlan.calico', mtu: 1450, linkinfo: attrs.linkinfo ?? Buffer.alloc(0) } });
  assert.deepEqual(link.vxlan, { vni: 4096, port: 4789, learning: false, local: '192.168.1.1', parentIndex: 2 });
});

test('routes round-trip through the package structs (property)', () => {
  const arbRoute: fc.Arbitrary<KernelRoute> = fc.record({
    len: fc.integer({ min: 0, max: 32 }), a: fc.integer({ min: 0, max: 0xffffffff }), metric: fc.integer({ min: 0, max: 5000 }),
    kind: fc.constantFrom('blackhole', 'dev', 'gw', 'ecmp'), ifindex: fc.integer({ min: 1, max: 99 }), table: fc.constantFrom(254, 100, 1000),
  }).map(({ len, a, metric, kind, ifindex, table }) => {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const n = (a & mask) >>> 0;
    const dst = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${len}`;
    const base = { family: 4 as const, dst, table, protocol: 80, metric };
    switch (kind) {
      case 'blackhole': return { ...base, type: 'blackhole', scope: 'universe', onlink: false };
      case 'dev': return { ...base, type: 'unicast', scope: 'link', onlink: false, ifindex };
      case 'gw': return { ...base, type: 'unicast', scope: 'universe', onlink: true, ifindex, gateway: '192.168.0.1' };
      default: return { ...base, type: 'unicast', scope: 'universe', onlink: false,
        nexthops: [{ ifindex, gateway: '192.168.0.1', onlink: true, weight: 1 }, { ifindex, gateway: '192.168.0.2', onlink: false, weight: 3 }] };
    }
  });
  fc.assert(fc.property(arbRoute, (r) => {
    const { data, attrs } = encodeRoute(r);
    assert.deepEqual(decodeRoute({ data, attrs }), r);
    // The bulk path's hand-written encoder, parsed by the package's decoder as the oracle.
    assert.deepEqual(decodeRoutePayload(encodeRoutePayload(r, false)), r);
    assert.equal(decodeRoutePayload(encodeRoutePayload(r, false), 4), undefined, 'other protocol skipped');
    const msg = rt.parseMessage(24, encodeRoutePayload(r, false));
    assert.equal(msg.kind, 'route');
    if (msg.kind === 'route') assert.deepEqual(decodeRoute(msg), r);
    const del = rt.parseMessage(25, encodeRoutePayload(r, true));
    if (del.kind === 'route') {
      const d = decodeRoute(del);
      assert.deepEqual([d?.dst, d?.table, d?.metric, d?.protocol, d?.scope, d?.ifindex], [r.dst, r.table, r.metric, r.protocol, 'nowhere', undefined]);
    }
  }));
});

test('nlattr: arbitrary bytes never throw; encode/decode round-trip', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => { decodeAttrs(b); }));
  fc.assert(fc.property(fc.array(fc.record({ type: fc.integer({ min: 1, max: 0x7fff }), value: fc.uint8Array({ maxLength: 20 }) })), (attrs) => {
    const back = decodeAttrs(encodeAttrs(attrs)).map((a) => ({ type: a.type, value: Uint8Array.from(a.value) }));
    assert.deepEqual(back, attrs.map((a) => ({ type: a.type, value: Uint8Array.from(a.value) })));
  }));
});

test('RequestQueue bounds requests in flight', async () => {
  const q = new RequestQueue(3);
  let max = 0;
  await Promise.all(Array.from({ length: 20 }, () => q.run(async () => {
    max = Math.max(max, q.inFlight);
    await new Promise((r) => setImmediate(r));
  })));
  assert.equal(max, 3);
  assert.throws(() => new RequestQueue(0), /positive integer/);
});

test('NetlinkError names the object, the errno and what to do', () => {
  const e = new NetlinkError('replace', 'route 10.0.0.0/26 dev #7', 'ENODEV');
  assert.match(e.message, /replace route 10\.0\.0\.0\/26 dev #7 failed: ENODEV \(the interface does not exist/);
  assert.equal(errnoOf(new Error('Request rejected: EEXIST')), 'EEXIST');
  assert.equal(errnoOf(e), 'ENODEV');
});

test('routeFingerprint: equal for the same route message, different for any changed byte, blind to RTA_CACHEINFO only', () => {
  const r: KernelRoute = { family: 6, dst: 'fd00:65::/122', table: 254, protocol: 80, type: 'unicast', scope: 'universe', metric: 1024, onlink: false, ifindex: 3, gateway: 'fd00:60::2' };
  const base = encodeRoutePayload(r, false);
  const fp = (b: Buffer): string => { const o = { h1: 0, h2: 0 }; routeFingerprint(b, 0, b.length, o); return `${o.h1}/${o.h2}`; };
  // RTA_CACHEINFO (type 12, 32 bytes of counters), as the kernel appends to IPv6 routes.
  const withCache = (fill: number): Buffer => { const a = Buffer.alloc(36, fill); a.writeUInt16LE(36, 0); a.writeUInt16LE(12, 2); return Buffer.concat([base, a]); };
  assert.equal(fp(withCache(1)), fp(withCache(2)), 'counters do not count');
  const seen = new Set<string>([fp(base)]);
  for (let i = 0; i < base.length; i++) {
    const b = Buffer.from(base);
    b[i] = (b[i]! + 1) & 0xff;
    seen.add(fp(b));
  }
  assert.equal(seen.size, base.length + 1, 'every one-byte change gives another fingerprint');
  // At an offset inside a larger datagram, as the dump hands it.
  const dg = Buffer.concat([Buffer.alloc(20, 7), base]);
  const o = { h1: 0, h2: 0 };
  routeFingerprint(dg, 20, dg.length, o);
  assert.equal(`${o.h1}/${o.h2}`, fp(base));
});
