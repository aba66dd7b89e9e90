import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadManifest, ManifestError } from '../../../agent/resources/manifest.js';
import { parseAsNumber, parseDuration, parsePeerIp } from '../../../agent/resources/fields.js';
import { resolveKind } from '../../../agent/resources/kinds.js';

/** Manifests as Calico users write them (docs examples). */
const CALICO_YAML = `
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.244.0.0/16
  ipipMode: Always
  natOutgoing: true
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
  nodeSelector: rack == 'rack-1'
  filters: [export-only-pods]
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: v6-peer}
spec:
  peerIP: '[2001:db8::1]:1179'
  asNumber: '1.10'
  keepaliveTime: 30s
  maxRestartTime: 2m
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 63400
  serviceClusterIPs:
  - cidr: 10.96.0.0/12
  communities:
  - name: bgp-large-community
    value: 63400:300:100
  prefixAdvertisements:
  - cidr: 172.218.4.0/26
    communities: [bgp-large-community, 63400:120]
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node-1
  labels: {rack: rack-1}
spec:
  bgp:
    ipv4Address: 10.0.3.7/24
    routeReflectorClusterID: 244.0.0.1
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  ipipEnabled: true
  vxlanPort: 4789
  routeRefreshInterval: 90s
  bpfEnabled: false
  logSeverityScreen: Info
  reportingInterval: 0s
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: export-only-pods
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 10.244.0.0/16
  - action: Reject
`;

