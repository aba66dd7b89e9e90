/** tortie-bgpctl's birdc-shaped route output: network order, best first, ms timestamps, attributes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBfdSessions, formatProtocols, formatRouteCount, formatRoutes, RouteFormatter } from '../../../bgp/bgpd/format.js';
import type { BfdSessionView } from '../../../bgp/bfd/engine.js';
import type { PeerStatus, RouteView } from '../../../bgp/speaker/speaker.js';

const SINCE = Date.UTC(2026, 10, 29, 13, 16, 20, 881);

function route(prefix: string, from: string, o: Partial<RouteView> = {}): RouteView {
  return {
    prefix, from, nextHop: from === 'local' ? 'self' : '10.0.0.1', asPath: from === 'local' ? [] : [65001], asPathText: from === 'local' ? '' : '65001', origin: 'IGP',
    communities: [], ibgp: false, accepted: true, best: true, reason: 'only route', since: SINCE, ...o,
  };
}

describe('bgpctl route format', () => {
  it('orders networks numerically, keeps best first within one, and hides filtered paths', () => {
    const text = formatRoutes([
      route('10.9.0.0/24', 'a'),
      route('2001:db8::/48', 'a'),
      route('10.34.0.0/24', 'c', { asPath: [], ibgp: true, localPref: 100, reason: 'shorter AS path' }),
      route('10.34.0.0/24', 'a', { best: false, reason: 'shorter AS path', med: 5, communities: ['65001:7'] }),
      route('10.10.0.0/16', 'a', { accepted: false }),
      route('10.50.0.0/24', 'local'),
    ], true);
    const heads = text.split('\n').filter((l) => !l.startsWith('\t'));
    assert.deepEqual(heads, [
      'Table master4:',
      '10.9.0.0/24          unicast [a 13:16:20.881] * (100) [AS65001i]',
      '10.34.0.0/24         unicast [c 13:16:20.881] * (100) [i]',
      '                     unicast [a 13:16:20.881] (100) [AS65001i]',
      '10.50.0.0/24         static [local 13:16:20.881] * (100) [i]',
      'Table master6:',
      '2001:db8::/48        unicast [a 13:16:20.881] * (100) [AS65001i]',
    ]);
    assert.match(text, /\[a 13:16:20\.881\] \(100\) \[AS65001i\]\n\tvia 10\.0\.0\.1\n\tType: BGP univ\n\tBGP\.origin: IGP\n\tBGP\.as_path: 65001\n\tBGP\.next_hop: 10\.0\.0\.1\n\tBGP\.med: 5\n\tBGP\.community: \(65001,7\)\n\tBest: no \(shorter AS path\)/);
    assert.doesNotMatch(text, /10\.10\.0\.0\/16/);
  });

  it('shows AS_SET in braces (the wire codec\'s format)', () => {
    const text = formatRoutes([route('10.9.0.0/24', 'a', { asPath: [65001, 65010, 65011], asPathText: '65001 {65010,65011}' })], true);
    assert.match(text, /\tBGP\.as_path: 65001 \{65010,65011\}\n/);
  });

  it('marks a route kept across its peer\'s graceful restart as stale', () => {
    const text = formatRoutes([route('10.9.0.0/24', 'a', { stale: true })], false);
    assert.equal(text.split('\n')[1], '10.9.0.0/24          unicast [a 13:16:20.881 stale] * (100) [AS65001i]');
  });

  it('streamed in batches, the listing is the same as in one piece (network printed once across batches)', () => {
    const rs = [route('10.9.0.0/24', 'a'), route('10.9.0.0/24', 'b', { best: false, reason: 'lower router ID' }), route('10.34.0.0/24', 'c'), route('2001:db8::/48', 'a')];
    const f = new RouteFormatter(true);
    const streamed = [...f.lines(rs.slice(0, 1)), ...f.lines(rs.slice(1, 3)), ...f.lines([]), ...f.lines(rs.slice(3))].join('\n');
    assert.equal(streamed, formatRoutes(rs, true));
    assert.equal(streamed.split('\n').filter((l) => l.startsWith('10.9.0.0/24')).length, 1);
  });

  it('show route all: ORIGINATOR_ID, CLUSTER_LIST, extended and large communities, aggregator and unknown attributes', () => {
    const text = formatRoutes([route('10.9.0.0/24', 'a', {
      communities: ['65001:7', 'no-export'], extendedCommunities: ['rt:65000:100', '0x0302000000000001'], largeCommunities: ['65000:1:2'],
      originatorId: '10.0.0.9', clusterList: ['10.0.0.1', '10.0.0.2'], atomicAggregate: true, aggregator: '65009 10.0.0.9',
      unknownAttributes: ['type 99 flags 0xc0: 0a0b'],
    })], true);
    assert.match(text, /\tBGP\.community: \(65001,7\) \(no-export\)\n/);
    assert.match(text, /\tBGP\.ext_community: \(rt, 65000, 100\) \(0x0302000000000001\)\n/);
    assert.match(text, /\tBGP\.large_community: \(65000, 1, 2\)\n/);
    assert.match(text, /\tBGP\.originator_id: 10\.0\.0\.9\n\tBGP\.cluster_list: 10\.0\.0\.1 10\.0\.0\.2\n/);
    assert.match(text, /\tBGP\.atomic_aggr:\n\tBGP\.aggregator: 65009 10\.0\.0\.9\n/);
    assert.match(text, /\tBGP\.unknown: type 99 flags 0xc0: 0a0b\n/);
  });

  it('show protocols all: timers counting down, AS4 only when negotiated, capabilities by name, InQ/OutQ, messages by type, routes per family', () => {
    const counts = (n: number) => ({ open: 1, update: n, notification: 0, keepalive: 7, 'route-refresh': 0 });
    const p: PeerStatus = {
      name: 'tor', address: '10.0.0.1', asn: 65001, localAsn: 65002, state: 'Established', enabled: true, since: SINCE, uptimeSeconds: 42,
      holdTime: 90, keepalive: 30, configuredHoldTime: 240, remoteId: '10.0.0.1', localAddress: '10.0.0.2',
      capabilities: ['multiprotocol IPv4/unicast', 'long-lived graceful restart'],
      peerCapabilities: ['multiprotocol ipv4-unicast', 'long-lived graceful restart (code 71)', 'FQDN (tor1)'],
      localCapabilities: ['multiprotocol ipv4-unicast', 'multiprotocol ipv6-unicast'], negotiated: ['ipv4-unicast', 'route refresh'],
      fourOctetAs: false, holdTimerLeft: 57.3214, keepaliveTimerLeft: 12.0041, inQueueBytes: 19, outQueueBytes: 4096,
      families: ['ipv4-unicast', 'ipv6-unicast'],
      prefixes: { received: 12, accepted: 9, advertised: 5 },
      familyPrefixes: { 'ipv4-unicast': { received: 10, accepted: 8, exported: 4 }, 'ipv6-unicast': { received: 2, accepted: 1, exported: 1 } },
      messageTypes: { in: counts(3), out: counts(4) }, establishedTransitions: 1,
      messages: { messagesIn: 11, messagesOut: 12, updatesIn: 3, updatesOut: 4, notificationsIn: 0, notificationsOut: 0, routeRefreshIn: 0 },
      eorReceived: [],
    };
    const text = formatProtocols([p], true);
    assert.match(text, /^ +Session: +external$/m, 'no AS4 when 4-octet AS was not negotiated');
    assert.match(formatProtocols([{ ...p, fourOctetAs: true }], true), /^ +Session: +external AS4$/m);
    assert.match(text, /^ +Hold timer: +57\.321\/90$/m);
    assert.match(text, /^ +Keepalive timer: +12\.004\/30$/m);
    assert.match(text, /^ +InQ \/ OutQ: +19 \/ 4096 bytes$/m);
    assert.match(text, /Neighbor capabilities\n +multiprotocol ipv4-unicast\n +long-lived graceful restart \(code 71\)\n +FQDN \(tor1\)\n/);
    assert.match(text, /Local capabilities\n +multiprotocol ipv4-unicast\n +multiprotocol ipv6-unicast\n/);
    assert.match(text, /^ +UPDATE +3 +4$/m);
    assert.match(text, /^ +KEEPALIVE +7 +7$/m);
    assert.match(text, /^ +total +11 +12$/m);
    assert.match(text, /Channel ipv4\n +State: +UP\n +Routes: +8 imported, 2 filtered, 4 exported\n/);
    assert.match(text, /Channel ipv6\n +State: +UP\n +Routes: +1 imported, 1 filtered, 1 exported\n/);
  });

  it('counts like birdc show route count', () => {
    const c = { routes: 3, best: 2, networks: 2, ipv4: 2, ipv6: 1, networks4: 1, networks6: 1 };
    assert.equal(formatRouteCount(c), '2 of 3 routes for 2 networks (2 IPv4, 1 IPv6)\n  ipv4: 2 routes for 1 networks\n  ipv6: 1 routes for 1 networks');
  });

  it('show bfd sessions: birdc columns (seconds), and the detail with all', () => {
    const v: BfdSessionView = {
      id: 'tor', peer: '10.0.0.1', local: '10.0.0.2', multihop: false, since: SINCE, packetsIn: 10, packetsOut: 12, discarded: 1,
      state: 'Up', remoteState: 'Up', remoteControlPlaneIndependent: false, localDiag: 1, remoteDiag: 0, localDiscr: 7, remoteDiscr: 9,
      txIntervalUs: 100_000, detectTimeUs: 300_000, desiredMinTxUs: 100_000, requiredMinRxUs: 100_000,
      remoteMinTxUs: 100_000, remoteMinRxUs: 50_000, remoteDetectMult: 3, pollPending: false,
    };
    assert.deepEqual(formatBfdSessions([v], false).split('\n'), [
      'IP address                Peer         State      Since         Interval  Timeout',
      '10.0.0.1                  tor          Up         13:16:20.881     0.100    0.300',
    ]);
    const all = formatBfdSessions([v], true);
    assert.match(all, /Mode: +single-hop \(RFC 5881, UDP 3784\), source 10\.0\.0\.2/);
    assert.match(all, /Local: +discr 7, diag 1 \(Control Detection Time Expired\), min tx 100 ms, min rx 100 ms/);
    assert.match(all, /Remote: +discr 9, state Up, diag 0 \(No Diagnostic\), min tx 100 ms, min rx 50 ms, multiplier 3/);
    assert.match(all, /Packets: +10 in, 12 out, 1 discarded/);
  });
});
