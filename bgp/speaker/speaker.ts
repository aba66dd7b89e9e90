/**
 * BgpSpeaker: the in-process BGP speaker that tortie-node and tortie-bgpd embed. Owns the
 * listener, one PeerSession per configured peer, the Adj-RIBs-In, the Loc-RIB (best path with
 * a reason) and the Adj-RIBs-Out; applies UPDATEs (RFC 7606 treat-as-withdraw removes what the
 * peer had installed, never sends a NOTIFICATION), exports batched UPDATEs + End-of-RIB, and
 * answers ROUTE-REFRESH (RFC 2918, RFC 7313 BoRR/EoRR).
 */
import type { Server, Socket } from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { formatAddress, formatPrefix, ipv4ToInt, parseAddress, parsePrefix, type Prefix } from '../../common/prefix.js';
import { CeaseSubcode } from '../wire/errors.js';
import { Afi, AsPathSegmentType, type AsPathSegment, type CodecContext, type Origin, type PathAttributes, type UpdateMessage } from '../wire/types.js';
import { applyPolicy } from './apply-policy.js';
import { attributesKey, encodeAnnounce, encodeEndOfRib, encodeRouteRefresh, encodeWithdraw, type Decoded } from './codec.js';
import { peerConfigEquals, type PeerConfig, type SpeakerConfig } from './peer-config.js';
import { PeerSession, type ConnectOptions, type FsmState } from './peer-session.js';
import { compareCandidates, type Candidate } from './best-path.js';

export interface SpeakerDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly connect: (o: ConnectOptions) => Socket;
  /** Start listening; resolve once bound (reject with the bind error). */
  readonly listen: (o: { address: string; port: number }, onConnection: (s: Socket) => void) => Promise<Server>;
}

/** What a caller may set on an originated route. */
export interface OriginateAttrs {
  readonly nextHop?: string;
  readonly communities?: readonly number[];
  readonly med?: number;
  readonly localPref?: number;
  readonly origin?: Origin;
}

export interface RouteView {
  readonly prefix: string;
  /** Peer name, or "local" for originated routes. */
  readonly from: string;
  readonly fromAddress?: string;
  readonly nextHop: string;
  readonly asPath: readonly number[];
  readonly origin: 'IGP' | 'EGP' | 'incomplete';
  readonly med?: number;
  readonly localPref?: number;
  readonly communities: readonly string[];
  readonly ibgp: boolean;
  readonly accepted: boolean;
  readonly best: boolean;
  /** Why the best route won over this one, or why this one is best ("only route", ...). */
  readonly reason: string;
  readonly since: number;
}

export interface BestPathChange {
  readonly prefix: string;
  /** undefined: the prefix is gone. */
  readonly best: RouteView | undefined;
}

export interface PeerStatus {
  readonly name: string;
  readonly address: string;
  readonly asn: number;
  readonly localAsn: number;
  readonly description?: string;
  readonly state: FsmState;
  readonly enabled: boolean;
  /** Wall-clock ms of the last state change. */
  readonly since: number;
  readonly uptimeSeconds: number;
  readonly lastError?: string;
  readonly holdTime?: number;
  readonly keepalive?: number;
  readonly configuredHoldTime: number;
  readonly remoteId?: string;
  readonly localAddress?: string;
  readonly capabilities: readonly string[];
  readonly families: readonly string[];
  readonly prefixes: { readonly received: number; readonly accepted: number; readonly advertised: number };
  readonly establishedTransitions: number;
  readonly messages: PeerSession['stats'];
}

const ORIGIN_NAMES = ['IGP', 'EGP', 'incomplete'] as const;
const LOCAL = 'local';
const NO_EXPORT = 0xffffff01, NO_ADVERTISE = 0xffffff02;

interface LocEntry { best: Candidate | undefined; reason: string }