describe('manifests', () => {
  it('a Calico user manifest applies unchanged, with IPPool defaults filled in', async () => {
    const rs = await loadManifest(CALICO_YAML, 'calico.yaml');
    assert.deepEqual(rs.map((r) => r.kind), ['IPPool', 'BGPPeer', 'BGPPeer', 'BGPConfiguration', 'Node', 'FelixConfiguration', 'BGPFilter']);
    assert.deepEqual(rs[0]?.spec, { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true,
      nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' });
    assert.equal((rs[2]?.spec as { asNumber: number }).asNumber, 65546);
  });

  it('the deprecated v3.0 IPPool fields (ipip, nat-outgoing) still apply and set the modern ones', async () => {
    const [p] = await loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: old}\nspec:\n  cidr: 10.9.0.0/16\n  ipip: {enabled: true, mode: cross-subnet}\n  nat-outgoing: true\n', 'old.yaml');
    assert.deepEqual({ ipipMode: (p?.spec as { ipipMode: string }).ipipMode, natOutgoing: (p?.spec as { natOutgoing: boolean }).natOutgoing }, { ipipMode: 'CrossSubnet', natOutgoing: true });
    await assert.rejects(loadManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: old}\nspec: {cidr: 10.9.0.0/16, ipip: {enabled: true}, ipipMode: Never}\n', 'c.yaml'),
      (e: unknown) => e instanceof ManifestError && /spec\.ipip: the deprecated ipip field says Always but ipipMode says Never/.test(e.message));
  });

  it('IPv6 pools default to /122 blocks', async () => {
    const [p] = await loadManifest('{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"v6"},"spec":{"cidr":"fd00:10::/48"}}', 'p.json');
    assert.equal((p?.spec as { blockSize: number }).blockSize, 122);
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['host bits', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.1/16}', /document 0: spec\.cidr: .*host bits set/],
    ['block too small', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, blockSize: 19}', /spec\.blockSize: must be 20-32/],
    ['ipip on v6', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: "fd00::/64", ipipMode: Always}', /spec\.ipipMode: IPIP is not supported on IPv6/],
    ['ipip + vxlan', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, ipipMode: Always, vxlanMode: Always}', /spec\.vxlanMode: ipipMode and vxlanMode/],
    ['link-local', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 169.254.0.0/16}', /spec\.cidr: must not overlap the link-local/],
    ['bad enum', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, ipipMode: always}', /spec\.ipipMode: Invalid option/],
    ['unknown field', 'kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, natOutgoin: true}', /spec\.natOutgoin: unknown field/],
    ['bad selector', "kind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16, nodeSelector: \"rack == 'a' &&\"}", /spec\.nodeSelector: invalid selector .* at position 14/],
    ['bad name', 'kind: IPPool\nmetadata: {name: My_Pool}\nspec: {cidr: 10.0.0.0/16}', /metadata\.name: must be a lowercase RFC 1123/],
    ['bad peerIP', 'kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: "10.0.0.1:", asNumber: 1}', /spec\.peerIP: .*not an IP/],
    ['bad port', 'kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: "10.0.0.1:70000", asNumber: 1}', /spec\.peerIP: .*port must be 1-65535/],
    ['unquoted dotted AS', 'kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 1.10}', /spec\.asNumber: 1\.1 is not an AS number .*quote a dotted AS number/],
    ['bad AS', 'kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 4294967296}', /spec\.asNumber: .*not an AS number/],
    ['node+selector', "kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 1, node: a, nodeSelector: all()}", /spec\.nodeSelector: node and nodeSelector/],
    ['peerSelector+AS', "kind: BGPPeer\nmetadata: {name: p}\nspec: {peerSelector: all(), asNumber: 1}", /spec\.asNumber: must be empty when peerSelector/],
    ['bad duration', 'kind: BGPPeer\nmetadata: {name: p}\nspec: {peerIP: 10.0.0.1, asNumber: 1, keepaliveTime: 30 seconds}', /spec\.keepaliveTime: must be a duration/],
    ['per-node bgpconfig', 'kind: BGPConfiguration\nmetadata: {name: node.n1}\nspec: {asNumber: 65000}', /spec\.asNumber: cannot be set in a per-node BGPConfiguration/],
    ['bgpconfig name', 'kind: BGPConfiguration\nmetadata: {name: global}\nspec: {}', /metadata\.name: .*"default" or "node.<nodename>"/],
    ['community', 'kind: BGPConfiguration\nmetadata: {name: default}\nspec: {prefixAdvertisements: [{cidr: 10.0.0.0/24, communities: [nope]}]}', /spec\.prefixAdvertisements\[0\]\.communities\[0\]: "nope" is neither/],
    ['node address', 'kind: Node\nmetadata: {name: n}\nspec: {bgp: {ipv4Address: 10.0.3.7}}', /spec\.bgp\.ipv4Address: must be an address with a prefix length/],
    ['felix unknown', 'kind: FelixConfiguration\nmetadata: {name: default}\nspec: {vxlanPrt: 4789}', /spec\.vxlanPrt: unknown field/],
    ['felix port', 'kind: FelixConfiguration\nmetadata: {name: default}\nspec: {vxlanPort: 0}', /spec\.vxlanPort: port must be 1-65535/],
    ['filter cidr alone', 'kind: BGPFilter\nmetadata: {name: f}\nspec: {exportV4: [{action: Accept, cidr: 10.0.0.0/8}]}', /spec\.exportV4\[0\]\.matchOperator: cidr and matchOperator/],
    ['filter v6 in v4', 'kind: BGPFilter\nmetadata: {name: f}\nspec: {importV4: [{action: Reject, cidr: "fd00::/8", matchOperator: In}]}', /spec\.importV4\[0\]\.cidr: must be an IPv4 CIDR/],
    ['wrong apiVersion', 'apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec: {cidr: 10.0.0.0/16}', /apiVersion: must be projectcalico.org\/v3/],
    ['unknown kind', 'kind: NetworkPolicy\nmetadata: {name: p}', /kind: unsupported kind "NetworkPolicy"/],
    ['top-level typo', 'kind: IPPool\nmetadata: {name: p}\nspce: {}', /spce: unknown field/],
  ];
  for (const [what, body, re] of refusals) {
    it(`refuses: ${what}`, async () => {
      const text = body.startsWith('apiVersion') ? body : `apiVersion: projectcalico.org/v3\n${body}`;
      await assert.rejects(loadManifest(text, 'bad.yaml'), (e: unknown) => e instanceof ManifestError && re.test(e.message) && e.message.startsWith('bad.yaml: document 0'));
    });
  }

  it('one bad document refuses the whole file and names its index', async () => {
    const text = `${CALICO_YAML}\n---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: x}\nspec: {cidr: nope}\n`;
    await assert.rejects(loadManifest(text, 'f.yaml'), (e: unknown) => e instanceof ManifestError
      && e.problems.length === 1 && e.problems[0]?.document === 7 && e.problems[0].path === 'spec.cidr');
  });

  it('YAML syntax errors carry a line', async () => {
    await assert.rejects(loadManifest('kind: IPPool\nmetadata: {name: p\n', 'y.yaml'), (e: unknown) => e instanceof ManifestError && /y\.yaml: document 0: line \d+/.test(e.message));
  });

  it('List documents are expanded, problems name the item', async () => {
    const list = { apiVersion: 'projectcalico.org/v3', kind: 'IPPoolList', items: [
      { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'a' }, spec: { cidr: '10.1.0.0/16' } },
      { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'b' }, spec: { cidr: '10.2.0.0/33' } }] };
    await assert.rejects(loadManifest(JSON.stringify(list), 'l.json'), (e: unknown) => e instanceof ManifestError && /l\.json: document 0 items\[1\]: spec\.cidr/.test(e.message));
  });

  it('scalars: durations, AS numbers, peer addresses, kind aliases', () => {
    assert.equal(parseDuration('90s'), 90_000); assert.equal(parseDuration('2m'), 120_000); assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('500ms'), 500); assert.equal(parseDuration('0'), 0); assert.equal(parseDuration('5'), undefined); assert.equal(parseDuration('s'), undefined);
    assert.equal(parseAsNumber('1.10'), 65546); assert.equal(parseAsNumber(4294967295), 4294967295); assert.equal(parseAsNumber('65536.0'), undefined); assert.equal(parseAsNumber(-1), undefined);
    assert.deepEqual(parsePeerIp('10.0.0.1'), { ip: '10.0.0.1', port: undefined });
    assert.deepEqual(parsePeerIp('10.0.0.1:1179'), { ip: '10.0.0.1', port: 1179 });
    assert.deepEqual(parsePeerIp('[2001:DB8::1]:179'), { ip: '2001:db8::1', port: 179 });
    assert.deepEqual(parsePeerIp('2001:db8::1'), { ip: '2001:db8::1', port: undefined });
    assert.equal(typeof parsePeerIp('[10.0.0.1]:179'), 'string');
    for (const a of ['ippool', 'ippools', 'ipp', 'pools', 'IPPool']) assert.equal(resolveKind(a)?.kind, 'IPPool');
    assert.equal(resolveKind('bgpconfig')?.kind, 'BGPConfiguration');
    assert.equal(resolveKind('felixconfigs')?.kind, 'FelixConfiguration');
    assert.equal(resolveKind('bp')?.kind, 'BGPPeer');
    assert.equal(resolveKind('networkpolicy'), undefined);
  });
});
