/**
 * Session behaviour the RFCs pin down, over real TCP on loopback (raw peers, no daemons):
 * - an UPDATE whose new attributes no longer fit a 4096-byte message for a peer without the
 *   extended-message capability withdraws the old version there (it must not keep it as current);
 * - ROUTE-REFRESH for a family the session did not negotiate is ignored (RFC 2918 §4);
 * - AS_CONFED segments from a peer outside our confederation: treat-as-withdraw (RFC 5065 §5.3,
 *   RFC 7606 §7.2), the session stays up;
 * (NEXT_HOP equal to our own address: test/bgp/interop/next-hop-self.test.ts, as on loopback our
 * address is a 127/8 one the decoder already refuses.)
 *
 *   src 127.0.9.1 (extended message) ──▶ speaker 127.0.0.1 ──▶ w 127.0.9.2 (no extended message)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { INITIAL_CONTEXT, type PathAttributes } from '../../../bgp/wire/types.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';

const NH = Uint8Array.of(192, 0, 2, 7);
const announce = (r: RawPeer, prefix: string, attributes: PathAttributes): void => {
  r.send({ type: 'update', withdrawn: [], nlri: [{ prefix: parsePrefix(prefix) }], attributes });
};
const withdrawnAt = (r: RawPeer): string[] => r.received.flatMap((m) => (m.type === 'update' ? m.withdrawn.map((n) => formatPrefix(n.prefix)) : []));
const announcedAt = (r: RawPeer): string[] => r.received.flatMap((m) => (m.type === 'update' ? m.nlri.map((n) => formatPrefix(n.prefix)) : []));

describe('BgpSpeaker session fixes', () => {
  const port = 39000 + (process.pid % 20000);
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  let src: RawPeer, w: RawPeer;
  const speaker = (): BgpSpeaker => { if (!sp) throw new Error('not started'); return sp; };
  const status = (name: string) => speaker().status().find((s) => s.name === name);

  it('attributes grown past 4096 bytes: the peer without extended messages gets a withdrawal, not silence', async () => {
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port },
      peers: [passivePeerConfig('src', '127.0.9.1', 65401), passivePeerConfig('w', '127.0.9.2', 65402)] });
    await sp.start();
    src = await RawPeer.connect('127.0.0.1', port, '127.0.9.1');
    src.send({ type: 'open', version: 4, myAs: 65401, holdTime: 0, bgpId: 0x0a000901, capabilities: [
      { type: 'four-octet-as', asn: 65401 }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' }, { type: 'extended-message' }] });
    src.send({ type: 'keepalive' });
    src.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true, extendedMessage: true };
    w = await openRawPeer(port, '127.0.9.2', 65402, 0x0a000902);
    raws.push(src, w);
    await pollUntil(() => status('src')?.state === 'Established' && status('w')?.state === 'Established', { what: 'both Established' });
    announce(src, '10.95.1.0/24', { origin: 0, asPath: [{ type: 2, asns: [65401] }], nextHop: NH, communities: [1] });
    await pollUntil(() => announcedAt(w).includes('10.95.1.0/24'), { what: 'w got the small version' });
    const big = Array.from({ length: 1100 }, (_x, i) => (65401 * 65536 + i) >>> 0); // 4400 bytes of COMMUNITIES
    announce(src, '10.95.1.0/24', { origin: 0, asPath: [{ type: 2, asns: [65401] }], nextHop: NH, communities: big });
    await pollUntil(() => speaker().routes('10.95.1.0/24')[0]?.communities.length === 1100, { what: 'the big version in the Loc-RIB' });
    await pollUntil(() => withdrawnAt(w).includes('10.95.1.0/24'), { what: 'w told to withdraw the version it can no longer get' });
    assert.equal(status('w')?.state, 'Established');
  });

  it('ROUTE-REFRESH for a family not negotiated is ignored (RFC 2918)', async () => {
    const before = w.received.length;
    w.send({ type: 'route-refresh', afi: 2, safi: 1, subtype: 0 }); // IPv6: never negotiated
    w.send({ type: 'route-refresh', afi: 1, safi: 1, subtype: 0 }); // IPv4: answered
    await pollUntil(() => (status('w')?.messages.routeRefreshIn ?? 0) >= 1, { what: 'the IPv4 request counted' });
    assert.equal(status('w')?.messages.routeRefreshIn, 1, 'only the negotiated family is a refresh request');
    await pollUntil(() => w.received.length > before, { what: 'the IPv4 refresh answered' });
    assert.equal(status('w')?.state, 'Established');
  });

  it('AS_CONFED segments from a peer outside our confederation: treat-as-withdraw, session up', async () => {
    announce(src, '10.95.2.0/24', { origin: 0, asPath: [{ type: 2, asns: [65401] }], nextHop: NH });
    await pollUntil(() => speaker().routes('10.95.2.0/24').length === 1, { what: 'plain route in' });
    announce(src, '10.95.2.0/24', { origin: 0, asPath: [{ type: 3, asns: [65500] }, { type: 2, asns: [65401] }], nextHop: NH });
    announce(src, '10.95.3.0/24', { origin: 0, asPath: [{ type: 2, asns: [65401] }], nextHop: NH }); // processed after it
    await pollUntil(() => speaker().routes('10.95.3.0/24').length === 1, { what: 'the next UPDATE processed' });
    assert.equal(speaker().routes('10.95.2.0/24').length, 0, 'the AS_CONFED version replaced the route as a withdrawal');
    assert.equal(status('src')?.state, 'Established');
  });
});
