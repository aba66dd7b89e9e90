import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockRoutes, type BlockInfo } from '../../../felix/routes/block-routes.js';

const local = { name: 'a', cidr: '192.168.1.10/24', parentIface: 'eth0', ipipMtu: 1480 };
const nodes = new Map([['b', { name: 'b', ip: '192.168.1.20' }], ['c', { name: 'c', ip: '192.168.2.30' }]]);
const blk = (cidr: string, nodeName: string, ipipMode: BlockInfo['ipipMode'], vxlanMode: BlockInfo['vxlanMode']): BlockInfo => ({ cidr, nodeName, ipipMode, vxlanMode });

test('block routes per Calico route class (§3.2)', () => {
  const r = blockRoutes(local, nodes, [
    blk('10.0.0.0/26', 'a', 'Never', 'Always'),            // local block: blackhole
    blk('10.0.0.64/32', 'a', 'Never', 'Always'),           // local /32: nothing
    blk('10.0.1.0/26', 'b', 'Never', 'CrossSubnet'),       // same subnet: direct
    blk('10.0.2.0/26', 'c', 'Never', 'CrossSubnet'),       // other subnet: VXLAN
    blk('10.0.3.0/26', 'c', 'Always', 'Never'),            // IPIP always
    blk('10.0.4.0/26', 'b', 'CrossSubnet', 'Never'),       // IPIP CrossSubnet, same subnet: direct
    blk('10.0.5.0/26', 'c', 'Never', 'Never'),             // no encap, other subnet: BGP's job
    blk('10.0.6.0/26', 'zz', 'Never', 'Always'),           // unknown node
  ]);
  assert.deepEqual(r.routes, [
    { dst: '10.0.0.0/26', type: 'blackhole' },
    { dst: '10.0.1.0/26', type: 'unicast', iface: 'eth0', gateway: '192.168.1.20', onlink: true },
    { dst: '10.0.3.0/26', type: 'unicast', iface: 'tunl0', gateway: '192.168.2.30', onlink: true, mtu: 1480 },
    { dst: '10.0.4.0/26', type: 'unicast', iface: 'eth0', gateway: '192.168.1.20', onlink: true },
  ]);
  assert.deepEqual(r.vxlanBlocks, [{ cidr: '10.0.2.0/26', nodeName: 'c' }]);
  assert.deepEqual(r.skipped.map((s) => s.cidr), ['10.0.5.0/26', '10.0.6.0/26']);
});
