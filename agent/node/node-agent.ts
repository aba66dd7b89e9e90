/**
 * The tortie-node agent: datastore cache ─> calc (pure) ─> BgpSpeaker (peers, originated
 * prefixes) and the dataplane (RouteTable proto 80, VXLAN), coalesced into one `sync()` that
 * runs at most once at a time and again when something changed meanwhile.
 *
 *   DatastoreCache ─┐                         ┌─> speaker.reconfigure / originate / withdraw
 *   speaker best ───┼─> schedule() ─> sync() ─┼─> VxlanManager adds ─> RouteTable.apply ─> removals
 *   CNI endpoints ──┘                         └─> health reports
 *
 * Restart without flapping: routes of ours found in the kernel at start stay (unless replaced)
 * until BGP has converged (every peer Established with its End-of-RIB in, or a deadline):
 * restart-convergence.ts.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { BgpSpeaker, BestPathChange, SpeakerDeps } from '../../bgp/speaker/speaker.js';
import { BgpSpeaker as Speaker } from '../../bgp/speaker/speaker.js';
import type { SpeakerConfig } from '../../bgp/speaker/peer-config.js';
import type { ApplyResult, RouteTable } from '../../felix/routes/route-table.js';
import { validateDesiredRoute, type DesiredRoute } from '../../felix/routes/route.js';
import { MAIN_TABLE, type Netlink } from '../../felix/netlink/types.js';
import type { VxlanManager } from '../../ipip/vxlan-manager.js';
import type { UdpTunnel } from '../../ipip/udp-tunnel.js';
import type { IpipDevice, PodMtuFile } from './tunnel-devices.js';
import type { HealthReporter } from '../../felix/health/health-aggregator.js';
import type { RulesProgrammer } from '../../felix/rules/rules-programmer.js';
import { rulesConfig } from '../calc/rules-inputs.js';
import { bgpSpeakerConfig, type SecretReader } from '../calc/bgp-peers.js';
import { bfdSessions } from '../calc/bfd-sessions.js';
import { NodeBfd, connectedCidrs, type NodeBfdEngine } from './node-bfd.js';
import { originatedPrefixes, type Originated } from '../calc/advertise.js';
import { kernelRoutes, type LocalFacts, type UnderlayRoute, type Workload } from '../calc/kernel-routes.js';
import type { LearnedRoute, Snapshot } from '../calc/snapshot.js';
import type { DatastoreCache } from './datastore-cache.js';
import { kernelToDesired, RestartConvergence } from './restart-convergence.js';
import { bgpReadiness } from './bgp-readiness.js';

export interface NodeAgentDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly netlink: Netlink;
  readonly routeTable: RouteTable;
  readonly cache: DatastoreCache;
  readonly speakerDeps: SpeakerDeps;
  /** BGP passwords (BGPPeer password, nodeMeshPassword) from mounted Secrets; absent: such peers are reported, not configured. */
  readonly secrets?: SecretReader;
  /** Where BFD runs (agent/node/node-bfd.ts): the tortie-bfd process (main.ts) or, by default, a worker thread. */
  readonly bfdEngine?: NodeBfdEngine;
  /** vxlan.calico, created lazily once this node has an IPv4 VXLAN tunnel address. */
  readonly vxlan?: () => VxlanManager | undefined;
  /** vxlan-v6.calico (dual stack), created lazily once this node has an IPv6 VXLAN tunnel address. */
  readonly vxlan6?: () => VxlanManager | undefined;
  /** Allocate/publish this node's VTEP when a VXLAN pool exists (idempotent). */
  readonly ensureVxlan?: (pools: Snapshot['pools']) => Promise<void>;
  /** The pod MTU file for the CNI plugin, following the pools' encapsulation. */
  readonly mtu?: PodMtuFile;
  readonly health?: { readonly dataplane: HealthReporter; readonly bgp: HealthReporter };
  /** NAT outgoing, tunnel ingress and forward rules (felix/rules); absent = no rules. */
  readonly rules?: RulesProgrammer;
  /** tunl0 for IPIP pools (fails with IPIP_UNSUPPORTED_MESSAGE on kernels without ipip). */
  readonly ipip?: IpipDevice;
  /** The userspace UDP backend (tortie-udp), started once a pool is annotated for it. */
  readonly udp?: UdpTunnel;
}

