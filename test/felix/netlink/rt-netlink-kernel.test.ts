/**
 * RtNetlink against the real kernel in a namespace (through ns-agent's `nl.call`): links of each
 * kind, link changes, addresses, neighbours, FDB, notifications, and errors that name the object.
 *
 *   ns n: v0 ══ v0p (veth), br0 (bridge), vx0 (vxlan over v0)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, topologySkipReason } from '../../helpers/netns.js';
import { sh } from '../../helpers/sh.js';
import { pollUntil, matchesSubset } from '../../helpers/poll.js';
import { NsAgent } from '../routes/ns-agent-client.js';
import type { LinkInfo, NetlinkEvent } from '../../../felix/netlink/types.js';

const skip = topologySkipReason('ip', 'bridge');

test('RtNetlink: links, addresses, neighbours, FDB and notifications on the real kernel', { skip, timeout: 60_000 }, async () => {
  const topo = new Topology('nlk');
  let agent: NsAgent | undefined;
  try {
    const n = topo.ns('n');
    agent = new NsAgent(n);
    const call = <T>(method: string, ...args: unknown[]): Promise<T> => agent!.call<T>('nl.call', { method, args });
    await agent.call('nl.subscribe');
    const subscribed = await pollUntil(async () => {
      const ev = await agent?.call<NetlinkEvent[]>('nl.events');
      return ev?.some((e) => e.type === 'subscribed');
    }, { timeoutMs: 5000, what: 'subscription' });
    assert.ok(subscribed);

    await call('addLink', { type: 'veth', name: 'v0', peerName: 'v0p', mtu: 1400 });
    await call('addLink', { type: 'bridge', name: 'br0' });
    const v0 = await call<LinkInfo>('getLink', 'v0');
    // Single-link requests (RTM_GETLINK by name or index), not a dump; a missing link is undefined.
    assert.equal((await call<LinkInfo>('getLinkByIndex', v0.index)).name, 'v0');
    assert.equal(await call('getLinkByIndex', 999_999), undefined);
    assert.equal(await call('getLink', 'nosuchlink0'), undefined);
    await call('setLink', v0.index, { up: true, mtu: 1300, mac: '02:00:00:00:00:01' });
    await call('addLink', { type: 'vxlan', name: 'vx0', vxlan: { vni: 42, port: 8472, learning: false, parentIndex: v0.index } });
    const links = JSON.parse(sh('ip', ['-n', n, '-j', '-d', 'link', 'show'])) as unknown[];
    for (const want of [
      { ifname: 'v0', mtu: 1300, address: '02:00:00:00:00:01', linkinfo: { info_kind: 'veth' } },
      { ifname: 'v0p', mtu: 1400 }, { ifname: 'br0', linkinfo: { info_kind: 'bridge' } },
      { ifname: 'vx0', linkinfo: { info_kind: 'vxlan', info_data: { id: 42, port: 8472, link: 'v0', learning: false } } },
    ]) assert.ok(links.some((l) => matchesSubset(l, want)), `missing ${JSON.stringify(want)}`);
    const listed = await call<LinkInfo[]>('listLinks');
    assert.ok(matchesSubset(listed, [{ name: 'v0', kind: 'veth', up: true, mtu: 1300 }, { name: 'vx0', kind: 'vxlan', vxlan: { vni: 42, port: 8472, learning: false, parentIndex: v0.index } }]));

    // Addresses, both families.
    await call('addAddress', { ifindex: v0.index, family: 4, cidr: '192.168.80.1/24' });
    await call('addAddress', { ifindex: v0.index, family: 6, cidr: 'fd00:80::1/64' });
    const addrs = await call<Array<{ cidr: string; ifindex: number }>>('listAddresses');
    assert.ok(['192.168.80.1/24', 'fd00:80::1/64'].every((c) => addrs.some((a) => a.cidr === c && a.ifindex === v0.index)));
    await call('deleteAddress', { ifindex: v0.index, family: 6, cidr: 'fd00:80::1/64' });
    assert.ok(!(await call<Array<{ cidr: string }>>('listAddresses', 6)).some((a) => a.cidr === 'fd00:80::1/64'));

    // Permanent neighbour and FDB entry on the VXLAN device.
    const vx = await call<LinkInfo>('getLink', 'vx0');
    await call('setNeighbour', { ifindex: vx.index, family: 4, dst: '10.1.1.1', mac: '66:00:00:00:00:02', permanent: true });
    await call('setFdb', { ifindex: vx.index, mac: '66:00:00:00:00:02', dst: '192.168.80.2', permanent: true });
    assert.match(sh('ip', ['-n', n, 'neigh', 'show', 'dev', 'vx0']), /10\.1\.1\.1 lladdr 66:00:00:00:00:02 PERMANENT/);
    assert.match(sh('bridge', ['-n', n, 'fdb', 'show', 'dev', 'vx0']), /66:00:00:00:00:02 dst 192\.168\.80\.2 self permanent/);
    await call('deleteFdb', { ifindex: vx.index, mac: '66:00:00:00:00:02', dst: '192.168.80.2', permanent: true });
    await call('deleteNeighbour', { ifindex: vx.index, family: 4, dst: '10.1.1.1', mac: '66:00:00:00:00:02', permanent: true });
    assert.deepEqual(await call('listFdb', vx.index), []);

    // Neighbour and FDB entries deleted by someone else are notified (RTNLGRP_NEIGH), each as its kind.
    await call('setNeighbour', { ifindex: vx.index, family: 4, dst: '10.1.1.3', mac: '66:00:00:00:00:03', permanent: true });
    await call('setFdb', { ifindex: vx.index, mac: '66:00:00:00:00:03', dst: '192.168.80.3', permanent: true });
    await agent.call('nl.events');
    sh('ip', ['-n', n, 'neigh', 'del', '10.1.1.3', 'dev', 'vx0']);
    sh('bridge', ['-n', n, 'fdb', 'del', '66:00:00:00:00:03', 'dev', 'vx0', 'dst', '192.168.80.3']);
    const seen: NetlinkEvent[] = [];
    await pollUntil(async () => {
      seen.push(...await agent!.call<NetlinkEvent[]>('nl.events'));
      return seen.some((e) => matchesSubset(e, { type: 'neighbour', action: 'del', neighbour: { ifindex: vx.index, family: 4, dst: '10.1.1.3' } }))
        && seen.some((e) => matchesSubset(e, { type: 'fdb', action: 'del', fdb: { ifindex: vx.index, mac: '66:00:00:00:00:03', dst: '192.168.80.3' } }));
    }, { timeoutMs: 2000, what: () => `neighbour and FDB delete notifications: ${JSON.stringify(seen)}` });

    // Notifications for changes made by someone else.
    sh('ip', ['-n', n, 'route', 'add', 'blackhole', '10.81.0.0/24', 'proto', '80']);
    sh('ip', ['-n', n, 'link', 'set', 'br0', 'up']);
    await pollUntil(async () => {
      const ev = await agent?.call<NetlinkEvent[]>('nl.events');
      return ev?.some((e) => e.type === 'route' && e.action === 'new' && e.route.dst === '10.81.0.0/24' && e.route.protocol === 80);
    }, { timeoutMs: 2000, what: 'route notification' });

    // Errors name the object and the errno.
    await assert.rejects(call('addLink', { type: 'bridge', name: 'br0' }), /add link br0 \(bridge\) failed: EEXIST/);
    await assert.rejects(call('replaceRoute', { family: 4, dst: '10.82.0.0/24', table: 254, protocol: 80, type: 'unicast', scope: 'link', metric: 0, onlink: false, ifindex: 9999 }),
      /replace route 10\.82\.0\.0\/24 dev #9999 .*failed: ENODEV/);
    // Bulk writes: one unencodable route fails alone; the others land.
    const bulk = (dst: string, gateway?: string): unknown => ({ op: 'replace', route: { family: 4, dst, table: 254, protocol: 80, type: 'unicast',
      scope: gateway === undefined ? 'link' : 'universe', metric: 0, onlink: gateway !== undefined, ifindex: v0.index, ...(gateway === undefined ? {} : { gateway }) } });
    const results = await call<Array<{ message?: string } | null>>('applyRoutes', [bulk('10.83.0.1/32'), bulk('10.83.0.2/32', 'not-an-ip'), bulk('10.83.0.3/32', '192.168.80.9')]);
    assert.equal(results.length, 3);
    assert.ok(results[0] === null || Object.keys(results[0] ?? {}).length === 0, JSON.stringify(results));
    assert.ok(results[1] !== null && results[1] !== undefined, 'the bad route failed');
    assert.deepEqual(JSON.parse(sh('ip', ['-n', n, '-j', 'route', 'show', 'proto', '80', 'root', '10.83.0.0/16'])).map((r: { dst: string }) => r.dst), ['10.83.0.1', '10.83.0.3']);
    // Several dumps at once: the kernel runs one dump per socket (a second gets EBUSY), so
    // RtNetlink must serialise them while plain requests go on beside them.
    const many = await Promise.all(Array.from({ length: 24 }, (_, i) => {
      switch (i % 4) {
        case 0: return call<unknown[]>('listLinks');
        case 1: return call<unknown[]>('listAddresses');
        case 2: return call<unknown[]>('listRoutes', 4);
        default: return call<unknown[]>('listNeighbours', 4);
      }
    }));
    assert.equal(many.length, 24);
    for (let i = 0; i < many.length; i += 4) {
      assert.ok((many[i] as Array<{ name: string }>).some((l) => l.name === 'v0'), `concurrent listLinks #${i} sees v0`);
      assert.ok((many[i + 2] as Array<{ dst: string }>).some((r) => r.dst === '10.83.0.1/32'), `concurrent listRoutes #${i + 2} sees 10.83.0.1/32`);
    }
    await call('deleteLink', (await call<LinkInfo>('getLink', 'br0')).index);
    assert.equal(await call('getLink', 'br0'), undefined, 'br0 is gone');
  } finally {
    await agent?.stop();
    await topo.cleanup();
  }
});
