#!/usr/bin/env node
/**
 * tortie-node (bin): configuration from the environment, start-up like calico-node, then the
 * agent until SIGTERM/SIGINT (a graceful restart: BGP connections closed without NOTIFICATION,
 * kernel routes and IPAM left in place, liveness lease released, exit 0) or until its Node is
 * deleted (routes withdrawn from every peer, exit 0). Any start-up failure is one clear log line
 * and exit 1. See RESTART.md.
 */
import { release } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { systemClock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { createLogger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { realDeps } from '../../bgp/bgpd/daemon.js';
import { mountedSecretReader } from './mounted-secrets.js';
import { EtcdKvStore } from '../datastore/etcd-kv-store.js';
import { isDatastoreError } from '../datastore/errors.js';
import { KvDatastore } from '../datastore/datastore.js';
import { livenessKey } from '../datastore/key-layout.js';
import { LivenessKey } from '../datastore/liveness-key.js';
import { Ipam } from '../ipam/ipam.js';
import { RtNetlink } from '../../felix/netlink/rt-netlink.js';
import { RouteTable } from '../../felix/routes/route-table.js';
import { HealthAggregator } from '../../felix/health/health-aggregator.js';
import { startHealthServer, type RunningHealthServer } from '../../felix/health/health-server.js';
import { createMetricsRegistry, renderMetrics } from '../../felix/metrics/metrics-registry.js';
import { BgpMetrics } from '../../felix/metrics/bgp-metrics.js';
import { IpamMetrics } from '../../felix/metrics/ipam-metrics.js';
import { DataplaneMetrics } from '../../felix/metrics/dataplane-metrics.js';
import { detectHostMtu, writeMtuFile } from '../../ipip/mtu.js';
import { nodeConfigFromEnv } from './config.js';
import { DatastoreCache } from './datastore-cache.js';
import { NodeAgent } from './node-agent.js';
import { ensureDefaultPool, nodeAddress, registerNode } from './startup.js';
import { systemInterfaces } from './autodetect.js';
import { startCniServer, sysfsIfindex } from './cni-server.js';
import { WorkloadReaper } from './workload-reaper.js';
import { IpamController } from './ipam-controller.js';
import { deleteWorkloadRecord, publishMissingRecords } from '../ipam/workload-records.js';
import { bgpStatus, startCtlServer } from './ctl-server.js';
import { BgpStatusPublisher } from './bgp-status-publisher.js';
import type { LineServer } from './line-server.js';
import { VxlanSupport } from './vxlan-support.js';
import { IpipManager } from '../../ipip/ipip-manager.js';
import { UDP_PORT, UdpTunnel } from '../../ipip/udp-tunnel.js';
import { probeTunnelSupport, udpFallbackNeeded } from '../../ipip/tunnel-support.js';
import { registerUdpBackendMetrics } from '../../felix/metrics/udp-backend-metrics.js';
import { IpipDevice, PodMtuFile } from './tunnel-devices.js';
import { spawnExec } from '../../felix/rules/exec.js';
import { NftBackend } from '../../felix/rules/nft-backend.js';
import { IptablesBackend } from '../../felix/rules/iptables-backend.js';
import { RulesProgrammer } from '../../felix/rules/rules-programmer.js';
import { NftMonitor, watchedTables } from '../../felix/rules/nft-monitor.js';
import { spawn } from 'node:child_process';
import { startBfdProcess } from './bfd-process.js';

/** tortie-bfd keeps our BFD sessions this long for a restarting agent: the default graceful-restart time. */
const BFD_GRACE_MS = 120_000;

/** Routing between pods and the underlay needs IPv4 forwarding in this network namespace. */
function enableForwarding(log: Logger, v6: boolean): void {
  const paths = ['/proc/sys/net/ipv4/ip_forward', ...(v6 ? ['/proc/sys/net/ipv6/conf/all/forwarding'] : [])];
  for (const path of paths) {
    try {
      if (readFileSync(path, 'utf8').trim() !== '1') { writeFileSync(path, '1'); log.info({ sysctl: path }, 'enabled forwarding'); }
    } catch (err) { log.warn({ err: describeError(err), sysctl: path }, 'cannot enable forwarding; pods will not be reachable from other nodes'); }
  }
}

async function pollFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Run a start-up step, retrying every 2 s while etcd is unavailable; any other error is fatal. */
async function untilAvailable<T>(log: Logger, what: string, step: () => Promise<T>, stopping: () => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try { return await step(); } catch (err) {
      if (!isDatastoreError(err, 'unavailable') || stopping()) throw err;
      log.warn({ attempt, err: describeError(err) }, `cannot ${what} yet: datastore unavailable; retrying in 2 s`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function main(): Promise<void> {
  let cfg;
  const boot = createLogger('tortie-node');
  try { cfg = nodeConfigFromEnv(); } catch (err) { boot.fatal({ err: describeError(err) }, 'bad configuration'); boot.flush(); process.exitCode = 1; return; }
  const log = createLogger('tortie-node', cfg.logLevel).child({ node: cfg.nodeName });
  const clock = systemClock;
  const closers: Array<() => Promise<void> | void> = [];
  const shutdown = async (code: number): Promise<void> => {
    for (const c of closers.reverse()) { try { await c(); } catch (err) { log.warn({ err: describeError(err) }, 'shutdown step failed'); } }
    log.info({ code }, 'tortie-node stopped');
    log.flush();
    process.exit(code);
  };
  let stopping = false;
  // A DaemonSet's rolling restart or upgrade sends SIGTERM: a graceful restart (peers keep our
  // routes stale until we are back). A node leaving for good withdraws: its Node deleted, or
  // TORTIE_WITHDRAW_ON_STOP for a drain that keeps the Node.
  let withdraw = cfg.withdrawOnStop;
  const onSignal = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, withdraw
      ? 'stopping: Cease to every BGP peer (TORTIE_WITHDRAW_ON_STOP), routes withdrawn everywhere; kernel routes stay'
      : 'stopping for a graceful restart: BGP connections closed without NOTIFICATION, peers keep our routes until we are back; kernel routes and IPAM stay');
    void shutdown(0);
  };
  let ownNodeSeen = false;
  /** Our Node resource deleted (`tortiectl delete node`): the node leaves for good; withdraw and exit. */
  const checkOwnNode = (present: boolean): void => {
    if (present) { ownNodeSeen = true; return; }
    if (!ownNodeSeen || stopping) return;
    withdraw = true;
    log.warn('this node\'s Node resource was deleted: withdrawing its routes from every BGP peer and exiting');
    onSignal('Node deleted');
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('unhandledRejection', (err) => log.error({ err: describeError(err) }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.error({ err: describeError(err), stack: err.stack }, 'uncaught exception'));

  try {
    let addr = await nodeAddress(cfg);
    if (addr !== undefined && addr.iface === '') {
      // IP given explicitly: find the interface holding it (it may still be coming up).
      const wanted = addr;
      const found = await pollFor(async () => systemInterfaces().find((a) => a.address === wanted.address), 10_000);
      if (found !== undefined) addr = { ...wanted, iface: found.iface };
      else log.warn({ address: wanted.address }, 'no interface holds the node address; same-subnet routes stay off until restart');
    }
    log.info({ address: addr === undefined ? 'none' : `${addr.address}/${addr.prefixLength}`, iface: addr?.iface }, 'node address');
    let addr6 = await nodeAddress(cfg, 6);
    if (addr6 !== undefined && addr6.iface === '') {
      const wanted = addr6;
      const found = await pollFor(async () => systemInterfaces(6).find((a) => a.address === wanted.address), 10_000);
      if (found !== undefined) addr6 = { ...wanted, iface: found.iface };
    }
    if (addr6 !== undefined) log.info({ address: `${addr6.address}/${addr6.prefixLength}`, iface: addr6.iface }, 'node IPv6 address');
    const v6 = addr6 !== undefined;
    const store = await EtcdKvStore.connect(cfg.etcd, { logger: log });
    closers.push(() => store.close());
    const datastore = new KvDatastore({ store, clock, logger: log });
    // The datastore may not be up yet (a cluster starting): retry while it is unavailable.
    await untilAvailable(log, 'register the Node', () => registerNode(datastore, cfg.nodeName, addr, cfg.asNumber, log, addr6), () => stopping);
    await untilAvailable(log, 'ensure the default pool', () => ensureDefaultPool(datastore, cfg.defaultPool, log), () => stopping);
    if (v6) await untilAvailable(log, 'ensure the default IPv6 pool', () => ensureDefaultPool(datastore, cfg.defaultPool6, log, 6), () => stopping);
    const ipam = new Ipam({ store, datastore, logger: log });
    const block = await ipam.ensureBlock(cfg.nodeName, 4).catch((err: unknown) => { log.warn({ err: describeError(err) }, 'no affine block yet'); return undefined; });
    if (block !== undefined) log.info({ block }, 'affine block');
    if (v6) {
      const block6 = await ipam.ensureBlock(cfg.nodeName, 6).catch((err: unknown) => { log.warn({ err: describeError(err) }, 'no affine IPv6 block yet'); return undefined; });
      if (block6 !== undefined) log.info({ block: block6 }, 'affine IPv6 block');
    }

    const liveness = new LivenessKey({ store, clock, logger: log }, livenessKey(cfg.nodeName), JSON.stringify({ node: cfg.nodeName, pid: process.pid }));
    await liveness.start();
    closers.push(() => liveness.stop());

    enableForwarding(log, v6);
    const netlink = new RtNetlink({ logger: log }); // runs one dump at a time per socket
    closers.push(() => netlink.close());
    const families: Array<4 | 6> = v6 ? [4, 6] : [4];
    const routeTable = new RouteTable({ netlink, clock, logger: log }, { families });

    const health = new HealthAggregator({ clock });
    // The agent reports on every sync and syncs at least every 30 s: a stuck loop goes stale.
    const dataplaneHealth = health.register('dataplane', { live: true, ready: true, timeoutMs: 120_000 });
    const bgpHealth = health.register('bgp', { live: false, ready: true, timeoutMs: 120_000 });
    // Process metrics (prom-client's defaults, as Felix's prometheusProcessMetricsEnabled) and IPAM.
    const registry = createMetricsRegistry({ collectDefault: cfg.metrics.processMetrics });
    const bgpMetrics = new BgpMetrics(registry);
    const ipamMetrics = new IpamMetrics(registry);
    const dpMetrics = new DataplaneMetrics(registry);

    const exec = spawnExec();
    const rulesBackend = cfg.rulesBackend === 'nft' ? new NftBackend({ exec, logger: log }) : new IptablesBackend({ exec, logger: log });
    // `nft monitor` reports a change to our table (or iptables-nft's) at once: repaired within 1 s.
    const rulesWatcher = new NftMonitor({ spawnMonitor: () => spawn('nft', ['monitor'], { stdio: ['ignore', 'pipe', 'pipe'] }), clock, logger: log },
      { tables: watchedTables(cfg.rulesBackend) });
    const rules = new RulesProgrammer({ backend: rulesBackend, clock, logger: log, metrics: dpMetrics, watcher: rulesWatcher,
      health: health.register('rules', { live: true, ready: true, timeoutMs: 0 }) }, { families });
    const hostMtu = await detectHostMtu(netlink, addr?.address);
    // etcd reachability shows in /readiness detail; like calico-node the node stays ready (it keeps
    // routing with what it has), so this reporter never fails readiness.
    const dsHealth = health.register('datastore', { live: false, ready: true, timeoutMs: 0 });
    let downSince: string | undefined;
    const onConnection = (connected: boolean): void => {
      if (connected) { downSince = undefined; dsHealth.report({ live: true, ready: true, detail: 'etcd watch connected' }); return; }
      downSince ??= new Date().toISOString();
      log.warn({ since: downSince }, 'etcd unreachable: keeping the last known state');
      dsHealth.report({ live: true, ready: true, detail: `etcd unreachable since ${downSince}; running on the last known state` });
    };
    // One agent at a time (etcd election) collects what deleted Nodes and IPPools left in IPAM.
    const ipamController = new IpamController({ elector: store, gc: { store, datastore, logger: log }, clock, logger: log,
      names: () => ({ nodes: cache.nodes.keys(), pools: cache.pools.keys() }) }, { nodeName: cfg.nodeName });
    const cache = new DatastoreCache({ datastore, store, clock, logger: log, ...(cfg.routerId === undefined ? {} : { routerIdSetting: cfg.routerId }) },
      cfg.nodeName, () => { agent.schedule(); ipamController.kick(); checkOwnNode(cache.nodes.has(cfg.nodeName)); }, onConnection);
    // One VTEP per family: vxlan.calico on the IPv4 node address, vxlan-v6.calico on the IPv6 one.
    const vxlan = addr === undefined ? undefined : new VxlanSupport({ ipam, datastore, netlink, logger: log }, cfg.nodeName, addr.address);
    const vxlan6 = addr6 === undefined ? undefined : new VxlanSupport({ ipam, datastore, netlink, logger: log }, cfg.nodeName, addr6.address);
    // A kernel that can create neither VXLAN nor IPIP devices gets the UDP backend for every tunnel pool.
    const tunnels = addr === undefined ? undefined : await probeTunnelSupport(netlink);
    const udpFallback = tunnels !== undefined && udpFallbackNeeded(tunnels);
    if (udpFallback) {
      log.warn({ kernel: release(), vxlan: tunnels.vxlan, ipip: tunnels.ipip },
        `kernel ${release()} creates neither VXLAN nor IPIP devices: pools with vxlanMode or ipipMode use the userspace UDP backend (tortie-udp, UDP ${UDP_PORT})`);
    }
    // The UDP backend over the IPv4 underlay; its worker starts only once a pool asks for it.
    const udp = addr === undefined ? undefined
      : new UdpTunnel({ netlink, logger: log, onChange: () => { agent.schedule(0); } }, { nodeIp: addr.address, underlayMtu: hostMtu });
    if (udp !== undefined) closers.push(() => udp.stop());
    const agent: NodeAgent = new NodeAgent({
      clock, logger: log, netlink, routeTable, cache, speakerDeps: realDeps(log), secrets: mountedSecretReader(cfg.secretsDir),
      vxlan: () => vxlan?.manager(), ...(vxlan6 === undefined ? {} : { vxlan6: () => vxlan6.manager() }), health: { dataplane: dataplaneHealth, bgp: bgpHealth }, rules,
      ...(vxlan === undefined && vxlan6 === undefined ? {} : { ensureVxlan: async (pools) => { await vxlan?.ensure(pools); await vxlan6?.ensure(pools); } }),
      mtu: new PodMtuFile({ logger: log, write: writeMtuFile, detectHostMtu: () => detectHostMtu(netlink, addr?.address) }, cfg.mtuFile, hostMtu),
      ipip: new IpipDevice({ clock, logger: log }, new IpipManager({ netlink, logger: log }, { underlayMtu: hostMtu })),
      ...(udp === undefined ? {} : { udp }),
      bfdEngine: cfg.bfd.engine === 'thread' ? { kind: 'thread' } : { kind: 'process', socket: cfg.bfd.socket, graceMs: BFD_GRACE_MS,
        ...(cfg.bfd.engine === 'process' ? { startProcess: () => startBfdProcess(cfg.bfd.socket, BFD_GRACE_MS) } : {}) },
    }, {
      nodeName: cfg.nodeName, nodeIp: addr?.address, nodeCidr: addr === undefined ? undefined : `${addr.address}/${addr.prefixLength}`,
      bgpReadyThresholdMs: cfg.bgpReadyThresholdSeconds * 1000,
      bgpMaxPaths: cfg.bgpMaxPaths,
      parentIface: addr?.iface ?? addr6?.iface ?? '', backend: cfg.backend, ...(udpFallback ? { udpFallback } : {}),
      ...(addr6 === undefined ? {} : { nodeIp6: addr6.address, nodeCidr6: `${addr6.address}/${addr6.prefixLength}` }),
    });
    closers.push(() => agent.stop({ withdraw }));
    await cache.start();
    closers.push(() => cache.stop());


    await agent.start();
    await agent.syncNow(); // the MTU file and the first routes exist before cni.sock opens
    ipamController.kick();
    ipamController.start();
    closers.push(() => ipamController.stop());
    rules.start();

    // Pod ADDs take pools, Node labels and which blocks exist from the watch cache (hints only:
    // every IPAM write stays a CAS), which saves most of the etcd round trips before a new block
    // is claimed and routed.
    const podIpam = new Ipam({ store, datastore, logger: log, view: {
      pools: () => [...cache.pools.values()],
      nodeLabels: (node) => { const n = cache.nodes.get(node); return n === undefined ? undefined : (n.metadata.labels ?? {}); },
      blocks: (family) => cache.blocksByCidr(family),
      reservations: () => [...cache.reservations.values()],
    } });
    const cni: LineServer = await startCniServer(cfg.cniSocket, { ipam: podIpam, agent, routeTable, netlink, logger: log, nodeName: cfg.nodeName, mtu: () => agent.podMtu, ifindexOf: sysfsIfindex,
      want6: () => v6 && (agent.snapshot()?.pools ?? cache.snapshot().pools).some((p) => p.cidr.includes(':') && !p.disabled) });
    closers.push(() => cni.close());
    const reaper = new WorkloadReaper({ clock, logger: log, subscribe: (h) => netlink.subscribe(h), ifindexOf: sysfsIfindex,
      endpoints: () => agent.endpoints(), removeEndpoint: (id) => agent.removeEndpoint(id), syncNow: () => agent.syncNow(),
      releaseByHandle: async (h) => { const r = await podIpam.releaseByHandle(h); await deleteWorkloadRecord(store, h); return r; } });
    reaper.start();
    closers.push(() => reaper.stop());
    // Workload records for `ipam check` (see agent/ipam/workload-records.ts): endpoints that have
    // none get one after start-up (workloads adopted from before a restart or an upgrade) and every 5 min.
    const publish = (): void => { void publishMissingRecords(store, cfg.nodeName, [...agent.endpoints()])
      .then((n) => { if (n > 0) log.info({ records: n }, 'published missing workload records'); })
      .catch((err: unknown) => log.warn({ err: describeError(err) }, 'cannot publish workload records')); };
    publish();
    const publishTimer = setInterval(publish, 300_000);
    publishTimer.unref();
    closers.push(() => clearInterval(publishTimer));
    const ctl = await startCtlServer(cfg.ctlSocket, () => agent.speaker?.status(), log, { routes: () => agent.speaker?.routes(), bfd: () => agent.bfd.sessions() });
    closers.push(() => ctl.close());
    // every node's sessions for `tortiectl node status --all`
    const bgpPublisher = new BgpStatusPublisher({ store, clock, logger: log }, cfg.nodeName, () => bgpStatus(agent.speaker?.status()));
    bgpPublisher.start();
    closers.push(() => bgpPublisher.stop());
    const servers: RunningHealthServer[] = [];
    if (cfg.health.enabled) servers.push(await startHealthServer({ aggregator: health, logger: log }, { host: cfg.health.host, port: cfg.health.port }));

    const metricPeers = new Map<string, { established: boolean; transitions: number }>();
    let lastRt = { resyncs: 0, repairs: 0, failures: 0 };
    // Read the speaker and route table at scrape time, so a scrape never sees stale counts.
    const refreshMetrics = (): void => {
      const now = new Set<string>();
      const statuses = agent.speaker?.status() ?? [];
      const afiSafiOf = (address: string): string => (address.includes(':') ? 'ipv6_unicast' : 'ipv4_unicast');
      bgpMetrics.setTotals(statuses.map((p) => ({ state: p.state, afiSafi: afiSafiOf(p.address), prefixes: p.prefixes })));
      const snap = agent.snapshot();
      if (snap !== undefined) ipamMetrics.update(cfg.nodeName, snap.pools, snap.blocks);
      for (const p of cfg.metrics.perPeer ? statuses : []) {
        now.add(p.name);
        // Flaps since the last scrape (or since start): every Established entry that is not the
        // current one implies a drop after it.
        const prev = metricPeers.get(p.name) ?? { established: false, transitions: 0 };
        const up = p.state === 'Established';
        const drops = p.establishedTransitions - prev.transitions - (up ? 1 : 0) + (prev.established ? 1 : 0);
        for (let i = 0; i < drops; i++) { bgpMetrics.setSessionState(p.name, 'Established'); bgpMetrics.setSessionState(p.name, 'Idle'); }
        metricPeers.set(p.name, { established: up, transitions: p.establishedTransitions });
        bgpMetrics.setSessionState(p.name, p.state);
        bgpMetrics.setPrefixes(p.name, afiSafiOf(p.address), p.prefixes);
      }
      for (const gone of [...metricPeers.keys()]) if (!now.has(gone)) { bgpMetrics.removePeer(gone); metricPeers.delete(gone); }
      for (const [kind, n] of Object.entries(agent.routeCounts)) dpMetrics.setRoutesProgrammed(254, kind, n);
      // Route table counters since the last scrape (resyncs: timer/overflow/start; repairs: drift fixed).
      const st = routeTable.stats;
      for (let i = lastRt.resyncs; i < st.resyncs; i++) dpMetrics.countResync('routes', 'resync');
      for (let i = lastRt.repairs; i < st.repairs; i++) dpMetrics.countRepair('routes', 'route');
      for (let i = lastRt.failures; i < st.failures; i++) dpMetrics.countError('routes', 'apply');
      lastRt = { resyncs: st.resyncs, repairs: st.repairs, failures: st.failures };
    };
    if (udp !== undefined) registerUdpBackendMetrics(registry, () => (udp.isUp ? udp.stats() : undefined));
    if (cfg.metrics.enabled) servers.push(await startHealthServer({ logger: log, metrics: () => { refreshMetrics(); return renderMetrics(registry); } }, { host: cfg.health.host, port: cfg.metrics.port }));
    closers.push(() => Promise.all(servers.map((s) => s.close())).then(() => undefined));
    log.info({ cni: cfg.cniSocket, ctl: cfg.ctlSocket, backend: cfg.backend }, 'tortie-node running');
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'start-up failed');
    await shutdown(1);
  }
}

void main();
