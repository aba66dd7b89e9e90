/**
 * The sans-I/O FSM: every state × relevant RFC 4271 §8.1 event, fed as inputs, outputs asserted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BgpFsm } from '../../../bgp/fsm/fsm.js';
import type { FsmConfig, FsmInput, FsmOutput, FsmState } from '../../../bgp/fsm/fsm-types.js';
import { BgpWireError, ErrorCode, OpenSubcode, UpdateSubcode } from '../../../bgp/wire/errors.js';
import { AS_TRANS, type Capability, type OpenMessage } from '../../../bgp/wire/types.js';
import { decodeShutdownCommunication } from '../../../bgp/wire/notification.js';

const LOCAL_ID = 0x0a000001;
const PEER_ID = 0x0a000002;

function config(over: Partial<FsmConfig> = {}): FsmConfig {
  return {
    localAs: 65001, peerAs: 65002, routerId: LOCAL_ID, holdTime: 90, connectRetryTime: 5, passive: false,
    families: [], addPath: [], extendedMessage: true, routeRefresh: true, requiredCapabilities: [],
    idleHold: { minMs: 5000, maxMs: 30000, stableMs: 60000 }, openHoldTimeMs: 240_000, ...over,
  };
}

function peerOpen(over: Partial<OpenMessage> = {}, caps?: Capability[]): OpenMessage {
  return {
    type: 'open', version: 4, myAs: 65002, holdTime: 90, bgpId: PEER_ID,
    capabilities: caps ?? [{ type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' }, { type: 'four-octet-as', asn: 65002 }],
    ...over,
  };
}

class Harness {
  now = 0;
  readonly fsm: BgpFsm;
  constructor(cfg: FsmConfig = config()) {
    this.fsm = new BgpFsm(cfg, { now: () => this.now });
  }
  feed(...inputs: FsmInput[]): FsmOutput[] {
    return inputs.flatMap((i) => this.fsm.process(i));
  }
  /** Drive to a state through the normal path. */
  to(state: FsmState): this {
    const path: FsmInput[] = [];
    if (state === 'Idle') return this;
    path.push({ type: 'ManualStart' });
    if (state === 'Active') path.push({ type: 'TcpConnectionFails' });
    if (['OpenSent', 'OpenConfirm', 'Established'].includes(state)) path.push({ type: 'Tcp_CR_Acked' });
    if (['OpenConfirm', 'Established'].includes(state)) path.push({ type: 'BGPOpen', message: peerOpen() });
    if (state === 'Established') path.push({ type: 'KeepAliveMsg' });
    this.feed(...path);
    assert.equal(this.fsm.state, state);
    return this;
  }
}

const sent = (outs: FsmOutput[]) => outs.flatMap((o) => (o.type === 'send' ? [o.message] : []));
const notif = (outs: FsmOutput[]) => sent(outs).find((m) => m.type === 'notification');
const has = (outs: FsmOutput[], type: FsmOutput['type']) => outs.some((o) => o.type === type);
const timers = (outs: FsmOutput[]) => outs.flatMap((o) => (o.type === 'start-timer' ? [`${o.timer}:${o.ms}`] : []));

function assertDrop(h: Harness, outs: FsmOutput[], code?: number, subcode?: number): void {
  assert.equal(h.fsm.state, 'Idle');
  const sc = outs.find((o) => o.type === 'state-change');
  assert.ok(sc && sc.type === 'state-change' && sc.to === 'Idle' && sc.reason.length > 0, 'state-change to Idle with a reason');
  const down = outs.find((o) => o.type === 'down');
  assert.ok(down && down.type === 'down' && down.reason.text.length > 0, 'down with a reason');
  assert.ok(has(outs, 'close'));
  const n = notif(outs);
  if (code === undefined) assert.equal(n, undefined, 'no NOTIFICATION');
  else {
    assert.ok(n && n.type === 'notification', `NOTIFICATION ${code}/${subcode} expected`);
    assert.deepEqual([n.code, n.subcode], [code, subcode]);
  }
}

