import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossSubnetDecision, sameSubnet } from '../../../felix/routes/cross-subnet.js';

test('CrossSubnet: direct inside the node subnet, tunnel outside', () => {
  const cases: Array<[string, string, boolean]> = [
    ['192.168.1.10/24', '192.168.1.20', true], ['192.168.1.10/24', '192.168.2.20', false],
    ['10.0.0.1/8', '10.255.0.1', true], ['10.0.0.1/32', '10.0.0.2', false],
    ['fd00:1::1/64', 'fd00:1::99', true], ['fd00:1::1/64', 'fd00:2::1', false], ['192.168.1.10/24', 'fd00::1', false],
  ];
  for (const [node, peer, same] of cases) {
    assert.equal(sameSubnet(node, peer), same, `${node} vs ${peer}`);
    assert.equal(crossSubnetDecision('CrossSubnet', node, peer), same ? 'direct' : 'tunnel');
    assert.equal(crossSubnetDecision('Always', node, peer), 'tunnel');
    assert.equal(crossSubnetDecision('Never', node, peer), 'direct');
  }
});
