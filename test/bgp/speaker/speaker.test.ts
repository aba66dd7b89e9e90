/**
 * The embedding API in-process: two BgpSpeakers talk over loopback (127.0.0.1 ↔ 127.0.0.2, real
 * TCP), plus a raw TCP "peer" that writes hand-made UPDATEs to check RFC 7606 handling of the
 * speaker's Adj-RIB-In (treat-as-withdraw removes the installed route and sends nothing).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { pollUntil } from '../../helpers/poll.js';
import { tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { parsePrefix } from '../../../common/prefix.js';
import { BgpSpeaker, type BestPathChange, type RouteView } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig } from '../../../bgp/speaker/peer-config.js';
import { Framer, encodeKeepalive, encodeOpen } from '../../helpers/bgp-codec.js';

const peer = (p: Partial<PeerConfig> & Pick<PeerConfig, 'name' | 'address' | 'asn' | 'port'>): PeerConfig => ({
  passive: false, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false, ...p,
});

const basePort = 20000 + (process.pid % 20000);

describe('BgpSpeaker embedded, two speakers over loopback', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });

  it('exchanges originated routes, reports best-path changes with reasons, withdraws, and stops with Cease/2', async () => {
    const a = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port: basePort }, peers: [] });
    const b = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: basePort + 1 }, peers: [] });
    speakers.push(a, b);
    await a.start();
    await b.start();
    const changes: BestPathChange[] = [];
    b.onBestPathChange((c) => changes.push(c));
    a.addPeer(peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: basePort + 1, localAddress: '127.0.0.1' }));
    b.addPeer(peer({ name: 'a', address: '127.0.0.1', asn: 65001, port: basePort, localAddress: '127.0.0.2' }));
    // Loopback next hops are martians (RFC 4271 §6.3): originate with a documentation address.
    a.originate('10.1.0.0/24', { nextHop: '192.0.2.1', communities: [(65001 << 16) | 7], med: 5 });
    a.originate('10.1.1.0/24', { nextHop: '192.0.2.1' });
    await pollUntil(() => b.status()[0]?.state === 'Established', { what: 'Established' });
    await pollUntil(() => changes.length >= 2, { what: 'two best-path changes' });
    const r = b.routes('10.1.0.0/24')[0];
    assert.ok(r);
    assert.equal(r.from, 'a');
    assert.deepEqual(r.asPath, [65001]);
    assert.equal(r.nextHop, '192.0.2.1');
    assert.equal(r.med, 5, 'MED of a locally originated route is sent to eBGP');
    assert.deepEqual(r.communities, ['65001:7']);
    assert.equal(r.reason, 'only route');
    const st = b.status()[0];
    assert.equal(st?.prefixes.received, 2);
    assert.equal(st?.prefixes.accepted, 2);
    assert.equal(a.status()[0]?.prefixes.advertised, 2);
    await pollUntil(() => b.status()[0]?.eorReceived.includes('ipv4-unicast') === true, { what: 'End-of-RIB from a' });
    assert.ok(b.status()[0]?.capabilities.includes('graceful restart'), 'graceful restart (aware) advertised');

    // b originates the same prefix: its local route wins, with the reason.
    b.originate('10.1.0.0/24');
    const views = b.routes('10.1.0.0/24');
    assert.equal(views.find((v) => v.best)?.from, 'local');
    assert.equal(views.find((v) => !v.best)?.reason, 'locally originated');

    a.withdraw('10.1.1.0/24');
    await pollUntil(() => changes.some((c) => c.prefix === '10.1.1.0/24' && c.best === undefined), { what: 'withdrawal seen as best-path change' });
    assert.equal(b.routes('10.1.1.0/24').length, 0);

    await a.stop();
    await pollUntil(() => /Received: Hard reset: Administrative shutdown/.test(b.status()[0]?.lastError ?? ''), { what: 'Cease/2 at b (as Hard Reset: both sides set the RFC 8538 N bit)' });
    assert.equal(b.routes('10.1.0.0/24').filter((v) => v.from === 'a').length, 0, 'routes from a removed');
  });
});

describe('BgpSpeaker applies RFC 7606 to a raw peer', () => {
  let sp: BgpSpeaker | undefined;
  let sock: Socket | undefined;
  after(async () => { sock?.destroy(); await sp?.stop(); });

  it('treat-as-withdraw removes the previously installed route and sends no NOTIFICATION', async () => {
    const port = basePort + 2;
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.9', asn: 65009, listen: { address: '127.0.0.1', port }, peers: [] });
    await sp.start();
    sp.addPeer(peer({ name: 'raw', address: '127.0.0.3', asn: 65003, port: 1, passive: true }));
    const received: number[] = [];
    const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' });
    sock = s;
    const framer = new Framer();
    s.on('data', (d: Buffer) => { for (const m of framer.push(d)) received.push(m[18] ?? 0); });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(encodeOpen(65003, 9, 0x0a000003, [{ type: 'four-octet-as', asn: 65003 }, { type: 'multiprotocol', afi: 1, safi: 1 }]));
    s.write(encodeKeepalive());
    await pollUntil(() => sp?.status()[0]?.state === 'Established', { what: 'raw peer Established' });
    // UPDATE: ORIGIN IGP, AS_PATH [65003] (4-octet), NEXT_HOP 192.0.2.3, NLRI 10.7.0.0/24
    const attrs = [0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xeb, 0x40, 3, 4, 192, 0, 2, 3];
    const update = (extra: number[]) => {
      const a = [...attrs, ...extra];
      const body = [0, 0, 0, a.length, ...a, 24, 10, 7, 0];
      const b = Buffer.alloc(19 + body.length, 0xff);
      b.writeUInt16BE(b.length, 16); b[18] = 2; Buffer.from(body).copy(b, 19);
      return b;
    };
    s.write(update([]));
    await pollUntil(() => sp?.routes('10.7.0.0/24').length === 1, { what: 'route installed' });
    s.write(update([0x80, 4, 5, 0, 0, 0, 0, 100])); // MED with length 5
    await pollUntil(() => sp?.routes('10.7.0.0/24').length === 0, { what: 'route treated as withdrawn' });
    s.write(update([0xc0, 7, 5, 0, 0, 0, 100, 0])); // AGGREGATOR length 5: discard, keep route
    await pollUntil(() => sp?.routes('10.7.0.0/24').length === 1, { what: 'route back with AGGREGATOR discarded' });
    // MP_REACH_NLRI for IPv4 unicast with a 5-byte next hop: AFI/SAFI disable (RFC 7606 §7.11,
    // RFC 4760 §7): every IPv4 route of this peer goes, and later IPv4 announcements are ignored
    const badMpReach = [0x80, 0x0e, 14, 0, 1, 1, 5, 10, 0, 0, 1, 1, 0, 24, 172, 30, 52];
    s.write(update(badMpReach));
    await pollUntil(() => sp?.routes('10.7.0.0/24').length === 0, { what: 'IPv4 routes dropped by AFI/SAFI disable' });
    const before = sp.status()[0]?.messages.updatesIn ?? 0;
    s.write(update([]));
    await pollUntil(() => (sp?.status()[0]?.messages.updatesIn ?? 0) > before, { what: 'the next IPv4 UPDATE processed' });
    assert.equal(sp.routes('10.7.0.0/24').length, 0, 'IPv4 stays disabled for the session');
    assert.equal(sp.status()[0]?.establishedTransitions, 1);
    assert.equal(sp.status()[0]?.state, 'Established');
    assert.ok(!received.includes(3), 'no NOTIFICATION was sent');
  });

  it('maxPrefixes exceeded: Cease/1 to the peer and its routes removed', async () => {
    if (!sp) throw new Error('previous test did not start the speaker');
    const speaker = sp;
    speaker.addPeer(peer({ name: 'greedy', address: '127.0.0.4', asn: 65004, port: 1, passive: true, maxPrefixes: 2 }));
    const s = connect({ host: '127.0.0.1', port: basePort + 2, localAddress: '127.0.0.4' });
    const notes: Array<[number, number]> = [];
    const framer = new Framer();
    s.on('data', (d: Buffer) => { for (const m of framer.push(d)) if (m[18] === 3) notes.push([m[19] ?? 0, m[20] ?? 0]); });
    s.on('error', () => { /* closed by the speaker */ });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(encodeOpen(65004, 9, 0x0a000004, [{ type: 'four-octet-as', asn: 65004 }]));
    s.write(encodeKeepalive());
    await pollUntil(() => speaker.status().find((x) => x.name === 'greedy')?.state === 'Established', { what: 'greedy Established' });
    const attrs = [0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xec, 0x40, 3, 4, 192, 0, 2, 4];
    const body = [0, 0, 0, attrs.length, ...attrs, 24, 10, 8, 1, 24, 10, 8, 2, 24, 10, 8, 3];
    const b = Buffer.alloc(19 + body.length, 0xff);
    b.writeUInt16BE(b.length, 16); b[18] = 2; Buffer.from(body).copy(b, 19);
    s.write(b);
    await pollUntil(() => notes.length > 0, { what: 'NOTIFICATION from the speaker' });
    assert.deepEqual(notes[0], [6, 1]);
    assert.equal(speaker.routes().filter((r) => r.from === 'greedy').length, 0);
    s.destroy();
  });

  it('allowAsIn: a path holding our own AS once is refused by default and accepted with allowAsIn 1', async () => {
    if (!sp) throw new Error('previous test did not start the speaker');
    const speaker = sp;
    const open = async (name: string, addr: string, asn: number, allowAsIn: number | undefined): Promise<Socket> => {
      speaker.addPeer(peer({ name, address: addr, asn, port: 1, passive: true, ...(allowAsIn === undefined ? {} : { allowAsIn }) }));
      const s = connect({ host: '127.0.0.1', port: basePort + 2, localAddress: addr });
      s.on('error', () => { /* closed at the end */ });
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(encodeOpen(asn, 9, 0x0a000000 + Number(addr.split('.')[3]), [{ type: 'four-octet-as', asn }]));
      s.write(encodeKeepalive());
      await pollUntil(() => speaker.status().find((x) => x.name === name)?.state === 'Established', { what: `${name} Established` });
      return s;
    };
    // ORIGIN IGP, AS_PATH [peer, 65009 (ours)], NEXT_HOP 192.0.2.<nh>, NLRI 10.9.0.0/24
    const update = (asn: number, nh: number): Buffer => {
      const attrs = [0x40, 1, 1, 0, 0x40, 2, 10, 2, 2, 0, 0, asn >> 8, asn & 0xff, 0, 0, 0xfd, 0xf1, 0x40, 3, 4, 192, 0, 2, nh];
      const body = [0, 0, 0, attrs.length, ...attrs, 24, 10, 9, 0];
      const b = Buffer.alloc(19 + body.length, 0xff);
      b.writeUInt16BE(b.length, 16); b[18] = 2; Buffer.from(body).copy(b, 19);
      return b;
    };
    const strict = await open('strict', '127.0.0.6', 65006, undefined);
    const loose = await open('loose', '127.0.0.5', 65005, 1);
    try {
      const before = speaker.status().find((x) => x.name === 'strict')?.messages.updatesIn ?? 0;
      strict.write(update(65006, 6));
      loose.write(update(65005, 5));
      await pollUntil(() => speaker.routes('10.9.0.0/24').some((r) => r.from === 'loose'), { what: () => `the allowAsIn peer's route accepted: ${JSON.stringify(speaker.routes())} ${JSON.stringify(speaker.status().map((x) => [x.name, x.prefixes, x.messages.updatesIn]))}` });
      await pollUntil(() => (speaker.status().find((x) => x.name === 'strict')?.messages.updatesIn ?? 0) > before, { what: 'the strict peer\'s UPDATE processed' });
      assert.deepEqual(speaker.routes('10.9.0.0/24').map((r) => r.from), ['loose'], 'loop detection refused the strict peer\'s copy');
      // ... and `show route filtered` shows it, as received, with why.
      const filtered = async (prefix?: string): Promise<RouteView[]> => {
        const out: RouteView[] = [];
        await speaker.streamRoutes({ type: 'filtered', ...(prefix !== undefined ? { prefix } : {}) }, (b) => { out.push(...b); });
        return out;
      };
      assert.deepEqual((await filtered('10.9.0.0/24')).map((r) => [r.from, r.accepted, r.reason, r.asPath, r.nextHop]),
        [['strict', false, 'as-path-loop', [65006, 65009], '192.0.2.6']]);
      assert.deepEqual((await filtered()).map((r) => [r.from, r.prefix]), [['strict', '10.9.0.0/24']]);
    } finally {
      strict.destroy();
      loose.destroy();
    }
  });
});