describe('FSM Idle', () => {
  it('ManualStart connects and goes to Connect with the connect retry timer', () => {
    const h = new Harness();
    const outs = h.feed({ type: 'ManualStart' });
    assert.equal(h.fsm.state, 'Connect');
    assert.ok(has(outs, 'connect'));
    assert.deepEqual(timers(outs), ['connectRetry:5000']);
  });
  it('passive start waits in Active without connecting', () => {
    for (const h of [new Harness(config({ passive: true })), new Harness()]) {
      const outs = h.feed(h.fsm.config.passive ? { type: 'ManualStart' } : { type: 'ManualStart_with_PassiveTcpEstablishment' });
      assert.equal(h.fsm.state, 'Active');
      assert.ok(!has(outs, 'connect'));
    }
  });
  it('refuses connections and ignores messages and stale timers', () => {
    const h = new Harness();
    assert.deepEqual(h.feed({ type: 'TcpConnectionConfirmed' }), [{ type: 'close' }]);
    for (const i of [{ type: 'KeepAliveMsg' }, { type: 'HoldTimer_Expires' }, { type: 'ConnectRetryTimer_Expires' },
      { type: 'BGPOpen', message: peerOpen() }, { type: 'ManualStop' }, { type: 'IdleHoldTimer_Expires' }] as FsmInput[]) {
      assert.deepEqual(h.feed(i), [], i.type);
      assert.equal(h.fsm.state, 'Idle');
    }
  });
});

describe('FSM Connect and Active', () => {
  it('Tcp_CR_Acked sends OPEN, starts the large hold timer, OpenSent', () => {
    const h = new Harness().to('Connect');
    const outs = h.feed({ type: 'Tcp_CR_Acked' });
    assert.equal(h.fsm.state, 'OpenSent');
    const open = sent(outs)[0];
    assert.ok(open && open.type === 'open');
    assert.equal(open.holdTime, 90);
    assert.equal(open.bgpId, LOCAL_ID);
    assert.ok(timers(outs).includes('hold:240000'));
    assert.ok(outs.some((o) => o.type === 'stop-timer' && o.timer === 'connectRetry'));
  });
  it('TcpConnectionFails in Connect goes to Active and retries after the timer', () => {
    const h = new Harness().to('Connect');
    h.feed({ type: 'TcpConnectionFails', error: 'ECONNREFUSED' });
    assert.equal(h.fsm.state, 'Active');
    const outs = h.feed({ type: 'ConnectRetryTimer_Expires' });
    assert.equal(h.fsm.state, 'Connect');
    assert.ok(has(outs, 'connect'));
  });
  it('ConnectRetryTimer_Expires in Connect drops the attempt and connects again', () => {
    const h = new Harness().to('Connect');
    const outs = h.feed({ type: 'ConnectRetryTimer_Expires' });
    assert.deepEqual(outs.map((o) => o.type), ['close', 'start-timer', 'connect']);
    assert.equal(h.fsm.state, 'Connect');
  });
  it('a passive session stays in Active when the connect retry timer expires', () => {
    const h = new Harness(config({ passive: true }));
    h.feed({ type: 'ManualStart' });
    const outs = h.feed({ type: 'ConnectRetryTimer_Expires' });
    assert.equal(h.fsm.state, 'Active');
    assert.ok(!has(outs, 'connect'));
  });
  it('TcpConnectionConfirmed in Active sends OPEN', () => {
    const h = new Harness().to('Active');
    h.feed({ type: 'TcpConnectionConfirmed' });
    assert.equal(h.fsm.state, 'OpenSent');
  });
  it('ManualStop drops to Idle without NOTIFICATION and without restart', () => {
    for (const s of ['Connect', 'Active'] as const) {
      const h = new Harness().to(s);
      const outs = h.feed({ type: 'ManualStop' });
      assertDrop(h, outs);
      assert.ok(!timers(outs).some((t) => t.startsWith('idleHold')));
    }
  });
  it('a BGP message without a session drops to Idle (FSM error, restart)', () => {
    const h = new Harness().to('Connect');
    const outs = h.feed({ type: 'KeepAliveMsg' });
    assertDrop(h, outs);
    assert.deepEqual(timers(outs), ['idleHold:5000']);
  });
});

