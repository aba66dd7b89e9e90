/**
 * Graceful restart, receiving speaker (RFC 4724 §4.2, RFC 8538): a GR peer's session drops and
 * its routes stay, marked stale, with no withdrawal to the other peers; End-of-RIB sweeps what
 * was not re-sent; the restart timer, the F bit, Hard Reset and a NOTIFICATION without the
 * N bit flush. Real TCP over loopback:
 *
 *   restarting raw peer 127.0.6.x (AS 6510x, GR capability as the test says) ──▶ speaker 127.0.0.1
 *   watcher raw peer 127.0.6.9 (AS 65109) ◀── what the speaker advertises (withdrawals counted)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { INITIAL_CONTEXT, type Capability } from '../../../bgp/wire/types.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';
import type { PeerConfig, SpeakerConfig } from '../../../bgp/speaker/peer-config.js';

interface GrCap { restarting?: boolean; notification?: boolean; restartTime?: number; forwarding?: boolean; families?: boolean }

const grCap = (o: GrCap): Capability => ({
  type: 'graceful-restart', restarting: o.restarting ?? false, notification: o.notification ?? true, restartTime: o.restartTime ?? 30,
  families: o.families === false ? [] : [{ afi: 1, safi: 1, forwardingPreserved: o.forwarding ?? true }],
});

async function connectGr(port: number, address: string, asn: number, id: number, gr: GrCap | undefined, holdTime = 0): Promise<RawPeer> {
  const r = await RawPeer.connect('127.0.0.1', port, address);
  r.send({ type: 'open', version: 4, myAs: asn, holdTime, bgpId: id,
    capabilities: [{ type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' }, ...(gr ? [grCap(gr)] : [])] });
  r.send({ type: 'keepalive' });
  r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true };
  return r;
}

const announce = (r: RawPeer, asn: number, prefixes: string[], med = 0): void => {
  r.send({ type: 'update', withdrawn: [], nlri: prefixes.map((p) => ({ prefix: parsePrefix(p) })),
    attributes: { origin: 0, asPath: [{ type: 2, asns: [asn] }], nextHop: Uint8Array.of(192, 0, 2, 7), med } });
};
const endOfRib = (r: RawPeer): void => { r.send({ type: 'update', withdrawn: [], nlri: [], attributes: {} }); };

describe('BgpSpeaker graceful restart helper', () => {
  const port = 34000 + (process.pid % 20000);
  let sp: BgpSpeaker | undefined;
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); await sp?.stop(); });

  let watcher: RawPeer;
  const withdrawnAtWatcher = (): string[] =>
    watcher.received.flatMap((m) => (m.type === 'update' ? m.withdrawn.map((n) => formatPrefix(n.prefix)) : []));
  const speaker = (): BgpSpeaker => { if (!sp) throw new Error('speaker not started'); return sp; };
  const routesFrom = (name: string) => speaker().routes().filter((r) => r.from === name);
  const established = (name: string) => pollUntil(() => speaker().status().find((s) => s.name === name)?.state === 'Established', { what: `${name} Established` });
  /**
   * The restarted peer connects until the speaker takes the connection: after a drop the session
   * sits in its idle-hold back-off and refuses connections for a while (real peers retry too).
   */
  const reconnect = (address: string, asn: number, id: number, gr: GrCap, name: string): Promise<RawPeer> => pollUntil(async () => {
    const r = await connectGr(port, address, asn, id, gr);
    raws.push(r);
    const ok = await pollUntil(() => (r.closed ? 'closed' : speaker().status().find((s) => s.name === name)?.state === 'Established' ? 'up' : false),
      { timeoutMs: 3000, what: `${name} Established` }).catch(() => 'timeout');
    if (ok === 'up') return r;
    r.destroy();
    return false;
  }, { timeoutMs: 20_000, intervalMs: 200, what: `${name} re-established` });

  it('keeps the routes stale across a TCP failure, no withdrawal; End-of-RIB sweeps only what was not re-sent', async () => {
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port }, peers: [
      passivePeerConfig('watcher', '127.0.6.9', 65109),
      passivePeerConfig('r1', '127.0.6.1', 65101), passivePeerConfig('r2', '127.0.6.2', 65102),
      passivePeerConfig('r3', '127.0.6.3', 65103), passivePeerConfig('r4', '127.0.6.4', 65104),
      passivePeerConfig('r5', '127.0.6.5', 65105, { holdTime: 3, keepalive: 1 }),
      passivePeerConfig('r6', '127.0.6.6', 65106),
    ] });
    await sp.start();
    watcher = await openRawPeer(port, '127.0.6.9', 65109, 0x0a000609);
    raws.push(watcher);
    await established('watcher');

    let r = await connectGr(port, '127.0.6.1', 65101, 0x0a000601, { restartTime: 30 });
    raws.push(r);
    await established('r1');
    announce(r, 65101, ['10.61.1.0/24', '10.61.2.0/24', '10.61.3.0/24']);
    endOfRib(r);
    await pollUntil(() => routesFrom('r1').length === 3, { what: 'r1 routes installed' });
    await pollUntil(() => watcher.received.some((m) => m.type === 'update' && m.nlri.length === 3), { what: 'watcher got r1 routes' });

    r.destroy(); // TCP failure: the peer "restarts"
    await pollUntil(() => speaker().status().find((s) => s.name === 'r1')?.state !== 'Established', { what: 'r1 down' });
    await pollUntil(() => speaker().status().find((s) => s.name === 'r1')?.gracefulRestart?.state === 'restart-wait', { what: 'r1 in restart-wait' });
    const kept = routesFrom('r1');
    assert.equal(kept.length, 3, 'routes kept');
    assert.ok(kept.every((v) => v.stale === true && v.best), 'kept routes are stale and still best');
    assert.deepEqual(speaker().status().find((s) => s.name === 'r1')?.gracefulRestart, { state: 'restart-wait', families: ['ipv4-unicast'], staleRoutes: 3 });

    r = await reconnect('127.0.6.1', 65101, 0x0a000601, { restarting: true, restartTime: 30 }, 'r1');
    assert.equal(speaker().status().find((s) => s.name === 'r1')?.gracefulRestart?.state, 'stale');
    announce(r, 65101, ['10.61.1.0/24', '10.61.2.0/24']); // 10.61.3.0/24 not re-sent
    await pollUntil(() => routesFrom('r1').filter((v) => v.stale !== true).length === 2, { what: 'two routes refreshed' });
    assert.equal(routesFrom('r1').length, 3, 'the one not re-sent is still there before End-of-RIB');
    endOfRib(r);
    await pollUntil(() => routesFrom('r1').length === 2, { what: 'End-of-RIB swept the route not re-sent' });
    assert.ok(routesFrom('r1').every((v) => v.stale === undefined));
    assert.equal(speaker().status().find((s) => s.name === 'r1')?.gracefulRestart, undefined);
    await pollUntil(() => withdrawnAtWatcher().includes('10.61.3.0/24'), { what: 'watcher told of the swept route' });
    assert.deepEqual(withdrawnAtWatcher(), ['10.61.3.0/24'], 'the watcher saw no withdrawal of the routes kept');
  });

  it('restart timer expiry flushes; F bit clear on the new OPEN flushes at once', async () => {
    const r2 = await connectGr(port, '127.0.6.2', 65102, 0x0a000602, { restartTime: 1 });
    raws.push(r2);
    await established('r2');
    announce(r2, 65102, ['10.62.1.0/24']);
    await pollUntil(() => routesFrom('r2').length === 1, { what: 'r2 route' });
    r2.destroy();
    await pollUntil(() => routesFrom('r2')[0]?.stale === true, { what: 'r2 route stale' });
    await pollUntil(() => routesFrom('r2').length === 0, { what: 'restart time (1 s) expired: flushed', timeoutMs: 5000 });

    let r3 = await connectGr(port, '127.0.6.3', 65103, 0x0a000603, { restartTime: 30 });
    raws.push(r3);
    await established('r3');
    announce(r3, 65103, ['10.63.1.0/24']);
    await pollUntil(() => routesFrom('r3').length === 1, { what: 'r3 route' });
    r3.destroy();
    await pollUntil(() => routesFrom('r3')[0]?.stale === true, { what: 'r3 route stale' });
    r3 = await reconnect('127.0.6.3', 65103, 0x0a000603, { restarting: true, forwarding: false }, 'r3');
    await pollUntil(() => routesFrom('r3').length === 0, { what: 'F bit clear: stale routes flushed at once' });

    announce(r3, 65103, ['10.63.2.0/24']);
    await pollUntil(() => routesFrom('r3').length === 1, { what: 'r3 route again' });
    r3.destroy();
    await pollUntil(() => routesFrom('r3')[0]?.stale === true, { what: 'r3 route stale again' });
    speaker().disablePeer('r3');
    assert.equal(routesFrom('r3').length, 0, 'disabling the peer flushes what was kept for its restart');
  });

  it('RFC 8538: a NOTIFICATION keeps the routes with the N bit, Cease/Hard Reset flushes, no N bit flushes', async () => {
    let r4 = await connectGr(port, '127.0.6.4', 65104, 0x0a000604, { restartTime: 30 });
    raws.push(r4);
    await established('r4');
    announce(r4, 65104, ['10.64.1.0/24']);
    await pollUntil(() => routesFrom('r4').length === 1, { what: 'r4 route' });
    r4.send({ type: 'notification', code: 6, subcode: 6, data: new Uint8Array(0) }); // Cease/other configuration change
    await pollUntil(() => routesFrom('r4')[0]?.stale === true, { what: 'N bit: route kept stale after a NOTIFICATION' });

    r4 = await reconnect('127.0.6.4', 65104, 0x0a000604, { restarting: true, restartTime: 30 }, 'r4');
    announce(r4, 65104, ['10.64.1.0/24']);
    endOfRib(r4);
    await pollUntil(() => routesFrom('r4')[0]?.stale === undefined && routesFrom('r4').length === 1, { what: 'refreshed' });
    r4.send({ type: 'notification', code: 6, subcode: 9, data: Uint8Array.of(6, 4) }); // Hard Reset (administrative reset)
    await pollUntil(() => routesFrom('r4').length === 0, { what: 'Hard Reset flushed' });
    assert.match(speaker().status().find((s) => s.name === 'r4')?.lastError ?? '', /Received: Hard reset: Administrative reset/);

    r4 = await reconnect('127.0.6.4', 65104, 0x0a000604, { notification: false, restartTime: 30 }, 'r4');
    announce(r4, 65104, ['10.64.1.0/24']);
    await pollUntil(() => routesFrom('r4').length === 1, { what: 'r4 route again' });
    r4.send({ type: 'notification', code: 6, subcode: 6, data: new Uint8Array(0) });
    await pollUntil(() => routesFrom('r4').length === 0, { what: 'no N bit: a NOTIFICATION flushes (RFC 4724)' });
  });

  it('RFC 8538: our hold timer expires (we send 4/0) and the N bit keeps the routes', async () => {
    const r5 = await connectGr(port, '127.0.6.5', 65105, 0x0a000605, { restartTime: 30 }, 3);
    raws.push(r5);
    await established('r5');
    announce(r5, 65105, ['10.66.1.0/24']);
    await pollUntil(() => routesFrom('r5').length === 1, { what: 'r5 route' });
    // the raw peer sends no KEEPALIVE: our hold timer (3 s) expires
    await pollUntil(() => r5.received.some((m) => m.type === 'notification' && m.code === 4), { what: 'our Hold Timer Expired NOTIFICATION', timeoutMs: 8000 });
    await pollUntil(() => routesFrom('r5')[0]?.stale === true, { what: 'route kept stale after hold expiry (N bit)' });
    assert.match(speaker().status().find((s) => s.name === 'r5')?.lastError ?? '', /Hold timer expired/);
  });

  it('BFD Down (RFC 5882, RFC 9384): our Cease/10 and the peer\'s both flush at once, N bit or not', async () => {
    let r6 = await connectGr(port, '127.0.6.6', 65106, 0x0a000606, { restartTime: 30 });
    raws.push(r6);
    await established('r6');
    announce(r6, 65106, ['10.67.1.0/24']);
    await pollUntil(() => routesFrom('r6').length === 1, { what: 'r6 route' });
    assert.equal(speaker().bfdDown('r6'), true);
    // With the N bit it goes out as Cease/Hard Reset carrying Cease/10 (RFC 8538 §3).
    await pollUntil(() => r6.received.some((m) => m.type === 'notification' && m.code === 6 && m.subcode === 9 && m.data[0] === 6 && m.data[1] === 10),
      { what: 'our Hard Reset (Cease/10 BFD Down)' });
    assert.equal(routesFrom('r6').length, 0, 'flushed at once, not kept stale: the forwarding path failed');
    r6 = await reconnect('127.0.6.6', 65106, 0x0a000606, { restartTime: 30 }, 'r6');
    announce(r6, 65106, ['10.67.1.0/24']);
    await pollUntil(() => routesFrom('r6').length === 1, { what: 'r6 route again' });
    // A peer may send Cease/10 bare even with the N bit: its BFD saw our path fail, so no stale routes either.
    r6.send({ type: 'notification', code: 6, subcode: 10, data: new Uint8Array(0) });
    await pollUntil(() => routesFrom('r6').length === 0, { what: 'the peer\'s bare Cease/10 flushed' });
    assert.equal(speaker().status().find((s) => s.name === 'r6')?.gracefulRestart, undefined);
  });

  it('BFD Down while the peer restarts (RFC 5882 §4.3.2): stale routes kept for C bit 0, flushed for C bit 1', async () => {
    const r6 = await reconnect('127.0.6.6', 65106, 0x0a000606, { restartTime: 30 }, 'r6');
    announce(r6, 65106, ['10.67.1.0/24']);
    await pollUntil(() => routesFrom('r6').length === 1 && routesFrom('r6')[0]?.stale !== true, { what: 'r6 route, fresh' });
    r6.destroy(); // its BGP restarts: routes kept stale
    await pollUntil(() => routesFrom('r6')[0]?.stale === true, { what: 'r6 route stale' });
    // C bit 0: its BFD shares fate with its BGP, so the Down may be the same restart.
    assert.equal(speaker().bfdDown('r6', { forwardingFailed: false }), false);
    assert.equal(routesFrom('r6')[0]?.stale, true, 'still kept');
    // C bit 1: its BFD runs on without its BGP, so the Down means its forwarding failed.
    assert.equal(speaker().bfdDown('r6', { forwardingFailed: true }), true);
    assert.deepEqual(routesFrom('r6'), [], 'flushed at once, not after the 30 s restart time');
    assert.equal(speaker().status().find((s) => s.name === 'r6')?.gracefulRestart, undefined);
  });
});