export interface NodeAgentOptions {
  readonly nodeName: string;
  readonly nodeIp: string | undefined;
  readonly nodeCidr: string | undefined;
  /** Dual stack: the node's IPv6 address and its prefix (IP6), on the same parent interface. */
  readonly nodeIp6?: string | undefined;
  readonly nodeCidr6?: string | undefined;
  readonly parentIface: string;
  readonly backend: 'bird' | 'vxlan' | 'none';
  /** The kernel creates neither VXLAN nor IPIP devices: every tunnel pool uses the UDP backend (ipip/tunnel-support.ts). */
  readonly udpFallback?: boolean;
  /** Longest wait for BGP to converge before routes found at start-up are dropped (default 30 s). */
  readonly convergeDeadlineMs?: number;
  /** calico-node's `--threshold-time`: every peer must be Established to be ready this long after start (default 30 s). */
  readonly bgpReadyThresholdMs?: number;
  /** ECMP over equal BGP paths into the kernel (BIRD `merge paths on`, its limit 16 by default); 1 turns it off. */
  readonly bgpMaxPaths?: number;
}

/** The distinct next hops of a multipath set (best first), when there are several. */
function multipathHops(c: BestPathChange): { nextHops?: string[] } {
  const hops = [...new Set((c.multipath ?? []).filter((r) => r.from !== 'local' && r.nextHop !== 'self').map((r) => r.nextHop))];
  return hops.length > 1 ? { nextHops: hops } : {};
}

/** The snapshot with every pool's vxlanMode/ipipMode carried by the UDP backend. */
export function withUdpBackend(s: Snapshot): Snapshot {
  return { ...s, pools: s.pools.map((p) => (p.vxlanMode === 'Never' && p.ipipMode === 'Never' ? p : { ...p, encapsulation: 'udp' as const })) };
}

export class NodeAgent {
  speaker: BgpSpeaker | undefined;
  private readonly learned = new Map<string, LearnedRoute>();
  private readonly workloads = new Map<string, { readonly iface: string; readonly addresses: readonly string[] }>();
  /** Our routes were in the kernel at start: the forwarding state survived a restart (the GR F bit). */
  private forwardingSurvived = false;
  /** Routes of ours found in the kernel at start, kept until convergence. */
  private readonly convergence: RestartConvergence;
  private readonly startedAt: number;
  private originated = new Map<string, string>();
  private speakerConfig: SpeakerConfig | undefined;
  private underlay: UnderlayRoute[] = [];
  private running: Promise<void> | undefined;
  private again = false;
  private scheduled: TimerHandle | undefined;
  private stopped = false;
  /** Nothing syncs before start(): the cache may be partial and the kernel not yet read. */
  private started = false;
  private lastSnapshot: Snapshot | undefined;
  private readonly waiters: Array<() => void> = [];
  readonly stats = { syncs: 0, lastSyncMs: 0, problems: [] as string[] };
  private readonly log: Logger;
  /** BFD towards the BGP peers whose source names a BFDProfile (agent/node/node-bfd.ts). */
  readonly bfd: NodeBfd;
  private underlayTimer: TimerHandle | undefined;
  private unsubscribeLinks: (() => void) | undefined;
  /** The last route table apply (the CNI server checks it before answering endpoint-up). */
  lastApply: ApplyResult | undefined;

  constructor(private readonly deps: NodeAgentDeps, readonly options: NodeAgentOptions) {
    this.log = deps.logger.child({ component: 'node-agent' });
    this.bfd = new NodeBfd({ logger: deps.logger, bfdDown: (peer, o) => this.speaker?.bfdDown(peer, o) ?? false,
      bfdUp: (peer) => this.speaker?.bfdUp(peer), ...(deps.bfdEngine ? { engine: deps.bfdEngine } : {}) });
    this.startedAt = deps.clock.now();
    this.convergence = new RestartConvergence(this.startedAt, options.convergeDeadlineMs);
  }