describe('FSM OpenSent', () => {
  it('a valid OPEN: KEEPALIVE sent, negotiated timers, OpenConfirm', () => {
    const h = new Harness().to('OpenSent');
    const outs = h.feed({ type: 'BGPOpen', message: peerOpen({ holdTime: 30 }) });
    assert.equal(h.fsm.state, 'OpenConfirm');
    assert.deepEqual(sent(outs), [{ type: 'keepalive' }]);
    assert.deepEqual(timers(outs), ['hold:30000', 'keepalive:10000']);
    assert.equal(h.fsm.negotiated?.holdTime, 30);
  });
  it('hold time 0 is accepted: no hold timer, no keepalives', () => {
    const h = new Harness().to('OpenSent');
    const outs = h.feed({ type: 'BGPOpen', message: peerOpen({ holdTime: 0 }) });
    assert.equal(h.fsm.state, 'OpenConfirm');
    assert.deepEqual(timers(outs), []);
    assert.ok(outs.some((o) => o.type === 'stop-timer' && o.timer === 'hold'));
    assert.equal(h.fsm.negotiated?.keepaliveTime, 0);
  });
  const bad: Array<[string, OpenMessage, number, Partial<FsmConfig>?, Uint8Array?]> = [
    ['version 3', peerOpen({ version: 3 }), OpenSubcode.UNSUPPORTED_VERSION, {}, Uint8Array.of(0, 4)],
    ['wrong AS', peerOpen({ myAs: 65009 }, [{ type: 'four-octet-as', asn: 65009 }]), OpenSubcode.BAD_PEER_AS],
    ['wrong 4-octet AS', peerOpen({ myAs: AS_TRANS }, [{ type: 'four-octet-as', asn: 4200000000 }]), OpenSubcode.BAD_PEER_AS],
    ['AS_TRANS without capability', peerOpen({ myAs: AS_TRANS }, []), OpenSubcode.BAD_PEER_AS, { peerAs: AS_TRANS }],
    ['My AS disagrees with capability', peerOpen({ myAs: 65003 }, [{ type: 'four-octet-as', asn: 65002 }]), OpenSubcode.BAD_PEER_AS],
    ['BGP identifier 0', peerOpen({ bgpId: 0 }), OpenSubcode.BAD_BGP_IDENTIFIER],
    ['iBGP peer with our identifier', peerOpen({ bgpId: LOCAL_ID, myAs: 65001 }, []), OpenSubcode.BAD_BGP_IDENTIFIER, { peerAs: 65001 }],
    ['hold time 1', peerOpen({ holdTime: 1 }), OpenSubcode.UNACCEPTABLE_HOLD_TIME],
    ['hold time 2', peerOpen({ holdTime: 2 }), OpenSubcode.UNACCEPTABLE_HOLD_TIME],
    ['required capability missing', peerOpen({}, []), OpenSubcode.UNSUPPORTED_CAPABILITY, { requiredCapabilities: [65] }, Uint8Array.of(65, 0)],
  ];
  for (const [name, open, sub, cfg, data] of bad) {
    it(`OPEN with ${name} → 2/${sub}`, () => {
      const h = new Harness(config(cfg)).to('OpenSent');
      const outs = h.feed({ type: 'BGPOpen', message: open });
      assertDrop(h, outs, ErrorCode.OPEN_MESSAGE, sub);
      if (data) assert.deepEqual(notif(outs)?.type === 'notification' && notif(outs)?.data, data);
    });
  }
  it('eBGP peer with our identifier is accepted (RFC 6286)', () => {
    const h = new Harness().to('OpenSent');
    h.feed({ type: 'BGPOpen', message: peerOpen({ bgpId: LOCAL_ID }) });
    assert.equal(h.fsm.state, 'OpenConfirm');
  });
  it('4-octet AS peer with AS_TRANS is accepted', () => {
    const h = new Harness(config({ peerAs: 4200000001 })).to('OpenSent');
    h.feed({ type: 'BGPOpen', message: peerOpen({ myAs: AS_TRANS }, [{ type: 'four-octet-as', asn: 4200000001 }]) });
    assert.equal(h.fsm.state, 'OpenConfirm');
    assert.equal(h.fsm.negotiated?.peerAs, 4200000001);
  });
  it('hold timer expiry → 4/0', () => {
    const h = new Harness().to('OpenSent');
    assertDrop(h, h.feed({ type: 'HoldTimer_Expires' }), ErrorCode.HOLD_TIMER_EXPIRED, 0);
  });
  for (const i of [{ type: 'KeepAliveMsg' }, { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } },
    { type: 'RouteRefreshMsg', message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } }] as FsmInput[]) {
    it(`${i.type} in OpenSent → 5/1`, () => {
      const h = new Harness().to('OpenSent');
      assertDrop(h, h.feed(i), ErrorCode.FSM, 1);
    });
  }
  it('OpenCollisionDump → Cease/7', () => {
    const h = new Harness().to('OpenSent');
    assertDrop(h, h.feed({ type: 'OpenCollisionDump' }), ErrorCode.CEASE, 7);
  });
  it('header error → its own NOTIFICATION', () => {
    const h = new Harness().to('OpenSent');
    const e = new BgpWireError(1, 2, 'bad length', { data: Uint8Array.of(0, 5) });
    const outs = h.feed({ type: 'BGPHeaderErr', error: e });
    assertDrop(h, outs, 1, 2);
    assert.deepEqual(notif(outs)?.type === 'notification' && notif(outs)?.data, Uint8Array.of(0, 5));
  });
  it('NOTIFICATION received → Idle, recorded, nothing sent', () => {
    const h = new Harness().to('OpenSent');
    const n = { type: 'notification', code: 2, subcode: 2, data: new Uint8Array(0) } as const;
    const outs = h.feed({ type: 'NotifMsg', message: n });
    assertDrop(h, outs);
    const down = outs.find((o) => o.type === 'down');
    assert.ok(down?.type === 'down' && down.reason.notificationReceived === n);
  });
  it('TcpConnectionFails → Active (keep listening)', () => {
    const h = new Harness().to('OpenSent');
    const outs = h.feed({ type: 'TcpConnectionFails' });
    assert.equal(h.fsm.state, 'Active');
    assert.ok(has(outs, 'close'));
  });
  it('ManualStop with a message → Cease/2 carrying the RFC 9003 communication', () => {
    const h = new Harness().to('OpenSent');
    const outs = h.feed({ type: 'ManualStop', message: 'maintenance ✓' });
    assertDrop(h, outs, ErrorCode.CEASE, 2);
    const n = notif(outs);
    assert.ok(n?.type === 'notification');
    assert.equal(decodeShutdownCommunication(n), 'maintenance ✓');
    assert.ok(!timers(outs).some((t) => t.startsWith('idleHold')), 'no automatic restart after ManualStop');
  });
});

