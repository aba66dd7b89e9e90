/**
 * Flow control and liveness over loopback: bursts are processed in slices (the event loop keeps
 * turning), a peer that stops reading makes send() report backpressure, then 'drain', and past
 * maxQueuedBytes the session is dropped instead of growing memory; repeated resets back off.
 *
 *   session 127.0.0.1 ──TCP──► RawPeer / BgpSession 127.0.0.2
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../helpers/poll.js';
import { RawPeer, sessionPair, testLogger } from '../../helpers/bgp-session-peers.js';
import { BgpSession, type SessionConfig } from '../../../bgp/session/session.js';
import { wireCodec } from '../../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../../common/clock.js';
import { parsePrefix } from '../../../common/prefix.js';
import { INITIAL_CONTEXT, type UpdateMessage } from '../../../bgp/wire/types.js';
import { encodeUpdates } from '../../../bgp/wire/update-encoder.js';

function bigUpdate(n: number): UpdateMessage {
  const nlri = [];
  for (let i = 0; i < n; i++) nlri.push({ prefix: parsePrefix(`10.${(i >> 8) & 255}.${i & 255}.0/24`) });
  return { type: 'update', withdrawn: [], nlri, attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: Uint8Array.of(127, 0, 0, 1) } };
}

async function rawEstablished(cfg: Partial<SessionConfig>): Promise<{ s: BgpSession; peer: RawPeer; close: () => void }> {
  const srv = await RawPeer.listen('127.0.0.2');
  const s = new BgpSession({ name: 'flow', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
    localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', holdTime: 0, ...cfg }, { clock: systemClock, logger: testLogger('flow'), codec: wireCodec });
  s.start();
  const peer = await srv.peer;
  await pollUntil(() => peer.received.some((m) => m.type === 'open'), { what: 'OPEN' });
  peer.send({ type: 'open', version: 4, myAs: 65002, holdTime: 0, bgpId: 0x02020202, capabilities: [] });
  peer.send({ type: 'keepalive' });
  await pollUntil(() => s.state === 'Established', { what: 'Established' });
  return { s, peer, close: () => { s.destroy(); peer.destroy(); srv.server.close(); } };
}

describe('session flow control', () => {
  it('a burst is processed in slices: the event loop keeps turning', async (t) => {
    const p = await sessionPair({ sliceMessages: 64 }, { sliceMessages: 64 });
    try {
      p.b.session.start(); p.a.session.start();
      await pollUntil(() => p.a.session.state === 'Established' && p.b.session.state === 'Established', { what: 'Established', timeoutMs: 5000 });
      const u = bigUpdate(1);
      const N = 20_000;
      let got = 0;
      let ticks = 0;
      let ticking = true;
      const tick = () => { ticks++; if (ticking) setImmediate(tick); };
      let ticksAtFirst = -1;
      p.b.session.on('update', () => { if (got++ === 0) ticksAtFirst = ticks; });
      const t0 = Date.now();
      for (let i = 0; i < N; i++) p.a.session.send(u);
      setImmediate(tick);
      await pollUntil(() => got === N, { what: `${N} UPDATEs`, timeoutMs: 20_000 });
      ticking = false;
      t.diagnostic(`${N} UPDATEs A→B in ${Date.now() - t0} ms; event loop turned ${ticks - ticksAtFirst} times meanwhile`);
      // 20 000 messages in slices of 64 need at least ~300 turns of the loop between first and last.
      assert.ok(ticks - ticksAtFirst >= N / 64 / 2, `event loop turned ${ticks - ticksAtFirst} times during the burst`);
      assert.equal(p.a.session.state, 'Established');
    } finally { await p.close(); }
  });

  it('backpressure: send() reports false when the peer does not read, then drain', async () => {
    const { s, peer, close } = await rawEstablished({ writeHighWaterBytes: 256 << 10, maxQueuedBytes: 256 << 20 });
    try {
      peer.socket.pause();
      const u = bigUpdate(800); // ~3.2 kB each
      let sent = 0;
      while (s.send(u)) { sent++; if (sent > 100_000) break; }
      assert.ok(sent < 100_000, 'send() eventually reported backpressure');
      assert.ok(s.queuedBytes > 256 << 10, `queued ${s.queuedBytes}`);
      const drained = new Promise<void>((r) => s.once('drain', () => r()));
      peer.socket.resume();
      await drained;
      assert.ok(s.queuedBytes <= 256 << 10);
      assert.equal(s.state, 'Established');
    } finally { close(); }
  });

  it('a peer that never reads is dropped with Cease/8 past maxQueuedBytes', async () => {
    const { s, peer, close } = await rawEstablished({ writeHighWaterBytes: 64 << 10, maxQueuedBytes: 2 << 20,
      idleHold: { minMs: 60_000, maxMs: 60_000, stableMs: 1 } });
    try {
      peer.socket.pause();
      const u = bigUpdate(800);
      for (let i = 0; i < 5000 && s.state === 'Established'; i++) s.send(u);
      assert.equal(s.state, 'Idle');
      assert.deepEqual([s.stats.lastNotificationSent?.code, s.stats.lastNotificationSent?.subcode], [6, 8]);
      assert.match(s.stats.lastError ?? '', /Cease\/8/);
    } finally { close(); }
  });

  it('sendEncoded (the speaker\'s pre-encoded batches) drops a peer that never reads with Cease/8 too', async () => {
    const { s, peer, close } = await rawEstablished({ writeHighWaterBytes: 64 << 10, maxQueuedBytes: 2 << 20,
      idleHold: { minMs: 60_000, maxMs: 60_000, stableMs: 1 } });
    try {
      peer.socket.pause();
      const u = bigUpdate(800);
      const msgs = encodeUpdates({ afi: 1, safi: 1 }, u.attributes, u.nlri, Uint8Array.of(127, 0, 0, 1), INITIAL_CONTEXT);
      for (let i = 0; i < 5000 && s.state === 'Established'; i++) s.sendEncoded(msgs);
      assert.equal(s.state, 'Idle');
      assert.deepEqual([s.stats.lastNotificationSent?.code, s.stats.lastNotificationSent?.subcode], [6, 8]);
      assert.match(s.stats.lastError ?? '', /Cease\/8/);
    } finally { close(); }
  });

  it('writeIdle: a batch the kernel took at once leaves its buffer free to reuse; a peer that does not read makes it false until drained', async () => {
    // what the speaker relies on to encode the next batch into the same scratch buffer
    const { s, peer, close } = await rawEstablished({ writeHighWaterBytes: 256 << 10, maxQueuedBytes: 256 << 20 });
    try {
      const u = bigUpdate(50);
      const [m] = encodeUpdates({ afi: 1, safi: 1 }, u.attributes, u.nlri, Uint8Array.of(127, 0, 0, 1), INITIAL_CONTEXT);
      assert.ok(m !== undefined);
      const before = peer.received.length;
      s.sendEncoded([m]);
      assert.equal(s.writeIdle, true, 'a 200-byte write on loopback is taken at once');
      m.fill(0); // reuse the buffer at once: the peer must still get the UPDATE as sent
      await pollUntil(() => peer.received.length > before, { what: 'the UPDATE at the peer' });
      const got = peer.received[before];
      assert.ok(got?.type === 'update');
      assert.deepEqual(got.nlri.map((n) => n.prefix), u.nlri.map((n) => n.prefix));
      peer.socket.pause();
      const big = encodeUpdates({ afi: 1, safi: 1 }, u.attributes, bigUpdate(800).nlri, Uint8Array.of(127, 0, 0, 1), INITIAL_CONTEXT);
      let sent = 0;
      while (s.writeIdle && sent < 10_000) { s.sendEncoded(big); sent++; }
      assert.equal(s.writeIdle, false, `still idle after ${sent} batches to a peer that does not read`);
      peer.socket.resume();
      await pollUntil(() => s.writeIdle, { what: 'writeIdle again once the peer reads' });
      assert.equal(s.state, 'Established');
    } finally { close(); }
  });

  it('send hold timer (RFC 9687): no output progress for the send hold time → 8/0 and down', async () => {
    const { s, peer, close } = await rawEstablished({ writeHighWaterBytes: 256 << 20, maxQueuedBytes: 512 << 20, sendHoldTimeMs: 500,
      idleHold: { minMs: 60_000, maxMs: 60_000, stableMs: 1 } });
    try {
      peer.socket.pause();
      const u = bigUpdate(800);
      for (let i = 0; i < 10_000; i++) s.send(u); // ~32 MB: more than the kernel buffers on lo
      const t0 = Date.now();
      await pollUntil(() => s.state === 'Idle', { what: 'send hold expiry', timeoutMs: 5000 });
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= 400, `dropped after ${elapsed} ms`);
      assert.deepEqual([s.stats.lastNotificationSent?.code, s.stats.lastNotificationSent?.subcode], [8, 0]);
      assert.match(s.stats.lastError ?? '', /send hold timer expired/);
    } finally { close(); }
  });

  it('repeated resets by the peer back off exponentially up to the cap', async () => {
    const srv = await RawPeer.listen('127.0.0.2');
    const times: number[] = [];
    srv.server.on('connection', (sock) => {
      times.push(Date.now());
      // Reset every session at once with a Cease/4 (administrative reset).
      sock.write(Uint8Array.of(...new Array<number>(16).fill(0xff), 0, 21, 3, 6, 4));
      sock.end();
      sock.on('error', () => undefined);
    });
    const s = new BgpSession({ name: 'flap', peerAddress: '127.0.0.2', peerPort: srv.port, localAddress: '127.0.0.1',
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', connectRetryTime: 5,
      idleHold: { minMs: 100, maxMs: 800, stableMs: 60_000 } }, { clock: systemClock, logger: testLogger('flap'), codec: wireCodec });
    try {
      s.start();
      await pollUntil(() => times.length >= 6, { what: '6 connections', timeoutMs: 10_000 });
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
      // 100, 200, 400, 800, 800 ms (plus connect time): growing, then capped.
      assert.ok((gaps[0] ?? 0) >= 90 && (gaps[0] ?? 0) < 400, `first gap ${gaps[0]}`);
      assert.ok((gaps[2] ?? 0) >= 380, `third gap ${gaps[2]}`);
      assert.ok((gaps[3] ?? 0) >= 780 && (gaps[4] ?? 0) >= 780 && (gaps[4] ?? 0) < 2500, `gaps ${gaps.join(',')}`);
      assert.equal(s.stats.lastNotificationReceived?.text, 'Administrative reset');
    } finally { s.destroy(); srv.server.close(); }
  });
});
