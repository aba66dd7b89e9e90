/**
 * Sessions over loopback between two of our own speakers, and against a scripted raw peer.
 *
 *   A 127.0.0.1 (AS 65001, id 1.1.1.1) <── TCP on lo ──> B 127.0.0.2 (AS 65002, id 2.2.2.2)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pollUntil } from '../../helpers/poll.js';
import { RawPeer, sessionPair, testLogger } from '../../helpers/bgp-session-peers.js';
import { BgpSession } from '../../../bgp/session/session.js';
import { BgpListener } from '../../../bgp/session/listener.js';
import { COLLISION_WINDOW_MS } from '../../../bgp/session/incoming.js';
import { wireCodec } from '../../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../../common/clock.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';
import { parsePrefix } from '../../../common/prefix.js';

const established = (s: BgpSession) => s.state === 'Established';

describe('session over loopback', () => {
  it('reaches Established, negotiates hold time = min, keepalives flow', async () => {
    const p = await sessionPair({ holdTime: 3 }, { holdTime: 9 });
    try {
      p.b.session.start();
      p.a.session.start();
      await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'both Established', timeoutMs: 5000 });
      assert.equal(p.a.session.negotiated?.holdTime, 3);
      assert.equal(p.b.session.negotiated?.keepaliveTime, 1);
      assert.equal(p.a.session.negotiated?.fourOctetAs, true);
      const inA = p.a.session.stats.messagesIn;
      // keepalive every 1 s: at least 3 more messages within 5 s, and the session never drops.
      await pollUntil(() => p.a.session.stats.messagesIn >= inA + 3 && p.b.session.stats.messagesIn >= inA + 3,
        { what: 'keepalives', timeoutMs: 6000 });
      assert.equal(p.a.session.stats.establishedTransitions, 1);
      assert.equal(p.a.session.stats.flaps, 0);
      assert.ok((p.a.session.stats.uptimeMs ?? 0) > 2000);
    } finally { await p.close(); }
  });

  it('UPDATEs sent on one side arrive decoded on the other', async () => {
    const p = await sessionPair();
    try {
      const got: UpdateMessage[] = [];
      p.b.session.on('update', (u) => { got.push(u); });
      p.b.session.start(); p.a.session.start();
      await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'Established', timeoutMs: 5000 });
      const u: UpdateMessage = {
        type: 'update', withdrawn: [], nlri: [{ prefix: parsePrefix('10.1.0.0/24') }],
        attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: Uint8Array.of(127, 0, 0, 1) },
      };
      for (let i = 0; i < 1000; i++) assert.ok(p.a.session.send(u));
      await pollUntil(() => got.length === 1000, { what: '1000 UPDATEs', timeoutMs: 5000 });
      assert.equal(got[0]?.nlri[0]?.prefix.length, 24);
      assert.equal(p.b.session.stats.updatesIn, 1000);
      assert.equal(p.a.session.stats.updatesOut, 1000);
    } finally { await p.close(); }
  });

  it('passive side waits; the active side connects', async () => {
    const p = await sessionPair({}, { passive: true });
    try {
      p.b.session.start();
      await pollUntil(() => p.b.session.state === 'Active', { what: 'B Active' });
      p.a.session.start();
      await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'Established', timeoutMs: 5000 });
      assert.equal(p.a.session.connection?.outgoing, true);
      assert.equal(p.b.session.connection?.outgoing, false);
    } finally { await p.close(); }
  });

  it('collision when both connect: the higher BGP identifier\'s connection survives, no flapping', async () => {
    let collided = false;
    for (let attempt = 0; attempt < 5 && !collided; attempt++) {
      const p = await sessionPair();
      try {
        p.a.session.start(); p.b.session.start();
        await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'Established', timeoutMs: 5000 });
        collided = p.a.session.stats.collisions + p.b.session.stats.collisions > 0;
        if (!collided) continue;
        // B (2.2.2.2) has the higher identifier: the connection B initiated survives.
        assert.equal(p.b.session.connection?.outgoing, true);
        assert.equal(p.a.session.connection?.outgoing, false);
        const cease7 = (x: BgpSession) => (x.stats.notificationsSent['6/7'] ?? 0) + (x.stats.notificationsReceived['6/7'] ?? 0);
        assert.ok(cease7(p.a.session) + cease7(p.b.session) >= 1, 'Cease/7 went to the losing connection');
        const ea = p.a.session.stats.establishedTransitions;
        await new Promise<void>((r) => { const t = setTimeout(r, 1500); t.unref?.(); });
        assert.ok(established(p.a.session) && established(p.b.session));
        assert.equal(p.a.session.stats.establishedTransitions, ea, 'no flap after collision');
        assert.equal(p.a.session.stats.flaps + p.b.session.stats.flaps, 0);
      } finally { await p.close(); }
    }
    assert.ok(collided, 'simultaneous connects produced a collision in 5 attempts');
  });

  it('wrong peer AS: the detecting side sends 2/2, the other records it', async () => {
    const p = await sessionPair({ peerAs: 65099 }, {});
    try {
      p.a.session.start(); p.b.session.start();
      await pollUntil(() => p.a.session.stats.lastNotificationSent?.subcode === 2 && p.b.session.stats.lastNotificationReceived?.subcode === 2,
        { what: 'Bad peer AS recorded on both sides', timeoutMs: 5000 });
      assert.equal(p.a.session.stats.lastNotificationSent?.code, 2);
      assert.equal(p.a.session.stats.lastNotificationSent?.text, 'Bad peer AS');
      assert.equal(p.b.session.stats.lastNotificationReceived?.text, 'Bad peer AS');
      assert.notEqual(p.a.session.state, 'Established');
    } finally { await p.close(); }
    const q = await sessionPair({}, { peerAs: 65098 });
    try {
      q.a.session.start(); q.b.session.start();
      await pollUntil(() => q.b.session.stats.lastNotificationSent?.subcode === 2 && q.a.session.stats.lastNotificationReceived?.subcode === 2,
        { what: 'Bad peer AS the other way', timeoutMs: 5000 });
      assert.match(q.a.session.stats.lastError ?? '', /NOTIFICATION received/);
      assert.match(q.b.session.stats.lastError ?? '', /peer AS 65001 does not match the configured AS 65098/);
    } finally { await q.close(); }
  });

  it('ManualStop with a shutdown message: Cease/2 with the RFC 9003 text on both sides', async () => {
    const p = await sessionPair();
    try {
      p.b.session.start(); p.a.session.start();
      await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'Established', timeoutMs: 5000 });
      const downs: string[] = [];
      p.b.session.on('down', (r) => downs.push(r.text));
      await p.a.session.stop('planned maintenance');
      assert.equal(p.a.session.state, 'Idle');
      await pollUntil(() => p.b.session.stats.lastNotificationReceived, { what: 'B got NOTIFICATION', timeoutMs: 3000 });
      const n = p.b.session.stats.lastNotificationReceived;
      assert.equal(n?.code, 6); assert.equal(n?.subcode, 2);
      assert.equal(n?.shutdownMessage, 'planned maintenance');
      assert.equal(p.a.session.stats.lastNotificationSent?.text, 'Administrative shutdown: "planned maintenance"');
      assert.equal(downs.length, 1);
      assert.equal(p.b.session.stats.flaps, 1);
    } finally { await p.close(); }
  });

  it('hold timer expires when the peer stops sending: 4/0 at hold time', async (t) => {
    const srv = await RawPeer.listen('127.0.0.2');
    const s = new BgpSession({ name: 'hold', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', holdTime: 3, idleHold: { minMs: 60000, maxMs: 60000, stableMs: 1 } },
    { clock: systemClock, logger: testLogger('hold'), codec: wireCodec });
    try {
      s.start();
      const peer = await srv.peer;
      await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'our OPEN' });
      peer.send({ type: 'open', version: 4, myAs: 65002, holdTime: 3, bgpId: 0x02020202, capabilities: [] });
      peer.send({ type: 'keepalive' });
      await pollUntil(() => established(s), { what: 'Established' });
      const t0 = Date.now();
      await pollUntil(() => s.state === 'Idle', { what: 'hold expiry', timeoutMs: 6000 });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 2000 && elapsed <= 4000, `hold expired after ${elapsed} ms (expected ~3000)`);
      t.diagnostic(`hold 3 s expired ${elapsed} ms after Established`);
      await pollUntil(() => peer.received.find((m) => m.type === 'notification'), { what: 'NOTIFICATION at peer' });
      const n = peer.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification');
      assert.deepEqual([n.code, n.subcode], [4, 0]);
      assert.equal(s.stats.lastNotificationSent?.text, 'Hold timer expired');
      // Our keepalives went out every second while Established.
      assert.ok(peer.received.filter((m) => m.type === 'keepalive').length >= 2);
    } finally { s.destroy(); srv.server.close(); }
  });

  it('unexpected messages get the RFC 6608 FSM error subcode', async () => {
    const srv = await RawPeer.listen('127.0.0.2');
    const s = new BgpSession({ name: 'fsm', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', idleHold: { minMs: 60000, maxMs: 60000, stableMs: 1 } },
    { clock: systemClock, logger: testLogger('fsm'), codec: wireCodec });
    try {
      s.start();
      const peer = await srv.peer;
      await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'our OPEN' });
      peer.send({ type: 'keepalive' }); // KEEPALIVE in OpenSent
      await pollUntil(() => peer.received.find((m) => m.type === 'notification'), { what: 'NOTIFICATION' });
      const n = peer.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification');
      assert.deepEqual([n.code, n.subcode], [5, 1]);
    } finally { s.destroy(); srv.server.close(); }
  });

  it('a bad header gets 1/x and the session drops', async () => {
    const srv = await RawPeer.listen('127.0.0.2');
    const s = new BgpSession({ name: 'hdr', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', idleHold: { minMs: 60000, maxMs: 60000, stableMs: 1 } },
    { clock: systemClock, logger: testLogger('hdr'), codec: wireCodec });
    try {
      s.start();
      const peer = await srv.peer;
      await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'our OPEN' });
      peer.sendRaw(new Uint8Array(19).fill(0)); // marker not all ones
      await pollUntil(() => peer.received.find((m) => m.type === 'notification'), { what: 'NOTIFICATION' });
      const n = peer.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification');
      assert.equal(n.code, 1);
      await pollUntil(() => s.state === 'Idle', { what: 'Idle' });
    } finally { s.destroy(); srv.server.close(); }
  });
});

describe('collision detection, deterministic (RFC 4271 §6.8)', () => {
  for (const [peerId, keep] of [[0x02020202, 'incoming'], [0x00000009, 'outgoing']] as const) {
    it(`peer id ${peerId >>> 24}.x vs our 1.1.1.1: the ${keep} connection survives, the other gets Cease/7`, async () => {
      const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger: testLogger('coll') });
      await l.listen();
      const srv = await RawPeer.listen('127.0.0.2');
      const s = new BgpSession({ name: 'coll', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
        localAs: 65001, peerAs: 65002, routerId: '1.1.1.1' }, { clock: systemClock, logger: testLogger('coll'), codec: wireCodec });
      l.addSession(s);
      const open = { type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: peerId, capabilities: [] } as const;
      const peers: RawPeer[] = [];
      try {
        s.start();
        const out = await srv.peer; // the connection we initiated
        peers.push(out);
        await pollUntil(() => out.received.some((m) => m.type === 'open') && s.state === 'OpenSent', { what: 'OpenSent on ours' });
        const inc = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2'); // the one the peer initiated
        peers.push(inc);
        await pollUntil(() => inc.received.some((m) => m.type === 'open'), { what: 'OPEN on the incoming connection' });
        out.send(open);
        const [winner, loser] = keep === 'incoming' ? [inc, out] : [out, inc];
        await pollUntil(() => loser.received.find((m) => m.type === 'notification'), { what: 'Cease/7 on the losing connection' });
        const n = loser.received.find((m) => m.type === 'notification');
        assert.ok(n?.type === 'notification');
        assert.deepEqual([n.code, n.subcode], [6, 7]);
        if (keep === 'incoming') winner.send(open);
        winner.send({ type: 'keepalive' });
        await pollUntil(() => established(s), { what: 'Established on the winner' });
        assert.equal(s.connection?.outgoing, keep === 'outgoing');
        assert.equal(s.stats.collisions, 1);
        assert.equal(s.stats.notificationsSent['6/7'], 1);
        assert.equal(winner.received.some((m) => m.type === 'notification'), false);
      } finally { s.destroy(); for (const p of peers) p.destroy(); srv.server.close(); await l.close(); }
    });
  }
});

/**
 * A passive session for 127.0.0.2 with graceful restart, behind a listener on 127.0.0.1, and a
 * raw peer that brought it to Established with GR_OPEN; `skew` moves the session's clock.
 */
