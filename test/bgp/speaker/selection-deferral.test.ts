/**
 * Graceful restart, restarting speaker (RFC 4724 §4.1): after our restart (R bit) nothing is
 * advertised until every GR peer sent End-of-RIB, or the selection deferral timer expires; then
 * each peer gets the whole table followed by our End-of-RIB, and whenConverged() resolves.
 * Real TCP over loopback:
 *
 *   raw peer a 127.0.7.1 (GR) ──┐
 *   raw peer b 127.0.7.2 (GR) ──┼──▶ speaker 127.0.0.1 (restarting, originates 10.70.0.0/24)
 *   raw peer c 127.0.7.3 (no GR: not waited for) ──┘
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrefix, parsePrefix } from '../../../common/prefix.js';
import { pollUntil } from '../../helpers/poll.js';
import { openRawPeer, passivePeerConfig, RawPeer, tcpSpeakerDeps } from '../../helpers/bgp-session-peers.js';
import { INITIAL_CONTEXT, type BgpMessage } from '../../../bgp/wire/types.js';
import { BgpSpeaker } from '../../../bgp/speaker/speaker.js';

async function connectGr(port: number, address: string, asn: number, id: number): Promise<RawPeer> {
  const r = await RawPeer.connect('127.0.0.1', port, address);
  r.send({ type: 'open', version: 4, myAs: asn, holdTime: 0, bgpId: id, capabilities: [
    { type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' },
    { type: 'graceful-restart', restarting: false, notification: true, restartTime: 60, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] }] });
  r.send({ type: 'keepalive' });
  r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true };
  return r;
}

const announce = (r: RawPeer, asn: number, prefix: string): void => {
  r.send({ type: 'update', withdrawn: [], nlri: [{ prefix: parsePrefix(prefix) }],
    attributes: { origin: 0, asPath: [{ type: 2, asns: [asn] }], nextHop: Uint8Array.of(192, 0, 2, 7) } });
};
const endOfRib = (r: RawPeer): void => { r.send({ type: 'update', withdrawn: [], nlri: [], attributes: {} }); };

const isEor = (m: BgpMessage): boolean => m.type === 'update' && m.nlri.length === 0 && m.withdrawn.length === 0 && m.mpReach === undefined && m.mpUnreach === undefined;
const announced = (r: RawPeer): string[] => r.received.flatMap((m) => (m.type === 'update' ? m.nlri.map((n) => formatPrefix(n.prefix)) : []));
const updates = (r: RawPeer): BgpMessage[] => r.received.filter((m) => m.type === 'update');

describe('BgpSpeaker selection deferral after a restart (RFC 4724 §4.1)', () => {
  const port = 37000 + (process.pid % 20000);
  const sps: BgpSpeaker[] = [];
  const raws: RawPeer[] = [];
  after(async () => { for (const r of raws) r.destroy(); for (const s of sps) await s.stop(); });

  it('advertises nothing until every GR peer sent End-of-RIB, then the table and our End-of-RIB; R bit only while deferring', async () => {
    const sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port },
      gracefulRestart: { restarting: true, forwardingPreserved: true, selectionDeferralTime: 60 },
      peers: [passivePeerConfig('a', '127.0.7.1', 65201), passivePeerConfig('b', '127.0.7.2', 65202), passivePeerConfig('c', '127.0.7.3', 65203)] });
    sps.push(sp);
    await sp.start();
    sp.originate('10.70.0.0/24', { nextHop: '192.0.2.1' });
    let converged = false;
    void sp.whenConverged().then(() => { converged = true; });
    const up = (name: string) => pollUntil(() => sp.status().find((s) => s.name === name)?.state === 'Established', { what: `${name} Established` });

    const a = await connectGr(port, '127.0.7.1', 65201, 0x0a000701);
    raws.push(a);
    await up('a');
    const open = a.received.find((m) => m.type === 'open');
    const gr = open?.type === 'open' ? open.capabilities.find((c) => c.type === 'graceful-restart') : undefined;
    assert.equal(gr?.type === 'graceful-restart' && gr.restarting, true, 'R bit set while deferring');
    announce(a, 65201, '10.71.1.0/24');
    endOfRib(a);
    await pollUntil(() => sp.status().find((s) => s.name === 'a')?.eorReceived?.includes('ipv4-unicast'), { what: 'End-of-RIB from a' });
    assert.deepEqual(sp.selectionDeferral().waitingFor, { b: [], c: [] }, 'b and c not up yet');

    const c = await openRawPeer(port, '127.0.7.3', 65203, 0x0a000703); // no GR capability: not waited for
    raws.push(c);
    await up('c');
    const b = await connectGr(port, '127.0.7.2', 65202, 0x0a000702);
    raws.push(b);
    await up('b');
    announce(b, 65202, '10.72.1.0/24');
    await pollUntil(() => sp.routes('10.72.1.0/24').length === 1, { what: 'b route in the Loc-RIB' });
    assert.equal(converged, false, 'still deferring: b has not sent End-of-RIB');
    assert.deepEqual(sp.selectionDeferral().waitingFor, { b: ['1/1'] });
    endOfRib(b);
    await pollUntil(() => converged, { what: 'converged after End-of-RIB from b' });
    assert.equal(sp.selectionDeferral().endedBy, 'End-of-RIB from every peer');

    // a's first UPDATE is the converged table (with b's route, learnt after a came up), then our End-of-RIB
    await pollUntil(() => updates(a).some(isEor), { what: 'our End-of-RIB at a' });
    const first = updates(a)[0];
    assert.ok(first && first.type === 'update' && first.nlri.length > 0, 'the first UPDATE a gets carries routes');
    assert.ok(announced(a).includes('10.72.1.0/24') && announced(a).includes('10.70.0.0/24'), `a got the table: ${JSON.stringify(announced(a))}`);
    const eorAt = updates(a).findIndex(isEor);
    assert.ok(updates(a).slice(0, eorAt).some((m) => m.type === 'update' && m.nlri.some((n) => formatPrefix(n.prefix) === '10.72.1.0/24')), 'End-of-RIB after the table');
    await pollUntil(() => announced(c).includes('10.71.1.0/24') && updates(c).some(isEor), { what: 'c got the table and End-of-RIB' });
    await pollUntil(() => announced(b).includes('10.71.1.0/24'), { what: 'b got a\'s route' });

    // a session that comes up after convergence gets no R bit
    a.destroy();
    await pollUntil(() => sp.status().find((s) => s.name === 'a')?.state !== 'Established', { what: 'a down' });
    const a2 = await pollUntil(async () => {
      const r = await connectGr(port, '127.0.7.1', 65201, 0x0a000701);
      raws.push(r);
      const ok = await pollUntil(() => (r.closed ? 'closed' : r.received.some((m) => m.type === 'open') ? 'open' : false), { timeoutMs: 3000, what: 'OPEN' }).catch(() => 'timeout');
      return ok === 'open' ? r : false;
    }, { timeoutMs: 20_000, intervalMs: 200, what: 'a reconnected' });
    const open2 = a2.received.find((m) => m.type === 'open');
    const gr2 = open2?.type === 'open' ? open2.capabilities.find((x) => x.type === 'graceful-restart') : undefined;
    assert.equal(gr2?.type === 'graceful-restart' && gr2.restarting, false, 'no R bit after convergence');
  });

  it('the deferral timer ends the wait for a peer that never comes up', async () => {
    const sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port: port + 1 },
      gracefulRestart: { restarting: true, selectionDeferralTime: 1 },
      peers: [passivePeerConfig('a', '127.0.7.11', 65211), passivePeerConfig('never', '127.0.7.12', 65212)] });
    sps.push(sp);
    await sp.start();
    sp.originate('10.73.0.0/24', { nextHop: '192.0.2.1' });
    const a = await connectGr(port + 1, '127.0.7.11', 65211, 0x0a00070b);
    raws.push(a);
    endOfRib(a);
    await sp.whenConverged();
    assert.equal(sp.selectionDeferral().endedBy, 'deferral timer expired');
    await pollUntil(() => announced(a).includes('10.73.0.0/24') && updates(a).some(isEor), { what: 'a got the table and End-of-RIB after the timer' });
  });

  it('not restarting: converged at once, the table goes out at Established', async () => {
    const sp = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port: port + 2 },
      peers: [passivePeerConfig('a', '127.0.7.21', 65221)] });
    sps.push(sp);
    await sp.start();
    await sp.whenConverged();
    assert.deepEqual(sp.selectionDeferral(), { deferring: false, waitingFor: {}, endedBy: 'not restarting' });
  });
});