describe('FSM OpenConfirm', () => {
  it('KEEPALIVE → Established with the negotiated session', () => {
    const h = new Harness().to('OpenConfirm');
    const outs = h.feed({ type: 'KeepAliveMsg' });
    assert.equal(h.fsm.state, 'Established');
    const est = outs.find((o) => o.type === 'established');
    assert.ok(est?.type === 'established');
    assert.equal(est.session.holdTime, 90);
    assert.equal(est.session.keepaliveTime, 30);
    assert.equal(est.session.fourOctetAs, true);
    assert.equal(est.session.routeRefresh, true);
    assert.ok(timers(outs).includes('hold:90000'));
  });
  it('keepalive timer sends a KEEPALIVE and restarts', () => {
    const h = new Harness().to('OpenConfirm');
    const outs = h.feed({ type: 'KeepaliveTimer_Expires' });
    assert.deepEqual(sent(outs), [{ type: 'keepalive' }]);
    assert.deepEqual(timers(outs), ['keepalive:30000']);
  });
  for (const i of [{ type: 'BGPOpen', message: peerOpen() }, { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } }] as FsmInput[]) {
    it(`${i.type} in OpenConfirm → 5/2`, () => {
      const h = new Harness().to('OpenConfirm');
      assertDrop(h, h.feed(i), ErrorCode.FSM, 2);
    });
  }
  it('hold timer → 4/0; collision dump → 6/7; ManualStop → 6/2', () => {
    let h = new Harness().to('OpenConfirm');
    assertDrop(h, h.feed({ type: 'HoldTimer_Expires' }), 4, 0);
    h = new Harness().to('OpenConfirm');
    assertDrop(h, h.feed({ type: 'OpenCollisionDump' }), 6, 7);
    h = new Harness().to('OpenConfirm');
    assertDrop(h, h.feed({ type: 'ManualStop' }), 6, 2);
  });
});

