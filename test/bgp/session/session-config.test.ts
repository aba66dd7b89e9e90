/** Session configuration: defaults and clear errors naming the session and the field. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toFsmConfig, type SessionConfig } from '../../../bgp/session/session-config.js';
import { TortieError } from '../../../common/errors.js';

const ok: SessionConfig = { peerAddress: '10.0.0.2', localAs: 65001, peerAs: 65002, routerId: '10.0.0.1' };

describe('toFsmConfig', () => {
  it('fills defaults: hold 90, connect retry 5 s, back-off 5→30 s, open hold 240 s', () => {
    const c = toFsmConfig(ok, 'session x');
    assert.equal(c.holdTime, 90);
    assert.equal(c.connectRetryTime, 5);
    assert.deepEqual(c.idleHold, { minMs: 5000, maxMs: 30000, stableMs: 60000 });
    assert.equal(c.openHoldTimeMs, 240000);
    assert.equal(c.routerId, 0x0a000001);
    assert.equal(c.extendedMessage, true);
    assert.equal(c.routeRefresh, true);
  });
  const bad: Array<[string, Partial<SessionConfig>, RegExp]> = [
    ['hold time 2', { holdTime: 2 }, /session x: holdTime 2 must be 0 or 3\.\.65535/],
    ['hold time 70000', { holdTime: 70000 }, /holdTime 70000/],
    ['router id', { routerId: 'fe80::1' }, /routerId "fe80::1" is not an IPv4 dotted quad/],
    ['peer address', { peerAddress: '10.0.0.300' }, /peerAddress "10\.0\.0\.300"/],
    ['local address', { localAddress: 'eth0' }, /localAddress "eth0"/],
    ['AS 0', { peerAs: 0 }, /peerAs 0 must be 1\.\.4294967295/],
    ['connect retry 0', { connectRetryTime: 0 }, /connectRetryTime 0 must be a positive number/],
    ['back-off max < min', { idleHold: { minMs: 10, maxMs: 5, stableMs: 1 } }, /idleHold\.maxMs 5 is below minMs 10/],
  ];
  for (const [name, over, re] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => toFsmConfig({ ...ok, ...over }, 'session x'), (e: unknown) => e instanceof TortieError && re.test(e.message));
    });
  }
  it('hold time 0 is allowed', () => {
    assert.equal(toFsmConfig({ ...ok, holdTime: 0 }, 'session x').holdTime, 0);
  });
});
