/**
 * An in-memory kernel behind the `Netlink` interface, for unit tests of the route table and the
 * tunnel engine. It keys routes like the kernel (table, family, dst, metric), removes routes when
 * their link goes, delivers notifications asynchronously (microtasks), and lets a test change
 * state "behind our back" (`external*`), lose notifications with ENOBUFS (`injectOverflow`) and
 * fail the next operations with an errno (`failNext`).
 */
import { NetlinkError } from '../../felix/netlink/netlink-error.js';
import { kernelRouteKey, type AddressEntry, type FdbEntry, type KernelRoute, type LinkChange, type LinkInfo, type LinkSpec,
  type Netlink, type NetlinkEvent, type NeighbourEntry, type RouteOp, type Unsubscribe } from '../../felix/netlink/types.js';
import type { Family } from '../../common/prefix.js';

export type FakeOp = 'addLink' | 'deleteLink' | 'setLink' | 'addAddress' | 'deleteAddress' | 'replaceRoute' | 'deleteRoute'
  | 'setNeighbour' | 'deleteNeighbour' | 'setFdb' | 'deleteFdb' | 'listRoutes' | 'listLinks';

export interface FakeNetlinkOptions {
  /** Link kinds the "kernel" cannot create (EOPNOTSUPP), e.g. ['ipip'] like this machine. */
  readonly unsupportedKinds?: readonly string[];
}

export class FakeNetlink implements Netlink {
  private nextIndex = 1;
  readonly links = new Map<number, LinkInfo>();
  readonly addresses: AddressEntry[] = [];
  readonly routes = new Map<string, KernelRoute>();
  readonly neighbours = new Map<string, NeighbourEntry>();
  readonly fdb = new Map<string, FdbEntry>();
  /** Every mutating call we received, in order (not counting `external*`). */
  readonly calls: Array<{ op: FakeOp; arg: unknown }> = [];
  private readonly handlers = new Set<(e: NetlinkEvent) => void>();
  private pending: NetlinkEvent[] = [];
  private scheduled = false;
  private readonly failures: Array<{ op: FakeOp; errno: string }> = [];

  constructor(private readonly options: FakeNetlinkOptions = {}) {
    this.links.set(this.nextIndex, { index: this.nextIndex++, name: 'lo', kind: undefined, mtu: 65536, up: true, operUp: true });
  }

  // ----- test controls -----

  /** The next call of `op` fails with `errno` (queue several for several failures). */
  failNext(op: FakeOp, errno: string): void { this.failures.push({ op, errno }); }

  /** Notifications queued but not yet delivered are lost; subscribers get an overflow event. */
  injectOverflow(): void {
    this.pending = [{ type: 'overflow', reason: 'ENOBUFS (injected)' }];
    this.schedule();
  }