  /** Read what the kernel holds (our routes to keep, the underlay), then sync. */
  async start(): Promise<void> {
    const links = new Map((await this.deps.netlink.listLinks()).map((l) => [l.index, l.name]));
    const ours = [...await this.deps.netlink.listRoutes(4, MAIN_TABLE, this.deps.routeTable.protocol),
      ...(this.options.nodeIp6 === undefined ? [] : await this.deps.netlink.listRoutes(6, MAIN_TABLE, this.deps.routeTable.protocol))];
    const inherited: DesiredRoute[] = [];
    for (const r of ours) {
      const d = kernelToDesired(r, links);
      if (d === undefined) continue;
      inherited.push(d);
      // Workload routes from before a restart: re-adopted as endpoints (verified against IPAM in sync).
      if (d.iface?.startsWith('cali') === true && (r.dst.endsWith('/32') || r.dst.endsWith('/128')) && d.gateway === undefined) {
        this.workloads.set(`adopted:${d.iface}:${r.dst}`, { iface: d.iface, addresses: [r.dst] });
      }
    }
    this.convergence.inherit(inherited);
    this.forwardingSurvived = inherited.length > 0;
    await this.refreshUnderlay();
    this.armUnderlayTimer();
    // Our tunnel devices or the parent interface deleted (or notifications lost): sync at once,
    // which re-creates the device, its VTEP entries and (through the route table) its routes.
    this.unsubscribeLinks = this.deps.netlink.subscribe((e) => {
      // The VXLAN devices, their addresses and VTEP neighbour/FDB entries: each manager says
      // whether the event undid something of ours; a sync puts it back.
      let tunnels = false;
      for (const m of this.tunnelManagers()) if (m.onEvent(e)) tunnels = true;
      if (tunnels && e.type !== 'overflow') this.schedule(e.type === 'link' && e.action === 'del' ? 0 : 50);
      if (e.type === 'overflow') { this.recheckTunnels(); this.deps.mtu?.hostChanged(); this.underlayChanged(); this.schedule(0); return; }
      if (e.type === 'route') {
        // Someone else's route in the main table (the underlay) changed: re-read it soon.
        if (e.route.protocol !== this.deps.routeTable.protocol && e.route.table === MAIN_TABLE) this.underlayChanged();
        return;
      }
      if (e.type !== 'link') return;
      const n = e.link.name;
      if (n === this.options.parentIface) this.deps.mtu?.hostChanged(); // its MTU may have changed: new pods follow
      if (n === 'tunl0' || n === this.options.parentIface) {
        this.log.info({ link: n, action: e.action }, 'tunnel/parent link changed: syncing');
        this.recheckTunnels();
        this.schedule(e.action === 'del' ? 0 : 50);
      }
    });
    // The route table's first apply must see what we keep, or it would delete it.
    this.deps.routeTable.setDesiredRoutes(this.convergence.inheritedRoutes);
    this.deps.routeTable.start();
    this.started = true;
    this.schedule(0);
    this.armHeartbeat();
    this.armBgpHealth();
  }

  private heartbeat: TimerHandle | undefined;

  /** A sync every 30 s even without changes: health stays fresh (reporters time out otherwise); the tunnels are re-read then. */
  private armHeartbeat(): void {
    this.heartbeat = this.deps.clock.setTimeout(() => { this.recheckTunnels(); this.deps.mtu?.hostChanged(); this.schedule(0); if (!this.stopped) this.armHeartbeat(); }, 30_000);
  }

  private tunnelManagers(): VxlanManager[] {
    return [this.deps.vxlan?.(), this.deps.vxlan6?.()].filter((m): m is VxlanManager => m !== undefined);
  }

  private recheckTunnels(): void { for (const m of this.tunnelManagers()) m.recheck(); }

