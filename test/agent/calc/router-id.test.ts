/** Router id as calico-node derives it (confd populateNodeConfig / hashToIPv4). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { hashToIPv4, routerIdFor } from '../../../agent/calc/router-id.js';
import { bgpSpeakerConfig } from '../../../agent/calc/bgp-peers.js';
import { nodeConfigFromEnv, NodeConfigError } from '../../../agent/node/config.js';
import type { NodeInfo, Snapshot } from '../../../agent/calc/snapshot.js';

test('CALICO_ROUTER_ID=hash: the first four bytes of sha256(node name), a first octet above 223 lowered by 32', () => {
  // printf node-1 | sha256sum → 35971be6…; printf t | sha256sum → e3b98a4d… (0xe3 = 227 → 195)
  assert.equal(hashToIPv4('node-1'), '53.151.27.230');
  assert.equal(hashToIPv4('t'), '195.185.138.77');
  assert.equal(routerIdFor('hash', 'node-1', '10.0.0.1'), '53.151.27.230');
  assert.equal(routerIdFor('192.0.2.7', 'node-1', '10.0.0.1'), '192.0.2.7');
  assert.equal(routerIdFor(undefined, 'node-1', '10.0.0.1'), '10.0.0.1');
  assert.equal(routerIdFor('', 'node-1', '10.0.0.1'), '10.0.0.1');
});

test('the speaker takes the derived router id; CALICO_ROUTER_ID is validated at start', () => {
  const n: NodeInfo = { name: 'node-1', ipv4: '10.0.0.1', ipv4Cidr: '10.0.0.1/24', labels: {} };
  const snap = (routerIdSetting?: string): Snapshot => ({ localNode: 'node-1', nodes: new Map([['node-1', n]]), pools: [], peers: [],
    bgpConfigs: new Map(), filters: new Map(), blocks: [], ...(routerIdSetting === undefined ? {} : { routerIdSetting }) });
  assert.equal(bgpSpeakerConfig(snap()).speaker?.routerId, '10.0.0.1');
  assert.equal(bgpSpeakerConfig(snap('hash')).speaker?.routerId, '53.151.27.230');
  assert.equal(bgpSpeakerConfig(snap('192.0.2.7')).speaker?.routerId, '192.0.2.7');
  assert.equal(nodeConfigFromEnv({ NODENAME: 'n1', CALICO_ROUTER_ID: 'hash' }).routerId, 'hash');
  assert.throws(() => nodeConfigFromEnv({ NODENAME: 'n1', CALICO_ROUTER_ID: 'fd00::1' }), (e: unknown) => e instanceof NodeConfigError && /CALICO_ROUTER_ID/.test(e.message));
});
