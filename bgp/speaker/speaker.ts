/**
 * BgpSpeaker: the in-process BGP speaker that tortie-node and tortie-bgpd embed. Glue between
 * bgp/session (one BgpSession per configured peer, a BgpListener dispatching incoming
 * connections), bgp/rib (one Adj-RIB-In per Established peer feeding the Loc-RIB; Adj-RIBs-Out
 * in update groups: peers with equal ExportTargets share one UpdateGroup, so the export
 * transform and policy run once per change for all of them, with no per-peer table; the next
 * hop is a placeholder patched per peer at encoding, so peers on different local addresses still
 * share a group) and bgp/policy (compiled import and export policy). Outbound UPDATEs are packed
 * per attribute set (pack.ts), flushed once per event-loop turn, and members with equal batches
 * and equal session addresses share the encoded bytes.
 * RFC 7606 treat-as-withdraw removes what the peer had installed and sends no NOTIFICATION;
 * End-of-RIB after the initial table; ROUTE-REFRESH (RFC 2918) with BoRR/EoRR (RFC 7313).
 */
import type { Server, Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { formatAddress, formatPrefix, ipv4ToInt, parseAddress, parsePrefix, type Prefix } from '../../common/prefix.js';
import { CeaseSubcode } from '../wire/errors.js';
import { encodeEndOfRib, endOfRibFamily, prepareAttributes, type PreparedAttributes } from '../wire/update-encoder.js';
import { AsPathSegmentType, type AsPathSegment, type Capability, type CodecContext, type LargeCommunity, type Origin, type PathAttributes, type UpdateMessage } from '../wire/types.js';
import type { DownReason, FsmState, NegotiatedSession } from '../fsm/fsm-types.js';
import { notificationText } from '../fsm/notifications.js';
import { BgpSession, type ConnectOptions } from '../session/session.js';
import type { UpdateInfo } from '../session/session-config.js';
import { BgpListener, canonicalAddress } from '../session/listener.js';
import { compactWireCodec } from '../session/wire-codec-default.js';
import type { CompiledPolicy } from '../policy/compile-policy.js';
import { LocRib, type BestChanges } from '../rib/loc-rib.js';
import type { AdjRibIn } from '../rib/adj-rib-in.js';
import { isSelfNextHop, NEXT_HOP_SELF_V4, NEXT_HOP_SELF_V6, UpdateGroup, type GroupBatch, type MemberBatch } from '../rib/update-group.js';
import { PrefixList } from '../rib/prefix-list.js';
import { exportTargetKey, type ExportedAttributes, type ExportTarget } from '../rib/export.js';
import type { BestPathStep } from '../rib/best-path.js';
import { PrefixTable } from '../rib/prefix-table.js';
import type { PeerInfo, Route } from '../rib/route.js';
import { peerConfigEquals, peerSocketOptions, type PeerConfig, type SpeakerConfig } from './peer-config.js';
import { setListenerMd5, setListenerTtlFilter } from '../session/socket-options.js';
import { LogLimiter } from '../../common/log-limiter.js';
import { compilePeerPolicy } from './policy-config.js';
import { addPathSend, nlriBlob, UpdateAssembler, type NlriBlob } from './pack.js';

export type { ConnectOptions } from '../session/session.js';
export type { FsmState } from '../fsm/fsm-types.js';

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
  readonly largeCommunities?: readonly LargeCommunity[];
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

export interface PeerMessageStats {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly updatesIn: number;
  readonly updatesOut: number;
  readonly notificationsIn: number;
  readonly notificationsOut: number;
  readonly routeRefreshIn: number;
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
  readonly messages: PeerMessageStats;
  /** Families whose End-of-RIB (RFC 4724 §2) the peer sent since it became Established: its initial table is in. */
  readonly eorReceived: readonly string[];
}

const ORIGIN_NAMES = ['IGP', 'EGP', 'incomplete'] as const;
/**
 * Pause between the Cease/4 of restartPeer() and our own new connection (the peer's is accepted
 * at once). 0 = next tick: with a pause FRR reconnects first and afterwards reports the reset as
 * "No AFI/SAFI activated for peer" instead of Cease/Administrative Reset.
 */
const RESTART_DELAY_MS = 0;
/** Prepared attribute blocks kept per peer before its cache is reset. */
const PREPARED_LIMIT = 20_000;
/** Pending changes of an update group that are flushed at once instead of at the next setImmediate. */
const EAGER_FLUSH = 4096;
/** Largest reusable encode buffer (sendBatch); bigger batches (a table dump) get their own. */
const SCRATCH_MAX = 1 << 20;

const STEP_REASON: Record<BestPathStep, string> = {
  'next-hop-unreachable': 'next hop unreachable', 'local-pref': 'higher local preference', 'local-origin': 'locally originated',
  'as-path-length': 'shorter AS path', origin: 'lower origin', med: 'lower MED', 'ebgp-over-ibgp': 'eBGP preferred over iBGP',
  'igp-cost': 'lower IGP cost', 'router-id': 'lower router ID', 'cluster-list-length': 'shorter cluster list',
  'peer-address': 'lower neighbor address', 'path-id': 'lower path id',
};

/** One configured peer and, while Established, its RIB state. */
interface Peer {
  config: PeerConfig;
  session: BgpSession;
  enabled: boolean;
  lastError: string | undefined;
  importPolicy: CompiledPolicy | undefined;
  exportPolicy: CompiledPolicy | undefined;
  routeRefreshIn: number;
  /** Counters of this peer's earlier sessions (a config change replaces the session). */
  base: { establishedTransitions: number; messagesIn: number; messagesOut: number; updatesIn: number; updatesOut: number; notificationsIn: number; notificationsOut: number };
  negotiated: NegotiatedSession | undefined;
  ctx: CodecContext | undefined;
  /** Wall ms when it last became Established (the "since" of its routes). */
  establishedWall: number;
  adjIn: AdjRibIn | undefined;
  group: Group | undefined;
  /** Our addresses on the session: they replace the placeholder next hops of the group. */
  local4: Uint8Array | undefined;
  local6: Uint8Array | undefined;
  /** Encoded attribute blocks by exported attributes (valid for `preparedGen` of the group). */
  prepared: Map<ExportedAttributes, PreparedAttributes | null>;
  preparedGen: number;
  /** Key of what makes this peer's bytes differ from another member's for the same batch. */
  encodingKey: string;
  sends4: boolean;
  sends6: boolean;
  /** End-of-RIB received since Established, by family name. */
  eorReceived: Set<string>;
  /** Families disabled for this session by RFC 7606 AFI/SAFI disable. */
  disabledFamilies: Set<4 | 6>;
  /** Pending look for a missing next hop of the other family, and its back-off (ms, 0: none yet). */
  nhRetry: TimerHandle | undefined;
  nhRetryDelay: number;
}

/** An update group: peers with equal ExportTargets (FRR update-groups). */
interface Group {
  readonly key: string;
  readonly ug: UpdateGroup;
  readonly members: Map<string, Peer>;
}

/**
 * Work shared during one flush: NLRI blobs per entry list (and family, ADD-PATH), and whole
 * encoded batches by batch and encoding key (members sharing both share the bytes).
 */
interface EncodedCache {
  readonly blobs: Map<readonly number[], Array<NlriBlob | undefined>>;
  readonly bytes: Map<GroupBatch, Map<string, { readonly msgs: Uint8Array | undefined; readonly count: number }>>;
}
const newEncodedCache = (): EncodedCache => ({ blobs: new Map(), bytes: new Map() });

interface Originated { readonly prefix: Prefix; readonly attrs: PathAttributes; readonly nextHop: Uint8Array | undefined; readonly since: number }

export class BgpSpeaker {
  private readonly peers = new Map<string, Peer>();
  private readonly groups = new Map<string, Group>();
  private scratch: Uint8Array | undefined;
  private readonly originated = new Map<string, Originated>();
  private readonly listeners: Array<(c: BestPathChange) => void> = [];
  private rib: LocRib;
  private unsubscribeRib: () => void;
  private listener: BgpListener;
  private flushScheduled = false;
  /** Marks the entries of a shared batch that one peer must not get (reused, stamped per use). */
  private skipMask = new Uint32Array(1024);
  private skipStamp = 0;
  private server: Server | undefined;
  /** One line per treat-as-withdraw UPDATE would let a peer flood the log: per peer, rate-limited. */
  private readonly malformedLog: LogLimiter;
  /** Peer address → TCP-MD5 key set on the listener. */
  private readonly listenerKeys = new Map<string, string>();
  /** GTSM peer address → minimum TTL, in the listener's socket filter. */
  private readonly listenerGtsm = new Map<string, number>();
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly deps: SpeakerDeps, private config: SpeakerConfig) {
    this.log = deps.logger.child({ component: 'bgp-speaker' });
    this.malformedLog = new LogLimiter({ now: () => deps.clock.now() });
    this.rib = this.newRib();
    this.unsubscribeRib = this.rib.onBestChange((c) => this.onBestChange(c));
    this.listener = new BgpListener({ host: config.listen.address, port: config.listen.port }, { logger: deps.logger });
  }

  get routerId(): string { return this.config.routerId; }
  get asn(): number { return this.config.asn; }

  /** Bind the listener (port 0 disables it) and start every peer. */
  async start(): Promise<void> {
    if (this.config.listen.port !== 0) {
      this.server = await this.deps.listen(this.config.listen, (s) => this.listener.accept(s));
    }
    for (const p of this.config.peers) this.addPeer(p);
  }

  /** The bound listen port (useful with port 0 in tests). */
  listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  addPeer(config: PeerConfig): void {
    if (this.peers.has(config.name)) throw new Error(`peer ${config.name} already exists`);
    const p: Peer = {
      config, session: this.newSession(config), enabled: true, lastError: undefined,
      importPolicy: compilePeerPolicy(config.import, 'import'), exportPolicy: compilePeerPolicy(config.export, 'export'),
      routeRefreshIn: 0, negotiated: undefined,
      base: { establishedTransitions: 0, messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, notificationsIn: 0, notificationsOut: 0 }, ctx: undefined, establishedWall: 0,
      adjIn: undefined, group: undefined, local4: undefined, local6: undefined, prepared: new Map(), preparedGen: -1,
      encodingKey: '', sends4: false, sends6: false, eorReceived: new Set(), disabledFamilies: new Set(), nhRetry: undefined, nhRetryDelay: 0,
    };
    this.attach(p);
    this.peers.set(config.name, p);
    p.session.start();
  }

  /** Reset the session only when the config actually changed (Cease/6 other configuration change). */
  updatePeer(config: PeerConfig): boolean {
    const p = this.peers.get(config.name);
    if (!p) { this.addPeer(config); return true; }
    if (peerConfigEquals(p.config, config)) return false;
    if (this.updatePolicies(p, config)) return true;
    this.retire(p, CeaseSubcode.OTHER_CONFIGURATION_CHANGE);
    const st = p.session.stats;
    const b = p.base;
    p.base = {
      establishedTransitions: b.establishedTransitions + st.establishedTransitions, messagesIn: b.messagesIn + st.messagesIn,
      messagesOut: b.messagesOut + st.messagesOut, updatesIn: b.updatesIn + st.updatesIn, updatesOut: b.updatesOut + st.updatesOut,
      notificationsIn: b.notificationsIn + sumCounts(st.notificationsReceived), notificationsOut: b.notificationsOut + sumCounts(st.notificationsSent),
    };
    p.config = config;
    p.importPolicy = compilePeerPolicy(config.import, 'import');
    p.exportPolicy = compilePeerPolicy(config.export, 'export');
    p.session = this.newSession(config);
    this.attach(p);
    if (p.enabled) p.session.start();
    return true;
  }

  /**
   * A change of only the import and/or export policy is applied in place, like BIRD and FRR:
   * import → the Adj-RIB-In gets the new policy and re-runs import over what it holds (it keeps
   * the received attributes of changed and refused paths), then the peer is asked for a
   * ROUTE-REFRESH when it supports one; export → the peer moves to the
   * update group of its new policy and gets the difference. Returns false when another field
   * changed (then the session is reset).
   */
  private updatePolicies(p: Peer, config: PeerConfig): boolean {
    const strip = (c: PeerConfig): PeerConfig => { const { import: _i, export: _e, ...rest } = c; return rest; };
    if (!peerConfigEquals(strip(p.config), strip(config))) return false;
    const importChanged = JSON.stringify(p.config.import ?? null) !== JSON.stringify(config.import ?? null);
    const n = p.negotiated;
    p.config = config;
    p.importPolicy = compilePeerPolicy(config.import, 'import');
    const exportPolicy = compilePeerPolicy(config.export, 'export');
    const exportChanged = exportPolicy !== p.exportPolicy;
    p.exportPolicy = exportPolicy;
    this.log.info({ peer: config.name, importChanged, exportChanged }, 'policy changed: applied without a session reset');
    if (importChanged && p.adjIn) {
      p.adjIn.setPolicy(p.importPolicy);
      const looked = p.adjIn.refilter(); // from the attributes as received: effective at once
      this.log.info({ peer: config.name, paths: looked }, 'import policy re-applied to the Adj-RIB-In');
      // and ask for the table again when the peer can (re-syncs anything we did not keep)
      if (n?.routeRefresh) for (const f of n.families) p.session.send({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: 0 });
    }
    if (exportChanged && p.group && n) this.regroup(p, n);
    return true;
  }

  /** Move an Established peer to the update group of its (new) export target; send it the difference. */
  private regroup(p: Peer, n: NegotiatedSession): void {
    const old = p.group;
    if (!old) return;
    this.flushGroup(old, undefined);
    const before = old.ug.table(p.config.name, this.rib);
    old.ug.removeMember(p.config.name);
    old.members.delete(p.config.name);
    if (old.members.size === 0) this.groups.delete(old.key);
    const g = this.joinGroup(p, n);
    const after = g.ug.table(p.config.name, this.rib);
    const keep = new PrefixTable<true>();
    const a = after.base.prefixes, b = before.base.prefixes;
    for (let i = 0; i < a.length; i++) keep.set(a.prefix(i), true);
    const gone = new PrefixList();
    for (let i = 0; i < b.length; i++) { const x = b.prefix(i); if (keep.get(x) === undefined) gone.push(x); }
    this.sendBatch(p, { base: after.base, skip: [], extra: { prefixes: gone, announce: [], withdraw: Array.from({ length: gone.length }, (_x, i) => i) } }, undefined);
  }

  /** Cease/3 peer de-configured, then forget the peer and its routes. */
  removePeer(name: string): void {
    const p = this.peers.get(name);
    if (!p) return;
    this.retire(p, CeaseSubcode.PEER_DECONFIGURED);
    this.peers.delete(name);
  }

  /** Apply a whole new config: only added, changed and removed peers are touched. */
  reconfigure(next: SpeakerConfig): { added: string[]; changed: string[]; removed: string[]; unchanged: string[] } {
    const r = { added: [] as string[], changed: [] as string[], removed: [] as string[], unchanged: [] as string[] };
    if (next.asn !== this.config.asn || next.routerId !== this.config.routerId) {
      // Identity change: every session must restart, and the Loc-RIB knows our AS and id.
      for (const name of [...this.peers.keys()]) { this.removePeer(name); r.removed.push(name); }
      this.config = next;
      this.unsubscribeRib();
      this.groups.clear();
      this.rib = this.newRib();
      this.unsubscribeRib = this.rib.onBestChange((c) => this.onBestChange(c));
      for (const o of this.originated.values()) this.rib.originate(o.prefix, o.attrs, o.nextHop);
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

  enablePeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = true;
    if (p.session.state === 'Idle') p.session.start();
  }

  disablePeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = false;
    this.background(p.session.stop(), name, 'disable');
  }

  /**
   * Cease/4 administrative reset; the peer's reconnection is accepted at once and we connect
   * ourselves after RESTART_DELAY_MS (not in the same tick as the stop).
   */
  restartPeer(name: string): void {
    const p = this.mustPeer(name);
    p.enabled = true;
    this.background(p.session.resetWithPause(RESTART_DELAY_MS), name, 'restart');
  }

  private mustPeer(name: string): Peer {
    const p = this.peers.get(name);
    if (!p) throw new Error(`no such peer ${JSON.stringify(name)} (peers: ${[...this.peers.keys()].join(', ') || 'none'})`);
    return p;
  }

  /** Send ROUTE-REFRESH for every negotiated family to a peer. */
  routeRefresh(name: string): void {
    const p = this.mustPeer(name);
    const n = p.negotiated;
    if (!n) throw new Error(`peer ${name} is not Established (${p.session.state})`);
    if (!n.routeRefresh) throw new Error(`peer ${name} did not negotiate route refresh`);
    for (const f of n.families) p.session.send({ type: 'route-refresh', afi: f.afi, safi: f.safi, subtype: 0 });
  }

  onBestPathChange(cb: (c: BestPathChange) => void): () => void {
    this.listeners.push(cb);
    return () => { const i = this.listeners.indexOf(cb); if (i >= 0) this.listeners.splice(i, 1); };
  }

  originate(prefixText: string, attrs: OriginateAttrs = {}): void {
    const prefix = parsePrefix(prefixText);
    const nh = attrs.nextHop !== undefined ? parseAddress(attrs.nextHop) : undefined;
    if (nh && nh.family !== prefix.family) throw new Error(`originate ${prefixText}: next hop ${attrs.nextHop} is not an IPv${prefix.family} address`);
    const a: PathAttributes = {
      origin: attrs.origin ?? 0, asPath: [],
      ...(prefix.family === 4 && nh ? { nextHop: nh.bytes } : {}),
      ...(attrs.med !== undefined ? { med: attrs.med } : {}),
      ...(attrs.localPref !== undefined ? { localPref: attrs.localPref } : {}),
      ...(attrs.communities?.length ? { communities: [...attrs.communities] } : {}),
      ...(attrs.largeCommunities?.length ? { largeCommunities: [...attrs.largeCommunities] } : {}),
    };
    this.originated.set(formatPrefix(prefix), { prefix, attrs: a, nextHop: nh?.bytes, since: this.deps.clock.wallNow() });
    this.rib.originate(prefix, a, nh?.bytes);
  }

  withdraw(prefixText: string): void {
    const prefix = parsePrefix(prefixText);
    if (this.originated.delete(formatPrefix(prefix))) this.rib.withdrawOriginated(prefix);
  }

  /**
   * Send the UPDATEs that pending changes call for now instead of at the next setImmediate: for an
   * embedding program that originated or withdrew prefixes and goes on with other work first
   * (the agent programs its kernel after originating; a slow netlink dump would hold the UPDATE back).
   */
  flush(): void {
    if (this.stopped) return;
    for (const g of this.groups.values()) this.flushGroup(g, newEncodedCache());
  }

  /** Cease/2 administrative shutdown to every peer, close the listener. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.peers.values()) { p.nhRetry?.cancel(); p.nhRetry = undefined; }
    await Promise.all([...this.peers.values()].map((p) => p.session.stop().catch((err: unknown) => {
      this.log.warn({ peer: p.config.name, err: describeError(err) }, 'stopping session failed');
    })));
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  // ------------------------------------------------------------ status

  status(): PeerStatus[] {
    return [...this.peers.values()].map((p): PeerStatus => {
      const s = p.session;
      const st = s.stats;
      const n = p.negotiated;
      const b = p.base;
      const local = canonicalAddress(s.connection?.localAddress);
      return {
        name: p.config.name, address: p.config.address, asn: p.config.asn, localAsn: p.config.localAs ?? this.config.asn,
        ...(p.config.description !== undefined ? { description: p.config.description } : {}),
        state: s.state, enabled: p.enabled, since: st.since,
        uptimeSeconds: s.state === 'Established' && st.uptimeMs !== undefined ? Math.floor(st.uptimeMs / 1000) : 0,
        // A session that never came up has no down reason; what it saw instead (an MD5 SYN left unanswered...).
        ...(p.lastError !== undefined ? { lastError: p.lastError } : st.lastError !== undefined && s.state !== 'Established' ? { lastError: st.lastError } : {}),
        ...(n ? { holdTime: n.holdTime, keepalive: n.keepaliveTime, remoteId: idText(n.peerBgpId) } : {}),
        ...(n && local !== undefined ? { localAddress: local } : {}),
        configuredHoldTime: p.config.holdTime,
        capabilities: n ? capabilityNames(n.peerCapabilities) : [],
        families: (n?.families ?? []).map((f) => (f.afi === 2 ? 'ipv6-unicast' : 'ipv4-unicast')),
        prefixes: { received: p.adjIn?.received ?? 0, accepted: p.adjIn?.accepted ?? 0, advertised: p.group?.ug.advertised(p.config.name) ?? 0 },
        establishedTransitions: b.establishedTransitions + st.establishedTransitions,
        messages: {
          messagesIn: b.messagesIn + st.messagesIn, messagesOut: b.messagesOut + st.messagesOut,
          updatesIn: b.updatesIn + st.updatesIn, updatesOut: b.updatesOut + st.updatesOut,
          notificationsIn: b.notificationsIn + sumCounts(st.notificationsReceived),
          notificationsOut: b.notificationsOut + sumCounts(st.notificationsSent), routeRefreshIn: p.routeRefreshIn,
        },
        eorReceived: [...p.eorReceived],
      };
    });
  }

  /** Every candidate route (originated and received), best flagged, sorted by prefix. */
  routes(filter?: string): RouteView[] {
    if (filter !== undefined) return this.routesOf(parsePrefix(filter, { allowHostBits: true }));
    const prefixes: Prefix[] = [];
    this.rib.forEachBest((p) => { prefixes.push(p); });
    const keyed = prefixes.map((p) => [formatPrefix(p), p] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const out: RouteView[] = [];
    for (const [key, p] of keyed) for (const v of this.routesOf(p, key)) out.push(v);
    return out;
  }

  /**
   * Routes refused on import (BIRD's `show route filtered`): as received, accepted false, with
   * why in `reason` ("as-path-loop", "import policy: rule 2", ...).
   */
  filteredRoutes(filter?: string): RouteView[] {
    const only = filter === undefined ? undefined : parsePrefix(filter, { allowHostBits: true });
    const out: RouteView[] = [];
    for (const p of this.peers.values()) {
      p.adjIn?.forEachRejected((prefix, a, nh, why) => {
        out.push({
          prefix: formatPrefix(prefix), from: p.config.name, fromAddress: p.config.address,
          nextHop: nh ? formatAddress(nh) : a.nextHop ? formatAddress(a.nextHop) : '-',
          ...attributesView(a),
          ibgp: p.negotiated?.ibgp === true, accepted: false, best: false, reason: why, since: p.establishedWall ?? 0,
        });
      }, only);
    }
    return out.sort((x, y) => (x.prefix < y.prefix ? -1 : x.prefix > y.prefix ? 1 : x.from.localeCompare(y.from)));
  }

  /** Best routes only (what a FIB would install). */
  bestRoutes(): RouteView[] {
    const out: RouteView[] = [];
    this.rib.forEachBest((p, best) => { out.push(this.view(formatPrefix(p), best, true, this.bestReason(p))); });
    return out;
  }

  private routesOf(prefix: Prefix, key = formatPrefix(prefix)): RouteView[] {
    const cands = this.rib.candidates(prefix);
    if (cands.length === 0) return [];
    if (cands.length === 1) {
      const only = cands[0]!;
      const best = this.rib.best(prefix) === only;
      return [this.view(key, only, best, best ? 'only route' : 'not selected')];
    }
    const ex = this.rib.explain(prefix);
    const out: RouteView[] = [];
    const first = ex.losers[0];
    if (ex.best) out.push(this.view(key, ex.best, true, first ? STEP_REASON[first.step] : 'only route'));
    for (const l of ex.losers) out.push(this.view(key, l.route, false, STEP_REASON[l.step]));
    return out;
  }

  private bestReason(prefix: Prefix): string {
    const cands = this.rib.candidates(prefix);
    if (cands.length <= 1) return 'only route';
    const first = this.rib.explain(prefix).losers[0];
    return first ? STEP_REASON[first.step] : 'only route';
  }

  private view(prefix: string, r: Route, best: boolean, reason: string): RouteView {
    const src = r.source;
    const local = src.kind === 'local';
    const a = r.attrs;
    return {
      prefix, from: src.id, ...(!local ? { fromAddress: formatAddress(src.address) } : {}),
      nextHop: r.nextHop ? formatAddress(r.nextHop) : 'self',
      ...attributesView(a),
      ibgp: src.kind === 'ibgp', accepted: true, best, reason,
      since: local ? (this.originated.get(prefix)?.since ?? 0) : (this.peers.get(src.id)?.establishedWall ?? 0),
    };
  }

  // ------------------------------------------------------------ sessions

  private newRib(): LocRib {
    return new LocRib({ localAs: this.config.asn, routerId: ipv4ToInt(parseAddress(this.config.routerId).bytes) >>> 0, logger: this.log });
  }

  private newSession(c: PeerConfig): BgpSession {
    return new BgpSession({
      name: c.name, peerAddress: c.address, peerPort: c.port,
      ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}),
      localAs: c.localAs ?? this.config.asn, peerAs: c.asn, routerId: this.config.routerId,
      holdTime: c.holdTime, connectRetryTime: c.connectRetry, passive: c.passive,
      families: c.families.map((f) => (f === 'ipv6-unicast' ? { afi: 2, safi: 1 } : { afi: 1, safi: 1 })),
      routeRefresh: true,
      // Graceful restart "aware" (no families, restart time 0), like BIRD: peers then send
      // End-of-RIB and FRR answers our ROUTE-REFRESH; nothing of ours is kept across restarts.
      gracefulRestart: { restartTime: 0, helperOnly: true },
      socketOptions: peerSocketOptions(c, this.config.asn),
    }, { clock: this.deps.clock, logger: this.deps.logger, codec: compactWireCodec, connect: this.deps.connect });
  }

  /** Wire a peer's (new) session to the speaker and the listener. */
  private attach(p: Peer): void {
    const s = p.session;
    this.listener.addSession(s);
    if (p.config.password !== undefined) this.setListenerKey(p, p.config.password);
    if (p.config.ttlSecurity !== undefined) this.setListenerGtsm(p, 256 - p.config.ttlSecurity);
    s.on('established', (n) => { if (p.session === s) this.onEstablished(p, n); });
    s.on('update', (m, info) => { if (p.session === s) this.onUpdate(p, m, info); });
    s.on('route-refresh', (m) => { if (p.session === s) this.onRouteRefresh(p, m.afi, m.safi, m.subtype); });
    s.on('down', (r) => { if (p.session === s) this.onDown(p, r); });
  }

  /** Stop a peer's current session for good (Cease/subcode) and drop what it contributed. */
  private retire(p: Peer, subcode: number): void {
    const s = p.session;
    this.listener.removeSession(s);
    if (this.listenerKeys.has(p.config.address)) this.setListenerKey(p, undefined);
    if (this.listenerGtsm.has(p.config.address)) this.setListenerGtsm(p, undefined);
    s.automaticStop(subcode, { restart: false });
    if (p.adjIn || p.group) this.detachRib(p);
  }

  /**
   * TCP-MD5 key for a peer on the listening socket (the kernel checks incoming SYNs against it
   * and copies it to the accepted socket). Only this peer's key changes: other sessions, and
   * their keys, are untouched.
   */
  private setListenerKey(p: Peer, key: string | undefined): void {
    if (key === undefined) this.listenerKeys.delete(p.config.address); else this.listenerKeys.set(p.config.address, key);
    if (this.server === undefined) return;
    try {
      setListenerMd5(this.server, p.config.address, key);
    } catch (err) {
      p.lastError = `cannot ${key === undefined ? 'remove' : 'set'} the TCP-MD5 key on the listener: ${describeError(err)}`;
      this.log.error({ peer: p.config.name, err: describeError(err) }, 'listener TCP-MD5 key not set: incoming connections from this peer will fail');
    }
  }

  /** A GTSM peer's minimum TTL in the listener's filter (socket-options.ts says why). */
  private setListenerGtsm(p: Peer, minTtl: number | undefined): void {
    if (minTtl === undefined) this.listenerGtsm.delete(p.config.address); else this.listenerGtsm.set(p.config.address, minTtl);
    if (this.server === undefined) return;
    try {
      setListenerTtlFilter(this.server, [...this.listenerGtsm].map(([address, min]) => ({ address, minTtl: min })));
    } catch (err) {
      p.lastError = `cannot set the GTSM filter on the listener: ${describeError(err)}`;
      this.log.error({ peer: p.config.name, err: describeError(err) }, 'listener GTSM filter not set: the minimum TTL is checked only after accept');
    }
  }

  private background(pr: Promise<void>, name: string, what: string): void {
    pr.catch((err: unknown) => this.log.warn({ peer: name, err: describeError(err) }, `${what} failed`));
  }

  private onEstablished(p: Peer, n: NegotiatedSession): void {
    if (this.stopped) return;
    if (p.adjIn || p.group) this.detachRib(p);
    p.negotiated = n;
    p.ctx = n.codec;
    p.lastError = undefined;
    p.establishedWall = this.deps.clock.wallNow();
    p.eorReceived = new Set();
    p.disabledFamilies = new Set();
    p.nhRetry?.cancel();
    p.nhRetry = undefined;
    p.nhRetryDelay = 0;
    p.sends4 = n.families.some((f) => f.afi === 1 && f.safi === 1);
    p.sends6 = n.families.some((f) => f.afi === 2 && f.safi === 1);
    const address = parseAddress(p.config.address).bytes;
    const info: PeerInfo = {
      id: p.config.name, kind: n.ibgp ? 'ibgp' : 'ebgp', asn: p.config.asn, routerId: n.peerBgpId >>> 0, address,
      ...(p.config.routeReflectorClient ? { rrClient: true } : {}),
    };
    p.adjIn = this.rib.addPeer(info, {
      ...(p.importPolicy ? { policy: p.importPolicy } : {}),
      ...(p.config.allowAsIn !== undefined && p.config.allowAsIn > 0 ? { allowAsIn: p.config.allowAsIn } : {}),
      ...(p.config.localAs !== undefined ? { localAs: p.config.localAs } : {}),
    });
    const localText = canonicalAddress(p.session.connection?.localAddress);
    const local = localText !== undefined ? parseAddress(localText) : undefined;
    p.local4 = local?.family === 4 ? local.bytes : this.otherFamilyNextHop(p, 4, localText);
    p.local6 = local?.family === 6 ? local.bytes : this.otherFamilyNextHop(p, 6, localText);
    const c = n.codec;
    const nhText = (b: Uint8Array | undefined) => (b ? formatAddress(b) : '-');
    p.encodingKey = `${c.fourOctetAs ? 4 : 2}|${c.extendedMessage ? 1 : 0}|${[...c.addPathSend].join(',')}|${nhText(p.local4)}|${nhText(p.local6)}|${p.sends4 ? 1 : 0}${p.sends6 ? 1 : 0}`;
    p.prepared = new Map();
    p.preparedGen = -1;
    const g = this.joinGroup(p, n);
    this.sendBatch(p, g.ug.table(p.config.name, this.rib), undefined);
    // End-of-RIB (RFC 4724 §2) after the initial table, per family.
    const eor: Uint8Array[] = [];
    for (const f of n.families) if (f.safi === 1 && (f.afi === 1 || f.afi === 2)) eor.push(encodeEndOfRib(f));
    if (eor.length) p.session.sendEncoded(eor);
  }

  /** Put the peer into the update group of its export target (created on demand). */
  private joinGroup(p: Peer, n: NegotiatedSession): Group {
    // Placeholder next hops: members on different local addresses share the group.
    const target: ExportTarget = {
      kind: n.ibgp ? 'ibgp' : 'ebgp', localAs: p.config.localAs ?? this.config.asn, routerId: this.rib.routerId, routeReflector: true,
      ...(p.config.routeReflectorClient ? { rrClient: true } : {}),
      localAddress: NEXT_HOP_SELF_V4, localAddress6: NEXT_HOP_SELF_V6,
      ...(p.config.nextHopSelf ? { nextHopSelf: true } : {}),
      ...(p.config.nextHopKeep === true && !n.ibgp ? { nextHopKeep: true } : {}),
      ...(p.exportPolicy ? { policy: p.exportPolicy } : {}),
    };
    const families = { v4: p.sends4, v6: p.sends6 };
    const key = `${exportTargetKey(target)}|${families.v4 ? 4 : ''}${families.v6 ? 6 : ''}`;
    let g = this.groups.get(key);
    if (!g) { g = { key, ug: new UpdateGroup(target, families), members: new Map() }; this.groups.set(key, g); }
    this.flushGroup(g, undefined); // the members so far get the pending changes; the new one gets the table
    g.ug.addMember(p.config.name);
    g.members.set(p.config.name, p);
    p.group = g;
    return g;
  }

  private onDown(p: Peer, r: DownReason): void {
    p.lastError = downText(r, p.config.asn);
    this.detachRib(p);
  }

  /** Take a peer out of its update group and the Loc-RIB (its routes are withdrawn from the others). */
  private detachRib(p: Peer): void {
    const g = p.group;
    if (g) {
      g.ug.removeMember(p.config.name);
      g.members.delete(p.config.name);
      if (g.members.size === 0) this.groups.delete(g.key);
    }
    p.group = undefined;
    p.negotiated = undefined;
    p.ctx = undefined;
    p.prepared = new Map();
    if (p.adjIn) { p.adjIn = undefined; this.rib.removePeer(p.config.name); }
  }

  // ------------------------------------------------------------ inbound

  /**
   * RFC 7606 §2 AFI/SAFI disable (RFC 4760 §7): drop every route of that family from this peer
   * and ignore the family until the session ends; no NOTIFICATION.
   */
  private disableFamilies(p: Peer, info: UpdateInfo): void {
    for (const e of info.problems) {
      if (e.action !== 'afi-safi-disable' || e.afiSafi === undefined || e.afiSafi.safi !== 1) continue;
      const family: 4 | 6 = e.afiSafi.afi === 2 ? 6 : 4;
      if (p.disabledFamilies.has(family)) continue;
      p.disabledFamilies.add(family);
      const n = p.adjIn?.withdrawFamily(family) ?? 0;
      this.log.warn({ peer: p.config.name, family: `ipv${family}`, withdrawn: n, problem: e.message },
        'malformed UPDATE: address family disabled for this session, its routes withdrawn (RFC 7606 AFI/SAFI disable)');
    }
  }

  private onUpdate(p: Peer, update: UpdateMessage, info: UpdateInfo): void {
    let m = update;
    const rib = p.adjIn;
    if (!rib) return;
    // the session's codec puts classic IPv4 prefixes in compact4 (typed arrays, see bgp/wire)
    const c4 = m.compact4;
    if (m.nlri.length === 0 && m.withdrawn.length === 0 && (c4 === undefined || c4.nlri.length + c4.withdrawn.length === 0)
      && m.mpReach === undefined && info.action === undefined) {
      const eor = endOfRibFamily(m);
      if (eor) { p.eorReceived.add(eor.afi === 2 ? 'ipv6-unicast' : eor.afi === 1 ? 'ipv4-unicast' : `${eor.afi}/${eor.safi}`); return; }
    }
    if (info.action === 'afi-safi-disable') this.disableFamilies(p, info);
    const off = p.disabledFamilies;
    if (off.size > 0) m = withoutFamilies(m, off);
    const w4 = m.compact4?.withdrawn, n4 = m.compact4?.nlri;
    if (m.withdrawn.length) rib.withdraw(m.withdrawn);
    if (w4?.length) rib.withdraw(w4);
    if (m.mpUnreach?.withdrawn.length) rib.withdraw(m.mpUnreach.withdrawn);
    if (info.action === 'treat-as-withdraw') {
      const n = m.nlri.length + (n4?.length ?? 0) + (m.mpReach?.nlri.length ?? 0);
      const extra = this.malformedLog.take(p.config.name);
      if (extra !== undefined) {
        this.log.warn({ peer: p.config.name, action: info.action, problems: info.problems.map((e) => e.message), prefixes: n, ...extra },
          'malformed UPDATE: its routes are treated as withdrawn (RFC 7606)');
      }
      if (m.nlri.length) rib.withdraw(m.nlri);
      if (n4?.length) rib.withdraw(n4);
      if (m.mpReach?.nlri.length) rib.withdraw(m.mpReach.nlri);
      return;
    }
    if (m.nlri.length) rib.update(m.nlri, m.attributes);
    if (n4?.length) rib.update(n4, m.attributes);
    if (m.mpReach?.nlri.length) rib.update(m.mpReach.nlri, m.attributes, m.mpReach.nextHops[0]);
    const max = p.config.maxPrefixes;
    if (max !== undefined && rib.received > max) {
      this.log.warn({ peer: p.config.name, max, received: rib.received }, 'maximum prefixes exceeded: Cease/1');
      const fam = m.mpReach ? [m.mpReach.afi >>> 8, m.mpReach.afi & 255, m.mpReach.safi] : [0, 1, 1];
      p.session.automaticStop(CeaseSubcode.MAX_PREFIXES, { restart: true, data: Uint8Array.of(...fam, max >>> 24, (max >>> 16) & 255, (max >>> 8) & 255, max & 255) });
    }
  }

  private onRouteRefresh(p: Peer, afi: number, safi: number, subtype: number): void {
    p.routeRefreshIn++;
    const g = p.group;
    if (subtype !== 0 || !g || !p.negotiated) return; // BoRR/EoRR from the peer: our Adj-RIB-In stays as is
    const enhanced = p.negotiated.enhancedRouteRefresh;
    this.flushGroup(g, undefined);
    if (enhanced) p.session.send({ type: 'route-refresh', afi, safi, subtype: 1 });
    this.sendBatch(p, g.ug.table(p.config.name, this.rib), undefined);
    if (enhanced) p.session.send({ type: 'route-refresh', afi, safi, subtype: 2 });
  }

  // ------------------------------------------------------------ Loc-RIB → update groups

  private onBestChange(changes: BestChanges): void {
    for (const g of this.groups.values()) {
      g.ug.apply(changes);
      // A burst (many UPDATEs read in one event-loop turn) is passed on in slices rather than
      // all at the setImmediate: the decoded prefixes and change records die young instead of
      // being promoted to the old generation, and the first bytes leave sooner.
      // Each flush costs a write per member: large groups (a Calico mesh) wait for more changes.
      if (g.ug.pendingCount >= EAGER_FLUSH * Math.max(1, g.members.size - 15)) this.flushGroup(g, newEncodedCache());
    }
    if (this.groups.size > 0) this.scheduleFlush();
    if (this.listeners.length === 0) return;
    const { best, previous } = changes;
    for (let i = 0; i < changes.length; i++) {
      const b = best[i];
      if (b === previous[i]) continue;
      const prefix = changes.prefixes.prefix(i);
      const key = formatPrefix(prefix);
      const change: BestPathChange = { prefix: key, best: b ? this.view(key, b, true, this.bestReason(prefix)) : undefined };
      for (const l of this.listeners) {
        try { l(change); } catch (err) { this.log.error({ err: describeError(err) }, 'onBestPathChange listener threw'); }
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flushGroup(g: Group, shared: EncodedCache | undefined): void {
    g.ug.flush((id, batch) => {
      const p = g.members.get(id);
      if (p) this.sendBatch(p, batch, shared);
    });
  }

  /**
   * Encode and send one member batch: withdrawals, then packed UPDATEs per attribute set, of
   * the families the peer negotiated, leaving out the entries the batch says to skip (the
   * peer's own routes). Members given the same plain batch that encode identically (codec
   * context, next hops, families) reuse the bytes.
   */
  private sendBatch(p: Peer, mb: MemberBatch, shared: EncodedCache | undefined): void {
    const g = p.group, ctx = p.ctx;
    if (!g || !ctx) return;
    const plain = mb.skip.length === 0 && mb.extra === undefined;
    let byKey = plain ? shared?.bytes.get(mb.base) : undefined;
    const hit = byKey?.get(p.encodingKey);
    if (hit) { if (hit.msgs) p.session.sendEncoded([hit.msgs], hit.count); return; }
    if (p.preparedGen !== g.ug.generation || p.prepared.size > PREPARED_LIMIT) { p.prepared = new Map(); p.preparedGen = g.ug.generation; }
    const blobs = shared?.blobs ?? new Map<readonly number[], Array<NlriBlob | undefined>>();
    let skip: Uint32Array | undefined;
    let stamp = 0;
    if (mb.skip.length) {
      const n = mb.base.prefixes.length;
      if (this.skipMask.length < n) this.skipMask = new Uint32Array(Math.max(n, this.skipMask.length * 2));
      stamp = ++this.skipStamp;
      if (stamp === 0xffffffff) { this.skipMask.fill(0); this.skipStamp = stamp = 1; }
      skip = this.skipMask;
      for (const i of mb.skip) skip[i] = stamp;
    }
    const asm = new UpdateAssembler(ctx);
    this.encodeInto(p, ctx, mb.base, skip, stamp, asm, blobs);
    if (mb.extra) this.encodeInto(p, ctx, mb.extra, undefined, 0, asm, blobs);
    const cached = plain && shared !== undefined;
    const scratch = cached ? undefined : this.scratchFor(asm.byteLength);
    const out = asm.finish(scratch);
    if (cached) {
      if (!byKey) { byKey = new Map(); shared.bytes.set(mb.base, byKey); }
      byKey.set(p.encodingKey, { msgs: out, count: asm.messages });
    }
    if (!out) return;
    p.session.sendEncoded([out], asm.messages);
    // The kernel took it all at once (the usual case): the scratch buffer is free again. Else the
    // socket holds it until written; the next batch gets a new one.
    if (scratch !== undefined && out.buffer === scratch.buffer && !p.session.writeIdle) this.scratch = undefined;
  }

  /**
   * A buffer to encode one member's batch into, reused from batch to batch and member to member
   * while the kernel takes each write at once: encoding a skip batch for each of 100 members
   * otherwise left a new buffer per member per flush for the garbage collector, tens of MB of
   * dead external memory at the peak of a 100 x 1k run. Undefined (allocate) above SCRATCH_MAX.
   */
  private scratchFor(bytes: number): Uint8Array | undefined {
    if (bytes > SCRATCH_MAX) return undefined;
    if (this.scratch === undefined || this.scratch.length < bytes) {
      this.scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(bytes, 64 << 10, 2 * (this.scratch?.length ?? 0))));
    }
    return this.scratch;
  }

  private encodeInto(p: Peer, ctx: CodecContext, b: GroupBatch, skip: Uint32Array | undefined, stamp: number, asm: UpdateAssembler,
    blobs: Map<readonly number[], Array<NlriBlob | undefined>>): void {
    const fams: Array<4 | 6> = p.sends4 ? (p.sends6 ? [4, 6] : [4]) : p.sends6 ? [6] : [];
    const blobOf = (idx: readonly number[], family: 4 | 6): NlriBlob => {
      const ap = addPathSend(ctx, family);
      let arr = blobs.get(idx);
      if (!arr) { arr = []; blobs.set(idx, arr); }
      const slot = (family === 6 ? 2 : 0) + (ap ? 1 : 0);
      return (arr[slot] ??= nlriBlob(b.prefixes, idx, family, ap));
    };
    if (b.withdraw.length) for (const family of fams) asm.add(blobOf(b.withdraw, family), b.withdraw, family, undefined, skip, stamp);
    for (const a of b.announce) {
      for (const family of fams) {
        const blob = blobOf(a.idx, family); // shared by the members of this flush
        if (blob.bytes.length === 0) continue; // no prefix of this family (no per-member scan)
        const prep = this.prepare(p, a.attrs, family === 6, ctx);
        if (!prep) continue;
        try {
          asm.add(blob, a.idx, family, prep, skip, stamp);
        } catch (err) {
          this.log.error({ peer: p.config.name, err: describeError(err), prefixes: a.idx.length }, 'cannot encode UPDATE; routes not sent');
        }
      }
    }
  }

  /**
   * Our next hop for the family the session's own address is not (IPv6 routes over an IPv4
   * session and vice versa): the configured nextHopSelf4/6, else the first global address of
   * that family on the interface holding the session's local address (as BIRD and FRR do).
   */
  private otherFamilyNextHop(p: Peer, family: 4 | 6, localText: string | undefined): Uint8Array | undefined {
    const configured = family === 4 ? p.config.nextHopSelf4 : p.config.nextHopSelf6;
    if (configured !== undefined) return parseAddress(configured).bytes;
    if (!p.config.families.includes(family === 6 ? 'ipv6-unicast' : 'ipv4-unicast') || localText === undefined) return undefined;
    const found = interfaceAddress(localText, family);
    if (found === undefined) this.log.info({ peer: p.config.name, family }, `no IPv${family} address on the interface of ${localText}: IPv${family} routes need nextHopSelf${family} or an originated next hop`);
    return found;
  }

  /**
   * No next hop for a family we must send: the interface lookup can come back empty right after
   * the links come up (an interrupted dump). Look again later (0.5 s doubling to 60 s); once
   * found, the peer gets its whole table again (what it missed was never sent).
   */
  private noNextHop(p: Peer, family: 4 | 6): void {
    if (p.nhRetry !== undefined) return;
    if (p.nhRetryDelay === 0) {
      this.log.warn({ peer: p.config.name, family: `ipv${family}` }, `no IPv${family} next hop (no address of that family on the session or its interface, no nextHopSelf${family}): IPv${family} routes not sent; will look again`);
    }
    p.nhRetryDelay = Math.min(60_000, p.nhRetryDelay === 0 ? 500 : p.nhRetryDelay * 2);
    const s = p.session;
    p.nhRetry = this.deps.clock.setTimeout(() => {
      p.nhRetry = undefined;
      if (p.session !== s || !p.group || !p.ctx || this.stopped) return;
      const found = this.otherFamilyNextHop(p, family, canonicalAddress(s.connection?.localAddress));
      if (!found) { this.noNextHop(p, family); return; }
      if (family === 6) p.local6 = found; else p.local4 = found;
      p.encodingKey += `|${formatAddress(found)}`;
      p.prepared = new Map();
      this.log.info({ peer: p.config.name, family: `ipv${family}`, nextHop: formatAddress(found) }, 'next hop found on a later look: sending the table again');
      this.flushGroup(p.group, undefined);
      this.sendBatch(p, p.group.ug.table(p.config.name, this.rib), undefined);
    }, p.nhRetryDelay);
  }

  /** The encoded attribute block for this peer: placeholder next hops become its own address. */
  private prepare(p: Peer, attrs: ExportedAttributes, v6: boolean, ctx: CodecContext): PreparedAttributes | undefined {
    const hit = p.prepared.get(attrs);
    if (hit !== undefined) return hit ?? undefined;
    let prep: PreparedAttributes | null = null;
    const { nextHop, mpNextHop, ...rest } = attrs;
    let nh = v6 ? mpNextHop : nextHop;
    if (!nh || isSelfNextHop(nh)) nh = v6 ? p.local6 : p.local4;
    if (!nh || nh.length !== (v6 ? 16 : 4)) {
      this.noNextHop(p, v6 ? 6 : 4);
      return undefined; // not cached: a later look may find one
    } else {
      try {
        prep = prepareAttributes(v6 ? { afi: 2, safi: 1 } : { afi: 1, safi: 1 }, rest, nh, ctx);
      } catch (err) {
        this.log.error({ peer: p.config.name, err: describeError(err) }, 'cannot encode path attributes; routes not sent');
      }
    }
    p.prepared.set(attrs, prep);
    return prep ?? undefined;
  }
}

