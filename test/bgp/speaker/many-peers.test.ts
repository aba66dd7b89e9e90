/**
 * Regression for the bench's 100x1k cell ("the monitor still held 100000 routes after 120 s"):
 * withdrawals must reach every other peer when many peers announce and then withdraw, whether
 * they withdraw by UPDATE or by dropping the session. Real TCP over loopback: 40 scripted
 * "tester" peers (127.0.2.x) announce 250 /24s each to the speaker, a scripted monitor
 * (127.0.3.1) tracks what the speaker advertises from each UPDATE it receives.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, type Prefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import type { BgpMessage } from '../../../bgp/wire/types.js';

const TESTERS = 40;
const ROUTES = 250;
const SPEAKER_AS = 65000;

/** What a raw peer has been told: prefixes currently advertised to it, by text. */
function advertised(messages: readonly BgpMessage[], from = 0, into = new Set<string>()): Set<string> {
  for (let i = from; i < messages.length; i++) {
    const m = messages[i];
    if (m?.type !== 'update') continue;
    for (const w of m.withdrawn) into.delete(formatPrefix(w.prefix));
    for (const n of m.nlri) into.add(formatPrefix(n.prefix));
  }
  return into;
}

/** Keeps a running view per raw peer without re-reading all messages on every poll. */
class View {
  private seen = 0;
  readonly set = new Set<string>();
  constructor(private readonly raw: RawPeer) {}
  get size(): number { advertised(this.raw.received, this.seen, this.set); this.seen = this.raw.received.length; return this.set.size; }
}

const p24 = (i: number, j: number): Prefix => ({ family: 4, bytes: Uint8Array.of(20, i, j, 0), length: 24 });

describe('BgpSpeaker with many peers: withdrawals propagate', () => {
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  it(`${TESTERS} peers x ${ROUTES} routes: the monitor gets all, then none (UPDATE withdraws and session drops)`, async () => {
    const port = 30000 + (process.pid % 20000);
    const peers = Array.from({ length: TESTERS }, (_, i) => passivePeerConfig(`t${i}`, `127.0.2.${i + 1}`, 65101 + i));
    peers.push(passivePeerConfig('monitor', '127.0.3.1', 65003));
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: SPEAKER_AS, listen: { address: '127.0.0.1', port }, peers });
    await sp.start();
    const speaker = sp;
    const open = async (address: string, asn: number, id: number): Promise<RawPeer> => {
      const r = await openRawPeer(port, address, asn, id);
      raws.push(r);
      return r;
    };
    const monitor = await open('127.0.3.1', 65003, 0x0a000301);
    const testers: RawPeer[] = [];
    for (let i = 0; i < TESTERS; i++) testers.push(await open(`127.0.2.${i + 1}`, 65101 + i, 0x0a000200 + i + 1));
    await pollUntil(() => speaker.status().every((s) => s.state === 'Established'), { what: 'all sessions Established', timeoutMs: 20_000 });

    const nlri = (i: number) => Array.from({ length: ROUTES }, (_, j) => ({ prefix: p24(i, j) }));
    testers.forEach((t, i) => t.send({
      type: 'update', withdrawn: [], nlri: nlri(i),
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65101 + i] }], nextHop: Uint8Array.of(192, 0, 2, i + 1) },
    }));
    const mon = new View(monitor);
    await pollUntil(() => mon.size === TESTERS * ROUTES, { what: `monitor holds ${TESTERS * ROUTES} routes`, timeoutMs: 30_000 });
    // every tester hears everyone else's routes, never its own
    const views = testers.map((t) => new View(t));
    await pollUntil(() => views.every((v) => v.size === (TESTERS - 1) * ROUTES), { what: 'each tester holds the others\' routes', timeoutMs: 30_000 });
    assert.ok(![...views[0]!.set].some((k) => k.startsWith('20.0.')), 'tester 0 was not sent its own routes');
    assert.equal(speaker.status().find((s) => s.name === 'monitor')?.prefixes.advertised, TESTERS * ROUTES);

    // withdraw: the first half by UPDATE, the second half by closing the TCP connection
    testers.forEach((t, i) => {
      if (i < TESTERS / 2) t.send({ type: 'update', withdrawn: nlri(i), nlri: [], attributes: {} });
      else t.destroy();
    });
    await pollUntil(() => mon.size === 0, { what: 'monitor holds no routes', timeoutMs: 30_000 });
    await pollUntil(() => views.slice(0, TESTERS / 2).every((v) => v.size === 0), { what: 'remaining testers hold no routes', timeoutMs: 30_000 });
    assert.equal(speaker.status().find((s) => s.name === 'monitor')?.prefixes.advertised, 0);
    assert.equal(speaker.bestRoutes().length, 0);
    assert.equal(speaker.status().find((s) => s.name === 'monitor')?.state, 'Established');
  });
});
