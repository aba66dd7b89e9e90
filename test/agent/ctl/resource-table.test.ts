/** `get` columns as calicoctl's resource templates print them (calicoctl/resourcemgr/*.go). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { loadManifest } from '../../../agent/resources/manifest.js';
import { tableFor } from '../../../agent/ctl/resource-table.js';

it('bgppeers: -o wide has calicoctl\'s columns (the same as the default); peerSelector peers show no PEERIP and ASN 0', async () => {
  const peers = await loadManifest(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 10.0.0.1, asNumber: "1.10", nodeSelector: rack == 'r1'}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: to-rr}
spec: {peerSelector: has(routeReflector)}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: one}
spec: {node: n1, peerIP: "[fd00::1]:1179", asNumber: 65001}
`, 'p.yaml');
  const want = { headers: ['NAME', 'PEERIP', 'NODE', 'ASN'], rows: [
    ['tor', '10.0.0.1', "rack == 'r1'", '65546'], ['to-rr', '', '(global)', '0'], ['one', '[fd00::1]:1179', 'n1', '65001']] };
  assert.deepEqual(tableFor('BGPPeer', peers, false, { globalAsNumber: 64512 }), want);
  assert.deepEqual(tableFor('BGPPeer', peers, true, { globalAsNumber: 64512 }), want);
});
