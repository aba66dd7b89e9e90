/**
 * tortie-bgpd's BFD against FRR 8 bfdd (static peers; bgpd beside it without zebra): single-hop
 * and multihop, IPv4 and IPv6, asymmetric timers negotiated both ways, a timer change by reload
 * (Poll/Final) seen in FRR's remote timers, BFD Down tearing our BGP session down with Cease/10
 * as FRR's bgpd reports it, FRR shutting a peer down (AdminDown) and dying (kill -9), and Tortie's
 * SIGTERM (AdminDown). Assertions read FRR's own view (vtysh show bfd peers json, show bgp neighbors json).
 *
 *   ns f (FRR bgpd + bfdd)                 ns t (tortie-bgpd)
 *   10.0.0.1 fd00::1  ──── veth ────  10.0.0.2 fd00::2
 *   lo 10.1.0.1 fd01::1                    lo 10.1.0.2 fd01::2    (routes via the veth; multihop)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { FrrPeer, TortieBgpd, type FrrBfdPeer } from '../../helpers/bgp-peers.js';
import { sh } from '../../helpers/sh.js';
import { readFileSync } from 'node:fs';
import type { BfdSessionView } from '../../../bgp/bfd/engine.js';

const skip = topologySkipReason('vtysh', '/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd', 'iptables');

const BGPD = `frr defaults datacenter
hostname frrf
router bgp 65001
 bgp router-id 10.0.0.1
 no bgp ebgp-requires-policy
 neighbor 10.0.0.2 remote-as 65002
 neighbor 10.0.0.2 timers 10 30
 neighbor 10.0.0.2 timers connect 1
exit
`;

const BFDD = `hostname frrf
bfd
 peer 10.0.0.2 local-address 10.0.0.1
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 exit
 peer fd00::2 local-address fd00::1
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 exit
 peer 10.1.0.2 multihop local-address 10.1.0.1
  receive-interval 200
  transmit-interval 200
  detect-multiplier 4
 exit
 peer fd01::2 multihop local-address fd01::1
  receive-interval 200
  transmit-interval 200
  detect-multiplier 4
 exit
exit
`;

function tortie(singleTx: number): string {
  return `routerId: 10.0.0.2
asn: 65002
listen: { address: "::", port: 179 }
peers:
  - { name: frr4, address: 10.0.0.1, asn: 65001, connectRetry: 1, bfd: { minTx: ${singleTx}, minRx: 50, multiplier: 5 } }
  - { name: frr6, address: "fd00::1", asn: 65001, passive: true, families: [ipv6-unicast], bfd: { minTx: 200, minRx: 50, multiplier: 5 } }
  - { name: m4, address: 10.1.0.1, asn: 65001, passive: true, multihop: 2, localAddress: 10.1.0.2, bfd: { minTx: 300, minRx: 300, multiplier: 3 } }
  - { name: m6, address: "fd01::1", asn: 65001, passive: true, multihop: 2, localAddress: "fd01::2", families: [ipv6-unicast], bfd: { minTx: 300, minRx: 300, multiplier: 3 } }
`;
}

describe('interop: tortie-bgpd BFD ↔ FRR bfdd', { skip, timeout: 120_000 }, () => {
  const topo = new Topology('bfdf');
  let f: FrrPeer, t: TortieBgpd, nsT: string;
  const frrPeer = (addr: string): FrrBfdPeer | undefined => f.bfdPeers().find((p) => p.peer === addr);
  const ours = async () => await t.request({ cmd: 'show-bfd-sessions' }) as BfdSessionView[];
  const mine = async (id: string) => (await ours()).find((s) => s.id === id);
  const frrBgp = () => (f.json('show bgp neighbors 10.0.0.2 json') as Record<string, Record<string, unknown>>)['10.0.0.2'] ?? {};

  before(async () => {
    const nsF = topo.ns('f'); nsT = topo.ns('t');
    topo.link(nsF, 'veF', ['10.0.0.1/24', 'fd00::1/64'], nsT, 'veT', ['10.0.0.2/24', 'fd00::2/64']);
    for (const [ns, v4, v6, gw4, gw6, r4, r6] of [[nsF, '10.1.0.1/32', 'fd01::1/128', '10.0.0.2', 'fd00::2', '10.1.0.2/32', 'fd01::2/128'],
      [nsT, '10.1.0.2/32', 'fd01::2/128', '10.0.0.1', 'fd00::1', '10.1.0.1/32', 'fd01::1/128']] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', v4, 'dev', 'lo']);
      sh('ip', ['-n', ns, 'addr', 'add', v6, 'dev', 'lo']);
      sh('ip', ['-n', ns, 'route', 'add', r4, 'via', gw4]);
      sh('ip', ['-n', ns, 'route', 'add', r6, 'via', gw6]);
    }
    f = await FrrPeer.start(topo, nsF, BGPD, { bfddConf: BFDD });
    t = await TortieBgpd.start(topo, nsT, { yaml: tortie(200) });
  });
  after(async () => { await topo.cleanup(); });

  it('single-hop v4/v6 and multihop v4/v6 come Up on both sides with the timers negotiated both ways', async () => {
    // FRR's remote-* fields are what we advertise once the Poll after Up has ended.
    const want: Array<[string, string, number, number, number]> = [
      ['10.0.0.2', 'frr4', 200, 50, 5], ['fd00::2', 'frr6', 200, 50, 5], ['10.1.0.2', 'm4', 300, 300, 3], ['fd01::2', 'm6', 300, 300, 3],
    ];
    for (const [addr, , tx, rx, mult] of want) {
      await pollUntil(() => {
        const p = frrPeer(addr);
        return p?.status === 'up' && p['remote-transmit-interval'] === tx && p['remote-receive-interval'] === rx && p['remote-detect-multiplier'] === mult ? p : false;
      }, { what: () => `FRR BFD ${addr} up with our timers: ${JSON.stringify(f.bfdPeers())}`, timeoutMs: 15_000 });
    }
    assert.equal(frrPeer('10.1.0.2')?.multihop, true);
    // We send at max(our tx, FRR's rx) and detect in FRR's multiplier x max(our rx, FRR's tx).
    const expect: Record<string, [number, number]> = { frr4: [200_000, 300_000], frr6: [200_000, 300_000], m4: [300_000, 1_200_000], m6: [300_000, 1_200_000] };
    let last: unknown;
    await pollUntil(async () => {
      const s = await ours();
      last = s;
      return s.length === 4 && s.every((x) => x.state === 'Up' && x.txIntervalUs === expect[x.id]?.[0] && x.detectTimeUs === expect[x.id]?.[1]) ? s : false;
    }, { what: () => `our sessions Up with negotiated timers: ${JSON.stringify(last)}`, timeoutMs: 5000 });
    await pollUntil(() => frrBgp()['bgpState'] === 'Established', { what: 'FRR BGP Established', timeoutMs: 15_000 });
  });

  it('a timer change by reload reaches FRR through Poll/Final without a flap', async () => {
    t.writeConfig(tortie(400));
    t.signal('SIGHUP');
    await pollUntil(() => frrPeer('10.0.0.2')?.['remote-transmit-interval'] === 400,
      { what: () => `FRR sees our 400 ms: ${JSON.stringify(frrPeer('10.0.0.2'))}`, timeoutMs: 5000 });
    assert.equal(frrPeer('10.0.0.2')?.status, 'up');
    assert.deepEqual([(await mine('frr4'))?.txIntervalUs, (await mine('frr4'))?.pollPending], [400_000, false]);
    assert.equal(frrBgp()['bgpState'], 'Established');
  });

  it('BFD Down takes our BGP session down at once with Cease/10, as FRR bgpd reports it', async () => {
    const rule = ['-s', '10.0.0.1', '-p', 'udp', '--dport', '3784', '-j', 'DROP'];
    topo.exec(nsT, 'iptables', ['-I', 'INPUT', ...rule]);
    try {
      const n = await pollUntil(() => { const x = frrBgp(); return x['bgpState'] !== 'Established' ? x : false; },
        { what: () => `FRR BGP down: ${JSON.stringify(frrBgp())}`, timeoutMs: 5000 });
      assert.match(`${String(n['lastNotificationReason'])} ${String(n['lastResetDueTo'])}`, /Cease\/BFD Down|BFD/i,
        `FRR names our NOTIFICATION: ${JSON.stringify({ reason: n['lastNotificationReason'], due: n['lastResetDueTo'] })}`);
    } finally {
      topo.exec(nsT, 'iptables', ['-D', 'INPUT', ...rule]);
    }
    await pollUntil(() => frrPeer('10.0.0.2')?.status === 'up', { what: 'BFD up again', timeoutMs: 10_000 });
    await pollUntil(() => frrBgp()['bgpState'] === 'Established', { what: 'BGP re-established', timeoutMs: 15_000 });
  });

  it('FRR shutting a peer down (AdminDown) and FRR dying (kill -9) take our sessions Down', async () => {
    f.configure('bfd', 'peer 10.0.0.2 local-address 10.0.0.1', 'shutdown');
    let last: unknown;
    await pollUntil(async () => { const s = await mine('frr4'); last = s; return s?.state === 'Down' && s.remoteState === 'AdminDown' && s.localDiag === 3; },
      { what: () => `frr4 Down by AdminDown: ${JSON.stringify(last)}`, timeoutMs: 3000 });
    assert.equal(frrBgp()['bgpState'], 'Established', 'a peer\'s AdminDown is not a failure (RFC 5882 §3.2): BGP stays');
    f.configure('bfd', 'peer 10.0.0.2 local-address 10.0.0.1', 'no shutdown');
    await pollUntil(async () => (await mine('frr4'))?.state === 'Up', { what: 'frr4 Up again', timeoutMs: 10_000 });
    process.kill(Number(readFileSync(f.bfddPidFile, 'utf8').trim()), 'SIGKILL');
    await pollUntil(async () => { const s = await ours(); last = s; return s.every((x) => x.state === 'Down' && x.localDiag === 1) ? s : false; },
      { what: () => `all Down by detection timeout: ${JSON.stringify(last)}`, timeoutMs: 5000 });
  });

  it('Tortie stopping (SIGTERM) sends AdminDown: FRR goes down at once', async () => {
    await f.startBfdd();
    await pollUntil(() => f.bfdPeers().length === 4 && f.bfdPeers().every((p) => p.status === 'up'),
      { what: () => `FRR all up again: ${JSON.stringify(f.bfdPeers())}`, timeoutMs: 15_000 });
    t.signal('SIGTERM');
    const t0 = Date.now();
    await pollUntil(() => f.bfdPeers().every((p) => p.status === 'down' && p['remote-diagnostic'] === 'administratively down'),
      { what: () => `FRR all down by AdminDown: ${JSON.stringify(f.bfdPeers())}`, timeoutMs: 5000, intervalMs: 20 });
    assert.ok(Date.now() - t0 < 800, `down on FRR within ${Date.now() - t0} ms`);
  });
});
