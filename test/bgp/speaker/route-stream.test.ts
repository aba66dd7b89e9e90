/**
 * The route views as a stream (route-stream.ts): in slices that yield to the event loop, in
 * network order, in batches that wait for the consumer, correct while the table changes under
 * the walk; `show route count` from counters; `show route for` (longest match); `show route
 * export`; a route's age from its arrival. Slicing is asserted by counting yields with a fake
 * clock, not by timing (bench/ctl measures the stalls).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../helpers/poll.js';
import { tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { parsePrefix } from '../../../common/prefix.js';
import { BgpSpeaker, type RouteView } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig } from '../../../bgp/speaker/peer-config.js';
import type { RouteQuery } from '../../../bgp/speaker/route-stream.js';
import { attributesView } from '../../../bgp/speaker/views.js';

const basePort = 21000 + (process.pid % 20000);

function localSpeaker(): BgpSpeaker {
  return new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port: 0 }, peers: [] });
}

/** Network order as birdc prints it: IPv4 before IPv6, then address bytes, then length. */
function networkKey(text: string): string {
  const p = parsePrefix(text);
  return `${p.family}|${Array.from(p.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}|${String(p.length).padStart(3, '0')}`;
}

async function collect(sp: BgpSpeaker, q: RouteQuery, opts: { slices?: { n: number }; onYield?: () => void; batch?: number } = {}): Promise<{ views: RouteView[]; batches: number[] }> {
  const views: RouteView[] = [];
  const batches: number[] = [];
  let busy = false;
  let t = 0;
  await sp.streamRoutes(q, async (b) => {
    assert.equal(busy, false, 'the stream waits for the sink before the next batch');
    busy = true;
    batches.push(b.length);
    views.push(...b);
    await new Promise((r) => setImmediate(r));
    busy = false;
  }, {
    sliceMs: 3, batch: opts.batch ?? 100, now: () => t++,
    onYield: () => { if (opts.slices) opts.slices.n++; opts.onYield?.(); },
  });
  return { views, batches };
}

