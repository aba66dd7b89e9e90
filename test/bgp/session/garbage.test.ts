/**
 * Bad input never crashes the session: arbitrary bytes (raw, or after a valid OPEN/KEEPALIVE
 * exchange) from a peer over loopback end in a NOTIFICATION or a close, and the session comes
 * back to accept the next connection.
 *
 *   RawPeer 127.0.0.2 ──random bytes──► BgpListener + passive BgpSession 127.0.0.1
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pollUntil } from '../../helpers/poll.js';
import { RawPeer, testLogger } from '../../helpers/bgp-session-peers.js';
import { BgpSession } from '../../../bgp/session/session.js';
import { BgpListener } from '../../../bgp/session/listener.js';
import { wireCodec } from '../../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../../common/clock.js';

const MARKER = new Array<number>(16).fill(0xff);

describe('garbage from the peer', () => {
  it('arbitrary bytes never crash the session; it recovers for the next connection', async () => {
    const l = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger: testLogger('garbage') });
    await l.listen();
    const s = new BgpSession({ name: 'garbage', peerAddress: '127.0.0.2', localAddress: '127.0.0.1', passive: true,
      localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', idleHold: { minMs: 1, maxMs: 5, stableMs: 60_000 } },
    { clock: systemClock, logger: testLogger('garbage'), codec: wireCodec });
    l.addSession(s);
    s.start();
    let notifications = 0;
    try {
      // Bodies behind a valid header are the interesting case (the decoder, not just the framer).
      const framed = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 120 }))
        .map(([type, body]) => Uint8Array.from([...MARKER, 0, 19 + body.length, type, ...body].map((b, i) => (i === 16 ? (19 + body.length) >> 8 : b))));
      await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), framed), { minLength: 1, maxLength: 4 }),
        async (handshake, chunks) => {
          await pollUntil(() => s.state === 'Active', { what: 'session back in Active', timeoutMs: 3000 });
          const p = await RawPeer.connect('127.0.0.1', l.port, '127.0.0.2');
          try {
            if (handshake) {
              p.send({ type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: 0x02020202, capabilities: [{ type: 'four-octet-as', asn: 65002 }] });
              p.send({ type: 'keepalive' });
              await pollUntil(() => s.state === 'Established', { what: 'Established', timeoutMs: 3000 });
            }
            for (const c of chunks) p.sendRaw(c);
            // Either the session rejects the input (NOTIFICATION + close) or, for an incomplete
            // message, it is still waiting for the rest: both are fine, a crash is not.
            await pollUntil(() => p.closed, { what: 'close', timeoutMs: 300 }).catch(() => undefined);
            if (p.received.some((m) => m.type === 'notification')) notifications++;
          } finally { p.destroy(); }
          await pollUntil(() => s.state === 'Active', { what: 'back to Active after the peer left', timeoutMs: 3000 });
        }), { numRuns: 30 });
      assert.ok(notifications > 0, 'some inputs were answered with a NOTIFICATION');
      const sent = s.stats.notificationsSent;
      assert.ok(Object.keys(sent).some((k) => k.startsWith('1/')), `header errors answered: ${JSON.stringify(sent)}`);
    } finally { s.destroy(); await l.close(); }
  });
});
