/**
 * Which tunnel devices the kernel creates: the real kernel in a namespace (this one has VXLAN and,
 * on kernels built without it, no IPIP), and the fallback decision on what a kernel answered.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { probeTunnelSupport, udpFallbackNeeded } from '../../ipip/tunnel-support.js';
import { withUdpBackend } from '../../agent/node/node-agent.js';
import { FakeNetlink } from '../fakes/netlink-fake.js';
import { Topology, topologySkipReason } from '../helpers/netns.js';
import { NsAgent } from '../felix/routes/ns-agent-client.js';
import { sh, trySh } from '../helpers/sh.js';
import type { Snapshot, PoolInfo } from '../../agent/calc/snapshot.js';

test('the probe on this kernel: VXLAN is created (and removed), IPIP as the kernel allows; no device left behind', { skip: topologySkipReason('ip') }, async () => {
  const topo = new Topology('tsup');
  const agent = new NsAgent(topo.ns('a'));
  try {
    const s = await agent.call<{ vxlan: string | null; ipip: string | null }>('tunnels.probe');
    assert.equal(s.vxlan, null, 'this kernel creates VXLAN devices');
    const ipipWorks = trySh('ip', ['-n', topo.ns('b'), 'link', 'add', 'x', 'type', 'ipip']).status === 0;
    if (ipipWorks) assert.equal(s.ipip, null); else assert.match(s.ipip ?? '', /EOPNOTSUPP|ENOTSUP|EAFNOSUPPORT|EINVAL/);
    assert.equal(udpFallbackNeeded({ vxlan: s.vxlan ?? undefined, ipip: s.ipip ?? undefined }), false);
    assert.doesNotMatch(sh('ip', ['-n', topo.tag + '-a', 'link', 'show']), /tortie-probe/);
  } finally {
    await agent.stop();
    await topo.cleanup();
  }
});

test('a kernel that creates neither: every tunnel pool goes to the UDP backend, plain pools stay plain', async () => {
  const nl = new FakeNetlink();
  const refuse = async (): Promise<void> => { throw new Error('Request rejected: EOPNOTSUPP'); };
  nl.addLink = refuse;
  const s = await probeTunnelSupport(nl);
  assert.ok(s.vxlan?.startsWith('EOPNOTSUPP') && s.ipip?.startsWith('EOPNOTSUPP'), JSON.stringify(s));
  assert.equal(udpFallbackNeeded(s), true);
  assert.equal(udpFallbackNeeded({ vxlan: undefined, ipip: 'EOPNOTSUPP' }), false, 'VXLAN alone is enough: IPIP pools report their problem');
  const pool = (name: string, extra: Partial<PoolInfo>): PoolInfo => ({ name, cidr: '10.244.0.0/16', blockSize: 26, vxlanMode: 'Never', ipipMode: 'Never',
    natOutgoing: false, disabled: false, disableBGPExport: false, ...extra });
  const snap = { pools: [pool('v', { vxlanMode: 'CrossSubnet' }), pool('i', { ipipMode: 'Always' }), pool('plain', {})] } as unknown as Snapshot;
  assert.deepEqual(withUdpBackend(snap).pools.map((p) => [p.name, p.encapsulation]), [['v', 'udp'], ['i', 'udp'], ['plain', undefined]]);
});
