/** Recursive next-hop lookup over kernel routes (pure): longest match, then metric; what never resolves. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '../../../common/prefix.js';
import type { KernelRoute } from '../../../felix/netlink/types.js';
import { resolveRecursive, resolverTable } from '../../../felix/routes/recursive-next-hop.js';

const r = (dst: string, o: Partial<KernelRoute> = {}): KernelRoute =>
  ({ family: 4, dst, table: 254, protocol: 4, type: 'unicast', scope: 'universe', metric: 0, onlink: false, ...o });
const names = new Map([[2, 'eth1'], [3, 'eth2']]);
const own = { table: 254, protocol: 186 };
const look = (routes: KernelRoute[], nh: string) => resolveRecursive(resolverTable(routes, own), parseAddress(nh), nh, names);

test('longest match wins, then the lower metric; its gateway and device are the hop', () => {
  const routes = [r('10.8.0.0/16', { ifindex: 2, gateway: '10.0.1.1' }), r('10.8.0.0/24', { ifindex: 3, gateway: '10.0.2.1', metric: 20 }),
    r('10.8.0.0/24', { ifindex: 2, gateway: '10.0.1.9', metric: 10 })];
  assert.deepEqual(look(routes, '10.8.0.1'), [{ iface: 'eth1', gateway: '10.0.1.9' }]);
  assert.deepEqual(look(routes, '10.8.1.1'), [{ iface: 'eth1', gateway: '10.0.1.1' }]);
});

test('a multipath route gives every leg; a device route sends to the BGP next hop on its device', () => {
  const mp = r('10.8.0.0/24', { nexthops: [{ ifindex: 2, gateway: '10.0.1.1', onlink: false }, { ifindex: 3, gateway: '10.0.2.1', onlink: true }] });
  assert.deepEqual(look([mp], '10.8.0.1'), [{ iface: 'eth1', gateway: '10.0.1.1' }, { iface: 'eth2', gateway: '10.0.2.1', onlink: true }]);
  assert.deepEqual(look([r('10.8.0.0/24', { ifindex: 3, scope: 'link' })], '10.8.0.1'), [{ iface: 'eth2', gateway: '10.8.0.1' }]);
});

test('never through the default route, a blackhole, our own routes or a device we do not know', () => {
  assert.equal(look([r('0.0.0.0/0', { ifindex: 2, gateway: '10.0.1.1' })], '10.8.0.1'), undefined);
  assert.equal(look([r('10.8.0.0/24', { type: 'blackhole' }), r('10.8.0.0/16', { ifindex: 2, gateway: '10.0.1.1' })], '10.8.0.1'), undefined, 'the kernel would drop it too');
  assert.equal(look([r('10.8.0.0/24', { ifindex: 2, gateway: '10.0.1.1', protocol: 186 })], '10.8.0.1'), undefined);
  assert.equal(look([r('10.8.0.0/24', { ifindex: 9, gateway: '10.0.1.1' })], '10.8.0.1'), undefined);
});
