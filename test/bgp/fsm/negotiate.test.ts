/** OPEN construction and capability negotiation (RFC 5492, 4760, 7911, 6793, 8654, 4724). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLocalOpen, negotiate } from '../../../bgp/fsm/negotiate.js';
import { hardResetWrap, notificationText, shutdownNotification } from '../../../bgp/fsm/notifications.js';
import { encodeShutdownCommunication, decodeShutdownCommunication } from '../../../bgp/wire/notification.js';
import type { FsmConfig } from '../../../bgp/fsm/fsm-types.js';
import { AS_TRANS, type OpenMessage } from '../../../bgp/wire/types.js';

const base: FsmConfig = {
  localAs: 65001, peerAs: 65001, routerId: 0x0a000001, holdTime: 240, connectRetryTime: 5, passive: false,
  families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }], addPath: [{ afi: 1, safi: 1, mode: 3 }, { afi: 2, safi: 1, mode: 1 }],
  gracefulRestart: { restartTime: 120 }, extendedMessage: true, routeRefresh: true, requiredCapabilities: [],
  idleHold: { minMs: 5000, maxMs: 30000, stableMs: 60000 }, openHoldTimeMs: 240000,
};

describe('buildLocalOpen', () => {
  it('advertises families, add-path, GR, 4-octet AS, extended message, route refresh', () => {
    const o = buildLocalOpen(base);
    assert.equal(o.myAs, 65001);
    assert.equal(o.holdTime, 240);
    const types = o.capabilities.map((c) => c.type);
    for (const t of ['multiprotocol', 'route-refresh', 'enhanced-route-refresh', 'extended-message', 'graceful-restart', 'four-octet-as', 'add-path']) {
      assert.ok(types.includes(t as never), t);
    }
  });
  it('graceful restart helperOnly ("aware"): the capability lists no families', () => {
    const gr = (o: ReturnType<typeof buildLocalOpen>) => o.capabilities.find((c) => c.type === 'graceful-restart');
    const full = gr(buildLocalOpen(base));
    assert.ok(full?.type === 'graceful-restart' && full.families.length > 0);
    const aware = gr(buildLocalOpen({ ...base, gracefulRestart: { restartTime: 0, helperOnly: true } }));
    assert.ok(aware?.type === 'graceful-restart');
    assert.deepEqual([aware.restartTime, aware.families], [0, []]);
  });
  it('uses AS_TRANS for a 4-octet local AS', () => {
    const o = buildLocalOpen({ ...base, localAs: 4200000000 });
    assert.equal(o.myAs, AS_TRANS);
    assert.ok(o.capabilities.some((c) => c.type === 'four-octet-as' && c.asn === 4200000000));
  });
});

describe('negotiate', () => {
  const local = buildLocalOpen(base);
  it('min hold time, keepalive = hold/3, intersections, add-path directions, unknown caps kept', () => {
    const peer: OpenMessage = {
      type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: 0x0a000002,
      capabilities: [
        { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'multiprotocol', afi: 2, safi: 1 }, { type: 'multiprotocol', afi: 1, safi: 128 },
        { type: 'four-octet-as', asn: 65001 }, { type: 'route-refresh' },
        { type: 'add-path', families: [{ afi: 1, safi: 1, mode: 1 }, { afi: 2, safi: 1, mode: 2 }] },
        { type: 'graceful-restart', restarting: true, notification: false, restartTime: 90, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        { type: 'unknown', code: 73, value: Uint8Array.of(1, 2) },
      ],
    };
    const n = negotiate(base, local, peer);
    assert.equal(n.holdTime, 90);
    assert.equal(n.keepaliveTime, 30);
    assert.equal(n.ibgp, true);
    assert.deepEqual(n.families, [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }]);
    // IPv4: we do both, peer only receives → we send. IPv6: we receive, peer sends → we receive.
    assert.deepEqual(n.addPath, [{ afi: 1, safi: 1, send: true, receive: false }, { afi: 2, safi: 1, send: false, receive: true }]);
    assert.deepEqual([...n.codec.addPathSend], ['1/1']);
    assert.deepEqual([...n.codec.addPathReceive], ['2/1']);
    assert.equal(n.codec.fourOctetAs, true);
    assert.equal(n.extendedMessage, false);
    assert.equal(n.routeRefresh, true);
    assert.equal(n.enhancedRouteRefresh, false);
    assert.equal(n.peerGracefulRestart?.restarting, true);
    assert.equal(n.localGracefulRestart, true);
    assert.deepEqual(n.unknownCapabilities, [{ code: 73, value: Uint8Array.of(1, 2) }]);
  });
  it('a peer without MP capabilities implies IPv4 unicast only; no 4-octet AS', () => {
    const peer: OpenMessage = { type: 'open', version: 4, myAs: 65001, holdTime: 0, bgpId: 2, capabilities: [] };
    const n = negotiate(base, local, peer);
    assert.deepEqual(n.families, [{ afi: 1, safi: 1 }]);
    assert.equal(n.fourOctetAs, false);
    assert.equal(n.holdTime, 0);
    assert.equal(n.keepaliveTime, 0);
  });
});

describe('shutdown communication (RFC 9003)', () => {
  it('round-trips and truncates to 255 octets on a UTF-8 boundary', () => {
    const n = shutdownNotification(2, 'going down for maintenance');
    assert.equal(decodeShutdownCommunication(n), 'going down for maintenance');
    assert.equal(notificationText(n), 'Administrative shutdown: "going down for maintenance"');
    const long = encodeShutdownCommunication('é'.repeat(200));
    assert.ok(long.length - 1 <= 255);
    assert.equal(long[0], 254);
    assert.equal(Buffer.from(long.subarray(1)).toString('utf8'), 'é'.repeat(127));
    assert.equal(shutdownNotification(3, 'ignored').data.length, 0);
  });

  it('invalid UTF-8 in a received communication is not shown (one codec: bgp/wire/notification.ts)', () => {
    const n = { type: 'notification' as const, code: 6, subcode: 2, data: Uint8Array.of(3, 0x61, 0xff, 0x62) };
    assert.equal(decodeShutdownCommunication(n), undefined);
    assert.equal(notificationText(n), 'Administrative shutdown');
  });

  it('RFC 8538: Cease 1/2/3/4/10 become Hard Reset carrying the original; others stay', () => {
    const wrapped = hardResetWrap(shutdownNotification(2, 'bye'));
    assert.deepEqual([wrapped.code, wrapped.subcode, ...wrapped.data], [6, 9, 6, 2, 3, 0x62, 0x79, 0x65]);
    assert.equal(notificationText(wrapped), 'Hard reset: Administrative shutdown: "bye"');
    const other = shutdownNotification(6);
    assert.equal(hardResetWrap(other), other);
    const hold = { type: 'notification' as const, code: 4, subcode: 0, data: new Uint8Array(0) };
    assert.equal(hardResetWrap(hold), hold);
  });
});
