/**
 * Our encoder against real parsers: the capture server (bgp-capture.ts --announce) completes an
 * eBGP session with the peer, then sends UPDATEs built by encodeUpdates (IPv4 classic, IPv6
 * MP_REACH, MED, communities incl. no-export, large and extended communities) and End-of-RIBs.
 * The peer must keep the session up and install every route with every attribute.
 *
 *   ns us 10.0.0.1 (capture server, AS 65000) ──veth── 10.0.0.2 ns peer (BIRD AS 65001 | FRR AS 65002)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANNOUNCED, BIRD_CONF, CAPTURE_SCRIPT, FRR_CONF } from '../../helpers/bgp-capture.js';
import { BirdPeer, FrrPeer } from '../../helpers/bgp-peers.js';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { pollUntil } from '../../helpers/poll.js';
import { Proc, sh } from '../../helpers/sh.js';

async function withAnnouncer(tag: string, fn: (topo: Topology, peerNs: string, server: Proc) => Promise<void>): Promise<void> {
  const topo = new Topology(tag);
  try {
    const us = topo.ns('us');
    const peer = topo.ns('peer');
    topo.link(us, 'veu', ['10.0.0.1/24', 'fd00::1/64'], peer, 'vep', ['10.0.0.2/24', 'fd00::2/64']);
    const dir = mkdtempSync(join(tmpdir(), 'tortie-announce-'));
    topo.defer(() => rmSync(dir, { recursive: true, force: true }));
    const server = new Proc('ip', ['netns', 'exec', us, process.execPath, CAPTURE_SCRIPT, '--announce', join(dir, 'capture.json')]);
    topo.defer(() => server.stop());
    await pollUntil(() => sh('ip', ['netns', 'exec', us, 'ss', '-ltnH', 'sport = :179']).includes('10.0.0.1'),
      { what: 'announcer listening', timeoutMs: 5000 });
    await fn(topo, peer, server);
    assert.equal(server.exited, false, `announcer still running (${server.output})`);
  } finally {
    await topo.cleanup();
  }
}

const birdSkip = topologySkipReason('bird');
test('live: BIRD installs the routes our encoder announces, with every attribute', { skip: birdSkip ?? false, timeout: 60_000 }, async () => {
  await withAnnouncer('encb', async (topo, peerNs) => {
    const bird = await BirdPeer.start(topo, peerNs, BIRD_CONF.replace(/import none/g, 'import all'));
    const wanted = [...ANNOUNCED.v4, ...ANNOUNCED.v6];
    const routes = await pollUntil(() => {
      const r = bird.routes('protocol', 'cap');
      return wanted.every((p) => r.some((x) => x.prefix === p)) ? r : undefined;
    }, { what: 'BIRD routes from our encoder', timeoutMs: 30_000 });
    for (const p of wanted) {
      const r = routes.find((x) => x.prefix === p);
      assert.ok(r, p);
      assert.equal(r.attrs['BGP.origin'], 'IGP', p);
      assert.equal(r.attrs['BGP.as_path'], '65000', p);
      assert.equal(r.attrs['BGP.med'], '77', p);
      assert.equal(r.attrs['BGP.community'], '(65000,1) (65535,65281)', p);
      assert.equal(r.attrs['BGP.large_community'], '(65000, 5, 6)', p);
      assert.equal(r.attrs['BGP.ext_community'], '(rt, 65000, 9)', p);
      assert.match(r.attrs['BGP.next_hop'] ?? '', p.includes(':') ? /^fd00::1/ : /^10\.0\.0\.1$/, p);
    }
    assert.equal(bird.protocol('cap').bgpState, 'Established');
  });
});

const frrSkip = topologySkipReason('vtysh');
test('live: FRR installs the routes our encoder announces, with every attribute', { skip: frrSkip ?? false, timeout: 60_000 }, async () => {
  await withAnnouncer('encf', async (topo, peerNs) => {
    const frr = await FrrPeer.start(topo, peerNs, FRR_CONF);
    type FrrPath = { aspath?: { string?: string }; metric?: number; community?: { string?: string }; largeCommunity?: { string?: string }; extendedCommunity?: { string?: string }; origin?: string };
    const routeOf = (afi: 'ipv4' | 'ipv6', p: string): FrrPath | undefined => {
      const j = frr.json(`show bgp ${afi} unicast ${p} json`) as { paths?: FrrPath[] };
      return j.paths?.[0];
    };
    for (const [afi, prefixes] of [['ipv4', ANNOUNCED.v4], ['ipv6', ANNOUNCED.v6]] as const) {
      for (const p of prefixes) {
        const path = await pollUntil(() => routeOf(afi, p), { what: `FRR route ${p}`, timeoutMs: 30_000 });
        assert.equal(path.aspath?.string, '65000', p);
        assert.equal(path.metric, 77, `${p}: ${JSON.stringify(path)}`);
        assert.equal(path.origin, 'IGP', p);
        assert.equal(path.community?.string, '65000:1 no-export', p);
        assert.equal(path.largeCommunity?.string, '65000:5:6', p);
        assert.equal(path.extendedCommunity?.string, 'RT:65000:9', p);
      }
    }
  });
});