async function grEstablished(name: string): Promise<{ l: BgpListener; s: BgpSession; p1: RawPeer; peers: RawPeer[]; clock: { skew: number } }> {
  const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger: testLogger(name) });
  await l.listen();
  const clock = { skew: 0 };
  const s = new BgpSession({ name, peerAddress: '127.0.0.2', localAddress: '127.0.0.1', passive: true,
    localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', gracefulRestart: { restartTime: 120 } },
  { clock: { ...systemClock, now: () => systemClock.now() + clock.skew }, logger: testLogger(name), codec: wireCodec });
  l.addSession(s);
  s.start();
  const p1 = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
  p1.send(GR_OPEN); p1.send({ type: 'keepalive' });
  await pollUntil(() => established(s), { what: 'Established' });
  return { l, s, p1, peers: [p1], clock };
}

describe('graceful restart', () => {
  it('a new connection within COLLISION_WINDOW_MS of Established is a collision (Cease/7), not a restart: the session stays', async () => {
    const { l, s, p1, peers } = await grEstablished('grc');
    try {
      const downs: string[] = [];
      s.on('down', (r) => downs.push(r.text));
      // the peer's own attempt that crossed ours, seen only now
      const p2 = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
      peers.push(p2);
      await pollUntil(() => p2.closed, { what: 'crossing connection refused' });
      const n = p2.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification', JSON.stringify(p2.received));
      assert.deepEqual([n.code, n.subcode], [6, 7]);
      assert.deepEqual(downs, []);
      assert.equal(s.state, 'Established');
      assert.equal(s.stats.establishedTransitions, 1);
      assert.equal(p1.closed, false);
    } finally { s.destroy(); for (const p of peers) p.destroy(); await l.close(); }
  });

  it('a new connection from a GR-capable peer while Established replaces the session (RFC 4724 §4.2)', async () => {
    const { l, s, p1, peers, clock } = await grEstablished('gr');
    try {
      assert.equal(s.negotiated?.peerGracefulRestart?.restartTime, 90);
      const downs: Array<{ text: string; gr: number | undefined }> = [];
      s.on('down', (r) => downs.push({ text: r.text, gr: r.session?.peerGracefulRestart?.restartTime }));
      clock.skew = COLLISION_WINDOW_MS; // the session has been up that long
      const p2 = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
      peers.push(p2);
      await pollUntil(() => p2.received.some((m) => m.type === 'open'), { what: 'OPEN on the new connection' });
      assert.deepEqual(downs, [{ text: 'connection lost: peer restarted (new connection, graceful restart)', gr: 90 }]);
      p2.send({ ...GR_OPEN, capabilities: [{ ...GR_OPEN.capabilities[0], restarting: true }] }); p2.send({ type: 'keepalive' });
      await pollUntil(() => established(s), { what: 'Established again' });
      assert.equal(s.negotiated?.peerGracefulRestart?.restarting, true);
      assert.equal(s.stats.establishedTransitions, 2);
      await pollUntil(() => p1.closed, { what: 'old connection closed' });
    } finally { s.destroy(); for (const p of peers) p.destroy(); await l.close(); }
  });
});

