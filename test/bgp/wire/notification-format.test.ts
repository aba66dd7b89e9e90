/** notificationFor, describeNotification, RFC 9003 shutdown communication, and the show-output formatters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BgpWireError } from '../../../bgp/wire/errors.js';
import {
  decodeShutdownCommunication, describeNotification, encodeShutdownCommunication, MAX_NOTIFICATION_DATA, notificationFor,
} from '../../../bgp/wire/notification.js';
import { formatAsPath } from '../../../bgp/wire/attributes/as-path.js';
import { formatCommunity } from '../../../bgp/wire/attributes/communities.js';
import { formatExtendedCommunity } from '../../../bgp/wire/attributes/extended-communities.js';
import { formatLargeCommunity } from '../../../bgp/wire/attributes/large-community.js';
import { formatOrigin } from '../../../bgp/wire/attributes/origin.js';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/message.js';
import { INITIAL_CONTEXT } from '../../../bgp/wire/types.js';
import { hex } from './wire-test-helpers.js';

test('notificationFor maps code, subcode and data, bounded to one message', () => {
  const n = notificationFor(new BgpWireError(3, 11, 'x', { data: Uint8Array.of(1, 2) }));
  assert.deepEqual(n, { type: 'notification', code: 3, subcode: 11, data: Uint8Array.of(1, 2) });
  const big = notificationFor(new BgpWireError(3, 1, 'x', { data: new Uint8Array(10_000) }));
  assert.equal(big.data.length, MAX_NOTIFICATION_DATA);
  assert.equal(encodeMessage(big, INITIAL_CONTEXT).length, 4096);
});

test('describeNotification names codes and subcodes', () => {
  assert.equal(describeNotification(6, 2), 'Cease/Administrative shutdown');
  assert.equal(describeNotification(3, 11), 'UPDATE message error/Malformed AS_PATH');
  assert.equal(describeNotification(4, 0), 'Hold timer expired');
  assert.equal(describeNotification(2, 0), 'OPEN message error/Unspecific');
  assert.equal(describeNotification(6, 9), 'Cease/Hard reset');
  assert.equal(describeNotification(42, 7), 'Unknown error code 42/Unknown subcode 7');
});

test('RFC 9003: shutdown communication round trip, truncation at a character boundary, bad input → undefined', () => {
  const msg = (data: Uint8Array, subcode = 2) => ({ type: 'notification' as const, code: 6, subcode, data });
  assert.equal(decodeShutdownCommunication(msg(encodeShutdownCommunication('maintenance ✓'))), 'maintenance ✓');
  const long = encodeShutdownCommunication('é'.repeat(200));
  assert.equal(long[0], 254, '127 two-byte characters, not a split one');
  assert.equal(decodeShutdownCommunication(msg(long)), 'é'.repeat(127));
  assert.equal(decodeShutdownCommunication(msg(hex('10 6869'))), undefined, 'length past the data');
  assert.equal(decodeShutdownCommunication(msg(hex('02 c328'))), undefined, 'invalid UTF-8');
  assert.equal(decodeShutdownCommunication(msg(hex(''))), undefined);
  assert.equal(decodeShutdownCommunication(msg(encodeShutdownCommunication('x'), 3)), undefined, 'only Cease/2 and Cease/4');
  const wire = decodeMessage(encodeMessage(msg(encodeShutdownCommunication('bye'), 4), INITIAL_CONTEXT), INITIAL_CONTEXT).message;
  assert.ok(wire.type === 'notification');
  assert.equal(decodeShutdownCommunication(wire), 'bye');
});

test('formatters for show output', () => {
  assert.equal(formatAsPath([{ type: 2, asns: [65001, 65002] }, { type: 1, asns: [65003, 65004] }, { type: 3, asns: [65005, 65006] }, { type: 4, asns: [65007] }]),
    '65001 65002 {65003,65004} (65005 65006) [65007]');
  assert.equal(formatAsPath([]), '');
  assert.equal(formatCommunity(0xfde90064), '65001:100');
  assert.equal(formatCommunity(0xffffff01), 'no-export');
  assert.equal(formatCommunity(0xffffff02), 'no-advertise');
  assert.equal(formatCommunity(0xffffff03), 'no-export-subconfed');
  assert.equal(formatCommunity(0xffffff04), 'no-peer');
  assert.equal(formatCommunity(0xffff0000), 'graceful-shutdown');
  assert.equal(formatCommunity(0xffff029a), 'blackhole');
  assert.equal(formatLargeCommunity({ globalAdmin: 4200000000, localData1: 1, localData2: 2 }), '4200000000:1:2');
  assert.equal(formatExtendedCommunity(hex('0002fde900000007')), 'rt:65001:7');
  assert.equal(formatExtendedCommunity(hex('0003fde900000007')), 'soo:65001:7');
  assert.equal(formatExtendedCommunity(hex('0102c00002010007')), 'rt:192.0.2.1:7');
  assert.equal(formatExtendedCommunity(hex('0202fa56ea000007')), 'rt:4200000000:7');
  assert.equal(formatExtendedCommunity(hex('030c000000000008')), '0x030c000000000008');
  assert.equal(formatOrigin(0), 'IGP');
  assert.equal(formatOrigin(1), 'EGP');
  assert.equal(formatOrigin(2), 'incomplete');
});