  /**
   * The underlay (other routes of the main table, for next hops off our subnet) is re-read 200 ms
   * after a change notification, and every 60 s as a safety net: a route dump is O(every route,
   * ours included) and holds the event loop for milliseconds, so not on a short timer.
   */
  private armUnderlayTimer(delayMs = 60_000): void {
    this.underlayTimer?.cancel();
    this.underlayTimer = this.deps.clock.setTimeout(() => {
      this.underlayTimer = undefined;
      this.refreshUnderlay().then(() => this.schedule(), () => undefined).finally(() => { if (!this.stopped) this.armUnderlayTimer(); });
    }, delayMs);
  }

  private underlaySoon = false;

  private underlayChanged(): void {
    if (this.stopped || this.underlaySoon) return;
    this.underlaySoon = true;
    this.deps.clock.setTimeout(() => { this.underlaySoon = false; if (!this.stopped) this.armUnderlayTimer(0); }, 200);
  }

  private async refreshUnderlay(): Promise<void> {
    try {
      const links = new Map((await this.deps.netlink.listLinks()).map((l) => [l.index, l.name]));
      const all = [...await this.deps.netlink.listRoutes(4, MAIN_TABLE), ...(this.options.nodeIp6 === undefined ? [] : await this.deps.netlink.listRoutes(6, MAIN_TABLE))];
      this.underlay = all.filter((r) => r.protocol !== this.deps.routeTable.protocol && r.type === 'unicast' && r.ifindex !== undefined)
        .map((r) => ({ dst: r.dst, iface: links.get(r.ifindex ?? -1) ?? '', metric: r.metric, ...(r.gateway === undefined ? {} : { gateway: r.gateway }) }))
        .filter((r) => r.iface !== '');
    } catch (err) { this.log.warn({ err: describeError(err) }, 'cannot read the underlay routes'); }
  }

  /**
   * Coalesce: one sync at a time; changes during a sync trigger exactly one more. A pending sync
   * far off (a part of the dataplane that failed retries in 30 s: no ipip module) is brought
   * forward when a change wants one sooner, so that failure never delays the other parts.
   */
  schedule(delayMs = 0): void {
    if (!this.started || this.stopped) return;
    const due = this.deps.clock.now() + delayMs;
    if (this.scheduled !== undefined) {
      if (this.scheduledDue <= due) return;
      this.scheduled.cancel();
    }
    this.scheduledDue = due;
    this.scheduled = this.deps.clock.setTimeout(() => {
      this.scheduled = undefined;
      void this.runSync();
    }, delayMs);
  }
  private scheduledDue = 0;

  /** Sync now (or right after the running one) and resolve when a sync that saw the current state finished. */
  syncNow(): Promise<void> {
    return new Promise((resolve) => { this.waiters.push(resolve); this.schedule(0); });
  }

  private async runSync(): Promise<void> {
    if (this.running !== undefined) { this.again = true; return; }
    const waiters = this.waiters.splice(0);
    this.running = this.sync().catch((err: unknown) => {
      this.log.error({ err: describeError(err) }, 'sync failed; retrying in 1 s');
      this.schedule(1000);
    });
    await this.running;
    this.running = undefined;
    for (const w of waiters) w();
    if (this.again || this.waiters.length > 0) { this.again = false; this.schedule(0); }
  }

