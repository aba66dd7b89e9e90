/**
 * `Netlink` on real rtnetlink sockets (the `netlink` npm package). One socket for requests
 * (bounded in flight, 10 s timeout each, like Felix's netlink timeout), one for bulk route
 * writes (route-batch.ts); each carries an 'error' listener, as the package aborts the process
 * on an unhandled socket error.
 *
 * Notifications are read by a child process (notify-child.ts) because the package's native
 * binding aborts the process on ENOBUFS; the child's death is the overflow signal.
 *
 * Namespaces: the sockets live in the namespace of the calling process (Node has no setns).
 * The agent runs in the host namespace; tests run their code in a child started with
 * `ip netns exec NS node …` (see test/felix/routes/ns-agent.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRtNetlink, rt, FlagsNew, type RtNetlinkSocket } from 'netlink';
import type { Logger } from '../../common/logger.js';
import type { Family } from '../../common/prefix.js';
import { NetlinkError, errnoOf } from './netlink-error.js';
import { RequestQueue } from './request-queue.js';
import { RouteBatcher } from './route-batch.js';
import { RouteDumper } from './route-dump.js';
import { decodeRoutePayload, routeFingerprint, encodeRoute, decodeLink, encodeLinkSpec, decodeAddress, encodeAddress,
  decodeNeighbour, encodeNeighbour, decodeFdb, encodeFdb, AF_BRIDGE, afOf, macBytes, describeRoute } from './rt-codec.js';
import type { AddressEntry, RouteFingerprint, FdbEntry, KernelRoute, LinkChange, LinkInfo, LinkSpec, Netlink, NetlinkEvent,
  NeighbourEntry, RouteOp, Unsubscribe } from './types.js';

export interface RtNetlinkOptions {
  /** The notification reader script (default notify-child.js beside this module; a bundle names the unbundled one). */
  readonly notifyChild?: string;
  /** Requests in flight at once (default 64). */
  readonly maxInFlight?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Receive buffer of the notification socket (default 8 MiB). */
  readonly notifyRecvBuffer?: number;
}

const NOTIFY_CHILD = fileURLToPath(new URL('./notify-child.js', import.meta.url));
const MulticastGroups = { LINK: 1, NEIGH: 3, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV6_IFADDR: 9, IPV6_ROUTE: 11 } as const;
const NEWLINK = 16, DELLINK = 17, NEWADDR = 20, DELADDR = 21, NEWROUTE = 24, DELROUTE = 25, NEWNEIGH = 28, DELNEIGH = 29;
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
const NLMSG_ERROR = 2;
const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;

export class RtNetlink implements Netlink {
  private readonly sock: RtNetlinkSocket;
  private readonly queue: RequestQueue;
  /** The kernel runs one dump per netlink socket at a time (a second one fails with EBUSY). */
  private readonly dumpLock = new RequestQueue(1);
  private readonly timeoutMs: number;
  private notify: ChildProcess | undefined;
  private readonly handlers = new Set<(e: NetlinkEvent) => void>();
  private closed = false;
  private batcher: RouteBatcher | undefined;
  private dumper: RouteDumper | undefined;

  constructor(private readonly deps: { readonly logger: Logger }, private readonly options: RtNetlinkOptions = {}) {
    this.queue = new RequestQueue(options.maxInFlight ?? 64);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.sock = createRtNetlink({ recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.sock.socket.on('error', (err: unknown) => {
      this.deps.logger.warn({ err: errnoOf(err) }, 'netlink request socket error; resyncing');
      this.emit({ type: 'overflow', reason: `request socket error ${errnoOf(err)}` });
    });
    this.sock.on('invalid', (err: unknown, msgs?: ReadonlyArray<{ type: number; data: Buffer }>) => {
      // The library asks for an ACK on every request and resolves a single-object GET on the
      // reply, so the ACK (NLMSG_ERROR with error 0) that follows arrives unclaimed: not a problem.
      if (msgs !== undefined && msgs.length > 0 && msgs.every((m) => m.type === NLMSG_ERROR && m.data.length >= 4 && m.data.readInt32LE(0) === 0)) return;
      this.deps.logger.warn({ err: String(err) }, 'netlink: unparsable message dropped');
    });
  }

  private async req<T>(operation: string, object: string, fn: () => Promise<T>): Promise<T> {
    if (operation === 'dump') return this.dumpLock.run(() => this.queued(operation, object, fn));
    return this.queued(operation, object, fn);
  }

  private async queued<T>(operation: string, object: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      try {
        return await fn();
      } catch (err) {
        throw new NetlinkError(operation, object, errnoOf(err), err);
      }
    });
  }