const GR_OPEN = {
  type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: 0x02020202,
  capabilities: [{ type: 'graceful-restart', restarting: false, notification: false, restartTime: 90, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] }],
} as const;

/** A raw OPEN: version, My AS 65002, hold, BGP id 2.2.2.2, then optional parameters as given. */
function rawOpen(version: number, hold: number, optParams: number[]): Uint8Array {
  const body = [version, 0xfd, 0xea, hold >> 8, hold & 255, 2, 2, 2, 2, optParams.length, ...optParams];
  const len = 19 + body.length;
  return Uint8Array.from([...new Array<number>(16).fill(0xff), len >> 8, len & 255, 1, ...body]);
}

describe('OPEN errors on the wire', () => {
  const cases: Array<[string, Uint8Array, number, number[] | undefined]> = [
    ['version 3 → 2/1 with data 4', rawOpen(3, 90, []), 1, [0, 4]],
    ['unknown optional parameter 99 → 2/4', rawOpen(4, 90, [99, 1, 0]), 4, undefined],
    ['hold time 2 → 2/6', rawOpen(4, 2, []), 6, undefined],
    ['BGP identifier 0 → 2/3', (() => { const b = rawOpen(4, 90, []); b.set([0, 0, 0, 0], 24); return b; })(), 3, undefined],
  ];
  for (const [name, bytes, sub, data] of cases) {
    it(name, async () => {
      const srv = await RawPeer.listen('127.0.0.2');
      const s = new BgpSession({ name: 'open', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
        localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', idleHold: { minMs: 60000, maxMs: 60000, stableMs: 1 } },
      { clock: systemClock, logger: testLogger('open'), codec: wireCodec });
      try {
        s.start();
        const peer = await srv.peer;
        await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'our OPEN' });
        peer.sendRaw(bytes);
        await pollUntil(() => peer.received.find((m) => m.type === 'notification'), { what: 'NOTIFICATION' });
        const n = peer.received.find((m) => m.type === 'notification');
        assert.ok(n?.type === 'notification');
        assert.deepEqual([n.code, n.subcode], [2, sub]);
        if (data) assert.deepEqual([...n.data], data);
        assert.equal(s.stats.lastNotificationSent?.subcode, sub);
        await pollUntil(() => s.state === 'Idle', { what: 'Idle' });
      } finally { s.destroy(); srv.server.close(); }
    });
  }
});