describe('route views as a stream', () => {
  it('walks the whole table in slices, in network order, in bounded batches', async () => {
    const sp = localSpeaker();
    await sp.start();
    try {
      const want: string[] = [];
      for (let i = 0; i < 3000; i++) { const p = `10.${i >> 8}.${i & 255}.0/24`; sp.originate(p); want.push(p); }
      for (let i = 1; i <= 40; i++) { const p = `2001:db8:${i.toString(16)}::/48`; sp.originate(p); want.push(p); }
      sp.originate('10.0.0.0/8'); want.push('10.0.0.0/8');
      const slices = { n: 0 };
      const { views, batches } = await collect(sp, { type: 'table' }, { slices });
      assert.ok(slices.n >= 20, `yielded to the event loop ${slices.n} times`);
      assert.ok(batches.every((n) => n <= 100), 'batches of at most the batch size');
      assert.deepEqual(views.map((v) => v.prefix), [...want].sort((a, b) => (networkKey(a) < networkKey(b) ? -1 : 1)));
      assert.equal(views[0]?.prefix, '10.0.0.0/8');
      assert.equal(views.at(-1)?.prefix, '2001:db8:28::/48');
    } finally { await sp.stop(); }
  });

  it('stays right while the table changes under the walk: no duplicates after a resize, removed prefixes skipped', async () => {
    const sp = localSpeaker();
    await sp.start();
    try {
      for (let i = 0; i < 2000; i++) sp.originate(`10.1.${i >> 8}.${i & 255}/32`);
      let grown = false;
      const { views } = await collect(sp, { type: 'table' }, {
        onYield: () => {
          if (grown) return;
          grown = true;
          // enough new keys to resize the table (entries move between slots), and some removed
          for (let i = 0; i < 20_000; i++) sp.originate(`10.2.${i >> 8}.${i & 255}/32`);
          for (let i = 1000; i < 2000; i++) sp.withdraw(`10.1.${i >> 8}.${i & 255}/32`);
        },
      });
      assert.ok(grown, 'the table changed during the walk');
      const seen = views.map((v) => v.prefix);
      assert.equal(new Set(seen).size, seen.length, 'no prefix twice');
      for (let i = 0; i < 1000; i++) assert.ok(seen.includes(`10.1.${i >> 8}.${i & 255}/32`), `10.1.${i >> 8}.${i & 255}/32 kept throughout is listed`);
      assert.ok(!seen.includes('10.1.7.208/32'), 'a prefix withdrawn before its turn is not listed');
      const sorted = [...seen].sort((a, b) => (networkKey(a) < networkKey(b) ? -1 : 1));
      assert.deepEqual(seen, sorted, 'still in network order');
    } finally { await sp.stop(); }
  });

  it('show route count from counters, per family; show route for: the longest match', async () => {
    const sp = localSpeaker();
    await sp.start();
    try {
      for (const p of ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '2001:db8::/32', '2001:db8:1::/48']) sp.originate(p);
      assert.deepEqual(sp.routeCount(), { routes: 5, best: 5, networks: 5, ipv4: 3, ipv6: 2, networks4: 3, networks6: 2 });
      sp.withdraw('10.1.0.0/16');
      assert.deepEqual(sp.routeCount(), { routes: 4, best: 4, networks: 4, ipv4: 2, ipv6: 2, networks4: 2, networks6: 2 });
      const match = async (a: string) => (await collect(sp, { type: 'for', address: a })).views.map((v) => v.prefix);
      assert.deepEqual(await match('10.1.2.3'), ['10.1.2.0/24']);
      assert.deepEqual(await match('10.1.9.9'), ['10.0.0.0/8']);
      assert.deepEqual(await match('11.0.0.1'), []);
      assert.deepEqual(await match('2001:db8:1::5'), ['2001:db8:1::/48']);
      assert.deepEqual(await match('2001:db8:2::5'), ['2001:db8::/32']);
      await assert.rejects(collect(sp, { type: 'for', address: '10.1.2' }), /invalid/i);
    } finally { await sp.stop(); }
  });
});

describe('route attributes in the views, formatted by the wire codec', () => {
  it('ORIGINATOR_ID, CLUSTER_LIST, AS_SET braces, (extended, large) communities, aggregator, unknown attributes', () => {
    const v = attributesView({
      origin: 0, asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [65010, 65011] }], originatorId: 0x0a000009, clusterList: [0x0a000001, 0x0a000002],
      communities: [(65001 << 16) | 7, 0xffffff01], extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xe8, 0, 0, 0, 100)],
      largeCommunities: [{ globalAdmin: 65000, localData1: 1, localData2: 2 }], atomicAggregate: true,
      aggregator: { asn: 65009, address: Uint8Array.of(10, 0, 0, 9) }, unknown: [{ typeCode: 99, flags: 0xc0, value: Uint8Array.of(10, 11) }],
    });
    assert.equal(v.asPathText, '65001 {65010,65011}');
    assert.deepEqual(v.asPath, [65001, 65010, 65011]);
    assert.equal(v.originatorId, '10.0.0.9');
    assert.deepEqual(v.clusterList, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(v.communities, ['65001:7', 'no-export']);
    assert.deepEqual(v.extendedCommunities, ['rt:65000:100']);
    assert.deepEqual(v.largeCommunities, ['65000:1:2']);
    assert.equal(v.atomicAggregate, true);
    assert.equal(v.aggregator, '65009 10.0.0.9');
    assert.deepEqual(v.unknownAttributes, ['type 99 flags 0xc0: 0a0b']);
  });
});

