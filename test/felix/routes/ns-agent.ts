/**
 * A small dataplane process for topology tests. Node cannot setns(), so a test starts this under
 * `ip netns exec NS node dist/test/felix/routes/ns-agent.js` and drives it with JSON lines on
 * stdin ({id, op, args}); replies are JSON lines on stdout ({id, ok, result | error}). It owns a
 * real RtNetlink socket inside the namespace, a RouteTable and optionally tunnel engines.
 */
import { createInterface } from 'node:readline';
import { RtNetlink } from '../../../felix/netlink/rt-netlink.js';
import { RouteTable } from '../../../felix/routes/route-table.js';
import type { DesiredRoute } from '../../../felix/routes/route.js';
import { systemClock } from '../../../common/clock.js';
import { createLogger } from '../../../common/logger.js';
import { VxlanManager, type RemoteBlock, type RemoteVtep, type VxlanConfig } from '../../../ipip/vxlan-manager.js';
import { IpipManager, type IpipConfig } from '../../../ipip/ipip-manager.js';
import { UdpTunnel, type UdpTunnelConfig } from '../../../ipip/udp-tunnel.js';
import type { UdpRemote } from '../../../ipip/udp-packet.js';
import { probeTunnelSupport } from '../../../ipip/tunnel-support.js';
import { applyInDependencyOrder } from '../../../ipip/tunnel-order.js';
import { detectHostMtu, podMtu, writeMtuFile, type Encapsulation } from '../../../ipip/mtu.js';
import type { Family } from '../../../common/prefix.js';
import type { KernelRoute } from '../../../felix/netlink/types.js';

const logger = createLogger('ns-agent', process.env['TORTIE_LOG_LEVEL'] ?? 'warn');
const rcvbuf = Number(process.env['TORTIE_TEST_NOTIFY_RCVBUF'] ?? 0);
const netlink = new RtNetlink({ logger }, rcvbuf > 0 ? { notifyRecvBuffer: rcvbuf } : {});
let routeTable = new RouteTable({ netlink, clock: systemClock, logger }, { repairDelayMs: 20 });
let vxlan: VxlanManager | undefined;
let udp: UdpTunnel | undefined;
let blocks: RemoteBlock[] = [];
let localRoutes: DesiredRoute[] = [];

const events: unknown[] = [];
let eventSub: (() => void) | undefined;

