/**
 * tortie-bgpd's BFD against BIRD 2's `protocol bfd`: single-hop (RFC 5881) over IPv4 and IPv6,
 * multihop (RFC 5883) between loopbacks over IPv4 and IPv6 with meticulous keyed SHA1
 * authentication (RFC 5880 §6.7.4; a wrong key keeps them Down), asymmetric timers negotiated both
 * ways, a timer change by reload (Poll/Final), BFD Down tearing BGP down with Cease/10, and the
 * session going Down on BIRD when Tortie stops (AdminDown) and on Tortie when BIRD stops.
 * Assertions read BIRD's own view (birdc show bfd sessions / show protocols all).
 *
 *   ns b (BIRD 2)                          ns t (tortie-bgpd)
 *   10.0.0.1 fd00::1  ──── veth ────  10.0.0.2 fd00::2
 *   lo 10.1.0.1 fd01::1                    lo 10.1.0.2 fd01::2    (routes via the veth; multihop)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { BirdPeer, TortieBgpd, type BirdBfdSession } from '../../helpers/bgp-peers.js';
import { sh } from '../../helpers/sh.js';
import type { BfdSessionView } from '../../../bgp/bfd/engine.js';

const skip = topologySkipReason('bird', 'birdc', 'iptables');
const TIMERS = 'connect delay time 1; connect retry time 1; error wait time 1, 2;';

// BIRD: 100 ms x 3 single-hop, 200 ms x 4 multihop. The BGP sessions with `bfd on` go down with
// BFD on BIRD's side too; `plain4` has BFD only through a static `neighbor`, so that only
// Tortie reacts to BFD Down there and BIRD's BGP shows what it received.
const BIRD = `router id 10.0.0.1;
protocol device {}
protocol direct { ipv4; ipv6; interface "lo"; }
protocol bfd bfd1 {
  interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
  multihop { min rx interval 200 ms; min tx interval 200 ms; multiplier 4; authentication meticulous keyed sha1; password "s3cret" { id 7; }; };
  neighbor 10.0.0.2 dev "veB" local 10.0.0.1;
}
protocol bgp t6 { local fd00::1 as 65001; neighbor fd00::2 as 65002; bfd on; ipv6 { import all; export none; }; ${TIMERS} }
protocol bgp m4 { local 10.1.0.1 as 65001; neighbor 10.1.0.2 as 65002; multihop 2; bfd on; ipv4 { import all; export none; }; ${TIMERS} }
protocol bgp m6 { local fd01::1 as 65001; neighbor fd01::2 as 65002; multihop 2; bfd on; ipv6 { import all; export none; }; ${TIMERS} }
protocol bgp plain4 { local 10.0.0.1 as 65001; neighbor 10.0.0.2 as 65002; ipv4 { import all; export none; }; ${TIMERS} }
`;

function tortie(singleTx: number): string {
  return `routerId: 10.0.0.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: plain4, address: 10.0.0.1, asn: 65001, holdTime: 90, bfd: { minTx: ${singleTx}, minRx: 50, multiplier: 5 } }
  - { name: t6, address: "fd00::1", asn: 65001, families: [ipv6-unicast], bfd: { minTx: 200, minRx: 50, multiplier: 5 } }
  - { name: m4, address: 10.1.0.1, asn: 65001, multihop: 2, localAddress: 10.1.0.2, bfd: { minTx: 300, minRx: 300, multiplier: 3, auth: { type: meticulous-keyed-sha1, keyId: 7, key: s3cret } } }
  - { name: m6, address: "fd01::1", asn: 65001, multihop: 2, localAddress: "fd01::2", families: [ipv6-unicast], bfd: { minTx: 300, minRx: 300, multiplier: 3, auth: { type: meticulous-keyed-sha1, keyId: 7, key: s3cret } } }
`;
}

describe('interop: tortie-bgpd BFD ↔ BIRD 2 protocol bfd', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('bfdb');
  let b: BirdPeer, t: TortieBgpd, nsT: string, nsB: string;
  const birdRow = (addr: string): BirdBfdSession | undefined => b.bfdSessions().find((s) => s.address === addr);
  const ours = async () => await t.request({ cmd: 'show-bfd-sessions' }) as BfdSessionView[];

  before(async () => {
    nsB = topo.ns('b'); nsT = topo.ns('t');
    topo.link(nsB, 'veB', ['10.0.0.1/24', 'fd00::1/64'], nsT, 'veT', ['10.0.0.2/24', 'fd00::2/64']);
    for (const [ns, v4, v6, gw4, gw6, r4, r6] of [[nsB, '10.1.0.1/32', 'fd01::1/128', '10.0.0.2', 'fd00::2', '10.1.0.2/32', 'fd01::2/128'],
      [nsT, '10.1.0.2/32', 'fd01::2/128', '10.0.0.1', 'fd00::1', '10.1.0.1/32', 'fd01::1/128']] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', v4, 'dev', 'lo']);
      sh('ip', ['-n', ns, 'addr', 'add', v6, 'dev', 'lo']);
      sh('ip', ['-n', ns, 'route', 'add', r4, 'via', gw4]);
      sh('ip', ['-n', ns, 'route', 'add', r6, 'via', gw6]);
    }
    b = await BirdPeer.start(topo, nsB, BIRD);
    t = await TortieBgpd.start(topo, nsT, { yaml: tortie(200) });
  });
  after(async () => { await topo.cleanup(); });

  it('single-hop v4/v6 and multihop v4/v6 come Up on both sides with the timers negotiated both ways', async () => {
    const want: Array<[string, number, number]> = [
      // BIRD sends at max(its tx, our rx); its timeout is our multiplier x max(its rx, our tx).
      ['10.0.0.2', 0.1, 1.0], ['fd00::2', 0.1, 1.0], ['10.1.0.2', 0.3, 0.9], ['fd01::2', 0.3, 0.9],
    ];
    for (const [addr, interval, timeout] of want) {
      await pollUntil(() => { const r = birdRow(addr); return r?.state === 'Up' && r.interval === interval && r.timeout === timeout ? r : false; },
        { what: () => `BIRD BFD ${addr} Up ${interval}/${timeout}: ${JSON.stringify(b.bfdSessions())}`, timeoutMs: 15_000 });
    }
    const mine = await pollUntil(async () => { const s = await ours(); return s.length === 4 && s.every((x) => x.state === 'Up') ? s : false; },
      { what: 'our four sessions Up', timeoutMs: 5000 });
    const by = (id: string) => mine.find((s) => s.id === id);
    // We send at max(our tx, BIRD's rx); we detect in BIRD's multiplier x max(our rx, BIRD's tx).
    assert.deepEqual([by('plain4')?.txIntervalUs, by('plain4')?.detectTimeUs], [200_000, 300_000]);
    assert.deepEqual([by('t6')?.txIntervalUs, by('t6')?.detectTimeUs], [200_000, 300_000]);
    assert.deepEqual([by('m4')?.txIntervalUs, by('m4')?.detectTimeUs, by('m4')?.multihop], [300_000, 1_200_000, true]);
    assert.deepEqual([by('m6')?.txIntervalUs, by('m6')?.detectTimeUs, by('m6')?.multihop], [300_000, 1_200_000, true]);
    const text = t.ctl('show', 'bfd', 'sessions');
    assert.match(text, /^10\.0\.0\.1\s+plain4\s+Up\s+\S+\s+0\.200\s+0\.300$/m);
    for (const p of ['t6', 'm4', 'm6', 'plain4']) {
      await pollUntil(() => b.protocol(p).bgpState === 'Established', { what: `BIRD ${p} Established`, timeoutMs: 15_000 });
    }
  });

  it('a timer change by reload goes through Poll/Final: BIRD sees the new detection time, nothing flaps', async () => {
    t.writeConfig(tortie(400));
    t.signal('SIGHUP');
    await pollUntil(() => birdRow('10.0.0.2')?.timeout === 2.0 ? true : false,
      { what: () => `BIRD timeout 5 x 400 ms: ${JSON.stringify(birdRow('10.0.0.2'))}`, timeoutMs: 5000 });
    const s = (await ours()).find((x) => x.id === 'plain4');
    assert.deepEqual([s?.state, s?.txIntervalUs, s?.pollPending], ['Up', 400_000, false]);
    assert.equal(b.protocol('plain4').bgpState, 'Established', 'the BGP session was not reset');
  });

  it('BFD Down (our side stops hearing BIRD) takes BGP down at once with Cease/10, seen by BIRD', async () => {
    const rule = ['-s', '10.0.0.1', '-p', 'udp', '--dport', '3784', '-j', 'DROP'];
    topo.exec(nsT, 'iptables', ['-I', 'INPUT', ...rule]);
    try {
      const p = await pollUntil(() => { const x = b.protocol('plain4'); return x.bgpState !== 'Established' && x.lastError ? x : false; },
        { what: () => `BIRD plain4 down: ${JSON.stringify(b.protocol('plain4'))}`, timeoutMs: 5000 });
      // BIRD 2.0.12 has no text for Cease/10 and prints it as "Unknown error 6.10".
      assert.match(p.lastError ?? '', /^Received: (Unknown error 6\.10|BFD)/i, `BIRD received our Cease/10: ${p.lastError}`);
      const peer = await t.peer('plain4');
      assert.match(peer.lastError ?? '', /Cease\/10|BFD/i);
      assert.equal(b.protocol('t6').bgpState, 'Established', 'the other sessions are untouched');
    } finally {
      topo.exec(nsT, 'iptables', ['-D', 'INPUT', ...rule]);
    }
    await pollUntil(() => birdRow('10.0.0.2')?.state === 'Up', { what: 'BFD back Up', timeoutMs: 10_000 });
    await pollUntil(() => b.protocol('plain4').bgpState === 'Established', { what: 'BGP re-established', timeoutMs: 15_000 });
  });

  it('BIRD stopping its BFD takes our sessions Down; Tortie stopping (SIGTERM) sends AdminDown, BIRD goes Down at once', async () => {
    b.cmd('disable', 'bfd1');
    await pollUntil(async () => (await ours()).find((x) => x.id === 'plain4')?.state === 'Down',
      { what: 'our plain4 Down after BIRD disabled its BFD protocol', timeoutMs: 5000 });
    b.cmd('enable', 'bfd1');
    await pollUntil(async () => (await ours()).find((x) => x.id === 'plain4')?.state === 'Up', { what: 'plain4 Up again', timeoutMs: 10_000 });
    await pollUntil(() => b.protocol('plain4').bgpState === 'Established', { what: 'BGP up', timeoutMs: 15_000 });
    t.signal('SIGTERM');
    // AdminDown arrives well before BIRD's timeout (2 s on plain4, 0.9 s on m4).
    const t0 = Date.now();
    await pollUntil(() => ['10.0.0.2', 'fd00::2', '10.1.0.2', 'fd01::2'].every((a) => birdRow(a)?.state === 'Down'),
      { what: () => `BIRD sessions Down: ${JSON.stringify(b.bfdSessions())}`, timeoutMs: 5000, intervalMs: 20 });
    assert.ok(Date.now() - t0 < 800, `Down on BIRD within ${Date.now() - t0} ms`);
  });
});