  /** Wait until every queued notification has been delivered. */
  async flushEvents(): Promise<void> {
    for (let i = 0; i < 10 && (this.pending.length > 0 || this.scheduled); i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Someone else adds or replaces a route (e.g. `ip route replace ... proto 80`). */
  externalReplaceRoute(r: KernelRoute): void {
    this.routes.set(kernelRouteKey(r), r);
    this.push({ type: 'route', action: 'new', route: r });
  }

  /** Someone else deletes a route (`ip route del`). */
  externalDeleteRoute(key: string): void {
    const r = this.routes.get(key);
    if (r === undefined) return;
    this.routes.delete(key);
    this.push({ type: 'route', action: 'del', route: r });
  }

  /** Add a link without going through `addLink` (a CNI plugin creating a veth). */
  externalAddLink(name: string, kind = 'veth', mtu = 1500): LinkInfo {
    const link: LinkInfo = { index: this.nextIndex++, name, kind, mtu, up: true, operUp: true };
    this.links.set(link.index, link);
    this.push({ type: 'link', action: 'new', link });
    return link;
  }

  externalDeleteLink(name: string): void {
    const l = [...this.links.values()].find((x) => x.name === name);
    if (l !== undefined) this.removeLink(l);
  }

  /** Someone else deletes a neighbour entry (`ip neigh del`). */
  externalDeleteNeighbour(ifindex: number, dst: string, notify = true): void {
    const n = this.neighbours.get(`${ifindex}|${dst}`);
    if (n === undefined) return;
    this.neighbours.delete(`${ifindex}|${dst}`);
    if (notify) this.push({ type: 'neighbour', action: 'del', neighbour: n });
  }

  /** Someone else deletes an FDB entry (`bridge fdb del`); `notify: false` = the event was lost. */
  externalDeleteFdb(ifindex: number, mac: string, dst: string, notify = true): void {
    const f = this.fdb.get(`${ifindex}|${mac}|${dst}`);
    if (f === undefined) return;
    this.fdb.delete(`${ifindex}|${mac}|${dst}`);
    if (notify) this.push({ type: 'fdb', action: 'del', fdb: f });
  }

  /** Someone else removes an address (`ip addr flush`). */
  externalDeleteAddress(ifindex: number, cidr: string): void {
    const i = this.addresses.findIndex((a) => a.ifindex === ifindex && a.cidr === cidr);
    if (i < 0) return;
    const [address] = this.addresses.splice(i, 1);
    if (address !== undefined) this.push({ type: 'address', action: 'del', address });
  }

  routesOfProtocol(protocol: number): KernelRoute[] {
    return [...this.routes.values()].filter((r) => r.protocol === protocol);
  }

  // ----- Netlink -----

  private check(op: FakeOp, arg: unknown, object: string, record = true): void {
    if (record) this.calls.push({ op, arg });
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw new NetlinkError(op, object, f?.errno ?? 'EIO');
    }
  }

  private push(e: NetlinkEvent): void {
    this.pending.push(e);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      for (const e of batch) for (const h of [...this.handlers]) h(e);
    });
  }

  async listLinks(): Promise<LinkInfo[]> { this.check('listLinks', undefined, 'links', false); return [...this.links.values()]; }
  async getLink(name: string): Promise<LinkInfo | undefined> { return [...this.links.values()].find((l) => l.name === name); }
  async getLinkByIndex(index: number): Promise<LinkInfo | undefined> { return [...this.links.values()].find((l) => l.index === index); }

  async addLink(spec: LinkSpec): Promise<void> {
    this.check('addLink', spec, `link ${spec.name}`);
    if (this.options.unsupportedKinds?.includes(spec.type)) throw new NetlinkError('add', `link ${spec.name} (${spec.type})`, 'EOPNOTSUPP');
    if ([...this.links.values()].some((l) => l.name === spec.name)) throw new NetlinkError('add', `link ${spec.name}`, 'EEXIST');
    const mk = (name: string): LinkInfo => {
      const base: LinkInfo = { index: this.nextIndex++, name, kind: spec.type, mtu: spec.mtu ?? 1500, up: false, operUp: false };
      if (spec.type === 'vxlan') return { ...base, vxlan: spec.vxlan, ...(spec.mac === undefined ? {} : { mac: spec.mac }) };
      return base;
    };
    const l = mk(spec.name);
    this.links.set(l.index, l);
    this.push({ type: 'link', action: 'new', link: l });
    if (spec.type === 'veth') {
      const p = mk(spec.peerName);
      this.links.set(p.index, p);
      this.push({ type: 'link', action: 'new', link: p });
    }
  }

  private removeLink(l: LinkInfo): void {
    this.links.delete(l.index);
    for (const [k, r] of this.routes) {
      if (r.ifindex === l.index || r.nexthops?.some((h) => h.ifindex === l.index)) {
        this.routes.delete(k);
        this.push({ type: 'route', action: 'del', route: r });
      }
    }
    for (const [k, n] of this.neighbours) if (n.ifindex === l.index) this.neighbours.delete(k);
    for (const [k, f] of this.fdb) if (f.ifindex === l.index) this.fdb.delete(k);
    this.push({ type: 'link', action: 'del', link: l });
  }

  async deleteLink(index: number): Promise<void> {
    this.check('deleteLink', index, `link #${index}`);
    const l = this.links.get(index);
    if (l === undefined) throw new NetlinkError('delete', `link #${index}`, 'ENODEV');
    this.removeLink(l);
  }

  async setLink(index: number, change: LinkChange): Promise<void> {
    this.check('setLink', { index, change }, `link #${index}`);
    const l = this.links.get(index);
    if (l === undefined) throw new NetlinkError('set', `link #${index}`, 'ENODEV');
    const n: LinkInfo = { ...l, ...(change.up === undefined ? {} : { up: change.up, operUp: change.up }),
      ...(change.mtu === undefined ? {} : { mtu: change.mtu }), ...(change.mac === undefined ? {} : { mac: change.mac }) };
    this.links.set(index, n);
    this.push({ type: 'link', action: 'new', link: n });
  }

  async listAddresses(family?: Family): Promise<AddressEntry[]> {
    return this.addresses.filter((a) => family === undefined || a.family === family);
  }

  async addAddress(entry: AddressEntry): Promise<void> {
    this.check('addAddress', entry, `address ${entry.cidr}`);
    if (!this.links.has(entry.ifindex)) throw new NetlinkError('add', `address ${entry.cidr}`, 'ENODEV');
    if (!this.addresses.some((a) => a.ifindex === entry.ifindex && a.cidr === entry.cidr)) this.addresses.push(entry);
    this.push({ type: 'address', action: 'new', address: entry });
  }

  async deleteAddress(entry: AddressEntry): Promise<void> {
    this.check('deleteAddress', entry, `address ${entry.cidr}`);
    const i = this.addresses.findIndex((a) => a.ifindex === entry.ifindex && a.cidr === entry.cidr);
    if (i < 0) throw new NetlinkError('delete', `address ${entry.cidr}`, 'EADDRNOTAVAIL');
    this.addresses.splice(i, 1);
    this.push({ type: 'address', action: 'del', address: entry });
  }

  async listRoutes(family: Family, table?: number, protocol?: number): Promise<KernelRoute[]> {
    this.check('listRoutes', family, 'routes', false);
    return [...this.routes.values()].filter((r) => r.family === family && (table === undefined || r.table === table)
      && (protocol === undefined || r.protocol === protocol));
  }

  async visitRoutes(family: Family, table: number | undefined, protocol: number | undefined, visit: (r: KernelRoute) => void): Promise<boolean> {
    for (const r of await this.listRoutes(family, table, protocol)) visit(r);
    return true;
  }

  async replaceRoute(route: KernelRoute): Promise<void> {
    this.check('replaceRoute', route, `route ${route.dst}`);
    const ifs = [route.ifindex, ...(route.nexthops ?? []).map((h) => h.ifindex)].filter((x): x is number => x !== undefined);
    if (ifs.some((i) => !this.links.has(i))) throw new NetlinkError('replace', `route ${route.dst}`, 'ENODEV');
    this.routes.set(kernelRouteKey(route), route);
    this.push({ type: 'route', action: 'new', route });
  }

  async deleteRoute(route: KernelRoute): Promise<void> {
    this.check('deleteRoute', route, `route ${route.dst}`);
    const k = kernelRouteKey(route);
    const r = this.routes.get(k);
    if (r === undefined || r.protocol !== route.protocol) throw new NetlinkError('delete', `route ${route.dst}`, 'ESRCH');
    this.routes.delete(k);
    this.push({ type: 'route', action: 'del', route: r });
  }

  async applyRoutes(ops: readonly RouteOp[]): Promise<Array<Error | undefined>> {
    const out: Array<Error | undefined> = [];
    for (const o of ops) {
      try {
        if (o.op === 'replace') await this.replaceRoute(o.route); else await this.deleteRoute(o.route);
        out.push(undefined);
      } catch (err) {
        out.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return out;
  }

  async listNeighbours(family: Family, ifindex?: number): Promise<NeighbourEntry[]> {
    return [...this.neighbours.values()].filter((n) => n.family === family && (ifindex === undefined || n.ifindex === ifindex));
  }

  async setNeighbour(entry: NeighbourEntry): Promise<void> {
    this.check('setNeighbour', entry, `neighbour ${entry.dst}`);
    if (!this.links.has(entry.ifindex)) throw new NetlinkError('set', `neighbour ${entry.dst}`, 'ENODEV');
    this.neighbours.set(`${entry.ifindex}|${entry.dst}`, entry);
    this.push({ type: 'neighbour', action: 'new', neighbour: entry });
  }

  async deleteNeighbour(entry: NeighbourEntry): Promise<void> {
    this.check('deleteNeighbour', entry, `neighbour ${entry.dst}`);
    if (!this.neighbours.delete(`${entry.ifindex}|${entry.dst}`)) throw new NetlinkError('delete', `neighbour ${entry.dst}`, 'ENOENT');
    this.push({ type: 'neighbour', action: 'del', neighbour: entry });
  }

  async listFdb(ifindex: number): Promise<FdbEntry[]> {
    return [...this.fdb.values()].filter((f) => f.ifindex === ifindex);
  }

  async setFdb(entry: FdbEntry): Promise<void> {
    this.check('setFdb', entry, `fdb ${entry.mac}`);
    if (!this.links.has(entry.ifindex)) throw new NetlinkError('set', `fdb ${entry.mac}`, 'ENODEV');
    this.fdb.set(`${entry.ifindex}|${entry.mac}|${entry.dst}`, entry);
    this.push({ type: 'fdb', action: 'new', fdb: entry });
  }

  async deleteFdb(entry: FdbEntry): Promise<void> {
    this.check('deleteFdb', entry, `fdb ${entry.mac}`);
    if (!this.fdb.delete(`${entry.ifindex}|${entry.mac}|${entry.dst}`)) throw new NetlinkError('delete', `fdb ${entry.mac}`, 'ENOENT');
    this.push({ type: 'fdb', action: 'del', fdb: entry });
  }

  subscribe(handler: (event: NetlinkEvent) => void): Unsubscribe {
    this.handlers.add(handler);
    return () => { this.handlers.delete(handler); };
  }

  close(): void { this.handlers.clear(); }
}
