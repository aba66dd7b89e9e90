/**
 * Routes through gateways into a chosen table and protocol: tortie-bgpd's `kernel` section
 * (BIRD's `protocol kernel`). Callers hand prefixes with their next-hop addresses (one, or
 * several for ECMP); each next hop goes out of the interface whose connected subnet holds it
 * (longest match, as BIRD resolves a direct gateway), and the routes are programmed by the same
 * RouteTable tortie-node uses. A next hop on no connected subnet is resolved recursively through
 * the kernel's route to it in the main table (recursive-next-hop.ts, BIRD `gateway recursive`),
 * followed as that table changes; with no such route it is left out, with a warning. An IPv6
 * link-local next hop comes with its interface ("fe80::1%eth0", the caller's session link). Nothing is written (nor
 * removed) before `program()`: routes a previous run left (`persist`, a crash) stay until the
 * caller has relearned its table. `stop()` removes the routes unless `persist` (BIRD `persist`).
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { parseAddress, parsePrefix, prefixContains, type Family, type IpAddress, type Prefix } from '../../common/prefix.js';
import type { Netlink, Unsubscribe } from '../netlink/types.js';
import { LogLimiter } from '../../common/log-limiter.js';
import { RouteTable } from './route-table.js';
import { ecmpRoute, type DesiredNextHop, type DesiredRoute } from './route.js';
import { resolveRecursive, resolverTable, type ResolverTable } from './recursive-next-hop.js';

export interface GatewayRoutesOptions {
  /** Kernel table (default 254, main). */
  readonly table?: number;
  /** The protocol number we own in that table: every route of it there is ours to remove. */
  readonly protocol: number;
  readonly families?: readonly Family[];
}

export interface GatewayRoutesDeps { readonly netlink: Netlink; readonly clock: Clock; readonly logger: Logger }

interface Subnet { readonly prefix: Prefix; readonly ifindex: number }

const MAIN_TABLE = 254;

const hopsKey = (hops: readonly DesiredNextHop[] | undefined): string =>
  (hops === undefined ? '' : hops.map((h) => `${h.gateway ?? ''}@${h.iface}${h.onlink === true ? '/onlink' : ''}`).join(','));

export class GatewayRoutes {
  readonly routes: RouteTable;
  private readonly wanted = new Map<string, readonly string[]>();
  private subnets: Subnet[] = [];
  private names = new Map<number, string>();
  private unsubscribe: Unsubscribe | undefined;
  private applyTimer: TimerHandle | undefined;
  private refreshTimer: TimerHandle | undefined;
  private programming = false;
  private readonly log: Logger;
  private readonly limiter = new LogLimiter({ burst: 1 });
  private readonly own: { readonly table: number; readonly protocol: number };
  private readonly families: readonly Family[];
  /** The main table's routes that may resolve a next hop; read once a next hop needed them. */
  private igp: ResolverTable | undefined;
  private igpWanted = false;
  /** Recursive next hops seen, with what they resolved to (hopsKey). */
  private readonly recursed = new Map<string, string>();
  private refreshAll = false;

  constructor(private readonly deps: GatewayRoutesDeps, options: GatewayRoutesOptions) {
    this.log = deps.logger.child({ component: 'kernel-routes' });
    this.own = { table: options.table ?? 254, protocol: options.protocol };
    this.families = options.families ?? [4, 6];
    this.routes = new RouteTable(deps, { table: this.own.table, protocol: options.protocol, families: this.families, cleanupGraceMs: 0 });
  }

  /** Read the connected subnets and follow address and link changes. */
  async start(): Promise<void> {
    await this.refresh();
    this.unsubscribe = this.deps.netlink.subscribe((e) => {
      // `subscribed`: changes between the first read and the subscription (the notification
      // reader is a child process, seconds to start on a loaded host) were missed: read again.
      if (e.type === 'address' || e.type === 'link' || e.type === 'overflow' || e.type === 'subscribed') this.scheduleRefresh();
      // A route that may resolve a next hop changed: resolve again (our own writes do not count).
      else if (e.type === 'route' && this.igp !== undefined && e.route.table === MAIN_TABLE
        && !(e.route.table === this.own.table && e.route.protocol === this.own.protocol)) this.scheduleRefresh(true);
    });
  }

  /** Start the reconciler: from now on the kernel follows set(), and routes of ours nobody set go. */
  program(): void {
    if (this.programming) return;
    this.programming = true;
    this.routes.start();
  }

  /** The routes for `prefix` go through `nextHops` (best first); none or undefined: no route. */
  set(prefix: string, nextHops: readonly string[] | undefined): void {
    if (nextHops === undefined || nextHops.length === 0) {
      if (!this.wanted.delete(prefix)) return;
      this.routes.deleteRoute(prefix);
    } else {
      this.wanted.set(prefix, nextHops);
      const r = this.resolve(prefix, nextHops);
      if (r === undefined) this.routes.deleteRoute(prefix); else this.routes.setRoute(r);
    }
    this.scheduleApply();
  }

