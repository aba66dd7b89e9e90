/**
 * The speaker encodes each member's batch into one reused buffer while the kernel takes every
 * write at once (sendBatch's scratch). A peer that stops reading makes a write stay queued in
 * its socket, still pointing into that buffer: the next batch must then get a new buffer, or
 * the queued bytes change under the socket. Real TCP over loopback: a paused reader asks for
 * its table again (ROUTE-REFRESH) until the kernel's buffers are full and a table stays queued;
 * then it asks once more and a second peer's table is encoded. Resumed, it must decode every
 * message and hold exactly the table.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, type Prefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import type { BgpMessage } from '../../../bgp/wire/types.js';

/** 1000 /24s per UPDATE, about 4 kB each: 0.8 MB of UPDATEs for a whole table (under SCRATCH_MAX). */
const ROUTES = 200_000;

const p24 = (i: number): Prefix => ({ family: 4, bytes: Uint8Array.of(20 + (i >>> 16), (i >>> 8) & 255, i & 255, 0), length: 24 });

/** Prefixes a raw peer holds after the UPDATEs it decoded (RawPeer throws on a corrupt message). */
function held(messages: readonly BgpMessage[]): Set<string> {
  const s = new Set<string>();
  for (const m of messages) {
    if (m.type !== 'update') continue;
    for (const w of m.withdrawn) s.delete(formatPrefix(w.prefix));
    for (const n of m.nlri) s.add(formatPrefix(n.prefix));
  }
  return s;
}

describe('BgpSpeaker: a peer that stops reading', () => {
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  it('gets its table intact after another peer\'s table was encoded meanwhile', async () => {
    const port = 31000 + (process.pid % 20000);
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port }, peers: [
      passivePeerConfig('tester', '127.0.4.1', 65101, { holdTime: 0 }), passivePeerConfig('slow', '127.0.4.2', 65000, { holdTime: 0 }),
      passivePeerConfig('fast', '127.0.4.3', 65103, { holdTime: 0 }),
    ] });
    await sp.start();
    const speaker = sp;
    const open = async (address: string, asn: number, id: number): Promise<RawPeer> => {
      const r = await openRawPeer(port, address, asn, id, { ibgp: asn === 65000 });
      raws.push(r);
      return r;
    };
    const established = (name: string) => () => speaker.status().find((s) => s.name === name)?.state === 'Established';

    const tester = await open('127.0.4.1', 65101, 0x0a000401);
    await pollUntil(established('tester'), { what: 'tester Established' });
    for (let k = 0; k < ROUTES; k += 1000) {
      tester.send({ type: 'update', withdrawn: [], nlri: Array.from({ length: 1000 }, (_, j) => ({ prefix: p24(k + j) })),
        attributes: { origin: 0, asPath: [{ type: 2, asns: [65101] }], nextHop: Uint8Array.of(192, 0, 2, 1) } });
    }
    await pollUntil(() => speaker.bestRoutes().length === ROUTES, { what: `the speaker holds ${ROUTES} routes`, timeoutMs: 30_000 });

    // the slow peer stops reading as soon as it is Established, and asks for the table again
    // until one stays queued in its socket (the kernel's buffers are full)
    // iBGP: LOCAL_PREF makes its table a little longer than the eBGP peer's, which therefore fits
    // in the buffer the slow peer's last table is still queued from (the case that must not reuse it)
    const slow = await open('127.0.4.2', 65000, 0x0a000402);
    slow.socket.pause(); // it has sent its OPEN and KEEPALIVE: the speaker needs nothing more from it
    await pollUntil(established('slow'), { what: 'slow peer Established' });
    const sessions = (speaker as unknown as { peers: Map<string, { session: { queuedBytes: number } }> }).peers;
    const queued = (): number => sessions.get('slow')?.session.queuedBytes ?? 0;
    // a table goes out in slices (table-sync.ts): wait for each one's UPDATEs, or for bytes to stay queued
    const sentUpdates = (): number => speaker.status().find((s) => s.name === 'slow')?.messages.updatesOut ?? 0;
    let refreshes = 0;
    while (queued() === 0 && refreshes < 40) {
      const before = sentUpdates();
      slow.send({ type: 'route-refresh', afi: 1, safi: 1, subtype: 0 });
      refreshes++;
      await pollUntil(() => queued() > 0 || sentUpdates() >= before + ROUTES / 1000,
        { what: `route refresh ${refreshes} answered (a table sent, or bytes queued)`, timeoutMs: 30_000 });
    }
    assert.ok(queued() > 0, `a table stayed queued for the slow peer (after ${refreshes} refreshes)`);
    // one more table for it, then another peer's table, while those bytes wait in its socket
    slow.send({ type: 'route-refresh', afi: 1, safi: 1, subtype: 0 });
    const fast = await open('127.0.4.3', 65103, 0x0a000403);
    await pollUntil(() => held(fast.received).size === ROUTES, { what: `fast peer holds ${ROUTES} routes`, timeoutMs: 30_000 });
    assert.equal(held(slow.received).size, 0, 'the slow peer was not reading');

    slow.socket.resume();
    // read everything the speaker wrote (RawPeer decodes each message and throws on a corrupt one)
    const updatesOut = (): number => speaker.status().find((s) => s.name === 'slow')?.messages.updatesOut ?? -1;
    const updatesIn = (): number => slow.received.filter((m) => m.type === 'update').length;
    await pollUntil(() => queued() === 0 && updatesIn() === updatesOut(), { what: () => `slow peer read all ${updatesOut()} UPDATEs (has ${updatesIn()}, ${queued()} bytes queued)`, timeoutMs: 30_000 });
    const want = new Set(Array.from({ length: ROUTES }, (_, i) => formatPrefix(p24(i))));
    assert.deepEqual(held(slow.received), want);
    // and every table it was sent carried its own (iBGP) attributes, not another peer's bytes
    for (const m of slow.received) if (m.type === 'update' && m.nlri.length > 0) assert.equal(m.attributes.localPref, 100);
    assert.equal(speaker.status().find((s) => s.name === 'slow')?.state, 'Established');
  });
});