describe('BgpSpeaker graceful restart capability (restarting speaker)', () => {
  const port = 35000 + (process.pid % 20000);
  const sps: BgpSpeaker[] = [];
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); for (const s of sps) await s.stop(); });

  const openOf = async (gracefulRestart: SpeakerConfig['gracefulRestart'], over: Partial<PeerConfig>, p: number): Promise<Capability | undefined> => {
    const sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port: p },
      peers: [passivePeerConfig('r', '127.0.6.20', 65120, over)], ...(gracefulRestart ? { gracefulRestart } : {}) });
    sps.push(sp);
    await sp.start();
    const r = await openRawPeer(p, '127.0.6.20', 65120, 0x0a000614);
    raws.push(r);
    const open = await pollUntil(() => r.received.find((m) => m.type === 'open'), { what: 'our OPEN' });
    return open.type === 'open' ? open.capabilities.find((c) => c.type === 'graceful-restart') : undefined;
  };

  it('advertises our families with a real restart time (default 120 s), N set, F and R only when told', async () => {
    assert.deepEqual(await openOf(undefined, {}, port), {
      type: 'graceful-restart', restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: false }],
    });
    assert.deepEqual(await openOf({ restartTime: 30, forwardingPreserved: true, restarting: true }, { gracefulRestartTime: 45 }, port + 1), {
      type: 'graceful-restart', restarting: true, notification: true, restartTime: 45, families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
    });
    assert.deepEqual(await openOf({ enabled: false }, {}, port + 2), {
      type: 'graceful-restart', restarting: false, notification: true, restartTime: 0, families: [],
    }, 'disabled: "aware" only, as BIRD by default');
  });
});

