/** VxlanManager, MAC and MTU logic on FakeNetlink. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VxlanManager } from '../../ipip/vxlan-manager.js';
import { vxlanMacForNode } from '../../ipip/vxlan-mac.js';
import { podMtu, detectHostMtu, writeMtuFile } from '../../ipip/mtu.js';
import { silentLogger } from '../../common/logger.js';
import { FakeNetlink } from '../fakes/netlink-fake.js';

function node(): { nl: FakeNetlink; eth0: number } {
  const nl = new FakeNetlink();
  const eth0 = nl.externalAddLink('eth0', 'veth', 9000).index;
  nl.addresses.push({ ifindex: eth0, family: 4, cidr: '192.168.1.1/24' });
  return { nl, eth0 };
}

test('VTEP MAC: stable, locally administered, unicast, distinct per node', () => {
  const m = vxlanMacForNode('node-1');
  assert.equal(m, vxlanMacForNode('node-1'));
  assert.notEqual(m, vxlanMacForNode('node-2'));
  const first = parseInt(m.slice(0, 2), 16);
  assert.equal(first & 0x02, 0x02);
  assert.equal(first & 0x01, 0);
  assert.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  // The IPv6 VTEP (vxlan-v6.calico) has its own MAC, as Calico's vxlanTunnelMACAddrV6, also stable.
  const m6 = vxlanMacForNode('node-1', 6);
  assert.equal(m6, vxlanMacForNode('node-1', 6));
  assert.notEqual(m6, m);
  assert.notEqual(m6, vxlanMacForNode('node-2', 6));
  assert.equal(parseInt(m6.slice(0, 2), 16) & 0x03, 0x02);
});

test('pod MTU per encapsulation (calico-compat §3.6)', () => {
  assert.equal(podMtu(1500, ['vxlan']), 1450);
  assert.equal(podMtu(1500, ['ipip']), 1480);
  assert.equal(podMtu(1500, ['vxlan6']), 1430);
  assert.equal(podMtu(1500, ['ipip', 'wireguard']), 1440);
  assert.equal(podMtu(1500, []), 1500);
  assert.equal(podMtu(1500, ['none']), 1500);
});

test('host MTU: the interface holding the node IP, else smallest oper-up, else 1460; file written atomically', async () => {
  const { nl } = node();
  nl.externalAddLink('eth1', 'veth', 1400);
  assert.equal(await detectHostMtu(nl, '192.168.1.1'), 9000);
  assert.equal(await detectHostMtu(nl, '10.9.9.9'), 1400);
  assert.equal(await detectHostMtu(new FakeNetlink(), undefined), 1460);
  const dir = mkdtempSync(join(tmpdir(), 'tortie-mtu-'));
  try {
    await writeMtuFile(8950, join(dir, 'sub', 'mtu'));
    assert.equal(readFileSync(join(dir, 'sub', 'mtu'), 'utf8'), '8950\n');
    await assert.rejects(writeMtuFile(20, join(dir, 'mtu')), /out of range/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('VxlanManager: device as Calico builds it; routes only after VTEP entries; entries removed after', async () => {
  const { nl, eth0 } = node();
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelAddress: '10.244.0.0' });
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: '192.168.1.2', tunnelIp: '10.244.1.0' }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelIp: '10.244.0.0' }]);
  const blocks = [{ cidr: '10.244.1.0/26', nodeName: 'b' }];
  assert.deepEqual(m.routesFor(blocks), [], 'no route before the VTEP is programmed');
  await m.applyAdds();
  const dev = [...nl.links.values()].find((l) => l.name === 'vxlan.calico');
  assert.ok(dev);
  assert.deepEqual([dev.mtu, dev.up, dev.mac, dev.vxlan], [8950, true, vxlanMacForNode('a'),
    { vni: 4096, port: 4789, local: '192.168.1.1', parentIndex: eth0, learning: false }]);
  assert.deepEqual(nl.addresses.filter((x) => x.ifindex === dev.index).map((x) => x.cidr), ['10.244.0.0/32']);
  assert.deepEqual([...nl.neighbours.values()], [{ ifindex: dev.index, family: 4, dst: '10.244.1.0', mac: vxlanMacForNode('b'), permanent: true }]);
  assert.deepEqual([...nl.fdb.values()], [{ ifindex: dev.index, mac: vxlanMacForNode('b'), dst: '192.168.1.2', permanent: true }]);
  assert.deepEqual(m.routesFor(blocks), [{ dst: '10.244.1.0/26', type: 'unicast', iface: 'vxlan.calico', gateway: '10.244.1.0', onlink: true }]);
  // Node b leaves: its route disappears from routesFor at once, entries only on applyRemovals.
  m.setRemoteVteps([]);
  assert.deepEqual(m.routesFor(blocks), []);
  assert.equal(nl.fdb.size, 1);
  await m.applyRemovals();
  assert.equal(nl.fdb.size, 0);
  assert.equal(nl.neighbours.size, 0);
});

test('VxlanManager recreates a device whose VNI differs', async () => {
  const { nl, eth0 } = node();
  await nl.addLink({ type: 'vxlan', name: 'vxlan.calico', vxlan: { vni: 1, port: 4789, local: '192.168.1.1', parentIndex: eth0, learning: true } });
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelAddress: '10.244.0.0' });
  await m.ensureDevice();
  assert.ok(nl.calls.some((c) => c.op === 'deleteLink'));
  assert.equal([...nl.links.values()].find((l) => l.name === 'vxlan.calico')?.vxlan?.vni, 4096);
});

test('VxlanManager: a node address on no interface is a clear error', async () => {
  const { nl } = node();
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.9.9', tunnelAddress: '10.244.0.0' });
  await assert.rejects(m.ensureDevice(), /vxlan\.calico: no interface holds the node address 192\.168\.9\.9/);
});

test('VxlanManager: a remote VTEP changing MAC and underlay IP gets its neighbour and FDB entries updated (D14)', async () => {
  const { nl } = node();
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelAddress: '10.244.0.0' });
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: '192.168.1.2', tunnelIp: '10.244.1.0' }]);
  await m.applyAdds();
  await m.applyRemovals();
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: '192.168.1.3', tunnelIp: '10.244.1.0', mac: '66:00:00:00:00:0b' }]);
  await m.applyAdds();
  await m.applyRemovals();
  assert.deepEqual([...nl.neighbours.values()].map((n) => [n.dst, n.mac]), [['10.244.1.0', '66:00:00:00:00:0b']]);
  assert.deepEqual([...nl.fdb.values()].map((f) => [f.mac, f.dst]), [['66:00:00:00:00:0b', '192.168.1.3']]);
  assert.deepEqual(m.routesFor([{ cidr: '10.244.1.0/26', nodeName: 'b' }]).map((r) => r.gateway), ['10.244.1.0']);
});

test('VxlanManager over IPv6: vxlan-v6.calico, MTU parent − 70, NDP entry and FDB to the v6 VTEP', async () => {
  const nl = new FakeNetlink();
  const eth0 = nl.externalAddLink('eth0', 'veth', 1500).index;
  nl.addresses.push({ ifindex: eth0, family: 6, cidr: 'fd00:1::1/64' });
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: 'fd00:1::1', tunnelAddress: 'fd00:244::' });
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: 'fd00:1::2', tunnelIp: 'fd00:244:0:1::' }]);
  await m.applyAdds();
  const dev = [...nl.links.values()].find((l) => l.name === 'vxlan-v6.calico');
  assert.deepEqual([dev?.mtu, dev?.vxlan?.local], [1430, 'fd00:1::1']);
  assert.deepEqual(nl.addresses.filter((x) => x.ifindex === dev?.index).map((x) => x.cidr), ['fd00:244::/128']);
  assert.deepEqual([...nl.neighbours.values()].map((n) => [n.family, n.dst, n.mac]), [[6, 'fd00:244:0:1::', vxlanMacForNode('b', 6)]]);
  assert.deepEqual([dev?.mac, m.mac], [vxlanMacForNode('a', 6), vxlanMacForNode('a', 6)], 'the IPv6 VTEP MACs default to the per-family ones');
  assert.deepEqual([...nl.fdb.values()].map((f) => f.dst), ['fd00:1::2']);
  assert.deepEqual(m.routesFor([{ cidr: 'fd00:244:0:1::/122', nodeName: 'b' }]).map((r) => [r.iface, r.gateway]), [['vxlan-v6.calico', 'fd00:244:0:1::']]);
});

test('VxlanManager: a sync with nothing changed reads no kernel table; recheck() and a moved VTEP read them again', async () => {
  const { nl } = node();
  const reads: string[] = [];
  for (const name of ['listLinks', 'getLink', 'getLinkByIndex', 'listAddresses', 'listNeighbours', 'listFdb'] as const) {
    const orig = nl[name].bind(nl) as (...a: unknown[]) => Promise<unknown>;
    (nl as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => { reads.push(name); return orig(...a); };
  }
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelAddress: '10.244.0.0' });
  const sync = async (): Promise<string[]> => { reads.length = 0; await m.applyAdds(); await m.applyRemovals(); return [...reads]; };
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: '192.168.1.2', tunnelIp: '10.244.1.0' }]);
  assert.ok((await sync()).includes('listNeighbours'), 'the first sync checks the device and looks for stale entries');
  assert.deepEqual(await sync(), [], 'nothing changed: no dump, no lookup');
  m.recheck();
  const again = await sync();
  assert.ok(again.includes('listAddresses') && again.includes('listFdb'), `recheck reads again: ${again.join(',')}`);
  m.setRemoteVteps([]);
  assert.ok((await sync()).includes('listFdb'), 'a VTEP gone: its entries are looked for');
  assert.deepEqual([...nl.fdb.values()], []);
});

/** A manager fed by the fake's notifications; `settle()` delivers them and says whether any since the last settle needed applyAdds. */
async function subscribed(): Promise<{ nl: FakeNetlink; m: VxlanManager; settle: () => Promise<boolean>; dev: () => number }> {
  const { nl } = node();
  const m = new VxlanManager({ netlink: nl, logger: silentLogger() }, { nodeName: 'a', nodeIp: '192.168.1.1', tunnelAddress: '10.244.0.0' });
  let dirty = false;
  nl.subscribe((e) => { if (m.onEvent(e)) dirty = true; });
  m.setRemoteVteps([{ nodeName: 'b', nodeIp: '192.168.1.2', tunnelIp: '10.244.1.0' }, { nodeName: 'c', nodeIp: '192.168.1.3', tunnelIp: '10.244.2.0' }]);
  await m.applyAdds();
  await m.applyRemovals();
  const settle = async (): Promise<boolean> => { await nl.flushEvents(); const d = dirty; dirty = false; return d; };
  await settle();
  // Our own writes' echoes, once the device has settled, need no work.
  await m.applyAdds();
  assert.equal(await settle(), false, 'a second apply with nothing changed raises no event that needs work');
  const dev = (): number => [...nl.links.values()].find((l) => l.name === 'vxlan.calico')?.index ?? -1;
  return { nl, m, settle, dev };
}

