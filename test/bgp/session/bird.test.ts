/**
 * Our session (in this process, root namespace) against a real BIRD 2 in a namespace. BIRD is
 * passive; we connect. The veth's root end disappears with the namespace.
 *
 *   this process  h2v<pid> 100.127.N.1 .4 /29 fd7a:2:N::1 ──veth── eth0 100.127.N.2 .3  fd7a:2:N::2  (ns, BIRD)
 *     AS 65002, id 100.127.N.1                                   AS 65001, id 100.127.N.2
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { BirdPeer } from '../../helpers/bgp-peers.js';
import { testLogger } from '../../helpers/bgp-session-peers.js';
import { BgpSession, type SessionConfig } from '../../../bgp/session/session.js';
import { wireCodec } from '../../../bgp/session/wire-codec-default.js';
import { systemClock } from '../../../common/clock.js';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skip = topologySkipReason('bird', 'birdc');
const N = process.pid % 250;
const OURS4 = `100.127.${N}.1`;
const BIRD4 = `100.127.${N}.2`;
const BIRD4B = `100.127.${N}.3`;
const OURS4B = `100.127.${N}.4`;
const BIRD4C = `100.127.${N}.5`;
const OURS4C = `100.127.${N}.6`;
const OURS6 = `fd7a:2:${N.toString(16)}::1`;
const BIRD6 = `fd7a:2:${N.toString(16)}::2`;
const ROOT_IF = `h2v${process.pid % 100000}`;

const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2; passive on;';
const BIRD_LOG = join(tmpdir(), `tortie-h2-bird-${process.pid}.log`);
const BIRD_CONF = `router id ${BIRD4};
log "${BIRD_LOG}" all;
protocol device {}
protocol bgp tortie4 { local ${BIRD4} as 65001; neighbor ${OURS4} as 65002; ipv4 { import all; export none; }; ${TIMERS} }
protocol bgp tortie6 { local ${BIRD6} as 65001; neighbor ${OURS6} as 65002; ipv6 { import all; export none; }; ${TIMERS} }
protocol bgp holdtest { local ${BIRD4C} as 65001; neighbor ${OURS4C} as 65002; ipv4 { import all; export none; }; ${TIMERS} }
protocol bgp wrongas { local ${BIRD4B} as 65001; neighbor ${OURS4B} as 65077; ipv4 { import all; export none; }; ${TIMERS} }
`;

describe('session ↔ BIRD 2', { skip, timeout: 90_000 }, () => {
  const topo = new Topology('h2bird');
  let bird: BirdPeer;
  let birdNs = '';
  const sessions: BgpSession[] = [];

  function session(cfg: Partial<SessionConfig> & Pick<SessionConfig, 'peerAddress' | 'localAddress'>): BgpSession {
    const s = new BgpSession({
      name: cfg.peerAddress, localAs: 65002, peerAs: 65001, routerId: OURS4, holdTime: 30, connectRetryTime: 1,
      idleHold: { minMs: 500, maxMs: 2000, stableMs: 10_000 }, ...cfg,
    }, { clock: systemClock, logger: testLogger(`bird-${cfg.peerAddress}`), codec: wireCodec });
    sessions.push(s);
    return s;
  }

  before(async () => {
    const ns = topo.ns('b');
    topo.defer(() => rmSync(BIRD_LOG, { force: true }));
    trySh('ip', ['link', 'del', ROOT_IF]);
    sh('ip', ['link', 'add', ROOT_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    topo.defer(() => { trySh('ip', ['link', 'del', ROOT_IF]); });
    sh('ip', ['addr', 'add', `${OURS4}/29`, 'dev', ROOT_IF]);
    sh('ip', ['addr', 'add', `${OURS4B}/29`, 'dev', ROOT_IF]);
    sh('ip', ['addr', 'add', `${OURS4C}/29`, 'dev', ROOT_IF]);
    sh('ip', ['addr', 'add', `${OURS6}/64`, 'dev', ROOT_IF, 'nodad']);
    sh('ip', ['link', 'set', ROOT_IF, 'up']);
    for (const a of [`${BIRD4}/29`, `${BIRD4B}/29`, `${BIRD4C}/29`]) sh('ip', ['-n', ns, 'addr', 'add', a, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'addr', 'add', `${BIRD6}/64`, 'dev', 'eth0', 'nodad']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    bird = await BirdPeer.start(topo, ns, BIRD_CONF);
    birdNs = ns;
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await topo.cleanup();
  });

  it('Established over IPv4 and IPv6; negotiated hold time visible in birdc', async () => {
    const s4 = session({ peerAddress: BIRD4, localAddress: OURS4 });
    const s6 = session({ peerAddress: BIRD6, localAddress: OURS6, families: [{ afi: 2, safi: 1 }], holdTime: 45 });
    s4.start(); s6.start();
    await pollUntil(() => s4.state === 'Established' && s6.state === 'Established', { what: 'our sessions Established', timeoutMs: 15_000 });
    await pollUntil(() => bird.protocol('tortie4').bgpState === 'Established' && bird.protocol('tortie6').bgpState === 'Established',
      { what: 'BIRD Established', timeoutMs: 5000 });
    // BIRD proposes 240 s; we propose 30 s (v4) and 45 s (v6): min wins on both sides.
    assert.equal(s4.negotiated?.holdTime, 30);
    assert.equal(s6.negotiated?.holdTime, 45);
    assert.deepEqual(s6.negotiated?.families, [{ afi: 2, safi: 1 }]);
    const p4 = bird.protocol('tortie4');
    assert.match(p4.fields['Hold timer'] ?? '', /\/30$/, `BIRD hold timer: ${p4.fields['Hold timer']}`);
    assert.match(p4.fields['Keepalive timer'] ?? '', /\/10$/);
    assert.match(bird.protocol('tortie6').fields['Hold timer'] ?? '', /\/45$/);
  });

  it('BIRD disable → we record Cease/2 administrative shutdown', async () => {
    const s4 = sessions[0];
    assert.ok(s4);
    bird.cmd('disable', 'tortie4');
    await pollUntil(() => s4.stats.lastNotificationReceived, { what: 'NOTIFICATION from BIRD', timeoutMs: 5000 });
    const n = s4.stats.lastNotificationReceived;
    assert.deepEqual([n?.code, n?.subcode], [6, 2]);
    assert.match(n?.text ?? '', /^Administrative shutdown/);
    assert.equal(s4.stats.flaps, 1);
    bird.cmd('enable', 'tortie4');
    await pollUntil(() => s4.state === 'Established', { what: 're-established after enable', timeoutMs: 15_000 });
    assert.equal(s4.stats.establishedTransitions, 2);
  });

  it('our ManualStop with a message → BIRD shows "Received: Administrative shutdown"', async () => {
    const s4 = sessions[0];
    assert.ok(s4);
    await s4.stop('tortie maintenance');
    await pollUntil(() => /Received: Administrative shutdown/.test(bird.protocol('tortie4').lastError ?? ''),
      { what: 'BIRD last error', timeoutMs: 5000 });
    // BIRD keeps only the reason in "Last error"; the RFC 9003 text goes to its log.
    await pollUntil(() => /tortie maintenance/.test(readFileSync(BIRD_LOG, 'utf8')), { what: 'shutdown message in the BIRD log', timeoutMs: 5000 });
    assert.equal(s4.stats.lastNotificationSent?.text, 'Administrative shutdown: "tortie maintenance"');
  });

  it('hold timer: BIRD goes silent (nft drop in its namespace) → we send 4/0 at hold time, BIRD times out too', async (t) => {
    const h = session({ peerAddress: BIRD4C, localAddress: OURS4C, holdTime: 3 });
    h.start();
    await pollUntil(() => h.state === 'Established' && bird.protocol('holdtest').bgpState === 'Established', { what: 'holdtest Established', timeoutMs: 15_000 });
    assert.equal(h.negotiated?.holdTime, 3);
    const nft = (script: string) => topo.exec(birdNs, 'nft', ['-f', '-'], script);
    nft(`table ip h2hold {\n  chain out {\n    type filter hook output priority 0;\n    ip saddr ${BIRD4C} tcp sport 179 drop\n  }\n}\n`);
    const t0 = Date.now();
    try {
      await pollUntil(() => h.stats.lastNotificationSent?.code === 4, { what: 'our hold timer expiry', timeoutMs: 8000 });
      const elapsed = Date.now() - t0;
      // The last KEEPALIVE from BIRD arrived up to 1 s before the drop started.
      assert.ok(elapsed >= 1500 && elapsed <= 4500, `hold expired ${elapsed} ms after BIRD went silent (hold 3 s)`);
      assert.equal(h.stats.lastNotificationSent?.text, 'Hold timer expired');
      t.diagnostic(`hold 3 s expired ${elapsed} ms after BIRD went silent`);
      let seen = '';
      await pollUntil(() => {
        const pr = bird.protocol('holdtest');
        seen = `${pr.bgpState ?? '?'} / ${pr.lastError ?? '-'}`;
        // BIRD's ACKs are dropped too, so after the first retransmission timeout our KEEPALIVEs
        // (and the 4/0) queue behind unacknowledged data: BIRD's hold timer expires as well.
        return /Hold timer expired/.test(pr.lastError ?? '');
      }, { what: 'BIRD to record the 4/0 it received', timeoutMs: 5000 }).catch((e: unknown) => { throw new Error(`${String(e)}; BIRD says: ${seen}`); });
    } finally {
      nft('delete table ip h2hold');
    }
    await h.stop();
  });

  it('wrong AS: BIRD reports "Bad peer AS" and we record 2/2', async () => {
    const w = session({ peerAddress: BIRD4B, localAddress: OURS4B });
    w.start();
    await pollUntil(() => w.stats.lastNotificationReceived, { what: 'NOTIFICATION from BIRD', timeoutMs: 10_000 });
    const n = w.stats.lastNotificationReceived;
    assert.deepEqual([n?.code, n?.subcode], [2, 2]);
    assert.equal(n?.text, 'Bad peer AS');
    await pollUntil(() => /Bad peer AS/.test(bird.protocol('wrongas').lastError ?? ''), { what: 'BIRD last error Bad peer AS', timeoutMs: 5000 });
    assert.notEqual(w.state, 'Established');
  });

  it('we refuse BIRD\'s AS: we send 2/2, BIRD shows "Received: Bad peer AS"', async () => {
    const s6 = sessions[1];
    assert.ok(s6);
    await s6.stop();
    const w = session({ peerAddress: BIRD6, localAddress: OURS6, families: [{ afi: 2, safi: 1 }], peerAs: 65055 });
    w.start();
    await pollUntil(() => w.stats.lastNotificationSent?.subcode === 2, { what: 'our 2/2', timeoutMs: 10_000 });
    assert.equal(w.stats.lastNotificationSent?.text, 'Bad peer AS');
    await pollUntil(() => /Received: Bad peer AS/.test(bird.protocol('tortie6').lastError ?? ''), { what: 'BIRD received Bad peer AS', timeoutMs: 5000 });
  });
});