describe('BgpSpeaker enhanced route refresh, receiving side (RFC 7313 §4)', () => {
  const port = 36000 + (process.pid % 20000);
  let sp: BgpSpeaker | undefined;
  let raw: RawPeer | undefined;
  after(async () => { raw?.destroy(); await sp?.stop(); });

  it('routes not re-sent between BoRR and EoRR are removed; BoRR/EoRR are not counted as refresh requests', async () => {
    sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port },
      peers: [passivePeerConfig('e', '127.0.6.30', 65130)] });
    await sp.start();
    const speaker = sp;
    const r = await RawPeer.connect('127.0.0.1', port, '127.0.6.30');
    raw = r;
    r.send({ type: 'open', version: 4, myAs: 65130, holdTime: 0, bgpId: 0x0a00061e,
      capabilities: [{ type: 'four-octet-as', asn: 65130 }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' }, { type: 'enhanced-route-refresh' }] });
    r.send({ type: 'keepalive' });
    r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true };
    await pollUntil(() => speaker.status()[0]?.state === 'Established', { what: 'Established' });
    const mine = () => speaker.routes().filter((v) => v.from === 'e').map((v) => v.prefix);
    announce(r, 65130, ['10.65.1.0/24', '10.65.2.0/24']);
    await pollUntil(() => mine().length === 2, { what: 'two routes' });
    r.send({ type: 'route-refresh', afi: 1, safi: 1, subtype: 1 }); // BoRR
    announce(r, 65130, ['10.65.1.0/24']);
    r.send({ type: 'route-refresh', afi: 1, safi: 1, subtype: 2 }); // EoRR
    await pollUntil(() => mine().length === 1, { what: () => `the route not re-sent removed (have ${JSON.stringify(mine())})` });
    assert.deepEqual(mine(), ['10.65.1.0/24']);
    assert.equal(speaker.routes('10.65.1.0/24')[0]?.stale, undefined, 'the re-sent route is fresh');
    assert.equal(speaker.status()[0]?.messages.routeRefreshIn, 0, 'BoRR and EoRR are not refresh requests');
  });

  it('route views format AS_PATH with the wire codec: AS_SET in braces', async () => {
    const r = raw, speaker = sp;
    if (!r || !speaker) throw new Error('previous test did not connect');
    r.send({ type: 'update', withdrawn: [], nlri: [{ prefix: parsePrefix('10.65.9.0/24') }],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65130] }, { type: 1, asns: [65010, 65011] }], nextHop: Uint8Array.of(192, 0, 2, 7) } });
    const v = await pollUntil(() => speaker.routes('10.65.9.0/24')[0], { what: 'the AS_SET route' });
    assert.equal(v.asPathText, '65130 {65010,65011}');
    assert.deepEqual(v.asPath, [65130, 65010, 65011]);
  });
});
