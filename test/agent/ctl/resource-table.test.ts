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

it('ipreservations: NAME, and with -o wide the CIDRs joined and cut at 80 characters as calicoctl does', async () => {
  const many = Array.from({ length: 12 }, (_, i) => `10.0.${i}.0/24`);
  const rs = await loadManifest(`apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: few}
spec: {reservedCIDRs: [10.1.0.5, "fd00::/120"]}
---
apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: many}
spec: {reservedCIDRs: [${many.join(', ')}]}
`, 'r.yaml');
  assert.deepEqual(tableFor('IPReservation', rs, false, { globalAsNumber: 64512 }), { headers: ['NAME'], rows: [['few'], ['many']] });
  const wide = tableFor('IPReservation', rs, true, { globalAsNumber: 64512 });
  assert.deepEqual(wide.headers, ['NAME', 'CIDRS']);
  assert.deepEqual(wide.rows[0], ['few', '10.1.0.5,fd00::/120']);
  assert.equal(wide.rows[1]?.[1], `${many.join(',').slice(0, 77)}...`);
  await assert.rejects(loadManifest('apiVersion: projectcalico.org/v3\nkind: IPReservation\nmetadata: {name: bad}\nspec: {reservedCIDRs: [10.1.0.300]}\n', 'b.yaml'),
    /spec\.reservedCIDRs\[0\]: "10\.1\.0\.300" is not an IP address or CIDR/);
});