  private async sync(): Promise<void> {
    const t0 = this.deps.clock.now();
    const s = this.options.udpFallback === true ? withUdpBackend(this.deps.cache.snapshot()) : this.deps.cache.snapshot();
    this.lastSnapshot = s;
    const problems: string[] = [];
    this.verifyAdopted(s);

    // BGP: peers, then originated prefixes.
    if (this.options.backend === 'bird' && this.options.nodeIp !== undefined) {
      const calc = bgpSpeakerConfig(s, this.deps.secrets);
      problems.push(...calc.problems);
      // A BGP failure (port 179 taken, ...) must not hold the dataplane back: report it, retry later.
      if (calc.speaker !== undefined) {
        // Our routes were still in the kernel at start (a restart, not a reboot): forwarding
        // survived, so the graceful-restart F bit tells peers to keep our stale routes until our
        // End-of-RIB instead of flushing them the moment we reconnect (RFC 4724 §4.2).
        const speakerCfg = {
          ...calc.speaker,
          // Calico's BIRD merges equal paths in its kernel protocol; its BGP best-path compares
          // AS_PATH lengths only, hence relaxAsPath.
          multipath: { maxPaths: this.options.bgpMaxPaths ?? 16, relaxAsPath: true },
          ...(this.forwardingSurvived ? { gracefulRestart: { ...calc.speaker.gracefulRestart, forwardingPreserved: true } } : {}),
        };
        try { await this.applySpeaker(speakerCfg); this.bgpError = undefined; } catch (err) {
          this.bgpError = `BGP speaker: ${describeError(err)}`;
          problems.push(this.bgpError);
          this.schedule(5000);
        }
      }
      const bfd = bfdSessions(s, calc.peers, connectedCidrs());
      problems.push(...bfd.problems);
      this.bfd.apply(this.speaker === undefined ? new Map() : bfd.sessions);
      const orig = originatedPrefixes(s);
      problems.push(...orig.problems);
      this.applyOriginated(orig.routes);
    }

    // A VXLAN pool that appeared after start-up gets this node's VTEP of its family (ensureVxlan
    // returns at once when the VTEP exists or no pool of its family uses VXLAN); the pod MTU follows the pools.
    await this.deps.ensureVxlan?.(s.pools);
    await this.deps.mtu?.update(s.pools);

    // Dataplane.
    const ipipProblem = this.options.backend === 'bird' ? await this.deps.ipip?.ensure(s.pools) : undefined;
    if (ipipProblem !== undefined) this.schedule(30_000);
    if (ipipProblem !== undefined) problems.push(ipipProblem);
    if (this.options.nodeCidr !== undefined) {
      const local: LocalFacts = { cidr: this.options.nodeCidr, parentIface: this.options.parentIface, backend: this.options.backend, underlay: this.underlay,
        ...(this.options.nodeCidr6 === undefined ? {} : { cidr6: this.options.nodeCidr6 }) };
      const workloads: Workload[] = [];
      for (const w of this.workloads.values()) for (const a of w.addresses) workloads.push({ address: a.split('/')[0] ?? a, iface: w.iface });
      const kr = kernelRoutes(s, [...this.learned.values()], workloads, local);
      for (const sk of kr.skipped) this.log.debug(sk, 'route not installed');
      // Per family: the tunnel device and VTEP entries first, then routes through them; if they
      // fail, that family's VXLAN routes wait (the rest goes on).
      const tunnels = [
        { vx: kr.vxlanBlocks.length > 0 || kr.vteps.length > 0 ? this.deps.vxlan?.() : undefined, vteps: kr.vteps, blocks: kr.vxlanBlocks, ok: true },
        { vx: kr.vxlanBlocks6.length > 0 || kr.vteps6.length > 0 ? this.deps.vxlan6?.() : undefined, vteps: kr.vteps6, blocks: kr.vxlanBlocks6, ok: true },
      ];
      let routes = kr.routes;
      let vxlanProblem: string | undefined;
      for (const t of tunnels) {
        if (t.vx === undefined) continue;
        try {
          t.vx.setRemoteVteps(t.vteps);
          await t.vx.applyAdds();
          routes = [...routes, ...t.vx.routesFor(t.blocks)];
        } catch (err) {
          t.ok = false;
          const problem = `VXLAN (${t.vx.deviceName}): ${describeError(err)}`;
          vxlanProblem ??= problem;
          problems.push(problem);
          this.schedule(1000);
        }
      }
      // The UDP backend runs on every node with a UDP pool (it receives even with nothing to send);
      // its routes wait until its device is up, the other routes go on without it.
      const udp = this.deps.udp;
      let udpProblem: string | undefined;
      if (udp !== undefined) {
        udp.setRemotes(kr.udpBlocks, kr.udpPeers);
        if (kr.udpBlocks.length > 0 || s.pools.some((p) => p.encapsulation === 'udp' && !p.disabled)) {
          try {
            await udp.ensureDevice();
            routes = [...routes, ...udp.routesFor(kr.udpBlocks)];
          } catch (err) {
            udpProblem = `UDP backend (${udp.device}): ${describeError(err)}`;
            problems.push(udpProblem);
            this.schedule(1000);
          }
        } else if (udp.isUp) {
          // The last UDP pool went: its routes left the desired set above; the device goes with the worker.
          await udp.stop();
        }
      }
      const vxDevices = new Set(tunnels.flatMap((t) => (t.vx === undefined ? [] : [t.vx.deviceName])));
      this.checkConverged();
      routes = this.convergence.withInherited(routes);
      const valid = routes.filter((r) => {
        try { validateDesiredRoute(r); return true; } catch (err) { problems.push(describeError(err)); return false; }
      });
      this.deps.routeTable.setDesiredRoutes(valid);
      const counts: Record<string, number> = { blackhole: 0, workload: 0, vxlan: 0, remote: 0, ...(udp === undefined ? {} : { udp: 0 }) };
      for (const r of valid) {
        const kind = r.type === 'blackhole' ? 'blackhole' : r.iface?.startsWith('cali') === true ? 'workload' : vxDevices.has(r.iface ?? '') ? 'vxlan'
          : r.iface !== undefined && r.iface === udp?.device ? 'udp' : 'remote';
        counts[kind] = (counts[kind] ?? 0) + 1;
      }
      this.routeCounts = counts;
      const res = await this.deps.routeTable.apply();
      this.lastApply = res;
      // Stale VTEP entries go only after the route table dropped the routes through them.
      for (const t of tunnels) {
        if (t.vx === undefined || !t.ok) continue;
        try { await t.vx.applyRemovals(); } catch (err) { problems.push(`VXLAN (${t.vx.deviceName}): ${describeError(err)}`); }
      }
      const notReady = res.failed > 0 ? `${res.failed} route(s) failed to apply` : vxlanProblem ?? udpProblem ?? ipipProblem;
      this.deps.health?.dataplane.report(notReady === undefined ? { live: true, ready: true } : { live: true, ready: false, detail: notReady });
    } else {
      this.deps.health?.dataplane.report({ live: true, ready: true, detail: 'no node address: no routes' });
    }
    this.applyRules(s, problems);
    this.reportBgp();
    const fresh = problems.filter((p) => !this.stats.problems.includes(p));
    for (const p of fresh) this.log.warn({ problem: p }, 'configuration not fully applied');
    this.stats.problems = problems;
    this.stats.syncs++;
    this.stats.lastSyncMs = this.deps.clock.now() - t0;
  }

