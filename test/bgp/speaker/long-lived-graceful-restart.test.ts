/**
 * Long-lived graceful restart, helper side (RFC 9494): a peer offering GR (restart time 1 s)
 * and LLGR (stale time 60 s) drops; once its restart time is over its routes carry LLGR_STALE,
 * lose best-path to any other route, go only to peers with the LLGR capability, and NO_LLGR
 * routes are removed. Its return with F set in LLGR and End-of-RIB makes them fresh again.
 * Real TCP over loopback:
 *
 *   r 127.0.8.1 (GR + LLGR, restarts) ──┐                 ┌──▶ wl 127.0.8.9 (LLGR aware: gets LLGR_STALE routes)
 *   q 127.0.8.2 (backup for one prefix) ─┴─▶ speaker ──────┴──▶ wp 127.0.8.8 (no LLGR: they are withdrawn)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { INITIAL_CONTEXT, type Capability } from '../../../bgp/wire/types.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';

const LLGR_STALE = 0xffff0006, NO_LLGR = 0xffff0007;

async function connect(port: number, address: string, asn: number, id: number, extra: Capability[]): Promise<RawPeer> {
  const r = await RawPeer.connect('127.0.0.1', port, address);
  r.send({ type: 'open', version: 4, myAs: asn, holdTime: 0, bgpId: id,
    capabilities: [{ type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' }, ...extra] });
  r.send({ type: 'keepalive' });
  r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true };
  return r;
}

const grLlgr = (restarting: boolean): Capability[] => [
  { type: 'graceful-restart', restarting, notification: true, restartTime: 1, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
  { type: 'long-lived-graceful-restart', families: [{ afi: 1, safi: 1, forwardingPreserved: true, staleTime: 60 }] },
];

const announce = (r: RawPeer, asPath: number[], prefixes: string[], communities?: number[]): void => {
  r.send({ type: 'update', withdrawn: [], nlri: prefixes.map((p) => ({ prefix: parsePrefix(p) })),
    attributes: { origin: 0, asPath: [{ type: 2, asns: asPath }], nextHop: Uint8Array.of(192, 0, 2, 7), ...(communities ? { communities } : {}) } });
};

const withdrawnAt = (r: RawPeer): string[] => r.received.flatMap((m) => (m.type === 'update' ? m.withdrawn.map((n) => formatPrefix(n.prefix)) : []));
/** The communities of the last announcement of `prefix` received, or undefined. */
const lastAnnounced = (r: RawPeer, prefix: string): readonly number[] | undefined => {
  let out: readonly number[] | undefined;
  for (const m of r.received) if (m.type === 'update' && m.nlri.some((n) => formatPrefix(n.prefix) === prefix)) out = m.attributes.communities ?? [];
  return out;
};