describe('BgpSpeaker reconfiguration in place, restart, next hop for the other family', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });

  it('policy-only changes apply without a reset; restartPeer resets once; IPv6 over IPv4 uses nextHopSelf6', async () => {
    const port = basePort + 10;
    const a = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port }, peers: [] });
    const b = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: port + 1 }, peers: [] });
    speakers.push(a, b);
    await a.start();
    await b.start();
    const fams = ['ipv4-unicast', 'ipv6-unicast'] as const;
    const toB = peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: port + 1, localAddress: '127.0.0.1', families: fams, nextHopSelf6: '2001:db8::a' });
    const rejectTagged = { rules: [{ match: { communities: [(65001 << 16) | 9] }, action: 'reject' as const }], default: 'accept' as const };
    const toA = peer({ name: 'a', address: '127.0.0.1', asn: 65001, port, localAddress: '127.0.0.2', families: fams, import: rejectTagged });
    a.addPeer(toB);
    b.addPeer(toA);
    a.originate('10.2.0.0/24', { nextHop: '192.0.2.1', communities: [(65001 << 16) | 9] });
    a.originate('10.2.1.0/24', { nextHop: '192.0.2.1' });
    a.originate('2001:db8:1::/48');
    await pollUntil(() => b.routes('10.2.1.0/24').length === 1 && b.routes('2001:db8:1::/48').length === 1, { what: 'routes at b' });
    assert.equal(b.routes('2001:db8:1::/48')[0]?.nextHop, '2001:db8::a', 'IPv6 over an IPv4 session: next hop from nextHopSelf6');
    assert.equal(b.routes('10.2.0.0/24').length, 0, 'tagged route rejected by import policy');
    assert.equal(b.status()[0]?.prefixes.received, 3);
    const transitions = () => [a.status()[0]?.establishedTransitions, b.status()[0]?.establishedTransitions];
    const before = transitions();

    // import policy change at b: route refresh, no reset
    assert.deepEqual(b.reconfigure({ routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: port + 1 }, peers: [{ ...toA, import: { rules: [], default: 'accept' } }] }).changed, ['a']);
    await pollUntil(() => b.routes('10.2.0.0/24').length === 1, { what: 'tagged route accepted after the import change' });
    await pollUntil(() => (a.status()[0]?.messages.routeRefreshIn ?? 0) >= 1, { what: 'a asked for a route refresh too' });
    // and back: rejected again, from the kept received attributes
    b.updatePeer(toA);
    await pollUntil(() => b.routes('10.2.0.0/24').length === 0, { what: 'tagged route rejected again' });
    b.updatePeer({ ...toA, import: { rules: [], default: 'accept' } });
    await pollUntil(() => b.routes('10.2.0.0/24').length === 1, { what: 'tagged route accepted again' });
    // export policy change at a: b loses 10.2.1.0/24, no reset
    const noPrefix = { rules: [{ match: { prefixes: [{ prefix: parsePrefix('10.2.1.0/24') }] }, action: 'reject' as const }], default: 'accept' as const };
    a.updatePeer({ ...toB, export: noPrefix });
    await pollUntil(() => b.routes('10.2.1.0/24').length === 0, { what: 'export change withdrew 10.2.1.0/24' });
    assert.equal(b.routes('10.2.0.0/24').length, 1);
    assert.equal(a.status()[0]?.prefixes.advertised, 2);
    assert.deepEqual(transitions(), before, 'no session was reset');

    // restartPeer: one Cease/4, then back
    const notes = b.status()[0]?.messages.notificationsIn ?? 0;
    a.restartPeer('b');
    await pollUntil(() => /Received: Administrative reset/.test(b.status()[0]?.lastError ?? '') || b.status()[0]?.state !== 'Established', { what: 'b saw the reset' });
    await pollUntil(() => a.status()[0]?.state === 'Established' && b.status()[0]?.state === 'Established' && (b.status()[0]?.establishedTransitions ?? 0) > (before[1] ?? 0),
      { what: 'session back after restart', timeoutMs: 15_000 });
    assert.equal(b.status()[0]?.messages.notificationsIn, notes + 1, 'exactly one NOTIFICATION (Cease/4), no collision');
    await pollUntil(() => b.routes('10.2.0.0/24').length === 1, { what: 'routes back after restart' });
  });
});

describe('BgpSpeaker graceful stop', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });

  it('stop({ graceful: true }) sends no NOTIFICATION: the peer keeps our routes as stale (its GR helper)', async () => {
    const port = basePort + 40;
    const a = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port }, peers: [] });
    const b = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: port + 1 }, peers: [] });
    speakers.push(b);
    await a.start();
    await b.start();
    a.addPeer(peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: port + 1, localAddress: '127.0.0.1' }));
    b.addPeer(peer({ name: 'a', address: '127.0.0.1', asn: 65001, port, localAddress: '127.0.0.2' }));
    a.originate('10.41.0.0/24', { nextHop: '192.0.2.1' });
    await pollUntil(() => b.routes('10.41.0.0/24').length === 1, { what: 'b has a\'s route' });
    const notesIn = b.status()[0]?.messages.notificationsIn;
    await a.stop({ graceful: true });
    await pollUntil(() => b.status()[0]?.gracefulRestart?.state === 'restart-wait', { what: 'b waits for a to restart' });
    assert.equal(b.routes('10.41.0.0/24')[0]?.stale, true);
    assert.equal(b.status()[0]?.messages.notificationsIn, notesIn, 'no NOTIFICATION');
  });
});
