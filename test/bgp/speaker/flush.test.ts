/**
 * speaker.flush(): the UPDATE an originate() or withdraw() calls for is handed to the peer's
 * socket inside the call, not at the next setImmediate (the agent originates a block, flushes,
 * then spends a while on netlink). Real TCP over loopback:
 *
 *   speaker 127.0.0.1 ◀──── raw peer 127.0.5.1 (AS 65105, reads what it is sent)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';

describe('BgpSpeaker.flush()', () => {
  let sp: BgpSpeaker | undefined;
  let raw: RawPeer | undefined;
  after(async () => { raw?.destroy(); await sp?.stop(); });

  it('sends the UPDATE of an originate and of a withdraw before it returns', async () => {
    const port = 32000 + (process.pid % 20000);
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port }, peers: [
      passivePeerConfig('watcher', '127.0.5.1', 65105, { holdTime: 0 }),
    ] });
    await sp.start();
    const speaker = sp;
    raw = await openRawPeer(port, '127.0.5.1', 65105, 0x0a000501);
    const peer = raw;
    const updatesOut = (): number => speaker.status()[0]?.messages.updatesOut ?? -1;
    await pollUntil(() => speaker.status()[0]?.state === 'Established', { what: 'watcher Established' });
    // the End-of-RIB of the (empty) initial table has gone out: nothing else is pending
    await pollUntil(() => peer.received.some((m) => m.type === 'update'), { what: 'the initial End-of-RIB' });
    const sent = (what: 'nlri' | 'withdrawn'): string[] =>
      peer.received.flatMap((m) => (m.type === 'update' ? m[what].map((n) => formatPrefix(n.prefix)) : []));

    let before = updatesOut();
    speaker.originate('10.50.0.0/24', { nextHop: '192.0.2.1' });
    assert.equal(updatesOut(), before, 'without flush() the UPDATE waits for the next setImmediate');
    speaker.flush();
    assert.equal(updatesOut(), before + 1, 'flush() sent the announcement');
    await pollUntil(() => sent('nlri').includes('10.50.0.0/24'), { what: () => `the peer got 10.50.0.0/24 (has ${JSON.stringify(sent('nlri'))})` });

    before = updatesOut();
    speaker.withdraw('10.50.0.0/24');
    speaker.flush();
    assert.equal(updatesOut(), before + 1, 'flush() sent the withdrawal');
    await pollUntil(() => sent('withdrawn').includes('10.50.0.0/24'), { what: 'the peer got the withdrawal' });

    // nothing left pending: a second flush() and the scheduled one send nothing more
    speaker.flush();
    await new Promise((r) => setImmediate(r));
    assert.equal(updatesOut(), before + 1);
  });
});