type Handler = (args: Record<string, unknown>) => Promise<unknown>;
const ops: Record<string, Handler> = {
  'routes.configure': async (a) => {
    routeTable.stop();
    routeTable = new RouteTable({ netlink, clock: systemClock, logger }, { repairDelayMs: 20, ...(a as object) });
    return null;
  },
  'routes.set': async (a) => { routeTable.setDesiredRoutes(a['routes'] as DesiredRoute[]); return null; },
  'routes.apply': async () => routeTable.apply(),
  'routes.start': async () => { routeTable.start(); return null; },
  'routes.resync': async () => {
    routeTable.queueResync();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await routeTable.apply();
    const c = process.cpuUsage(c0);
    // CPU time too: on a shared machine the wall time mostly measures waiting for a core.
    return { ...r, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  },
  'routes.stats': async () => ({ ...routeTable.stats, pending: routeTable.pendingCount }),
  /** Time one apply of N generated routes (bench). */
  'routes.bench': async (a) => {
    const n = a['count'] as number;
    const iface = a['iface'] as string | undefined;
    const routes: DesiredRoute[] = [];
    for (let i = 0; i < n; i++) {
      const dst = `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}/32`;
      const p = `${100 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}.0/24`;
      routes.push(iface === undefined ? { dst: p, type: 'blackhole' } : { dst, type: 'unicast', iface, scope: 'link' });
    }
    const t0 = performance.now();
    routeTable.setDesiredRoutes(routes);
    const res = await routeTable.apply();
    return { ...res, ms: performance.now() - t0 };
  },
  'routes.clearBench': async () => {
    const t0 = performance.now();
    routeTable.setDesiredRoutes([]);
    const res = await routeTable.apply();
    return { ...res, ms: performance.now() - t0 };
  },
  'nl.routes': async (a) => (await netlink.listRoutes((a['family'] as Family | undefined) ?? 4)).filter((r: KernelRoute) => r.table === 254),
  'nl.links': async () => netlink.listLinks(),
  /** Call any Netlink method by name with positional arguments (netlink layer tests). */
  'nl.call': async (a) => {
    const method = a['method'] as string;
    const fn = (netlink as unknown as Record<string, unknown>)[method];
    if (typeof fn !== 'function') throw new Error(`no netlink method ${method}`);
    return (fn as (...x: unknown[]) => Promise<unknown>).apply(netlink, (a['args'] as unknown[] | undefined) ?? []);
  },
  'nl.subscribe': async () => { eventSub ??= netlink.subscribe((e) => events.push(e)); return null; },
  'nl.events': async () => events.splice(0),
  // The UDP backend as the agent drives it: device first, then routes through it.
  'udp.configure': async (a) => { udp = new UdpTunnel({ netlink, logger }, a as unknown as UdpTunnelConfig); return { device: udp.device, mtu: udp.mtu }; },
  'udp.apply': async (a) => {
    const u = udp;
    if (u === undefined) throw new Error('udp not configured');
    const remotes = a['remotes'] as UdpRemote[];
    u.setRemotes(remotes, a['peers'] as string[]);
    await u.ensureDevice();
    routeTable.setDesiredRoutes([...(a['local'] as DesiredRoute[] ?? []), ...u.routesFor(remotes)]);
    return routeTable.apply();
  },
  'udp.stats': async () => udp?.stats(),
  'tunnels.probe': async () => { const t = await probeTunnelSupport(netlink); return { vxlan: t.vxlan ?? null, ipip: t.ipip ?? null }; },
  'udp.stop': async () => { await udp?.stop(); return null; },
  'vxlan.configure': async (a) => { vxlan = new VxlanManager({ netlink, logger }, a as unknown as VxlanConfig); return { mac: vxlan.mac }; },
  'vxlan.setRemote': async (a) => {
    if (vxlan === undefined) throw new Error('vxlan not configured');
    vxlan.setRemoteVteps(a['vteps'] as RemoteVtep[]);
    blocks = a['blocks'] as RemoteBlock[];
    localRoutes = (a['local'] as DesiredRoute[] | undefined) ?? [];
    return null;
  },
  'vxlan.apply': async () => {
    const v = vxlan;
    if (v === undefined) throw new Error('vxlan not configured');
    return applyInDependencyOrder(v, routeTable, () => [...localRoutes, ...v.routesFor(blocks)]);
  },
  'ipip.ensure': async (a) => {
    const m = new IpipManager({ netlink, logger }, a as unknown as IpipConfig);
    return m.ensureDevice();
  },
  'mtu.detect': async (a) => {
    const host = await detectHostMtu(netlink, a['nodeIp'] as string);
    const pod = podMtu(host, a['encaps'] as Encapsulation[]);
    if (typeof a['file'] === 'string') await writeMtuFile(pod, a['file']);
    return { host, pod };
  },
};

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: { id: number; op: string; args?: Record<string, unknown> };
  try { req = JSON.parse(line) as typeof req; } catch { return; }
  const h = ops[req.op];
  const reply = (body: object): void => { process.stdout.write(`${JSON.stringify({ id: req.id, ...body })}\n`); };
  if (h === undefined) { reply({ ok: false, error: `unknown op ${req.op}` }); return; }
  h(req.args ?? {}).then((result) => reply({ ok: true, result }), (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }));
});
rl.on('close', () => { routeTable.stop(); netlink.close(); process.exit(0); });
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, result: 'ready' })}\n`);
