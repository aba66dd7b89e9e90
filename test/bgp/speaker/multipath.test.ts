/**
 * Multipath selection in the speaker (BIRD `merge paths`, FRR `maximum-paths`), in-process over
 * loopback with real TCP:
 *
 *   a (AS 65001, next hop 192.0.2.1) ──eBGP──┐
 *                                            b (AS 65002, multipath) ── onBestPathChange
 *   c (AS 65003, next hop 192.0.2.3) ──eBGP──┘
 *
 * a and c originate the same prefix: equal down to the tie-breakers, AS_PATHs of the same length
 * but different content. b reports both paths with relaxAsPath, the best only without it, and
 * narrows to one when c goes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../helpers/poll.js';
import { tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { BgpSpeaker, type BestPathChange } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig, SpeakerConfig } from '../../../bgp/speaker/peer-config.js';

const peer = (p: Partial<PeerConfig> & Pick<PeerConfig, 'name' | 'address' | 'asn' | 'port'>): PeerConfig => ({
  passive: false, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false, ...p,
});

const basePort = 20000 + ((process.pid + 7919) % 20000);

describe('BgpSpeaker multipath', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });

  it('reports the equal paths of two neighbours, honours relaxAsPath and maxPaths, and narrows when one goes', async () => {
    const pa = basePort, pb = basePort + 1, pc = basePort + 2;
    const a = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65001, listen: { address: '127.0.0.1', port: pa }, peers: [] });
    const c = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.3', asn: 65003, listen: { address: '127.0.0.3', port: pc }, peers: [] });
    const bPeers = [
      peer({ name: 'a', address: '127.0.0.1', asn: 65001, port: pa, localAddress: '127.0.0.2' }),
      peer({ name: 'c', address: '127.0.0.3', asn: 65003, port: pc, localAddress: '127.0.0.2' }),
    ];
    const bCfg: SpeakerConfig = { routerId: '10.0.0.2', asn: 65002, listen: { address: '127.0.0.2', port: pb }, peers: bPeers,
      multipath: { maxPaths: 4, relaxAsPath: true } };
    const b = new BgpSpeaker(tcpSpeakerDeps(), bCfg);
    speakers.push(a, b, c);
    const last = new Map<string, BestPathChange>();
    b.onBestPathChange((ch) => last.set(ch.prefix, ch));
    const hops = (): string[] => (last.get('10.9.0.0/24')?.multipath ?? []).map((r) => r.nextHop);
    await a.start(); await b.start(); await c.start();
    a.addPeer(peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: pb, localAddress: '127.0.0.1' }));
    c.addPeer(peer({ name: 'b', address: '127.0.0.2', asn: 65002, port: pb, localAddress: '127.0.0.3' }));
    a.originate('10.9.0.0/24', { nextHop: '192.0.2.1' });
    c.originate('10.9.0.0/24', { nextHop: '192.0.2.3' });
    await pollUntil(() => hops().length === 2 || undefined, { what: 'both paths in the multipath set' });
    assert.deepEqual(hops(), ['192.0.2.1', '192.0.2.3'], 'best first (lower router id), then the other');
    assert.equal(last.get('10.9.0.0/24')?.best?.nextHop, '192.0.2.1');

    // maxPaths 1: the best path stays, only the set changes, and listeners hear of it.
    const r = b.reconfigure({ ...bCfg, multipath: { maxPaths: 1, relaxAsPath: true } });
    assert.deepEqual(r.changed, [], 'no session reset');
    await pollUntil(() => hops().length === 0 || undefined, { what: 'set back to the best path only (maxPaths 1)' });
    assert.equal(last.get('10.9.0.0/24')?.best?.nextHop, '192.0.2.1');
    b.reconfigure(bCfg);
    await pollUntil(() => hops().length === 2 || undefined, { what: 'multipath again' });
    // FRR's default: different AS_PATH content, no multipath.
    b.reconfigure({ ...bCfg, multipath: { maxPaths: 4 } });
    await pollUntil(() => hops().length === 0 || undefined, { what: 'best only without relaxAsPath' });
    b.reconfigure(bCfg);
    await pollUntil(() => hops().length === 2 || undefined, { what: 'multipath once more' });

    // c goes: the set narrows to a's path (the best stays the same object).
    b.removePeer('c');
    await pollUntil(() => (hops().length === 0 && last.get('10.9.0.0/24')?.best?.nextHop === '192.0.2.1') || undefined, { what: 'narrowed to one path' });
    assert.equal(b.status().find((s) => s.name === 'a')?.state, 'Established');
  });
});