describe('FSM Established', () => {
  const update = { type: 'update', withdrawn: [], attributes: {}, nlri: [] } as const;
  it('UPDATE is delivered and restarts the hold timer', () => {
    const h = new Harness().to('Established');
    const outs = h.feed({ type: 'UpdateMsg', message: update });
    assert.deepEqual(outs, [{ type: 'start-timer', timer: 'hold', ms: 90000 }, { type: 'deliver-update', message: update }]);
  });
  it('KEEPALIVE restarts the hold timer; keepalive timer sends', () => {
    const h = new Harness().to('Established');
    assert.deepEqual(h.feed({ type: 'KeepAliveMsg' }), [{ type: 'start-timer', timer: 'hold', ms: 90000 }]);
    assert.deepEqual(sent(h.feed({ type: 'KeepaliveTimer_Expires' })), [{ type: 'keepalive' }]);
  });
  it('ROUTE-REFRESH delivered only when negotiated', () => {
    const rr = { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } as const;
    const h = new Harness().to('Established');
    assert.ok(has(h.feed({ type: 'RouteRefreshMsg', message: rr }), 'deliver-route-refresh'));
    const h2 = new Harness(config({ routeRefresh: false })).to('Established');
    assert.ok(!has(h2.feed({ type: 'RouteRefreshMsg', message: rr }), 'deliver-route-refresh'));
  });
  it('OPEN in Established → 5/3', () => {
    const h = new Harness().to('Established');
    const outs = h.feed({ type: 'BGPOpen', message: peerOpen() });
    assertDrop(h, outs, 5, 3);
    const down = outs.find((o) => o.type === 'down');
    assert.ok(down?.type === 'down' && down.reason.wasEstablished);
  });
  it('hold timer expiry → 4/0 and automatic restart after idle hold', () => {
    const h = new Harness().to('Established');
    const outs = h.feed({ type: 'HoldTimer_Expires' });
    assertDrop(h, outs, 4, 0);
    assert.deepEqual(timers(outs), ['idleHold:5000']);
    const again = h.feed({ type: 'IdleHoldTimer_Expires' });
    assert.equal(h.fsm.state, 'Connect');
    assert.ok(has(again, 'connect'));
  });
  it('UPDATE error → the error NOTIFICATION', () => {
    const h = new Harness().to('Established');
    const e = new BgpWireError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'bad');
    assertDrop(h, h.feed({ type: 'UpdateMsgErr', error: e }), 3, 1);
  });
  it('AutomaticStop Cease/1 with data restarts; peer de-configured does not', () => {
    const h = new Harness().to('Established');
    const data = Uint8Array.of(0, 1, 1, 0, 0, 0, 10);
    const outs = h.feed({ type: 'AutomaticStop', subcode: 1, data, restart: true });
    assertDrop(h, outs, 6, 1);
    assert.deepEqual(notif(outs)?.type === 'notification' && notif(outs)?.data, data);
    assert.deepEqual(timers(outs), ['idleHold:5000']);
    const h2 = new Harness().to('Established');
    const o2 = h2.feed({ type: 'AutomaticStop', subcode: 3, restart: false });
    assertDrop(h2, o2, 6, 3);
    assert.deepEqual(timers(o2), []);
    assert.equal(h2.fsm.automaticRestart, false);
  });
  it('pathRestored (BFD Up after BFD Down): connect now and forget the back-off; nothing to hurry otherwise', () => {
    const h = new Harness().to('Established');
    assert.deepEqual(timers(h.feed({ type: 'AutomaticStop', subcode: 10, restart: true })), ['idleHold:5000']);
    // The path stays bad: each failed try doubles the idle hold.
    h.feed({ type: 'IdleHoldTimer_Expires' }, { type: 'Tcp_CR_Acked' });
    assert.deepEqual(timers(h.feed({ type: 'HoldTimer_Expires' })), ['idleHold:10000']);
    assert.equal(h.fsm.state, 'Idle');
    const input = h.fsm.pathRestored();
    assert.deepEqual(input, { type: 'AutomaticStart' });
    const outs = h.feed(input);
    assert.ok(has(outs, 'connect'));
    assert.equal(h.fsm.state, 'Connect');
    assert.equal(h.fsm.backoff.peek(), 5000, 'back-off back to its minimum');
    // Active (our connect failed, waiting for the connect retry timer): retry now.
    const a = new Harness().to('Active');
    assert.deepEqual(a.fsm.pathRestored(), { type: 'ConnectRetryTimer_Expires' });
    assert.ok(has(a.feed({ type: 'ConnectRetryTimer_Expires' }), 'connect'));
    assert.equal(new Harness().to('Established').fsm.pathRestored(), undefined);
    const stopped = new Harness().to('Established');
    stopped.feed({ type: 'ManualStop' });
    assert.equal(stopped.fsm.pathRestored(), undefined, 'a session stopped by hand stays stopped');
  });
  it('ManualStop subcode 4 → administrative reset with message', () => {
    const h = new Harness().to('Established');
    const outs = h.feed({ type: 'ManualStop', subcode: 4, message: 'config change' });
    assertDrop(h, outs, 6, 4);
  });
  it('send hold timer (RFC 9687) → 8/0; ignored before a connection exists', () => {
    const h = new Harness().to('Established');
    assertDrop(h, h.feed({ type: 'SendHoldTimer_Expires' }), 8, 0);
    const c = new Harness().to('Connect');
    assert.deepEqual(c.feed({ type: 'SendHoldTimer_Expires' }), []);
    assert.equal(c.fsm.state, 'Connect');
  });
  it('stale timer events are ignored', () => {
    const h = new Harness().to('Established');
    assert.deepEqual(h.feed({ type: 'ConnectRetryTimer_Expires' }), []);
    assert.deepEqual(h.feed({ type: 'IdleHoldTimer_Expires' }), []);
    assert.equal(h.fsm.state, 'Established');
  });
});