describe('BgpSpeaker long-lived graceful restart helper (RFC 9494)', () => {
  const port = 38000 + (process.pid % 20000);
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  it('past the restart time: LLGR_STALE added, least preferred, withheld from non-LLGR peers, NO_LLGR removed; fresh again after the return', async () => {
    const speaker = sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port }, peers: [
      passivePeerConfig('r', '127.0.8.1', 65301), passivePeerConfig('q', '127.0.8.2', 65302),
      passivePeerConfig('wl', '127.0.8.9', 65309), passivePeerConfig('wp', '127.0.8.8', 65308),
    ] });
    await speaker.start();
    const up = (name: string) => pollUntil(() => speaker.status().find((s) => s.name === name)?.state === 'Established', { what: `${name} Established` });
    const wl = await connect(port, '127.0.8.9', 65309, 0x0a000809, [
      { type: 'graceful-restart', restarting: false, notification: true, restartTime: 0, families: [] },
      { type: 'long-lived-graceful-restart', families: [] }]);
    const wp = await openRawPeer(port, '127.0.8.8', 65308, 0x0a000808);
    raws.push(wl, wp);
    await up('wl'); await up('wp');
    let r = await connect(port, '127.0.8.1', 65301, 0x0a000801, grLlgr(false));
    const q = await openRawPeer(port, '127.0.8.2', 65302, 0x0a000802);
    raws.push(r, q);
    await up('r'); await up('q');
    announce(r, [65301], ['10.81.1.0/24', '10.81.3.0/24']);
    announce(r, [65301], ['10.81.2.0/24'], [NO_LLGR]);
    announce(q, [65302, 65399, 65398], ['10.81.1.0/24']); // longer AS path: loses while r's route is fresh
    const bestFrom = (prefix: string) => speaker.routes(prefix).find((v) => v.best)?.from;
    await pollUntil(() => speaker.routes('10.81.1.0/24').length === 2 && bestFrom('10.81.1.0/24') === 'r' && bestFrom('10.81.2.0/24') === 'r', { what: 'routes in' });
    await pollUntil(() => lastAnnounced(wp, '10.81.3.0/24') !== undefined && lastAnnounced(wl, '10.81.3.0/24') !== undefined, { what: 'watchers got 10.81.3.0/24' });

    r.destroy();
    const grState = () => speaker.status().find((s) => s.name === 'r')?.gracefulRestart?.state;
    await pollUntil(() => grState() === 'restart-wait', { what: 'restart-wait' });
    assert.equal(speaker.routes('10.81.3.0/24')[0]?.communities.includes('65535:6'), false, 'no LLGR_STALE within the restart time');
    await pollUntil(() => grState() === 'long-lived', { what: 'long-lived after the 1 s restart time', timeoutMs: 5000 });
    await pollUntil(() => speaker.routes('10.81.3.0/24')[0]?.communities.includes('65535:6') === true, { what: 'LLGR_STALE added' });
    await pollUntil(() => speaker.routes('10.81.2.0/24').length === 0, { what: 'NO_LLGR route removed' });
    await pollUntil(() => bestFrom('10.81.1.0/24') === 'q', { what: 'LLGR_STALE route least preferred: q\'s longer path wins' });
    assert.equal(speaker.routes('10.81.1.0/24').length, 2, 'r\'s route is still a candidate');

    await pollUntil(() => withdrawnAt(wp).includes('10.81.3.0/24'), { what: 'peer without LLGR: LLGR_STALE route withdrawn' });
    await pollUntil(() => lastAnnounced(wl, '10.81.3.0/24')?.includes(LLGR_STALE) === true, { what: 'LLGR peer: route re-sent with LLGR_STALE' });
    assert.ok(!withdrawnAt(wl).includes('10.81.3.0/24'), 'LLGR peer: no withdrawal of the LLGR_STALE route');
    assert.ok(withdrawnAt(wl).includes('10.81.2.0/24') && withdrawnAt(wp).includes('10.81.2.0/24'), 'the NO_LLGR route is withdrawn everywhere');

    r = await pollUntil(async () => {
      const x = await connect(port, '127.0.8.1', 65301, 0x0a000801, grLlgr(true));
      raws.push(x);
      const ok = await pollUntil(() => (x.closed ? 'closed' : speaker.status().find((s) => s.name === 'r')?.state === 'Established' ? 'up' : false),
        { timeoutMs: 3000, what: 'r Established' }).catch(() => 'timeout');
      if (ok === 'up') return x;
      x.destroy();
      return false;
    }, { timeoutMs: 20_000, intervalMs: 200, what: 'r re-established' });
    assert.equal(grState(), 'stale', 'F set in the LLGR capability: kept until End-of-RIB');
    announce(r, [65301], ['10.81.1.0/24', '10.81.3.0/24']);
    r.send({ type: 'update', withdrawn: [], nlri: [], attributes: {} });
    await pollUntil(() => grState() === undefined, { what: 'End-of-RIB: done' });
    await pollUntil(() => bestFrom('10.81.1.0/24') === 'r' && speaker.routes('10.81.3.0/24')[0]?.communities.length === 0, { what: 'fresh routes, r best again' });
    const announcements = (w: RawPeer) => w.received.filter((m) => m.type === 'update' && m.nlri.some((n) => formatPrefix(n.prefix) === '10.81.3.0/24')).length;
    await pollUntil(() => announcements(wp) === 2 && lastAnnounced(wl, '10.81.3.0/24')?.includes(LLGR_STALE) === false,
      { what: 'watchers got the fresh route (wp again after its withdrawal, wl without LLGR_STALE)' });
  });
});