export class BgpSpeaker {
  private readonly peers = new Map<string, PeerSession>();
  private readonly adjIn = new Map<string, Map<string, Candidate>>();
  private readonly adjOut = new Map<string, Map<string, { readonly ak: string; readonly prefix: Prefix }>>();
  private readonly groupIds = new Map<string, number>();
  private readonly originated = new Map<string, Candidate>();
  private readonly loc = new Map<string, LocEntry>();
  private readonly pending = new Map<string, Set<string>>();
  private readonly listeners: Array<(c: BestPathChange) => void> = [];
  private flushScheduled = false;
  private server: Server | undefined;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly deps: SpeakerDeps, private config: SpeakerConfig) {
    this.log = deps.logger.child({ component: 'bgp-speaker' });
  }

  get routerId(): string { return this.config.routerId; }
  get asn(): number { return this.config.asn; }

  /** Bind the listener (port 0 disables it) and start every peer. */
  async start(): Promise<void> {
    if (this.config.listen.port !== 0) {
      this.server = await this.deps.listen(this.config.listen, (s) => this.onIncoming(s));
    }
    for (const p of this.config.peers) this.addPeer(p);
  }

  /** The bound listen port (useful with port 0 in tests). */
  listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  private onIncoming(s: Socket): void {
    const remote = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
    const peer = [...this.peers.values()].find((p) => p.config.address === remote);
    if (!peer) {
      this.log.warn({ remote }, 'unexpected connect from unknown address');
      s.destroy();
      return;
    }
    peer.accept(s);
  }

  addPeer(config: PeerConfig): void {
    if (this.peers.has(config.name)) throw new Error(`peer ${config.name} already exists`);
    const s = new PeerSession(config, { asn: this.config.asn, routerId: this.config.routerId },
      { clock: this.deps.clock, logger: this.deps.logger, connect: this.deps.connect },
      { established: (p) => this.onEstablished(p), message: (p, d) => this.onMessage(p, d), down: (p) => this.onDown(p) });
    this.peers.set(config.name, s);
    this.adjIn.set(config.name, new Map());
    this.adjOut.set(config.name, new Map());
    s.start();
  }

  /** Reset the session only when the config actually changed (Cease/6 other configuration change). */
  updatePeer(config: PeerConfig): boolean {
    const s = this.peers.get(config.name);
    if (!s) { this.addPeer(config); return true; }
    if (peerConfigEquals(s.config, config)) return false;
    s.stop(CeaseSubcode.OTHER_CONFIGURATION_CHANGE, 'configuration changed');
    this.onDown(s);
    s.config = config;
    s.start();
    return true;
  }

  /** Cease/3 peer de-configured, then forget the peer and its routes. */
  removePeer(name: string): void {
    const s = this.peers.get(name);
    if (!s) return;
    s.stop(CeaseSubcode.PEER_DECONFIGURED, 'peer de-configured');
    this.onDown(s);
    this.peers.delete(name);
    this.adjIn.delete(name);
    this.adjOut.delete(name);
    this.pending.delete(name);
  }

  /** Apply a whole new config: only added, changed and removed peers are touched. */
  reconfigure(next: SpeakerConfig): { added: string[]; changed: string[]; removed: string[]; unchanged: string[] } {
    const r = { added: [] as string[], changed: [] as string[], removed: [] as string[], unchanged: [] as string[] };
    if (next.asn !== this.config.asn || next.routerId !== this.config.routerId) {
      // Identity change: every session must restart.
      for (const name of [...this.peers.keys()]) { this.removePeer(name); r.removed.push(name); }
      this.config = next;
      for (const p of next.peers) { this.addPeer(p); r.added.push(p.name); }
      return r;
    }
    const names = new Set(next.peers.map((p) => p.name));
    for (const name of [...this.peers.keys()]) if (!names.has(name)) { this.removePeer(name); r.removed.push(name); }
    for (const p of next.peers) {
      if (!this.peers.has(p.name)) { this.addPeer(p); r.added.push(p.name); } else if (this.updatePeer(p)) r.changed.push(p.name); else r.unchanged.push(p.name);
    }
    this.config = next;
    return r;
  }

  enablePeer(name: string): void { this.mustPeer(name).start(); }
  disablePeer(name: string): void { const s = this.mustPeer(name); s.stop(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, 'disabled'); this.onDown(s); }
  restartPeer(name: string): void { const s = this.mustPeer(name); s.stop(CeaseSubcode.ADMINISTRATIVE_RESET, 'restart'); this.onDown(s); s.start(); }

  private mustPeer(name: string): PeerSession {
    const s = this.peers.get(name);
    if (!s) throw new Error(`no such peer ${JSON.stringify(name)} (peers: ${[...this.peers.keys()].join(', ') || 'none'})`);
    return s;
  }

  /** Send ROUTE-REFRESH for every negotiated family to a peer. */
  routeRefresh(name: string): void {
    const s = this.mustPeer(name);
    if (!s.negotiated?.routeRefresh) throw new Error(`peer ${name} did not negotiate route refresh`);
    for (const f of s.negotiated.families) { const [afi, safi] = f.split('/').map(Number); s.send(encodeRouteRefresh(afi ?? 1, safi ?? 1)); }
  }

  onBestPathChange(cb: (c: BestPathChange) => void): () => void {
    this.listeners.push(cb);
    return () => { const i = this.listeners.indexOf(cb); if (i >= 0) this.listeners.splice(i, 1); };
  }

  originate(prefixText: string, attrs: OriginateAttrs = {}): void {
    const prefix = parsePrefix(prefixText);
    const a: PathAttributes = {
      origin: attrs.origin ?? 0, asPath: [],
      ...(attrs.med !== undefined ? { med: attrs.med } : {}),
      ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
      ...(attrs.communities?.length ? { communities: [...attrs.communities] } : {}),
    };
    const key = formatPrefix(prefix);
    this.originated.set(key, {
      prefix, key, attrs: a, nextHop: attrs.nextHop !== undefined ? parseAddress(attrs.nextHop).bytes : undefined,
      peer: LOCAL, peerAsn: this.config.asn, peerId: ipv4ToInt(parseAddress(this.config.routerId).bytes), peerAddress: '',
      ibgp: false, accepted: true, since: this.deps.clock.wallNow(), rrClient: false,
    });
    this.recompute(key);
  }

  withdraw(prefixText: string): void {
    const key = formatPrefix(parsePrefix(prefixText));
    if (this.originated.delete(key)) this.recompute(key);
  }

  /** Cease/2 administrative shutdown to every peer, close the listener. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.peers.values()) s.stop(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, 'shutdown');
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  // ------------------------------------------------------------ status

  status(): PeerStatus[] {
    const now = this.deps.clock.now();
    const wall = this.deps.clock.wallNow();
    return [...this.peers.values()].map((s): PeerStatus => {
      const n = s.negotiated;
      const inRib = this.adjIn.get(s.config.name) ?? new Map<string, Candidate>();
      let accepted = 0;
      for (const c of inRib.values()) if (c.accepted) accepted++;
      return {
        name: s.config.name, address: s.config.address, asn: s.config.asn, localAsn: this.config.asn,
        ...(s.config.description !== undefined ? { description: s.config.description } : {}),
        state: s.state, enabled: s.enabled, since: wall - (now - s.since),
        uptimeSeconds: s.state === 'Established' ? Math.floor((now - s.since) / 1000) : 0,
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
        ...(n ? { holdTime: n.holdTime, keepalive: n.keepalive, remoteId: formatAddress(Uint8Array.of(n.remoteId >>> 24, (n.remoteId >>> 16) & 255, (n.remoteId >>> 8) & 255, n.remoteId & 255)), localAddress: n.localAddress } : {}),
        configuredHoldTime: s.config.holdTime,
        capabilities: n ? capabilityNames(n.remoteCaps) : [],
        families: (n?.families ?? []).map((f) => (f === '2/1' ? 'ipv6-unicast' : 'ipv4-unicast')),
        prefixes: { received: inRib.size, accepted, advertised: this.adjOut.get(s.config.name)?.size ?? 0 },
        establishedTransitions: s.establishedTransitions,
        messages: { ...s.stats },
      };
    });
  }

  /** Every candidate route (originated and received), best flagged, sorted by prefix. */
  routes(filter?: string): RouteView[] {
    const want = filter !== undefined ? formatPrefix(parsePrefix(filter, { allowHostBits: true })) : undefined;
    const out: RouteView[] = [];
    const keys = new Set<string>([...this.originated.keys()]);
    for (const m of this.adjIn.values()) for (const k of m.keys()) keys.add(k);
    for (const key of [...keys].sort()) {
      if (want !== undefined && key !== want) continue;
      const entry = this.loc.get(key);
      for (const c of this.candidates(key, true)) {
        const best = entry?.best === c;
        const reason = best ? entry.reason : !c.accepted ? 'filtered by import policy' : entry?.best ? (compareCandidates(entry.best, c).reason) : 'not selected';
        out.push(this.view(c, best, reason));
      }
    }
    return out;
  }

  /** Best routes only (what a FIB would install). */
  bestRoutes(): RouteView[] {
    return [...this.loc.values()].filter((e) => e.best).map((e) => this.view(e.best as Candidate, true, e.reason));
  }

  private view(c: Candidate, best: boolean, reason: string): RouteView {
    return {
      prefix: c.key, from: c.peer, ...(c.peer !== LOCAL ? { fromAddress: c.peerAddress } : {}),
      nextHop: c.nextHop ? formatAddress(c.nextHop) : 'self',
      asPath: flattenAsPath(c.attrs.asPath), origin: ORIGIN_NAMES[c.attrs.origin ?? 2] ?? 'incomplete',
      ...(c.attrs.med !== undefined ? { med: c.attrs.med } : {}),
      ...(c.attrs.localPref !== undefined ? { localPref: c.attrs.localPref } : {}),
      communities: (c.attrs.communities ?? []).map((x) => `${x >>> 16}:${x & 0xffff}`),
      ibgp: c.ibgp, accepted: c.accepted, best, reason, since: c.since,
    };
  }

  // ------------------------------------------------------------ inbound

  private onMessage(s: PeerSession, d: Decoded): void {
    const m = d.message;
    if (m.type === 'update') this.onUpdate(s, m, d);
    else if (m.type === 'route-refresh') this.onRouteRefresh(s, m.afi, m.safi, m.subtype);
  }

  private onUpdate(s: PeerSession, m: UpdateMessage, d: Decoded): void {
    const rib = this.adjIn.get(s.config.name);
    if (!rib) return;
    const touched = new Set<string>();
    const withdraw = (p: Prefix) => { const k = formatPrefix(p); if (rib.delete(k)) touched.add(k); };
    for (const n of m.withdrawn) withdraw(n.prefix);
    for (const n of m.mpUnreach?.withdrawn ?? []) withdraw(n.prefix);
    const reach = [...m.nlri.map((n) => ({ p: n.prefix, nh: m.attributes.nextHop })), ...(m.mpReach?.nlri ?? []).map((n) => ({ p: n.prefix, nh: m.mpReach?.nextHops[0] }))];
    if (d.action === 'treat-as-withdraw' || d.action === 'afi-safi-disable') {
      this.log.warn({ peer: s.config.name, problems: d.problems, prefixes: reach.length }, 'malformed UPDATE treated as withdraw (RFC 7606)');
      for (const r of reach) withdraw(r.p);
    } else {
      if (d.problems?.length) this.log.warn({ peer: s.config.name, problems: d.problems }, 'attributes discarded (RFC 7606)');
      const loop = this.isLoop(s, m.attributes);
      for (const r of reach) {
        const k = formatPrefix(r.p);
        if (loop) { withdraw(r.p); continue; }
        const pol = applyPolicy(s.config.import, r.p, m.attributes);
        const n = s.negotiated;
        rib.set(k, {
          prefix: r.p, key: k, attrs: pol.type === 'accept' ? pol.attributes : m.attributes, nextHop: r.nh,
          peer: s.config.name, peerAsn: s.config.asn, peerId: n?.remoteId ?? 0, peerAddress: s.config.address,
          ibgp: s.ibgp, accepted: pol.type === 'accept', since: this.deps.clock.wallNow(), rrClient: s.config.routeReflectorClient,
        });
        touched.add(k);
      }
      const max = s.config.maxPrefixes;
      if (max !== undefined && rib.size > max) {
        this.log.warn({ peer: s.config.name, max }, 'maximum prefixes exceeded: Cease/1');
        s.stop(CeaseSubcode.MAX_PREFIXES, 'maximum prefixes', true);
        this.onDown(s);
        return;
      }
    }
    for (const k of touched) this.recompute(k);
  }

  private isLoop(s: PeerSession, a: PathAttributes): boolean {
    if (!s.ibgp) return flattenAsPath(a.asPath).includes(this.config.asn);
    const id = ipv4ToInt(parseAddress(this.config.routerId).bytes);
    return a.originatorId === id || (a.clusterList ?? []).includes(id);
  }

  private onDown(s: PeerSession): void {
    const rib = this.adjIn.get(s.config.name);
    const keys = rib ? [...rib.keys()] : [];
    rib?.clear();
    this.adjOut.get(s.config.name)?.clear();
    this.pending.delete(s.config.name);
    for (const k of keys) this.recompute(k);
  }

  private onRouteRefresh(s: PeerSession, afi: number, safi: number, subtype: number): void {
    if (subtype !== 0) return; // BoRR/EoRR from the peer: we keep our Adj-RIB-In as is.
    const out = this.adjOut.get(s.config.name);
    if (!out) return;
    const fam = afi === Afi.IPV6 ? 6 : 4;
    const enhanced = s.negotiated?.enhancedRouteRefresh ?? false;
    if (enhanced) s.send(encodeRouteRefresh(afi, safi, 1));
    const keys = [...out.keys()].filter((k) => (k.includes(':') ? 6 : 4) === fam);
    for (const k of keys) out.delete(k);
    const q = this.pendingFor(s.config.name);
    for (const k of keys) q.add(k);
    this.flushPeer(s);
    if (enhanced) s.send(encodeRouteRefresh(afi, safi, 2));
  }

  // ------------------------------------------------------------ Loc-RIB

  private candidates(key: string, includeFiltered = false): Candidate[] {
    const out: Candidate[] = [];
    const o = this.originated.get(key);
    if (o) out.push(o);
    for (const rib of this.adjIn.values()) { const c = rib.get(key); if (c && (includeFiltered || c.accepted)) out.push(c); }
    return out;
  }

  private recompute(key: string): void {
    const cands = this.candidates(key);
    let best: Candidate | undefined;
    let reason = 'only route';
    for (const c of cands) {
      if (!best) { best = c; continue; }
      const r = compareCandidates(c, best);
      if (r.winner === 'a') { reason = r.reason; best = c; } else reason = r.reason;
    }
    if (cands.length === 1) reason = 'only route';
    const prev = this.loc.get(key);
    if (!best) {
      if (!prev) return;
      this.loc.delete(key);
    } else {
      if (prev?.best === best && prev.reason === reason) return;
      this.loc.set(key, { best, reason });
    }
    if (prev?.best !== best) {
      const change: BestPathChange = { prefix: key, best: best ? this.view(best, true, reason) : undefined };
      for (const l of this.listeners) {
        try { l(change); } catch (err) { this.log.error({ err }, 'onBestPathChange listener threw'); }
      }
      for (const name of this.peers.keys()) this.pendingFor(name).add(key);
      this.scheduleFlush();
    }
  }

  // ------------------------------------------------------------ outbound

  private pendingFor(name: string): Set<string> {
    let q = this.pending.get(name);
    if (!q) { q = new Set(); this.pending.set(name, q); }
    return q;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const cache = new Map<string, Buffer[]>();
      for (const s of this.peers.values()) this.flushPeer(s, cache);
    });
  }

  private onEstablished(s: PeerSession): void {
    this.adjOut.get(s.config.name)?.clear();
    const q = this.pendingFor(s.config.name);
    for (const k of this.loc.keys()) q.add(k);
    this.flushPeer(s);
    for (const f of s.negotiated?.families ?? []) s.send(encodeEndOfRib(f === '2/1' ? Afi.IPV6 : Afi.IPV4));
  }

  /** Export what changed for this peer, grouped by attribute set (one UPDATE carries many NLRI). */
  private flushPeer(s: PeerSession, cache = new Map<string, Buffer[]>()): void {
    const q = this.pending.get(s.config.name);
    const n = s.negotiated;
    if (!q || q.size === 0 || !n || s.state !== 'Established' || this.stopped) return;
    this.pending.delete(s.config.name);
    const out = this.adjOut.get(s.config.name);
    if (!out) return;
    // Update group: peers that export identically share memoized export results and encodings.
    const groupText = [s.ibgp, s.config.nextHopSelf, s.config.routeReflectorClient, n.localAddress, n.families.join(','),
      n.ctx.fourOctetAs, JSON.stringify(s.config.export ?? null)].join('|');
    let gid = this.groupIds.get(groupText);
    if (gid === undefined) { gid = this.groupIds.size; this.groupIds.set(groupText, gid); }
    const group = `g${gid}`;
    const prefixFree = !policyMatchesPrefixes(s.config.export);
    const groups = new Map<string, { attrs: PathAttributes; v6nh: Uint8Array | undefined; prefixes: Prefix[]; keys: string[] }>();
    const withdrawn: Prefix[][] = [[], []];
    for (const key of q) {
      const best = this.loc.get(key)?.best;
      const exp = !best || best.peer === s.config.name ? undefined : prefixFree ? this.exportMemoized(s, best, group) : this.withKey(this.exportFor(s, best), best);
      if (!exp) {
        const was = out.get(key);
        if (was) { out.delete(key); withdrawn[was.prefix.family === 6 ? 1 : 0]?.push(was.prefix); }
        continue;
      }
      const ak = exp.key;
      if (out.get(key)?.ak === ak) continue;
      const prefix = best?.prefix ?? parsePrefix(key);
      out.set(key, { ak, prefix });
      let g = groups.get(ak);
      if (!g) { g = { attrs: exp.attrs, v6nh: exp.v6nh, prefixes: [], keys: [] }; groups.set(ak, g); }
      g.prefixes.push(prefix);
      g.keys.push(key);
    }
    for (const w of withdrawn) if (w.length) for (const b of encodeWithdraw(w)) s.send(b);
    for (const [ak, g] of groups) {
      const ck = `${group}|${ak}|${g.keys.join(',')}`;
      let bufs = cache.get(ck);
      if (!bufs) { bufs = encodeAnnounce(g.prefixes, g.attrs, n.ctx as CodecContext, g.v6nh); cache.set(ck, bufs); }
      for (const b of bufs) s.send(b);
    }
  }

  private readonly exportMemo = new WeakMap<PathAttributes, Map<string, ExportResult | null>>();

  /** exportFor memoized per (attribute set, update group, source facts): UPDATEs share attrs objects. */
  private exportMemoized(s: PeerSession, best: Candidate, group: string): ExportResult | undefined {
    let m = this.exportMemo.get(best.attrs);
    if (!m) { m = new Map(); this.exportMemo.set(best.attrs, m); }
    const k = `${group}|${best.peer === LOCAL ? 'L' : best.peer}|${best.ibgp}|${best.rrClient}|${best.peerId}|${best.prefix.family}|${best.nextHop?.join('.') ?? ''}`;
    const hit = m.get(k);
    if (hit !== undefined) return hit ?? undefined;
    const r = this.withKey(this.exportFor(s, best), best);
    m.set(k, r ?? null);
    return r;
  }

  private withKey(e: { attrs: PathAttributes; v6nh: Uint8Array | undefined } | undefined, best: Candidate): ExportResult | undefined {
    if (!e) return undefined;
    return { ...e, key: attributesKey(e.attrs) + (e.v6nh ? formatAddress(e.v6nh) : '') + (best.prefix.family === 6 ? '|6' : '|4') };
  }

  /** The attributes to send `best` to peer `s` with, or undefined when it must not be sent. */
  private exportFor(s: PeerSession, best: Candidate): { attrs: PathAttributes; v6nh: Uint8Array | undefined } | undefined {
    const n = s.negotiated;
    if (!n) return undefined;
    const v6 = best.prefix.family === 6;
    if (!n.families.includes(v6 ? '2/1' : '1/1')) return undefined;
    if (best.peer === s.config.name) return undefined;
    const comms = best.attrs.communities ?? [];
    if (comms.includes(NO_ADVERTISE)) return undefined;
    if (!s.ibgp && comms.includes(NO_EXPORT)) return undefined;
    let a: PathAttributes = best.attrs;
    if (best.ibgp && s.ibgp) {
      // Route reflection (RFC 4456): only between a client and anyone.
      if (!best.rrClient && !s.config.routeReflectorClient) return undefined;
      const id = ipv4ToInt(parseAddress(this.config.routerId).bytes);
      a = { ...a, originatorId: a.originatorId ?? best.peerId, clusterList: [id, ...(a.clusterList ?? [])] };
    }
    const pol = applyPolicy(s.config.export, best.prefix, a);
    if (pol.type === 'reject') return undefined;
    a = pol.attributes;
    const local = n.localAddress ? parseAddress(n.localAddress) : undefined;
    const selfNh = !s.ibgp || s.config.nextHopSelf || best.peer === LOCAL;
    let nh: Uint8Array | undefined = selfNh ? (best.peer === LOCAL && best.nextHop ? best.nextHop : undefined) : best.nextHop;
    if (!nh && local && (local.family === 6) === v6) nh = local.bytes;
    if (!nh && !v6 && selfNh && local?.family === 4) nh = local.bytes;
    if (!nh || nh.length !== (v6 ? 16 : 4)) {
      this.log.debug({ peer: s.config.name, prefix: best.key }, 'no usable next hop for this family: not exported');
      return undefined;
    }
    const { nextHop: _nh, med, localPref, ...rest } = a;
    let path: readonly AsPathSegment[] = rest.asPath ?? [];
    if (!s.ibgp) {
      const pre = Array.from({ length: 1 + pol.prepend }, () => this.config.asn);
      const first = path[0];
      path = first?.type === AsPathSegmentType.AS_SEQUENCE
        ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [...pre, ...first.asns] }, ...path.slice(1)]
        : [{ type: AsPathSegmentType.AS_SEQUENCE, asns: pre }, ...path];
    }
    const keepMed = s.ibgp || best.peer === LOCAL || pol.attributes.med !== best.attrs.med;
    const { originatorId, clusterList, unknown, ...base } = rest;
    // RFC 4271 §5: pass on unknown optional transitive attributes with Partial set, drop the rest.
    const passOn = (unknown ?? []).filter((u) => (u.flags & 0xc0) === 0xc0).map((u) => ({ ...u, flags: u.flags | 0x20 }));
    const clean: PathAttributes = {
      ...base, origin: rest.origin ?? 2, asPath: path, ...(passOn.length ? { unknown: passOn } : {}),
      ...(v6 ? {} : { nextHop: nh }),
      ...(med !== undefined && keepMed ? { med } : {}),
      ...(s.ibgp ? { localPref: localPref ?? 100 } : {}),
      ...(s.ibgp && originatorId !== undefined ? { originatorId } : {}),
      ...(s.ibgp && clusterList !== undefined ? { clusterList } : {}),
    };
    return { attrs: clean, v6nh: v6 ? nh : undefined };
  }
}

