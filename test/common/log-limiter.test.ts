/**
 * LogLimiter and the lines it guards: connections from unconfigured addresses (listener) and
 * malformed messages a session keeps up for (RFC 7606), counted on a real pino logger.
 *
 *   RawPeer 127.0.0.3 ──N connections──► BgpListener (no session for it)
 *   RawPeer 127.0.0.2 ──N malformed UPDATEs──► passive BgpSession 127.0.0.1
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { LogLimiter } from '../../common/log-limiter.js';
import { BgpListener } from '../../bgp/session/listener.js';
import { BgpSession } from '../../bgp/session/session.js';
import { wireCodec } from '../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../common/clock.js';
import { RawPeer } from '../helpers/bgp-session-peers.js';
import { pollUntil } from '../helpers/poll.js';

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { logger, lines };
}

describe('LogLimiter', () => {
  it('burst per key and window, then the count of what was left out; keys independent and bounded', () => {
    let t = 0;
    const l = new LogLimiter({ burst: 3, windowMs: 1000, now: () => t, maxKeys: 2 });
    const takes = (key: string, n: number) => Array.from({ length: n }, () => l.take(key));
    assert.deepEqual(takes('a', 5), [{}, {}, {}, undefined, undefined]);
    assert.deepEqual(l.take('b'), {});
    t = 999;
    assert.equal(l.take('a'), undefined);
    t = 1000;
    assert.deepEqual(l.take('a'), { suppressed: 3 });
    assert.deepEqual(l.take('a'), {});
    assert.deepEqual(l.take('c'), {}); // forgets the oldest key ('a' was set again after 'b': 'b' goes)
    assert.deepEqual(takes('b', 1), [{}]);
  });

  it('a flood of connections from an unconfigured address writes a bounded number of lines', async () => {
    const { logger, lines } = capturingLogger();
    const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger });
    await l.listen();
    try {
      for (let i = 0; i < 40; i++) {
        const p = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.3');
        await pollUntil(() => p.closed, { what: 'closed unread' });
      }
      const unknown = lines.filter((x) => typeof x['msg'] === 'string' && (x['msg'] as string).startsWith('unexpected connect from unknown address'));
      assert.equal(unknown.length, 10, `${unknown.length} lines for 40 connections`);
    } finally { await l.close(); }
  });

  it('a peer sending malformed UPDATEs (treat-as-withdraw, session kept) gets a bounded number of lines', async () => {
    const { logger, lines } = capturingLogger();
    const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger });
    await l.listen();
    const s = new BgpSession({ name: 'm', peerAddress: '127.0.0.2', localAddress: '127.0.0.1', passive: true, localAs: 65001, peerAs: 65002, routerId: '1.1.1.1' },
      { clock: systemClock, logger, codec: wireCodec });
    l.addSession(s);
    s.start();
    const p = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
    try {
      p.send({ type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: 0x02020202, capabilities: [{ type: 'four-octet-as', asn: 65002 }] });
      p.send({ type: 'keepalive' });
      await pollUntil(() => s.state === 'Established', { what: 'Established' });
      // UPDATE: ORIGIN 7 (invalid value: treat-as-withdraw, RFC 7606 §7.1), AS_PATH empty, NEXT_HOP, NLRI 10.0.0.0/24
      const body = [0, 0, 0, 14, 0x40, 1, 1, 7, 0x40, 2, 0, 0x40, 3, 4, 127, 0, 0, 2, 24, 10, 0, 0];
      const msg = Uint8Array.from([...new Array<number>(16).fill(0xff), 0, 19 + body.length, 2, ...body]);
      for (let i = 0; i < 60; i++) p.sendRaw(msg);
      p.send({ type: 'keepalive' });
      await pollUntil(() => s.stats.updatesIn >= 60 || s.stats.messagesIn >= 62, { what: () => `60 UPDATEs processed (${JSON.stringify(s.stats)})` });
      assert.equal(s.state, 'Established', 'treat-as-withdraw keeps the session');
      const malformed = lines.filter((x) => x['msg'] === 'malformed message handled per RFC 7606');
      assert.equal(malformed.length, 10, `${malformed.length} lines for 60 malformed UPDATEs`);
    } finally {
      p.destroy();
      await s.stop();
      await l.close();
    }
  });
});
