import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseAddress, formatAddress, parsePrefix, formatPrefix, prefixContains, AddressParseError,
  ipv4ToInt, intToIpv4,
} from '../../common/prefix.js';

test('IPv4 addresses and prefixes parse and format canonically', () => {
  assert.deepEqual(Array.from(parseAddress('10.0.0.1').bytes), [10, 0, 0, 1]);
  assert.equal(formatPrefix(parsePrefix('192.168.0.0/16')), '192.168.0.0/16');
  assert.throws(() => parseAddress('010.0.0.1'), AddressParseError);
  assert.throws(() => parseAddress('256.0.0.1'), AddressParseError);
  assert.throws(() => parsePrefix('10.0.0.1/24'), /host bits set \(did you mean 10.0.0.0\/24\?\)/);
  assert.equal(formatPrefix(parsePrefix('10.0.0.1/24', { allowHostBits: true })), '10.0.0.0/24');
  assert.throws(() => parsePrefix('10.0.0.0/33'), /prefix length must be 0..32/);
  assert.throws(() => parsePrefix('10.0.0.0/08'), AddressParseError);
});

test('IPv6 formatting follows RFC 5952', () => {
  assert.equal(formatAddress(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1');
  assert.equal(formatAddress(parseAddress('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatAddress(parseAddress('2001:0:0:1:0:0:0:1')), '2001:0:0:1::1');
  assert.equal(formatAddress(parseAddress('::')), '::');
  assert.equal(formatAddress(parseAddress('fe80::1')), 'fe80::1');
  assert.equal(formatPrefix(parsePrefix('fd00:10:244::/48')), 'fd00:10:244::/48');
  assert.throws(() => parseAddress('fe80::1%eth0'), AddressParseError);
  assert.throws(() => parseAddress('1:2:3'), AddressParseError);
});

test('containment', () => {
  const pool = parsePrefix('10.244.0.0/16');
  assert.ok(prefixContains(pool, parsePrefix('10.244.3.0/26')));
  assert.ok(prefixContains(pool, parseAddress('10.244.255.1')));
  assert.ok(!prefixContains(pool, parsePrefix('10.0.0.0/8')));
  assert.ok(!prefixContains(pool, parseAddress('fd00::1')));
});

test('address text round-trips for arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
    assert.deepEqual(parseAddress(formatAddress(b)).bytes, b);
  }));
  fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
    assert.deepEqual(parseAddress(formatAddress(b)).bytes, b);
    assert.deepEqual(intToIpv4(ipv4ToInt(b)), b);
  }));
});
