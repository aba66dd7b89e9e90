/**
 * IPv6 over VXLAN (vxlan-v6.calico) with real tortie-node processes and a real etcd, dual stack:
 *
 *   node1 10.9x.0.1/24 fd9x::1/64 ══ eth0 ══ node2 10.9x.0.2/24 fd9x::2/64
 *
 * BGP backend: IPv6 pool vxlanMode Always (IPv4 pool no encapsulation): the IPv6 block learned
 * over the IPv6 session goes through vxlan-v6.calico. VXLAN backend (CALICO_NETWORKING_BACKEND=
 * vxlan, no BGP): both pools Always, remote blocks from the datastore through vxlan.calico and
 * vxlan-v6.calico. In both: Node.spec.ipv6VXLANTunnelAddr + vxlanTunnelMACAddrV6 published, the
 * device as Calico builds it (VNI 4096, port 4789, MTU parent − 70), pods ping over IPv6 and the
 * packets arrive through the other node's vxlan-v6.calico (its rx counter).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { pollUntil } from '../../helpers/poll.js';
import { sh, trySh } from '../../helpers/sh.js';
import { NodeLab, nodeLabSkipReason, type LabNode } from './node-lab.js';

const skip = nodeLabSkipReason();

interface NodeDoc { spec: { ipv4VXLANTunnelAddr?: string; vxlanTunnelMACAddr?: string; ipv6VXLANTunnelAddr?: string; vxlanTunnelMACAddrV6?: string } }
interface LinkJson { mtu: number; address: string; stats64?: { rx: { packets: number } }; linkinfo?: { info_kind: string; info_data: Record<string, unknown> } }
type Route6 = { dst: string; gateway?: string; dev?: string; type?: string; flags?: string[] };

const routes6 = (n: LabNode): Route6[] => JSON.parse(sh('ip', ['-n', n.ns, '-6', '-j', 'route', 'show', 'proto', '80']) || '[]') as Route6[];
const link = (n: LabNode, dev: string): LinkJson | undefined => {
  const r = trySh('ip', ['-n', n.ns, '-d', '-s', '-j', 'link', 'show', dev]);
  return r.status === 0 ? (JSON.parse(r.stdout) as LinkJson[])[0] : undefined;
};

const ping6 = (fromNs: string, to: string): boolean => trySh('ip', ['netns', 'exec', fromNs, 'ping', '-6', '-c', '1', '-W', '1', to]).status === 0;

function scenario(title: string, o: { lab: string; net: string; net6: string; pool6: string; env: Record<string, string>; v4Vxlan: boolean }): void {
  describe(title, () => {
    let lab: NodeLab;
    let n1: LabNode, n2: LabNode;
    let pods: { a: { ns: string; v6: string }; b: { ns: string; v6: string } } | undefined;
    before(async () => {
      if (skip) return;
      lab = new NodeLab(o.lab);
      await lab.startEtcd();
      [n1, n2] = lab.pair(o.net, { CALICO_IPV6POOL_CIDR: o.pool6, CALICO_IPV6POOL_VXLAN: 'Always', ...o.env }, o.net6);
      lab.start(n1);
      lab.start(n2);
    });
    after(async () => { if (lab) await lab.cleanup(); });

    const nodeDoc = (n: LabNode): NodeDoc => JSON.parse(lab.etcdctl(['get', '--print-value-only', `/tortie/v3/projectcalico.org/nodes/${n.name}`])) as NodeDoc;

    test('each node publishes an IPv6 VTEP, builds vxlan-v6.calico (MTU parent − 70) and routes the other node\'s IPv6 block through it', { skip }, async () => {
      const vtep = await Promise.all([n1, n2].map((n) => pollUntil(() => {
        const s = nodeDoc(n).spec;
        return s.ipv6VXLANTunnelAddr !== undefined && s.vxlanTunnelMACAddrV6 !== undefined ? s : undefined;
      }, { timeoutMs: 20_000, what: `${n.name} ipv6VXLANTunnelAddr\n${lab.logs()}` })));
      const poolPrefix = o.pool6.split('::')[0] ?? '';
      for (const s of vtep) assert.ok(s.ipv6VXLANTunnelAddr?.startsWith(`${poolPrefix}:`), `tunnel address ${String(s.ipv6VXLANTunnelAddr)} in ${o.pool6}`);
      const [v1, v2] = vtep as [NodeDoc['spec'], NodeDoc['spec']];
      assert.notEqual(v1.vxlanTunnelMACAddrV6, v2.vxlanTunnelMACAddrV6);
      if (o.v4Vxlan) {
        for (const s of vtep) assert.ok(s.vxlanTunnelMACAddr !== undefined && s.vxlanTunnelMACAddr !== s.vxlanTunnelMACAddrV6, `v4 and v6 VTEP MACs differ: ${JSON.stringify(s)}`);
      } else {
        for (const s of vtep) assert.equal(s.ipv4VXLANTunnelAddr, undefined, 'no IPv4 VXLAN pool: no IPv4 VTEP');
      }

      const dev = await pollUntil(() => link(n1, 'vxlan-v6.calico'), { timeoutMs: 20_000, what: `node1 vxlan-v6.calico\n${lab.logs()}` });
      const eth0 = link(n1, 'eth0');
      assert.equal(dev.mtu, (eth0?.mtu ?? 0) - 70);
      assert.equal(dev.address, v1.vxlanTunnelMACAddrV6);
      assert.equal(dev.linkinfo?.info_kind, 'vxlan');
      const d = dev.linkinfo?.info_data ?? {};
      assert.deepEqual([d['id'], d['port'], d['local6'], d['learning']], [4096, 4789, `${o.net6}:1`, false]);
      // The device is made first and its address added after it: wait for the address.
      const globalAddrs = (): string[] => (JSON.parse(sh('ip', ['-n', n1.ns, '-6', '-j', 'addr', 'show', 'dev', 'vxlan-v6.calico', 'scope', 'global'])) as Array<{ addr_info: Array<{ local?: string; prefixlen?: number }> }>)
        .flatMap((x) => x.addr_info.filter((a) => a.local !== undefined).map((a) => `${a.local}/${a.prefixlen}`));
      const addrs = await pollUntil(() => { const a = globalAddrs(); return a.length > 0 ? a : undefined; }, { timeoutMs: 5000, what: 'an address on node1 vxlan-v6.calico' });
      assert.deepEqual(addrs, [`${v1.ipv6VXLANTunnelAddr ?? ''}/128`]);
      assert.equal(link(n1, 'vxlan.calico') !== undefined, o.v4Vxlan, 'vxlan.calico only with an IPv4 VXLAN pool');

      const b2 = await pollUntil(() => routes6(n2).find((r) => r.type === 'blackhole')?.dst, { timeoutMs: 20_000, what: 'node2 IPv6 block' });
      await pollUntil(() => routes6(n1).some((r) => r.dst === b2 && r.gateway === v2.ipv6VXLANTunnelAddr && r.dev === 'vxlan-v6.calico' && r.flags?.includes('onlink') === true),
        { timeoutMs: 20_000, what: `node1 route ${b2} via ${String(v2.ipv6VXLANTunnelAddr)} dev vxlan-v6.calico: ${JSON.stringify(routes6(n1))}\n${lab.logs()}` });
      // The NDP entry for node2's tunnel address is node2's IPv6 VTEP MAC.
      const neigh = JSON.parse(sh('ip', ['-n', n1.ns, '-6', '-j', 'neigh', 'show', 'dev', 'vxlan-v6.calico'])) as Array<{ dst: string; lladdr: string; state: string[] }>;
      assert.ok(neigh.some((x) => x.dst === v2.ipv6VXLANTunnelAddr && x.lladdr === v2.vxlanTunnelMACAddrV6 && x.state.includes('PERMANENT')), JSON.stringify(neigh));
      // Calico's IPAM handle for it holds exactly that one address.
      const handle = JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/ipam/v2/handle/vxlan-v6-tunnel-addr-node1'])) as { block: Record<string, number> };
      assert.deepEqual(Object.values(handle.block), [1], JSON.stringify(handle));
      // The pod MTU leaves room for VXLAN over IPv6.
      await pollUntil(() => sh('cat', [`${n1.dir}/mtu`]).trim() === String((eth0?.mtu ?? 0) - 70), { timeoutMs: 10_000, what: 'pod MTU parent − 70' });
    });

    test('pods on the two nodes ping each other over IPv6 through vxlan-v6.calico (and over IPv4)', { skip }, async () => {
      const a = lab.addDualStackPod(n1, `${o.lab}-a`);
      const b = lab.addDualStackPod(n2, `${o.lab}-b`);
      const rx = (n: LabNode): number => link(n, 'vxlan-v6.calico')?.stats64?.rx.packets ?? 0;
      const before2 = rx(n2), before1 = rx(n1);
      await pollUntil(() => ping6(a.ns, b.v6), { timeoutMs: 15_000, what: `ping -6 ${a.v6} -> ${b.v6}: n1 ${JSON.stringify(routes6(n1))}\n${lab.logs()}` });
      assert.ok(rx(n2) > before2, 'the echo request arrived through node2\'s vxlan-v6.calico');
      assert.ok(rx(n1) > before1, 'the echo reply arrived through node1\'s vxlan-v6.calico');
      assert.ok(ping6(b.ns, a.v6), 'and back');
      await pollUntil(() => lab.ping(a.ns, b.v4), { timeoutMs: 10_000, what: `ping ${a.v4} -> ${b.v4}` });
      pods = { a, b };
    });

    test('a restarted node keeps its IPv6 VTEP (same address, no second allocation) and its tunnel routes', { skip }, async () => {
      assert.ok(pods !== undefined, 'the pods of the previous test');
      const v1 = nodeDoc(n1).spec;
      const b2 = routes6(n2).find((r) => r.type === 'blackhole')?.dst ?? '';
      const viaTunnel = (): boolean => routes6(n1).some((r) => r.dst === b2 && r.dev === 'vxlan-v6.calico');
      assert.equal(await lab.stop(n1), 0, 'clean exit on SIGTERM');
      assert.ok(viaTunnel(), 'the route through vxlan-v6.calico stays in the kernel while the agent is down');
      lab.start(n1);
      await pollUntil(() => /"msg":"tortie-node running"/.test(n1.proc?.output ?? ''), { timeoutMs: 20_000, what: `node1 restarted\n${lab.logs()}` });
      await pollUntil(() => ping6(pods?.a.ns ?? '', pods?.b.v6 ?? ''), { timeoutMs: 15_000, what: 'ping -6 after the restart' });
      assert.ok(viaTunnel(), 'still through vxlan-v6.calico');
      const after = nodeDoc(n1).spec;
      assert.deepEqual([after.ipv6VXLANTunnelAddr, after.vxlanTunnelMACAddrV6], [v1.ipv6VXLANTunnelAddr, v1.vxlanTunnelMACAddrV6]);
      const handle = JSON.parse(lab.etcdctl(['get', '--print-value-only', '/tortie/ipam/v2/handle/vxlan-v6-tunnel-addr-node1'])) as { block: Record<string, number> };
      assert.deepEqual(Object.values(handle.block), [1], `one tunnel address after the restart: ${JSON.stringify(handle)}`);
    });
  });
}

scenario('IPv6 VXLAN with the BGP backend (pool vxlanMode Always)', {
  lab: 'v6vxb', net: '10.95.0', net6: 'fd95:', pool6: 'fd00:95::/48', v4Vxlan: false,
  env: { CALICO_IPV4POOL_CIDR: '10.252.0.0/16' },
});

scenario('IPv6 VXLAN with CALICO_NETWORKING_BACKEND=vxlan (no BGP)', {
  lab: 'v6vxx', net: '10.96.0', net6: 'fd96:', pool6: 'fd00:96::/48', v4Vxlan: true,
  env: { CALICO_IPV4POOL_CIDR: '10.254.0.0/16', CALICO_IPV4POOL_VXLAN: 'Always', CALICO_NETWORKING_BACKEND: 'vxlan' },
});