test('VxlanManager: a VTEP neighbour or FDB entry deleted behind our back is reported and re-added by the next applyAdds', async () => {
  const { nl, m, settle, dev } = await subscribed();
  const before = { neigh: [...nl.neighbours.values()], fdb: [...nl.fdb.values()] };
  nl.externalDeleteFdb(dev(), vxlanMacForNode('b'), '192.168.1.2');
  assert.equal(await settle(), true, 'an FDB delete of ours needs work');
  await m.applyAdds();
  assert.deepEqual([...nl.fdb.values()].sort((x, y) => x.dst.localeCompare(y.dst)), before.fdb);
  await settle();
  nl.externalDeleteNeighbour(dev(), '10.244.2.0');
  assert.equal(await settle(), true, 'a neighbour delete of ours needs work');
  await m.applyAdds();
  assert.deepEqual([...nl.neighbours.values()].sort((x, y) => x.dst.localeCompare(y.dst)), before.neigh);
  // Someone else's entry on another interface: not ours, no work.
  nl.neighbours.set('1|10.9.9.9', { ifindex: 1, family: 4, dst: '10.9.9.9', mac: '02:00:00:00:00:01', permanent: true });
  nl.externalDeleteNeighbour(1, '10.9.9.9');
  assert.equal(await settle(), false);
});