/** A global address of `family` on the interface that holds `localText` (os.networkInterfaces). */
function interfaceAddress(localText: string, family: 4 | 6): Uint8Array | undefined {
  const all = networkInterfaces();
  for (const addrs of Object.values(all)) {
    if (!addrs?.some((a) => canonicalAddress(a.address) === localText)) continue;
    const want = addrs.find((a) => (family === 6 ? a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80') && a.address !== '::1' : a.family === 'IPv4' && !a.internal));
    if (want) return parseAddress(want.address).bytes;
  }
  return undefined;
}

/** The UPDATE without the NLRI of disabled families (classic fields are IPv4, MP by AFI). */
function withoutFamilies(m: UpdateMessage, off: ReadonlySet<4 | 6>): UpdateMessage {
  const v4 = off.has(4);
  const mpOff = (afi: number) => off.has(afi === 2 ? 6 : 4);
  const { mpReach, mpUnreach, compact4, ...rest } = m;
  return {
    ...rest,
    withdrawn: v4 ? [] : m.withdrawn, nlri: v4 ? [] : m.nlri,
    ...(compact4 && !v4 ? { compact4 } : {}),
    ...(mpReach && !mpOff(mpReach.afi) ? { mpReach } : {}),
    ...(mpUnreach && !mpOff(mpUnreach.afi) ? { mpUnreach } : {}),
  };
}

function sumCounts(r: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const k in r) n += r[k] ?? 0;
  return n;
}

/** BIRD-style last error: "Received: Bad peer AS", "Error: Bad peer AS: 65001 (expected 65004)", "Socket: ...". */
function downText(r: DownReason, configuredAs: number): string {
  const got = r.notificationReceived;
  if (got) return `Received: ${notificationText(got)}`;
  const sent = r.notificationSent;
  if (sent) {
    const d = notificationText(sent);
    if (sent.code === 6) return `Sent: ${d}`;
    if (sent.code === 2 && sent.subcode === 2) {
      const m = /peer AS (\d+)/.exec(r.text);
      if (m) return `Error: Bad peer AS: ${m[1]} (expected ${configuredAs})`;
    }
    return `Error: ${d} (${r.text})`;
  }
  return `Socket: ${r.text}`;
}

function idText(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** The BGP attribute columns of a RouteView (accepted and filtered routes alike). */
function attributesView(a: PathAttributes): Pick<RouteView, 'asPath' | 'origin' | 'med' | 'localPref' | 'communities'> {
  return {
    asPath: flattenAsPath(a.asPath), origin: ORIGIN_NAMES[a.origin ?? 2] ?? 'incomplete',
    ...(a.med !== undefined ? { med: a.med } : {}),
    ...(a.localPref !== undefined ? { localPref: a.localPref } : {}),
    communities: (a.communities ?? []).map((x) => `${x >>> 16}:${x & 0xffff}`),
  };
}

function flattenAsPath(path: readonly AsPathSegment[] | undefined): number[] {
  const out: number[] = [];
  for (const s of path ?? []) if (s.type === AsPathSegmentType.AS_SEQUENCE || s.type === AsPathSegmentType.AS_SET) out.push(...s.asns);
  return out;
}

function capabilityNames(caps: readonly Capability[]): string[] {
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

