/**
 * IPIP: the engine's netlink requests on FakeNetlink (device, MTU, address, routes), the wire
 * encoding of the ipip link request, and on the real kernel either a working tunl0 or, on a
 * kernel without ipip (this machine), the fixed error message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { IpipManager, IPIP_UNSUPPORTED_MESSAGE } from '../../ipip/ipip-manager.js';
import { encodeLinkSpec } from '../../felix/netlink/rt-codec.js';
import { decodeAttrs, readCstr, find } from '../../felix/netlink/nlattr.js';
import { silentLogger } from '../../common/logger.js';
import { FakeNetlink } from '../fakes/netlink-fake.js';
import { Topology, topologySkipReason } from '../helpers/netns.js';
import { trySh } from '../helpers/sh.js';
import { NsAgent } from '../felix/routes/ns-agent-client.js';

test('IpipManager on the fake: tunl0 (ipip, no remote), MTU underlay − 20, /32 address, up; onlink routes with MTU', async () => {
  const nl = new FakeNetlink();
  nl.externalAddLink('eth0');
  const m = new IpipManager({ netlink: nl, logger: silentLogger() }, { tunnelAddress: '10.244.7.1', underlayMtu: 1500 });
  const index = await m.ensureDevice();
  const dev = nl.links.get(index);
  assert.deepEqual([dev?.name, dev?.kind, dev?.mtu, dev?.up], ['tunl0', 'ipip', 1480, true]);
  assert.deepEqual(nl.calls.find((c) => c.op === 'addLink')?.arg, { type: 'ipip', name: 'tunl0' });
  assert.deepEqual(nl.addresses.filter((a) => a.ifindex === index).map((a) => a.cidr), ['10.244.7.1/32']);
  // Idempotent: a second pass changes nothing.
  const n = nl.calls.length;
  await m.ensureDevice();
  assert.equal(nl.calls.length, n);
  assert.deepEqual(m.routesFor([{ cidr: '10.244.9.0/26', nodeIp: '192.168.1.9' }]),
    [{ dst: '10.244.9.0/26', type: 'unicast', iface: 'tunl0', gateway: '192.168.1.9', onlink: true, mtu: 1480 }]);
});

test('IpipManager on the fake: a kernel without ipip gives the fixed message', async () => {
  const nl = new FakeNetlink({ unsupportedKinds: ['ipip'] });
  const m = new IpipManager({ netlink: nl, logger: silentLogger() }, { underlayMtu: 1500 });
  await assert.rejects(m.ensureDevice(), (err: Error) => err.message === IPIP_UNSUPPORTED_MESSAGE);
});

test('ipip link request: IFLA_LINKINFO carries kind "ipip" and IPTUN local/remote', () => {
  const { attrs } = encodeLinkSpec({ type: 'ipip', name: 'tunl0', local: '192.168.1.1' });
  assert.equal(attrs.ifname, 'tunl0');
  const info = decodeAttrs(attrs.linkinfo ?? Buffer.alloc(0));
  assert.equal(readCstr(find(info, 1)), 'ipip');
  const data = decodeAttrs(find(info, 2) ?? new Uint8Array());
  assert.deepEqual([...(find(data, 2) ?? [])], [192, 168, 1, 1]); // IFLA_IPTUN_LOCAL
  assert.equal(find(data, 3), undefined); // no IFLA_IPTUN_REMOTE: tunl0 has no remote
});

/** Whether this kernel can create an ipip device, probed in a throwaway namespace. */
function ipipSupport(): boolean | string {
  const reason = topologySkipReason('ip');
  if (reason !== undefined) return reason;
  const topo = new Topology('ipp');
  try {
    const ns = topo.ns('x');
    return trySh('ip', ['-n', ns, 'link', 'add', 'tprobe', 'type', 'ipip']).status === 0;
  } finally { void topo.cleanup(); }
}
const support = ipipSupport();
const noIpip = `kernel ${release()} has no ipip module (CONFIG_NET_IPIP); IPIP dataplane test cannot run here`;
if (support === false) console.log(`# skip IPIP kernel test: ${noIpip}`);

test('IPIP on the real kernel: tunl0 programmed', { skip: typeof support === 'string' ? support : support ? false : noIpip }, async () => {
  const topo = new Topology('ipk');
  let agent: NsAgent | undefined;
  try {
    const ns = topo.ns('n');
    agent = new NsAgent(ns);
    await agent.call('ipip.ensure', { tunnelAddress: '10.244.7.1', underlayMtu: 1500 });
    const out = topo.exec(ns, 'ip', ['-j', '-d', 'link', 'show', 'tunl0']);
    assert.match(out, /"mtu":1480/);
  } finally { await agent?.stop(); await topo.cleanup(); }
});

test('IPIP on a kernel without ipip: the engine fails with the fixed message', { skip: support === false ? false : 'this kernel supports ipip' }, async () => {
  const topo = new Topology('ipn');
  let agent: NsAgent | undefined;
  try {
    const ns = topo.ns('n');
    agent = new NsAgent(ns);
    await assert.rejects(agent.call('ipip.ensure', { underlayMtu: 1500 }), (err: Error) => err.message === IPIP_UNSUPPORTED_MESSAGE);
  } finally { await agent?.stop(); await topo.cleanup(); }
});
