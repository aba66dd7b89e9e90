/**
 * ADD-PATH (RFC 7911) between our own speakers over loopback, as tortie-node's sessions run it
 * (send and receive on every session, iBGP): a route reflector R with clients A and B (and D,
 * later). A and B originate the same prefix with different next hops; each gets the other's path
 * (never its own), D both under R's path ids; C (an iBGP non-client without ADD-PATH) the best
 * only; a withdrawal removes that path only. IPv4 and IPv6 (MP_REACH / MP_UNREACH with path ids).
 *
 *   A 127.0.0.11 ─┐
 *                 ├─ R 127.0.0.10 (RR, AS 65000) ── C 127.0.0.13 (non-client, no ADD-PATH)
 *   B 127.0.0.12 ─┘
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../helpers/poll.js';
import { tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig } from '../../../bgp/speaker/peer-config.js';

const port = 20000 + ((process.pid + 7919) % 20000);
const ON = { send: true, receive: true } as const;
const peer = (p: Partial<PeerConfig> & Pick<PeerConfig, 'name' | 'address' | 'asn'>): PeerConfig => ({
  port, passive: false, holdTime: 9, keepalive: 3, connectRetry: 1, families: ['ipv4-unicast', 'ipv6-unicast'], nextHopSelf: false, routeReflectorClient: false, ...p,
});

describe('BgpSpeaker ADD-PATH over loopback', () => {
  const speakers: BgpSpeaker[] = [];
  after(async () => { for (const s of speakers) await s.stop(); });

  it('a reflector passes every path on to ADD-PATH clients, the best to a peer without it; a withdrawal takes one path', async () => {
    const mk = (id: number, asn: number, peers: PeerConfig[]) => {
      const s = new BgpSpeaker(tcpSpeakerDeps(), { routerId: `10.0.0.${id}`, asn, listen: { address: `127.0.0.${id}`, port }, peers });
      speakers.push(s);
      return s;
    };
    const r = mk(10, 65000, [
      peer({ name: 'a', address: '127.0.0.11', asn: 65000, localAddress: '127.0.0.10', routeReflectorClient: true, addPaths: ON }),
      peer({ name: 'b', address: '127.0.0.12', asn: 65000, localAddress: '127.0.0.10', routeReflectorClient: true, addPaths: ON }),
      peer({ name: 'c', address: '127.0.0.13', asn: 65000, localAddress: '127.0.0.10', addPaths: ON }),
    ]);
    const a = mk(11, 65000, [peer({ name: 'r', address: '127.0.0.10', asn: 65000, localAddress: '127.0.0.11', addPaths: ON })]);
    const b = mk(12, 65000, [peer({ name: 'r', address: '127.0.0.10', asn: 65000, localAddress: '127.0.0.12', addPaths: ON })]);
    const c = mk(13, 65000, [peer({ name: 'r', address: '127.0.0.10', asn: 65000, localAddress: '127.0.0.13' })]);
    const d = mk(14, 65000, []); // joins later: gets the table (both paths)
    for (const s of [r, a, b, c, d]) await s.start();
    a.originate('10.9.0.0/24', { nextHop: '192.0.2.11' });
    b.originate('10.9.0.0/24', { nextHop: '192.0.2.12', localPref: 50 });
    b.originate('10.9.1.0/24', { nextHop: '192.0.2.12' });
    a.originate('2001:db8:9::/48', { nextHop: '2001:db8::11' });
    b.originate('2001:db8:9::/48', { nextHop: '2001:db8::12' });
    await pollUntil(() => r.routes('10.9.0.0/24').length === 2, { what: 'R holds both paths' });
    assert.ok(r.status().find((p) => p.name === 'a')?.capabilities.includes('ADD-PATH'));
    // A gets B's path only (its own is never sent back), B gets A's; C without ADD-PATH gets the best (A's, higher LOCAL_PREF)
    await pollUntil(() => a.routes('10.9.0.0/24').some((x) => x.from === 'r' && x.nextHop === '192.0.2.12'), { what: 'A has B\'s path from R' });
    await pollUntil(() => b.routes('10.9.0.0/24').some((x) => x.from === 'r' && x.nextHop === '192.0.2.11'), { what: 'B has A\'s path from R' });
    await pollUntil(() => c.routes('10.9.0.0/24').length === 1 && c.routes('10.9.1.0/24').length === 1, { what: 'C has one path per prefix' });
    assert.equal(c.routes('10.9.0.0/24')[0]?.nextHop, '192.0.2.11', 'the best: A\'s (LOCAL_PREF 100 over 50)');
    assert.equal(r.status().find((p) => p.name === 'c')?.capabilities.includes('ADD-PATH'), false, 'C did not agree to ADD-PATH');
    // a late client gets both paths in its initial table, with distinct path ids
    r.addPeer(peer({ name: 'd', address: '127.0.0.14', asn: 65000, localAddress: '127.0.0.10', routeReflectorClient: true, addPaths: ON }));
    d.addPeer(peer({ name: 'r', address: '127.0.0.10', asn: 65000, localAddress: '127.0.0.14', addPaths: ON }));
    const both = await pollUntil(() => { const v = d.routes('10.9.0.0/24'); return v.length === 2 ? v : undefined; }, { what: 'D holds both paths' });
    assert.deepEqual(both.map((x) => x.nextHop).sort(), ['192.0.2.11', '192.0.2.12']);
    assert.equal(new Set(both.map((x) => x.pathId)).size, 2, 'two path ids');
    assert.equal(both.find((x) => x.best)?.nextHop, '192.0.2.11', 'best path over both: LOCAL_PREF 100 over 50');
    const both6 = await pollUntil(() => { const v = d.routes('2001:db8:9::/48'); return v.length === 2 ? v : undefined; }, { what: 'D holds both IPv6 paths (MP_REACH with path ids)' });
    assert.deepEqual(both6.map((x) => x.nextHop).sort(), ['2001:db8::11', '2001:db8::12']);
    // A withdraws: D keeps B's path under its id; C's best becomes B's
    const bId = both.find((x) => x.nextHop === '192.0.2.12')?.pathId;
    a.withdraw('10.9.0.0/24');
    await pollUntil(() => d.routes('10.9.0.0/24').length === 1, { what: 'D holds one path' });
    assert.equal(d.routes('10.9.0.0/24')[0]?.pathId, bId, 'B\'s path kept its id');
    await pollUntil(() => c.routes('10.9.0.0/24').length === 1 && c.routes('10.9.0.0/24')[0]?.nextHop === '192.0.2.12', { what: 'C has B\'s path now' });
    assert.equal(r.status().find((p) => p.name === 'd')?.prefixes.advertised, 4, 'D: 10.9.0.0/24 (B), 10.9.1.0/24 and both paths of 2001:db8:9::/48');
    a.withdraw('2001:db8:9::/48');
    await pollUntil(() => d.routes('2001:db8:9::/48').length === 1, { what: 'D holds one IPv6 path (MP_UNREACH by path id)' });
    assert.equal(d.routes('2001:db8:9::/48')[0]?.nextHop, '2001:db8::12');
  });
});