interface ExportResult { readonly attrs: PathAttributes; readonly v6nh: Uint8Array | undefined; readonly key: string }

function policyMatchesPrefixes(p: PeerConfig['export']): boolean {
  return (p?.rules ?? []).some((r) => r.match?.prefixes !== undefined);
}

function flattenAsPath(path: readonly AsPathSegment[] | undefined): number[] {
  return (path ?? []).flatMap((s) => s.asns);
}

function capabilityNames(caps: PeerSession['negotiated'] extends infer N ? N extends { remoteCaps: infer C } ? C : never : never): string[] {
  return caps.map((c) => {
    switch (c.type) {
      case 'multiprotocol': return `multiprotocol ${c.afi === 2 ? 'IPv6' : c.afi === 1 ? 'IPv4' : c.afi}/${c.safi === 1 ? 'unicast' : c.safi}`;
      case 'four-octet-as': return '4-octet AS numbers';
      case 'route-refresh': return 'route refresh';
      case 'enhanced-route-refresh': return 'enhanced route refresh';
      case 'extended-message': return 'extended message';
      case 'graceful-restart': return 'graceful restart';
      case 'add-path': return 'ADD-PATH';
      case 'unknown': return `unknown capability ${c.code}`;
      default: return 'other';
    }
  });
}