  /** Stop following the kernel; remove our routes unless `persist`. */
  async stop(persist: boolean): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.applyTimer?.cancel();
    this.refreshTimer?.cancel();
    this.routes.stop();
    if (persist || !this.programming) return;
    this.routes.setDesiredRoutes([]);
    const r = await this.routes.apply();
    if (r.failed > 0) this.log.warn({ failed: r.failed }, 'some kernel routes could not be removed at stop');
  }

  private resolve(prefix: string, nextHops: readonly string[]): DesiredRoute | undefined {
    const hops: DesiredNextHop[] = [];
    for (const nh of nextHops) {
      const pct = nh.indexOf('%');
      if (pct >= 0) {
        // A link-local next hop with its link ("fe80::1%eth0"): the caller knows the link (the
        // session's interface); no subnet lookup, every interface has fe80::/64.
        const gateway = nh.slice(0, pct), iface = nh.slice(pct + 1);
        if (![...this.names.values()].includes(iface)) { this.log.debug({ prefix, nextHop: nh }, 'next hop on a missing interface: left out'); continue; }
        if (!hops.some((h) => h.gateway === gateway && h.iface === iface)) hops.push({ iface, gateway });
        continue;
      }
      const a = parseAddress(nh);
      if (a.family === 6 && a.bytes[0] === 0xfe && ((a.bytes[1] ?? 0) & 0xc0) === 0x80) {
        const more = this.limiter.take('link-local');
        if (more) this.log.warn({ ...more, prefix, nextHop: nh }, 'IPv6 link-local next hop without its interface: left out');
        continue;
      }
      let best: Subnet | undefined;
      for (const s of this.subnets) if (s.prefix.family === a.family && prefixContains(s.prefix, a) && (best === undefined || s.prefix.length > best.prefix.length)) best = s;
      const iface = best === undefined ? undefined : this.names.get(best.ifindex);
      if (iface === undefined) {
        const via = this.viaKernel(a, nh);
        if (via !== undefined) {
          for (const h of via) if (!hops.some((x) => x.gateway === h.gateway && x.iface === h.iface)) hops.push(h);
          continue;
        }
        if (this.igp === undefined) continue; // not looked up yet: resolved again once the main table is read
        // One warning line per minute, not one per route.
        const more = this.limiter.take('unconnected');
        if (more) {
          this.log.warn({ ...more, prefix, nextHop: nh },
            'next hop on no connected subnet and no route to it in the main table (the default route does not count): route left out until one appears');
        }
        continue;
      }
      if (!hops.some((h) => h.gateway === nh)) hops.push({ iface, gateway: nh });
    }
    return hops.length === 0 ? undefined : ecmpRoute(prefix, hops);
  }

  /** The kernel's next hops towards `nh` (recursive); the first call reads the main table. */
  private viaKernel(a: IpAddress, nh: string): DesiredNextHop[] | undefined {
    if (this.igp === undefined) {
      // Read on the next refresh (a refresh under way may have started without it: ask again).
      this.igpWanted = true;
      this.scheduleRefresh();
      return undefined;
    }
    const hops = resolveRecursive(this.igp, a, nh, this.names);
    this.recursed.set(nh, hopsKey(hops));
    return hops;
  }

  private scheduleApply(): void {
    if (this.applyTimer !== undefined || !this.programming) return;
    this.applyTimer = this.deps.clock.setTimeout(() => {
      this.applyTimer = undefined;
      this.routes.apply().then((r) => { if (r.failed > 0) this.log.warn({ failed: r.failed }, 'kernel route apply failed; retried on resync'); },
        (err: unknown) => this.log.warn({ err: String(err) }, 'kernel route apply failed'));
    }, 0);
  }

  /**
   * `routesOnly`: only a main-table route changed. Then every prefix is resolved again only if
   * the way to one of the recursive next hops changed: another protocol's churn in the main
   * table must not make us walk a large table.
   */
  private scheduleRefresh(routesOnly = false): void {
    if (!routesOnly) this.refreshAll = true;
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = this.deps.clock.setTimeout(() => {
      this.refreshTimer = undefined;
      const everything = this.refreshAll;
      this.refreshAll = false;
      this.refresh().then(() => {
        if (!everything && [...this.recursed].every(([nh, was]) => hopsKey(this.viaKernel(parseAddress(nh), nh)) === was)) return;
        const all: DesiredRoute[] = [];
        for (const [p, hops] of this.wanted) { const r = this.resolve(p, hops); if (r !== undefined) all.push(r); }
        this.routes.setDesiredRoutes(all);
        this.scheduleApply();
      }, (err: unknown) => { this.log.warn({ err: String(err) }, 'reading addresses failed; retrying'); this.scheduleRefresh(); });
    }, 50);
  }

  private async refresh(): Promise<void> {
    const [links, addrs, igp] = await Promise.all([this.deps.netlink.listLinks(), this.deps.netlink.listAddresses(),
      this.igpWanted ? Promise.all(this.families.map((f) => this.deps.netlink.listRoutes(f, MAIN_TABLE))) : undefined]);
    if (igp !== undefined) this.igp = resolverTable(igp.flat(), this.own);
    this.names = new Map(links.map((l) => [l.index, l.name]));
    this.subnets = addrs.flatMap((a) => {
      try { return [{ prefix: parsePrefix(a.cidr, { allowHostBits: true }), ifindex: a.ifindex }]; } catch { return []; }
    });
  }
}