describe('automatic stops', () => {
  it('max prefixes: Cease/1 with AFI/SAFI/limit data reaches the peer, session stays down', async () => {
    const srv = await RawPeer.listen('127.0.0.2');
    const s = new BgpSession({ name: 'auto', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', idleHold: { minMs: 100, maxMs: 100, stableMs: 1 } },
    { clock: systemClock, logger: testLogger('auto'), codec: wireCodec });
    try {
      s.start();
      const peer = await srv.peer;
      await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'our OPEN' });
      peer.send({ type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: 0x02020202, capabilities: [] });
      peer.send({ type: 'keepalive' });
      await pollUntil(() => established(s), { what: 'Established' });
      const data = Uint8Array.of(0, 1, 1, 0, 0, 0, 100);
      s.automaticStop(1, { restart: false, data });
      await pollUntil(() => peer.received.find((m) => m.type === 'notification'), { what: 'Cease/1 at peer' });
      const n = peer.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification');
      assert.deepEqual([n.code, n.subcode, [...n.data]], [6, 1, [...data]]);
      assert.equal(s.stats.lastNotificationSent?.text, 'Maximum number of prefixes reached');
      assert.equal(s.state, 'Idle');
    } finally { s.destroy(); srv.server.close(); }
  });
});

describe('listener', () => {
  it('closes connections from unknown addresses without reading', async () => {
    const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger: testLogger('L') });
    await l.listen();
    try {
      const sock = connect({ host: '127.0.0.1', port: l.port, localAddress: '127.0.0.9' });
      let bytes = 0;
      sock.on('data', (d: Buffer) => { bytes += d.length; });
      sock.on('error', () => undefined);
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      await closed;
      assert.equal(bytes, 0);
    } finally { await l.close(); }
  });

  it('on a dual-stack wildcard listener, a session pinned to a local address only takes connections to it', async () => {
    const l = new BgpListener({ host: '::', port: 0 }, { logger: testLogger('pin') });
    await l.listen();
    const s = new BgpSession({ name: 'pin', peerAddress: '127.0.0.2', localAddress: '127.0.0.1', passive: true,
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1' }, { clock: systemClock, logger: testLogger('pin'), codec: wireCodec });
    l.addSession(s);
    const peers: RawPeer[] = [];
    try {
      s.start();
      const wrong = await RawPeer.connect('127.0.0.3', l.port, '127.0.0.2');
      peers.push(wrong);
      await pollUntil(() => wrong.closed, { what: 'connection to the wrong local address closed' });
      assert.equal(wrong.received.length, 0);
      assert.equal(s.state, 'Active');
      const right = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
      peers.push(right);
      await pollUntil(() => right.received.some((m) => m.type === 'open'), { what: 'OPEN from the pinned session' });
      assert.equal(s.state, 'OpenSent');
    } finally { s.destroy(); for (const p of peers) p.destroy(); await l.close(); }
  });

  it('refuses a second connection to an Established session with Cease/7', async () => {
    const p = await sessionPair();
    try {
      p.b.session.start(); p.a.session.start();
      await pollUntil(() => established(p.a.session) && established(p.b.session), { what: 'Established', timeoutMs: 5000 });
      const raw = await RawPeer.connect('127.0.0.1', p.a.listener.port, '127.0.0.2');
      await pollUntil(() => raw.closed, { what: 'refused connection closed' });
      const n = raw.received.find((m) => m.type === 'notification');
      assert.ok(n?.type === 'notification');
      assert.deepEqual([n.code, n.subcode], [6, 7]);
      assert.ok(established(p.a.session));
    } finally { await p.close(); }
  });
});