describe('idle-hold back-off', () => {
  it('doubles up to the cap on repeated errors, resets after a stable period', () => {
    const h = new Harness().to('Established');
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const outs = h.feed({ type: 'HoldTimer_Expires' });
      const t = outs.find((o) => o.type === 'start-timer' && o.timer === 'idleHold');
      assert.ok(t?.type === 'start-timer');
      delays.push(t.ms);
      h.feed({ type: 'IdleHoldTimer_Expires' }, { type: 'Tcp_CR_Acked' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'KeepAliveMsg' });
      assert.equal(h.fsm.state, 'Established');
    }
    assert.deepEqual(delays, [5000, 10000, 20000, 30000, 30000]);
    h.now += 61_000;
    const outs = h.feed({ type: 'HoldTimer_Expires' });
    assert.ok(outs.some((o) => o.type === 'start-timer' && o.timer === 'idleHold' && o.ms === 5000));
    assert.ok(h.fsm.connectRetryCounter >= 6);
  });
});

describe('graceful restart of the peer: no idle-hold back-off', () => {
  const grCaps = (notification: boolean): Capability[] => [{ type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'four-octet-as', asn: 65002 },
    { type: 'graceful-restart', restarting: false, notification, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] }];
  const established = (h: Harness, caps: Capability[]): void => {
    h.feed({ type: 'Tcp_CR_Acked' }, { type: 'BGPOpen', message: peerOpen({}, caps) }, { type: 'KeepAliveMsg' });
    assert.equal(h.fsm.state, 'Established');
  };
  it('a GR peer that closes its connection is listened for and dialled at once, every time', () => {
    const h = new Harness(config({ gracefulRestart: { restartTime: 120 } }));
    h.feed({ type: 'ManualStart' });
    for (let i = 0; i < 4; i++) {
      established(h, grCaps(false));
      const outs = h.feed({ type: 'TcpConnectionFails', error: 'ECONNRESET' });
      assertDrop(h, outs);
      assert.deepEqual(timers(outs), ['idleHold:0'], `restart ${i + 1}: no back-off`);
      const again = h.feed({ type: 'IdleHoldTimer_Expires' });
      assert.ok(has(again, 'connect'));
      // Its new process is not listening yet: wait in Active for its own connection.
      h.feed({ type: 'TcpConnectionFails', error: 'ECONNREFUSED' });
      assert.equal(h.fsm.state, 'Active');
      h.feed({ type: 'ConnectRetryTimer_Expires' });
    }
  });
  it('with the N bit, a Cease other than Hard Reset is a restart too; Hard Reset and errors back off', () => {
    const grN = config({ gracefulRestart: { restartTime: 120, notification: true } });
    const h = new Harness(grN);
    h.feed({ type: 'ManualStart' });
    established(h, grCaps(true));
    assert.deepEqual(timers(h.feed({ type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 4, data: new Uint8Array() } })), ['idleHold:0']);
    h.feed({ type: 'IdleHoldTimer_Expires' });
    established(h, grCaps(true));
    assert.deepEqual(timers(h.feed({ type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 9, data: new Uint8Array() } })), ['idleHold:5000']);
    const e = new Harness(grN);
    e.feed({ type: 'ManualStart' });
    established(e, grCaps(true));
    assert.deepEqual(timers(e.feed({ type: 'HoldTimer_Expires' })), ['idleHold:5000'], 'hold timer expiry (we send 4/0) is an error');
    const noN = new Harness(config({ gracefulRestart: { restartTime: 120 } }));
    noN.feed({ type: 'ManualStart' });
    established(noN, grCaps(false));
    assert.deepEqual(timers(noN.feed({ type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array() } })), ['idleHold:5000'], 'no N bit: a NOTIFICATION ends GR');
    const plain = new Harness().to('Established');
    assert.deepEqual(timers(plain.feed({ type: 'TcpConnectionFails' })), ['idleHold:5000'], 'a peer without GR backs off');
  });
});