test('VxlanManager: an entry lost without a notification is found by recheck() (the heartbeat), not believed forever', async () => {
  const { nl, m, settle, dev } = await subscribed();
  nl.externalDeleteFdb(dev(), vxlanMacForNode('c'), '192.168.1.3', false);
  nl.externalDeleteNeighbour(dev(), '10.244.1.0', false);
  assert.equal(await settle(), false);
  await m.applyAdds();
  assert.equal(nl.fdb.size, 1, 'without a recheck the believed state is trusted');
  m.recheck();
  await m.applyAdds();
  assert.deepEqual([nl.fdb.size, nl.neighbours.size], [2, 2]);
});

test('VxlanManager: the tunnel address removed, the device set down or given another MTU are reported and put back', async () => {
  const { nl, m, settle, dev } = await subscribed();
  nl.externalDeleteAddress(dev(), '10.244.0.0/32');
  assert.equal(await settle(), true);
  await m.applyAdds();
  assert.deepEqual(nl.addresses.filter((a) => a.ifindex === dev()).map((a) => a.cidr), ['10.244.0.0/32']);
  await settle();
  await nl.setLink(dev(), { up: false, mtu: 1400 });
  assert.equal(await settle(), true);
  await m.applyAdds();
  const l = nl.links.get(dev());
  assert.deepEqual([l?.up, l?.mtu], [true, 8950]);
  nl.externalDeleteLink('vxlan.calico');
  assert.equal(await settle(), true);
  await m.applyAdds();
  assert.deepEqual([nl.fdb.size, nl.neighbours.size, nl.links.get(dev())?.up], [2, 2, true], 'a new device gets every VTEP entry');
});