  /** The pod MTU the CNI plugin gets (host MTU minus the largest enabled encapsulation). */
  get podMtu(): number | undefined { return this.deps.mtu?.current; }

  private rulesKey: string | undefined;
  private bgpError: string | undefined;
  /** Desired routes by kind at the last sync (for tortie_route_table_num_routes). */
  routeCounts: Record<string, number> = {};

  /** Rules follow the pools and node addresses; the programmer retries and repairs by itself. */
  private applyRules(s: Snapshot, problems: string[]): void {
    const rules = this.deps.rules;
    if (rules === undefined) return;
    const cfg = rulesConfig(s);
    const key = JSON.stringify(cfg);
    if (key === this.rulesKey) return;
    try {
      rules.setDesired(cfg);
      this.rulesKey = key;
    } catch (err) { problems.push(`rules: ${describeError(err)}`); return; }
    rules.apply().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'rules apply failed; the programmer retries'));
  }

  private async applySpeaker(cfg: SpeakerConfig): Promise<void> {
    if (this.speaker === undefined) {
      const sp = new Speaker(this.deps.speakerDeps, cfg);
      sp.onBestPathChange((c) => this.onBestPath(c));
      await sp.start();
      this.speaker = sp;
      this.speakerConfig = cfg;
      this.log.info({ asn: cfg.asn, routerId: cfg.routerId, peers: cfg.peers.map((p) => p.name) }, 'BGP speaker started');
      return;
    }
    if (JSON.stringify(cfg) === JSON.stringify(this.speakerConfig)) return;
    if (JSON.stringify(cfg.listen) !== JSON.stringify(this.speakerConfig?.listen)) {
      // A new listen address/port needs a new listener: restart the speaker (Cease to every peer).
      this.log.info({ from: this.speakerConfig?.listen, to: cfg.listen }, 'BGP listen address changed: restarting the speaker');
      const old = this.speaker;
      this.speaker = undefined;
      this.originated = new Map();
      this.learned.clear();
      await old.stop();
      await this.applySpeaker(cfg);
      return;
    }
    const r = this.speaker.reconfigure(cfg);
    this.speakerConfig = cfg;
    if (r.added.length + r.changed.length + r.removed.length > 0) this.log.info({ added: r.added, changed: r.changed, removed: r.removed }, 'BGP peers reconfigured');
  }

  private applyOriginated(routes: readonly Originated[]): void {
    const sp = this.speaker;
    if (sp === undefined || this.options.nodeIp === undefined) return;
    const next = new Map<string, string>();
    let changed = false;
    // A borrowed /32 is a workload's: its host interface, as Calico's kernel protocol sees it (BGPFilter `interface`).
    const ifaceOf = new Map<string, string>();
    if (routes.some((r) => r.kind === 'borrowed')) for (const ep of this.workloads.values()) for (const a of ep.addresses) ifaceOf.set(a.split('/')[0] ?? a, ep.iface);
    for (const r of routes) {
      // Next hop: the node's address of the prefix's family (v6 prefixes go over v6 sessions).
      const nh = r.prefix.includes(':') ? this.options.nodeIp6 : this.options.nodeIp;
      if (nh === undefined) continue;
      const iface = r.kind === 'borrowed' ? ifaceOf.get(r.prefix.split('/')[0] ?? '') : undefined;
      const key = JSON.stringify([r.communities, r.largeCommunities ?? [], iface ?? '']);
      next.set(r.prefix, key);
      if (this.originated.get(r.prefix) !== key) {
        sp.originate(r.prefix, { nextHop: nh, communities: r.communities, ...(r.largeCommunities === undefined ? {} : { largeCommunities: r.largeCommunities }),
          ...(iface === undefined ? {} : { interface: iface }) });
        changed = true;
      }
    }
    for (const p of this.originated.keys()) if (!next.has(p)) { sp.withdraw(p); changed = true; }
    this.originated = next;
    // The peers hear of a new block before this sync goes on to the kernel (route table dumps
    // and VXLAN entries can take milliseconds on a node with many pods).
    if (changed) sp.flush();
  }

  private onBestPath(c: BestPathChange): void {
    this.convergence.bestPathChanged(this.deps.clock.now());
    const b = c.best;
    if (b === undefined || b.from === 'local' || b.nextHop === 'self') this.learned.delete(c.prefix);
    else this.learned.set(c.prefix, { prefix: c.prefix, nextHop: b.nextHop, peer: b.from, ...(b.localPref === undefined ? {} : { localPref: b.localPref }), ...multipathHops(c) });
    this.schedule(0);
  }

  /**
   * Workload routes found at start-up become endpoints again, keyed by their IPAM handle (the
   * container id, so CNI CHECK/DEL find them), while IPAM says the address belongs to a
   * workload on this node; otherwise they are dropped.
   */
  private verifyAdopted(s: Snapshot): void {
    // Nothing adopted left to verify (every sync but the first few after a restart): skip the walk of every allocation.
    if (![...this.workloads.keys()].some((k) => k.startsWith('adopted:'))) return;
    const mine = new Map<string, string | undefined>();
    for (const b of s.blocks) for (const a of b.allocations) if (a.node === this.options.nodeName) mine.set(`${a.address}/${a.address.includes(':') ? 128 : 32}`, a.handle);
    for (const [k, w] of [...this.workloads]) {
      if (!k.startsWith('adopted:')) continue;
      this.workloads.delete(k);
      if (!w.addresses.every((a) => mine.has(a))) continue;
      const handle = mine.get(w.addresses[0] ?? '');
      const key = handle ?? k;
      const cur = this.workloads.get(key);
      this.workloads.set(key, cur === undefined ? w : { iface: cur.iface, addresses: [...new Set([...cur.addresses, ...w.addresses])] });
    }
  }

  private checkConverged(): void {
    if (this.convergence.converged) return;
    const now = this.deps.clock.now();
    const bgpOff = this.options.backend !== 'bird' || this.options.nodeIp === undefined;
    if (this.convergence.check(now, { bgpOff, peers: this.speaker?.status().map((p) => ({ state: p.state, families: p.families, eorReceived: p.eorReceived })) })) {
      this.log.info({ afterMs: Math.round(now - this.startedAt) }, 'converged: routes found at start-up now follow the desired state');
    } else {
      this.schedule(250);
    }
  }

  private reportBgp(): void {
    const h = this.deps.health?.bgp;
    if (h === undefined) return;
    if (this.options.backend !== 'bird') { h.report({ live: true, ready: true, detail: 'BGP off' }); return; }
    if (this.bgpError !== undefined) { h.report({ live: true, ready: false, detail: this.bgpError }); return; }
    h.report(bgpReadiness(this.speaker?.status() ?? [], this.deps.clock.now() - this.startedAt, this.options.bgpReadyThresholdMs));
  }

  /** BGP readiness is re-read every second, not only on syncs: its detail is at most 1 s old. */
  private armBgpHealth(): void {
    this.bgpHealthTimer = this.deps.clock.setTimeout(() => {
      if (this.stopped) return;
      this.reportBgp();
      this.armBgpHealth();
    }, 1000);
  }

  private bgpHealthTimer: TimerHandle | undefined;

  // ----- CNI endpoints -----

  setEndpoint(containerId: string, iface: string, addresses: readonly string[]): void {
    for (const [k, w] of this.workloads) if (k.startsWith('adopted:') && w.iface === iface) this.workloads.delete(k);
    this.workloads.set(containerId, { iface, addresses });
  }

  removeEndpoint(containerId: string): boolean { return this.workloads.delete(containerId); }

  endpoint(containerId: string): { readonly iface: string; readonly addresses: readonly string[] } | undefined { return this.workloads.get(containerId); }

  /** Every endpoint by container id (keys `adopted:…` are routes found at start, not yet matched to IPAM). */
  endpoints(): IterableIterator<[string, { readonly iface: string; readonly addresses: readonly string[] }]> { return this.workloads.entries(); }

  snapshot(): Snapshot | undefined { return this.lastSnapshot; }

  learnedRoutes(): LearnedRoute[] { return [...this.learned.values()]; }

  /**
   * Stop; kernel routes stay for the next start. By default a graceful restart: the BGP
   * connections close without a NOTIFICATION, so peers that took our graceful-restart capability
   * keep our routes (stale) until we are back and send End-of-RIB, or our restart time runs out.
   * `withdraw`: Cease/administrative shutdown (Hard Reset where the N bit is negotiated), so every
   * peer drops our routes now: a node leaving for good.
   */
  async stop(options: { readonly withdraw?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.scheduled?.cancel();
    this.underlayTimer?.cancel();
    this.heartbeat?.cancel();
    this.bgpHealthTimer?.cancel();
    this.unsubscribeLinks?.();
    await this.running;
    await this.bfd.stop({ leaving: options.withdraw === true }); // before BGP closes: tortie-bfd runs on, or AdminDown (RFC 5882 §3.2)
    await this.speaker?.stop({ graceful: options.withdraw !== true });
    this.deps.routeTable.stop();
    this.deps.rules?.stop();
  }
}