describe('FSM invariants (property)', () => {
  const arbInput: fc.Arbitrary<FsmInput> = fc.constantFrom<FsmInput>(
    { type: 'ManualStart' }, { type: 'ManualStop' }, { type: 'AutomaticStart' },
    { type: 'ManualStart_with_PassiveTcpEstablishment' }, { type: 'AutomaticStop', subcode: 1, restart: true },
    { type: 'ConnectRetryTimer_Expires' }, { type: 'HoldTimer_Expires' }, { type: 'KeepaliveTimer_Expires' },
    { type: 'IdleHoldTimer_Expires' }, { type: 'SendHoldTimer_Expires' }, { type: 'Tcp_CR_Acked' }, { type: 'TcpConnectionConfirmed' },
    { type: 'TcpConnectionFails' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'BGPOpen', message: peerOpen({ holdTime: 1 }) },
    { type: 'BGPHeaderErr', error: new BgpWireError(1, 1, 'x') }, { type: 'BGPOpenMsgErr', error: new BgpWireError(2, 4, 'x') },
    { type: 'OpenCollisionDump' }, { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) } },
    { type: 'KeepAliveMsg' }, { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } },
    { type: 'UpdateMsgErr', error: new BgpWireError(3, 1, 'x') },
    { type: 'RouteRefreshMsg', message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } },
  );
  it('never throws; every drop to Idle has a reason and a down; messages only go out on a connection', () => {
    fc.assert(fc.property(fc.array(arbInput, { maxLength: 60 }), (inputs) => {
      const h = new Harness();
      for (const i of inputs) {
        const before = h.fsm.state;
        const outs = h.fsm.process(i);
        for (const o of outs) {
          if (o.type === 'state-change' && o.to === 'Idle') {
            assert.ok(o.reason.length > 0);
            assert.ok(outs.some((x) => x.type === 'down' && x.reason.text.length > 0));
          }
          if (o.type === 'send') assert.ok(['Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'].includes(before), `send in ${before}`);
          if (o.type === 'established') assert.equal(h.fsm.state, 'Established');
        }
        if (h.fsm.state === 'Established' || h.fsm.state === 'OpenConfirm') assert.ok(h.fsm.negotiated !== undefined);
      }
    }), { numRuns: 300 });
  });
});