  private get opts(): { timeout: number } { return { timeout: this.timeoutMs }; }

  async listLinks(): Promise<LinkInfo[]> {
    const msgs = await this.req('dump', 'links', () => this.sock.getLinks({}, {}, this.opts));
    return msgs.map(decodeLink);
  }

  /** One RTM_GETLINK by name, not a dump of every link (a node has a veth per pod). */
  async getLink(name: string): Promise<LinkInfo | undefined> {
    return this.getOneLink(`link ${name}`, () => this.sock.getLink({}, { ifname: name }, this.opts));
  }

  async getLinkByIndex(index: number): Promise<LinkInfo | undefined> {
    return this.getOneLink(`link #${index}`, () => this.sock.getLink({ index }, {}, this.opts));
  }

  private async getOneLink(object: string, fn: () => Promise<rt.LinkMessage[]>): Promise<LinkInfo | undefined> {
    try {
      const m = (await this.req('get', object, fn))[0];
      return m === undefined ? undefined : decodeLink(m);
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 'ENODEV') return undefined;
      throw err;
    }
  }

  async addLink(spec: LinkSpec): Promise<void> {
    const { data, attrs } = encodeLinkSpec(spec);
    await this.req('add', `link ${spec.name} (${spec.type})`, () => this.sock.newLink(data, attrs, { ...this.opts, flags: CREATE_EXCL }));
  }

  async deleteLink(index: number): Promise<void> {
    await this.req('delete', `link #${index}`, () => this.sock.delLink({ index }, {}, this.opts));
  }

  async setLink(index: number, change: LinkChange): Promise<void> {
    const data: rt.Link = change.up === undefined ? { index } : { index, flags: change.up ? { up: true } : {}, change: { up: true } };
    const attrs: { mtu?: number; address?: Buffer } = {};
    if (change.mtu !== undefined) attrs.mtu = change.mtu;
    if (change.mac !== undefined) attrs.address = macBytes(change.mac);
    await this.req('set', `link #${index} ${JSON.stringify(change)}`, () => this.sock.setLink(data, attrs, this.opts));
  }

  async listAddresses(family?: Family): Promise<AddressEntry[]> {
    const msgs = await this.req('dump', 'addresses', () => this.sock.getAddresses(family === undefined ? {} : { family: afOf(family) }, {}, this.opts));
    return msgs.map(decodeAddress).filter((a): a is AddressEntry => a !== undefined && (family === undefined || a.family === family));
  }

  async addAddress(entry: AddressEntry): Promise<void> {
    const { data, attrs } = encodeAddress(entry);
    await this.req('add', `address ${entry.cidr} on #${entry.ifindex}`, () => this.sock.newAddress(data, attrs, { ...this.opts, flags: CREATE_REPLACE }));
  }

  async deleteAddress(entry: AddressEntry): Promise<void> {
    const { data, attrs } = encodeAddress(entry);
    await this.req('delete', `address ${entry.cidr} on #${entry.ifindex}`, () => this.sock.delAddress(data, attrs, this.opts));
  }

  async listRoutes(family: Family, table?: number, protocol?: number): Promise<KernelRoute[]> {
    // A dump interrupted by concurrent changes (NLM_F_DUMP_INTR) is inconsistent: retry it.
    for (let attempt = 1; ; attempt++) {
      const out: KernelRoute[] = [];
      if (await this.visitRoutes(family, table, protocol, (r) => out.push(r))) return out;
      if (attempt >= 5) throw new NetlinkError('dump', `IPv${family} routes`, 'EINTR');
      this.deps.logger.debug({ attempt }, 'route dump interrupted by concurrent changes; retrying');
    }
  }

  async visitRoutes(family: Family, table: number | undefined, protocol: number | undefined, visit: (r: KernelRoute, fp?: RouteFingerprint) => void,
    known?: (fp: RouteFingerprint) => boolean): Promise<boolean> {
    // Raw dump on its own socket, decoded in place (route-dump.ts): routes of other protocols
    // are skipped before their attributes are parsed, and no per-message objects are built;
    // routes the caller knows by fingerprint are not decoded at all.
    this.dumper ??= new RouteDumper({ timeoutMs: this.timeoutMs });
    const dumper = this.dumper;
    const fp: RouteFingerprint = { h1: 0, h2: 0 };
    const interrupted = await this.dumpLock.run(() => dumper.dump(family, (buf, start, end) => {
      if (protocol !== undefined && end - start >= 12 && buf[start + 5] !== protocol) return;
      if (known !== undefined) {
        routeFingerprint(buf, start, end, fp);
        if (known(fp)) return;
      }
      const r = decodeRoutePayload(buf, protocol, start, end);
      if (r !== undefined && r.family === family && (table === undefined || r.table === table)) visit(r, known !== undefined ? fp : undefined);
    }));
    return !interrupted;
  }

  async replaceRoute(route: KernelRoute): Promise<void> {
    const { data, attrs } = encodeRoute(route);
    await this.req('replace', `route ${describeRoute(route)}`, () => this.sock.newRoute(data, attrs, { ...this.opts, flags: CREATE_REPLACE }));
  }

  async deleteRoute(route: KernelRoute): Promise<void> {
    // Delete by key only (table, dst, metric, protocol): any next hop matches.
    const { data, attrs } = encodeRoute({ family: route.family, dst: route.dst, table: route.table, protocol: route.protocol,
      type: route.type, scope: 'nowhere', metric: route.metric, onlink: false });
    await this.req('delete', `route ${describeRoute(route)}`, () => this.sock.delRoute(data, attrs, this.opts));
  }

  async applyRoutes(ops: readonly RouteOp[]): Promise<Array<Error | undefined>> {
    if (ops.length === 0) return [];
    this.batcher ??= new RouteBatcher({ logger: this.deps.logger }, { timeoutMs: this.timeoutMs });
    return this.batcher.run(ops);
  }

  async listNeighbours(family: Family, ifindex?: number): Promise<NeighbourEntry[]> {
    const msgs = await this.req('dump', 'neighbours', () => this.sock.getNeighbors({ family: afOf(family) }, {}, this.opts));
    return msgs.map((m) => decodeNeighbour(m)).filter((n): n is NeighbourEntry => n !== undefined && n.family === family
      && (ifindex === undefined || n.ifindex === ifindex));
  }

  async setNeighbour(entry: NeighbourEntry): Promise<void> {
    const { data, attrs } = encodeNeighbour(entry);
    await this.req('set', `neighbour ${entry.dst} lladdr ${entry.mac} on #${entry.ifindex}`, () => this.sock.newNeighbor(data, attrs, { ...this.opts, flags: CREATE_REPLACE }));
  }

  async deleteNeighbour(entry: NeighbourEntry): Promise<void> {
    const { data, attrs } = encodeNeighbour(entry);
    await this.req('delete', `neighbour ${entry.dst} on #${entry.ifindex}`, () => this.sock.delNeighbor(data, attrs, this.opts));
  }

  async listFdb(ifindex: number): Promise<FdbEntry[]> {
    const msgs = await this.req('dump', `fdb of #${ifindex}`, () => this.sock.getNeighbors({ family: AF_BRIDGE }, {}, this.opts));
    return msgs.map(decodeFdb).filter((f): f is FdbEntry => f !== undefined && f.ifindex === ifindex);
  }

  async setFdb(entry: FdbEntry): Promise<void> {
    const { data, attrs } = encodeFdb(entry);
    await this.req('set', `fdb ${entry.mac} dst ${entry.dst} on #${entry.ifindex}`, () => this.sock.newNeighbor(data, attrs, { ...this.opts, flags: CREATE_REPLACE }));
  }

  async deleteFdb(entry: FdbEntry): Promise<void> {
    const { data, attrs } = encodeFdb(entry);
    await this.req('delete', `fdb ${entry.mac} dst ${entry.dst} on #${entry.ifindex}`, () => this.sock.delNeighbor(data, attrs, this.opts));
  }

  subscribe(handler: (event: NetlinkEvent) => void): Unsubscribe {
    this.handlers.add(handler);
    if (this.notify === undefined) this.openNotify();
    return () => {
      this.handlers.delete(handler);
      if (this.handlers.size === 0) this.closeNotify();
    };
  }

  /**
   * Notifications come from a child process (notify-child.ts): the native binding aborts the
   * process on ENOBUFS, so the socket must not live in ours. The child's exit, for whatever
   * reason, is an `overflow` (resync) and a new child is started.
   */
  private openNotify(): void {
    // NEIGH carries neighbour and bridge FDB changes: a VTEP entry deleted behind our back.
    const groups = [MulticastGroups.LINK, MulticastGroups.NEIGH, MulticastGroups.IPV4_IFADDR, MulticastGroups.IPV6_IFADDR,
      MulticastGroups.IPV4_ROUTE, MulticastGroups.IPV6_ROUTE];
    const child = spawn(process.execPath, [this.options.notifyChild ?? NOTIFY_CHILD, String(this.options.notifyRecvBuffer ?? 8 << 20), groups.join(',')],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    this.notify = child;
    let pending: Buffer = Buffer.alloc(0);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-500); });
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      while (pending.length - off >= 8) {
        const len = pending.readUInt32LE(off);
        const type = pending.readUInt16LE(off + 4);
        if (pending.length - off - 8 < len) break;
        const data = pending.subarray(off + 8, off + 8 + len);
        off += 8 + len;
        if (type === 0) { this.emit({ type: 'subscribed' }); continue; } // the child has joined the groups
        try {
          this.dispatch(type, data);
        } catch (err) {
          this.deps.logger.warn({ err: String(err) }, 'netlink: bad notification');
          this.emit({ type: 'overflow', reason: 'bad notification' });
        }
      }
      pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
    });
    child.on('exit', (code, signal) => {
      if (this.notify !== child) return;
      this.notify = undefined;
      if (this.closed || this.handlers.size === 0) return;
      this.deps.logger.warn({ code, signal, stderr: stderr.trim() }, 'netlink notification reader stopped (events lost); resyncing');
      this.emit({ type: 'overflow', reason: `notification reader exited (${signal ?? code}): ${stderr.trim().split('\n').pop() ?? ''}` });
      // Restart soon, but never in a tight loop.
      const t = setTimeout(() => { if (!this.closed && this.handlers.size > 0 && this.notify === undefined) this.openNotify(); }, 100);
      t.unref();
    });
    child.on('error', (err) => this.deps.logger.error({ err: String(err) }, 'cannot start netlink notification reader'));
    // While subscribed, the reader keeps the event loop alive; unsubscribe or close() ends it.
  }

  private dispatch(type: number, data: Buffer): void {
    if (type === NEWROUTE || type === DELROUTE) {
      const route = decodeRoutePayload(data);
      if (route !== undefined) this.emit({ type: 'route', action: type === NEWROUTE ? 'new' : 'del', route });
      return;
    }
    const msg = rt.parseMessage(type, data);
    switch (type) {
      case NEWLINK: case DELLINK:
        if (msg.kind === 'link') this.emit({ type: 'link', action: type === NEWLINK ? 'new' : 'del', link: decodeLink(msg) });
        return;
      case NEWADDR: case DELADDR: {
        if (msg.kind !== 'address') return;
        const address = decodeAddress(msg);
        if (address !== undefined) this.emit({ type: 'address', action: type === NEWADDR ? 'new' : 'del', address });
        return;
      }
      case NEWNEIGH: case DELNEIGH: {
        if (msg.kind !== 'neighbor') return;
        const action = type === NEWNEIGH ? 'new' : 'del';
        if (msg.data.family === AF_BRIDGE) {
          const fdb = decodeFdb(msg);
          if (fdb !== undefined) this.emit({ type: 'fdb', action, fdb });
          return;
        }
        const neighbour = decodeNeighbour(msg, true);
        if (neighbour !== undefined) this.emit({ type: 'neighbour', action, neighbour });
        return;
      }
      default:
        // Other message types are not subscribed to.
    }
  }

  private closeNotify(): void {
    const c = this.notify;
    this.notify = undefined;
    if (c !== undefined) { c.stdin?.end(); c.kill('SIGTERM'); }
  }

  private emit(event: NetlinkEvent): void {
    for (const h of [...this.handlers]) {
      try { h(event); } catch (err) { this.deps.logger.error({ err: String(err) }, 'netlink event handler threw'); }
    }
  }

  close(): void {
    this.closed = true;
    this.closeNotify();
    this.batcher?.close();
    this.dumper?.close();
    try { this.sock.socket.close(); } catch { /* already closed */ }
  }
}
