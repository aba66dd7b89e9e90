/**
 * RFC 5881 §5: a single-hop BFD packet must arrive with TTL 255. The worker's receive socket
 * carries a socket filter (common/native setTtlFilter) per single-hop peer; a multihop session
 * (RFC 5883) takes any TTL. Loopback addresses and test ports, no namespace:
 *
 *   sender 127.0.0.2:port (TTL 255 | 254) ──▶ worker 127.0.0.1 (single-hop session to 127.0.0.2)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { BfdDriver } from '../../../bgp/bfd/driver.js';
import { BfdState, encodeControl } from '../../../bgp/bfd/packet.js';
import { silentLogger } from '../../../common/logger.js';
import { loadNative } from '../../../common/native/native.js';
import { pollUntil } from '../../helpers/poll.js';

function nativeMissing(): string | undefined {
  try { loadNative(); return undefined; } catch (err) { return (err as Error).message; }
}

test('single-hop BFD: a packet with TTL 254 is dropped, TTL 255 is taken', { skip: nativeMissing() }, async () => {
  const port = 20000 + (process.pid % 20000);
  const d = new BfdDriver({ logger: silentLogger(), options: { singleHopPort: port, multihopPort: port + 1, nice: 0 } });
  const tx = createSocket('udp4');
  try {
    const params = { desiredMinTxUs: 1e6, requiredMinRxUs: 1e6, detectMult: 3, passive: true };
    d.set('p', { peer: '127.0.0.2', local: '127.0.0.1', multihop: false, params });
    await new Promise<void>((r) => tx.bind({ address: '127.0.0.2', port: 0 }, () => r()));
    const control = (myDiscr: number) => encodeControl({ diag: 0, state: BfdState.Down, poll: false, final: false, cpi: false, demand: false, detectMult: 3,
      myDiscr, yourDiscr: 0, desiredMinTxUs: 1e6, requiredMinRxUs: 1e6, requiredMinEchoRxUs: 0 });
    const pkt = control(42);
    const session = async () => (await d.sessions())[0];
    // Loopback keeps the order, so once the session has taken a packet with a new discriminator,
    // every packet sent before it was taken or dropped: each phase ends with such a marker.
    const marker = async (myDiscr: number) => {
      tx.setTTL(255);
      await new Promise<void>((r) => tx.send(control(myDiscr), port, '127.0.0.1', () => r()));
      await pollUntil(async () => (await session())?.remoteDiscr === myDiscr, { what: `the TTL 255 packet with discriminator ${myDiscr} is received`, timeoutMs: 5000 });
    };
    // The filter goes on once the receive socket is bound: keep sending TTL 255 until one counts.
    tx.setTTL(255);
    await pollUntil(async () => { tx.send(pkt, port, '127.0.0.1'); return ((await session())?.packetsIn ?? 0) > 0; }, { what: 'a TTL 255 packet is received', timeoutMs: 5000 });
    await marker(44);
    const before = (await session())?.packetsIn ?? 0;
    tx.setTTL(254);
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => tx.send(pkt, port, '127.0.0.1', () => r()));
    await marker(43);
    assert.equal((await session())?.packetsIn, before + 1, 'only the marker counted: the five TTL 254 packets were dropped by the filter');
  } finally {
    tx.close();
    await d.stop();
  }
});
