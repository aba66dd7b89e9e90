/**
 * Our session and listener (this process, root namespace) against a real FRR bgpd in a
 * namespace; both sides connect (FRR to our listener's ephemeral port via `neighbor … port`).
 *
 *   this process  h2f<pid> 100.126.N.1/29 ──veth── eth0 100.126.N.2 (ns, FRR bgpd -Z)
 *     AS 65002, listener on an ephemeral port            AS 65001
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { FrrPeer } from '../../helpers/bgp-peers.js';
import { testLogger } from '../../helpers/bgp-session-peers.js';
import { BgpSession } from '../../../bgp/session/session.js';
import { BgpListener } from '../../../bgp/session/listener.js';
import { wireCodec } from '../../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../../common/clock.js';

const skip = topologySkipReason('/usr/lib/frr/bgpd', 'vtysh');
const N = process.pid % 250;
const OURS = `100.126.${N}.1`;
const FRR = `100.126.${N}.2`;
const ROOT_IF = `h2f${process.pid % 100000}`;

interface FrrNeighbor {
  bgpState?: string; bgpTimerHoldTimeMsecs?: number; bgpTimerKeepAliveIntervalMsecs?: number;
  lastNotificationReason?: string; lastShutdownDescription?: string; lastErrorCodeSubcode?: string;
}

describe('session ↔ FRR bgpd', { skip, timeout: 90_000 }, () => {
  const topo = new Topology('h2frr');
  let frr: FrrPeer;
  let listener: BgpListener;
  let s: BgpSession;
  const neighbor = (): FrrNeighbor => (frr.json(`show bgp neighbors ${OURS} json`) as Record<string, FrrNeighbor>)[OURS] ?? {};

  before(async () => {
    const ns = topo.ns('f');
    trySh('ip', ['link', 'del', ROOT_IF]);
    sh('ip', ['link', 'add', ROOT_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    topo.defer(() => { trySh('ip', ['link', 'del', ROOT_IF]); });
    sh('ip', ['addr', 'add', `${OURS}/29`, 'dev', ROOT_IF]);
    sh('ip', ['link', 'set', ROOT_IF, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${FRR}/29`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    listener = new BgpListener({ host: OURS, port: 0 }, { logger: testLogger('frr-listener') });
    await listener.listen();
    topo.defer(() => listener.close());
    frr = await FrrPeer.start(topo, ns, `frr defaults traditional
hostname f
router bgp 65001
 bgp router-id ${FRR}
 no bgp ebgp-requires-policy
 neighbor ${OURS} remote-as 65002
 neighbor ${OURS} port ${listener.port}
 neighbor ${OURS} timers connect 1
`);
    s = new BgpSession({ peerAddress: FRR, localAddress: OURS, localAs: 65002, peerAs: 65001, routerId: OURS, holdTime: 9,
      connectRetryTime: 1, idleHold: { minMs: 500, maxMs: 2000, stableMs: 10_000 } },
    { clock: systemClock, logger: testLogger('frr'), codec: wireCodec });
    listener.addSession(s);
  });
  after(async () => {
    s?.destroy();
    await topo.cleanup();
  });

  it('Established with both sides connecting; hold 9 s / keepalive 3 s in FRR\'s view', async () => {
    s.start();
    await pollUntil(() => s.state === 'Established' && neighbor().bgpState === 'Established', { what: 'Established on both', timeoutMs: 15_000 });
    const n = neighbor();
    assert.equal(n.bgpTimerHoldTimeMsecs, 9000);
    assert.equal(n.bgpTimerKeepAliveIntervalMsecs, 3000);
    assert.equal(s.negotiated?.holdTime, 9);
    assert.equal(s.stats.establishedTransitions, 1);
  });

  it('our ManualStop message shows in FRR as lastShutdownDescription (RFC 9003)', async () => {
    await s.stop('frr maintenance');
    await pollUntil(() => neighbor().lastShutdownDescription === 'frr maintenance', { what: 'FRR shutdown description', timeoutMs: 5000 });
    assert.equal(neighbor().lastNotificationReason, 'Cease/Administrative Shutdown');
    assert.equal(neighbor().lastErrorCodeSubcode, '0602');
  });

  it('FRR `neighbor … shutdown message` → we record Cease/2 with the message', async () => {
    s.start();
    await pollUntil(() => s.state === 'Established', { what: 'Established again', timeoutMs: 15_000 });
    frr.configure('router bgp 65001', `neighbor ${OURS} shutdown message bye-from-frr`);
    await pollUntil(() => s.stats.lastNotificationReceived, { what: 'NOTIFICATION from FRR', timeoutMs: 5000 });
    const n = s.stats.lastNotificationReceived;
    assert.deepEqual([n?.code, n?.subcode, n?.shutdownMessage], [6, 2, 'bye-from-frr']);
    assert.equal(n?.text, 'Administrative shutdown: "bye-from-frr"');
  });
});