describe('route views of two speakers over loopback', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });
  const peer = (p: Partial<PeerConfig> & Pick<PeerConfig, 'name' | 'address' | 'asn' | 'port'>): PeerConfig => ({
    passive: false, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false, ...p,
  });

  it('show route export PEER: what the peer is sent, after the export transform; a route\'s age is its arrival', async () => {
    const a = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port: basePort }, peers: [] });
    const b = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: basePort + 1 }, peers: [] });
    speakers.push(a, b);
    await a.start();
    await b.start();
    a.addPeer(peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: basePort + 1, localAddress: '127.0.0.1' }));
    b.addPeer(peer({ name: 'a', address: '127.0.0.1', asn: 65001, port: basePort, localAddress: '127.0.0.2' }));
    a.originate('10.1.0.0/24', { nextHop: '192.0.2.1', largeCommunities: [{ globalAdmin: 65001, localData1: 1, localData2: 2 }] });
    await pollUntil(() => b.routes('10.1.0.0/24').length === 1, { what: '10.1.0.0/24 at b' });
    const established = b.status()[0]!.since;
    await pollUntil(() => Date.now() > established + 20, { what: 'a later wall-clock ms' });
    const before = Date.now();
    a.originate('10.1.1.0/24', { nextHop: '192.0.2.1' });
    await pollUntil(() => b.routes('10.1.1.0/24').length === 1, { what: '10.1.1.0/24 at b' });
    assert.ok(b.routes('10.1.1.0/24')[0]!.since >= before, 'age from the route\'s arrival, not from the session\'s Established time');

    const out = (await collect(a, { type: 'export', peer: 'b' })).views;
    assert.deepEqual(out.map((v) => [v.prefix, v.from, v.asPathText, v.nextHop]), [
      ['10.1.0.0/24', 'local', '65001', '192.0.2.1'],
      ['10.1.1.0/24', 'local', '65001', '192.0.2.1'],
    ]);
    assert.deepEqual(out[0]?.largeCommunities, ['65001:1:2']);
    assert.deepEqual((await collect(b, { type: 'export', peer: 'a' })).views, [], 'never back to the peer it came from');
    assert.deepEqual((await collect(a, { type: 'export', peer: 'b', prefix: '10.1.1.0/24' })).views.map((v) => v.prefix), ['10.1.1.0/24']);
    await assert.rejects(collect(a, { type: 'export', peer: 'nobody' }), /no such peer "nobody"/);
  });

  it('status: timers counting down, InQ/OutQ, messages by type, capabilities by name, AS4 as negotiated, per-family counts', async () => {
    const [a, b] = speakers;
    assert.ok(a && b);
    const st = b.status()[0]!;
    assert.equal(st.holdTime, 9);
    assert.ok(st.holdTimerLeft !== undefined && st.holdTimerLeft > 0 && st.holdTimerLeft <= 9, `hold timer left ${st.holdTimerLeft}`);
    assert.ok(st.keepaliveTimerLeft !== undefined && st.keepaliveTimerLeft > 0 && st.keepaliveTimerLeft <= 3, `keepalive left ${st.keepaliveTimerLeft}`);
    assert.equal(st.inQueueBytes, 0);
    assert.equal(st.outQueueBytes, 0);
    // both sides connect: a collision (RFC 4271 §6.8) may add an OPEN each way
    assert.ok((st.messageTypes?.in.open ?? 0) >= 1 && (st.messageTypes?.out.open ?? 0) >= 1);
    assert.ok((st.messageTypes?.in.update ?? 0) >= 2, 'the two routes and End-of-RIB came as UPDATEs');
    assert.ok((st.messageTypes?.in.keepalive ?? 0) >= 1);
    assert.equal(st.fourOctetAs, true);
    assert.ok(st.localCapabilities?.includes('4-octet AS numbers (AS 65002)'), st.localCapabilities?.join(', '));
    assert.ok(st.peerCapabilities?.includes('4-octet AS numbers (AS 65001)'), st.peerCapabilities?.join(', '));
    assert.ok(st.peerCapabilities?.some((c) => c.startsWith('graceful restart (restart time')), st.peerCapabilities?.join(', '));
    assert.ok(st.negotiated?.includes('ipv4-unicast') && st.negotiated.includes('4-octet AS numbers') && st.negotiated.includes('route refresh'), st.negotiated?.join(', '));
    assert.deepEqual(st.familyPrefixes, { 'ipv4-unicast': { received: 2, accepted: 2, exported: 0 } });
  });
});
