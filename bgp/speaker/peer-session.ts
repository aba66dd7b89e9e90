/**
 * One configured peer: connection attempts, the RFC 4271 §8 FSM (Idle, Connect, Active,
 * OpenSent, OpenConfirm, Established), hold/keepalive timers, connection collision (§6.8), and
 * NOTIFICATION bookkeeping. Interim driver until bgp/session/ lands; the speaker only uses the
 * callbacks below, so swapping the driver does not touch route handling.
 */
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { parseAddress, ipv4ToInt } from '../../common/prefix.js';
import { BgpWireError, CeaseSubcode, ErrorCode, OpenSubcode } from '../wire/errors.js';
import { Afi, INITIAL_CONTEXT, type Capability, type CodecContext, type OpenMessage } from '../wire/types.js';
import { Framer, decodeMessage, encodeKeepalive, encodeNotification, encodeOpen, type Decoded } from './codec.js';
import { describeNotification } from './notification-text.js';
import type { PeerConfig } from './peer-config.js';

export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface ConnectOptions { readonly host: string; readonly port: number; readonly localAddress?: string }

export interface SessionDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly connect: (o: ConnectOptions) => Socket;
}

export interface SessionEvents {
  established(s: PeerSession): void;
  message(s: PeerSession, d: Decoded): void;
  /** Left Established (or failed before): routes from this peer must go. */
  down(s: PeerSession, reason: string): void;
}

export interface Negotiated {
  readonly holdTime: number;
  readonly keepalive: number;
  readonly remoteId: number;
  readonly remoteCaps: readonly Capability[];
  readonly ctx: CodecContext;
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
  readonly families: readonly string[];
  readonly localAddress: string;
}

interface Conn {
  readonly socket: Socket;
  readonly outgoing: boolean;
  state: FsmState;
  framer: Framer;
  remoteOpen?: OpenMessage;
}

export class PeerSession {
  state: FsmState = 'Idle';
  /** Monotonic ms of the last state change. */
  since: number;
  lastError: string | undefined;
  establishedTransitions = 0;
  negotiated: Negotiated | undefined;
  readonly stats = { messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, notificationsIn: 0, notificationsOut: 0, routeRefreshIn: 0 };
  enabled = true;
  private conns: Conn[] = [];
  private active: Conn | undefined;
  private holdTimer: TimerHandle | undefined;
  private keepaliveTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private readonly log: Logger;

  constructor(public config: PeerConfig, private readonly local: { asn: number; routerId: string }, private readonly deps: SessionDeps,
    private readonly events: SessionEvents) {
    this.since = deps.clock.now();
    this.log = deps.logger.child({ peer: config.name });
  }

  get ibgp(): boolean { return this.config.asn === this.local.asn; }

  start(): void {
    this.enabled = true;
    this.setState(this.config.passive ? 'Active' : 'Connect');
    if (!this.config.passive) this.connectNow();
  }

  /** Send a Cease NOTIFICATION (if a connection is up) and go Idle; `restart` re-arms connecting. */
  stop(subcode: number, reason: string, restart = false): void {
    for (const c of [...this.conns]) this.closeConn(c, { code: ErrorCode.CEASE, subcode }, reason);
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    if (restart) this.start(); else { this.enabled = false; this.setState('Idle'); }
  }

  /** An incoming TCP connection from this peer's address (dispatched by the listener). */
  accept(socket: Socket): void {
    if (!this.enabled) {
      socket.end(encodeNotification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_REJECTED));
      return;
    }
    if (this.active?.state === 'Established') {
      this.log.info('connection from an established peer rejected (collision, Cease/7)');
      socket.end(encodeNotification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION));
      return;
    }
    this.attach(socket, false);
  }

  send(buf: Buffer): void {
    const c = this.active;
    if (!c || c.state !== 'Established') return;
    c.socket.write(buf);
    this.stats.messagesOut++;
    if (buf[18] === 2) this.stats.updatesOut++;
  }

  private setState(s: FsmState): void {
    if (s === this.state) return;
    this.log.debug({ from: this.state, to: s }, 'state');
    this.state = s;
    this.since = this.deps.clock.now();
  }

  private connectNow(): void {
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    if (!this.enabled || this.active?.state === 'Established') return;
    if (this.conns.some((c) => c.outgoing)) return;
    const sock = this.deps.connect({
      host: this.config.address, port: this.config.port,
      ...(this.config.localAddress !== undefined ? { localAddress: this.config.localAddress } : {}),
    });
    this.attach(sock, true);
  }

  private scheduleRetry(): void {
    if (!this.enabled || this.config.passive || this.retryTimer) return;
    this.retryTimer = this.deps.clock.setTimeout(() => { this.retryTimer = undefined; this.connectNow(); }, this.config.connectRetry * 1000);
  }

  private attach(socket: Socket, outgoing: boolean): void {
    const c: Conn = { socket, outgoing, state: outgoing ? 'Connect' : 'OpenSent', framer: new Framer() };
    this.conns.push(c);
    socket.setNoDelay(true);
    if (this.config.multihop !== undefined) { try { socket.on('connect', () => { /* TTL set by kernel default */ }); } catch { /* ignore */ } }
    const sendOpen = () => {
      const caps: Capability[] = [
        ...this.config.families.map((f): Capability => ({ type: 'multiprotocol', afi: f === 'ipv6-unicast' ? Afi.IPV6 : Afi.IPV4, safi: 1 })),
        { type: 'route-refresh' }, { type: 'enhanced-route-refresh' }, { type: 'four-octet-as', asn: this.local.asn },
      ];
      socket.write(encodeOpen(this.local.asn, this.config.holdTime, ipv4ToInt(parseAddress(this.local.routerId).bytes), caps));
      this.stats.messagesOut++;
      c.state = 'OpenSent';
      this.syncState();
      // A large hold timer while waiting for the OPEN (RFC 4271 §8.2.2 suggests 4 minutes).
      this.armHold(c, 240);
    };
    if (outgoing) socket.once('connect', sendOpen); else sendOpen();
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', (err) => {
      if (!this.lastError || c.state !== 'Connect') this.lastError = `Socket: ${err.message}`;
      this.log.debug({ err: err.message }, 'socket error');
    });
    socket.on('close', () => this.onClose(c));
    this.syncState();
  }

  private syncState(): void {
    const order: FsmState[] = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];
    let best: FsmState | undefined;
    for (const c of this.conns) if (!best || order.indexOf(c.state) > order.indexOf(best)) best = c.state;
    this.setState(best ?? (!this.enabled ? 'Idle' : this.config.passive ? 'Active' : 'Connect'));
  }

  private armHold(c: Conn, seconds: number): void {
    this.holdTimer?.cancel();
    this.holdTimer = undefined;
    if (seconds === 0) return;
    this.holdTimer = this.deps.clock.setTimeout(() => {
      this.closeConn(c, { code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0 }, 'Hold timer expired');
    }, seconds * 1000);
  }

  private onData(c: Conn, chunk: Buffer): void {
    let msgs: Buffer[];
    try { msgs = c.framer.push(chunk); } catch (err) { this.wireError(c, err); return; }
    for (const m of msgs) {
      if (!this.conns.includes(c)) return;
      this.stats.messagesIn++;
      let d: Decoded;
      try { d = decodeMessage(m, c === this.active && this.negotiated ? this.negotiated.ctx : { ...INITIAL_CONTEXT, fourOctetAs: true, ibgp: this.ibgp }); } catch (err) { this.wireError(c, err); return; }
      this.handle(c, d);
    }
  }

  private wireError(c: Conn, err: unknown): void {
    if (err instanceof BgpWireError) {
      this.closeConn(c, { code: err.code, subcode: err.subcode, data: err.data }, `Error: ${err.message}`);
    } else {
      this.closeConn(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.OUT_OF_RESOURCES }, `Error: ${String(err)}`);
    }
  }

  private handle(c: Conn, d: Decoded): void {
    const m = d.message;
    switch (m.type) {
      case 'open': this.onOpen(c, m); return;
      case 'keepalive':
        if (c.state === 'OpenConfirm') this.established(c);
        if (c === this.active && this.negotiated) this.armHold(c, this.negotiated.holdTime);
        return;
      case 'notification': {
        this.stats.notificationsIn++;
        const text = describeNotification(m.code, m.subcode, m.data);
        this.log.warn({ code: m.code, subcode: m.subcode }, `received NOTIFICATION: ${text}`);
        this.lastError = `Received: ${text}`;
        this.dropConn(c, this.lastError);
        return;
      }
      case 'update':
        if (c.state !== 'Established') { this.closeConn(c, { code: ErrorCode.FSM, subcode: c.state === 'OpenConfirm' ? 2 : 1 }, 'UPDATE before Established'); return; }
        this.stats.updatesIn++;
        if (this.negotiated) this.armHold(c, this.negotiated.holdTime);
        this.events.message(this, d);
        return;
      case 'route-refresh':
        if (c.state !== 'Established') return;
        this.stats.routeRefreshIn++;
        if (this.negotiated) this.armHold(c, this.negotiated.holdTime);
        this.events.message(this, d);
        return;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  private onOpen(c: Conn, m: OpenMessage): void {
    if (c.state !== 'OpenSent') { this.closeConn(c, { code: ErrorCode.FSM, subcode: 2 }, 'unexpected OPEN'); return; }
    const four = m.capabilities.find((x) => x.type === 'four-octet-as');
    const remoteAs = four?.type === 'four-octet-as' ? four.asn : m.myAs;
    if (remoteAs !== this.config.asn) {
      const data = m.myAs > 0xffff ? new Uint8Array(0) : Uint8Array.of(m.myAs >> 8, m.myAs & 0xff);
      this.closeConn(c, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.BAD_PEER_AS, data },
        `Error: Bad peer AS: ${remoteAs} (expected ${this.config.asn})`);
      return;
    }
    if (m.holdTime === 1 || m.holdTime === 2) {
      this.closeConn(c, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.UNACCEPTABLE_HOLD_TIME }, `Error: Unacceptable hold time ${m.holdTime}`);
      return;
    }
    const localId = ipv4ToInt(parseAddress(this.local.routerId).bytes);
    if (m.bgpId === localId && !this.ibgp) {
      this.closeConn(c, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.BAD_BGP_IDENTIFIER }, 'Error: Bad BGP identifier (same as ours)');
      return;
    }
    // Collision detection (RFC 4271 §6.8): keep the connection opened by the higher BGP Identifier.
    const other = this.conns.find((o) => o !== c && (o.state === 'OpenConfirm' || o.state === 'OpenSent' || o.state === 'Established'));
    if (other) {
      if (other.state === 'Established') { this.closeConn(c, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION }, 'collision', true); return; }
      const keepOutgoing = localId > m.bgpId;
      const loser = c.outgoing === keepOutgoing ? other : c;
      this.closeConn(loser, { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION }, 'collision', true);
      if (loser === c) return;
    }
    c.remoteOpen = m;
    c.state = 'OpenConfirm';
    c.socket.write(encodeKeepalive());
    this.stats.messagesOut++;
    const hold = Math.min(this.config.holdTime, m.holdTime);
    this.armHold(c, hold);
    this.active = c;
    this.syncState();
  }

  private established(c: Conn): void {
    const m = c.remoteOpen;
    if (!m) return;
    const hold = Math.min(this.config.holdTime, m.holdTime);
    const keepalive = hold === 0 ? 0 : Math.max(1, Math.min(this.config.keepalive, Math.floor(hold / 3)));
    const mp = m.capabilities.filter((x) => x.type === 'multiprotocol').map((x) => (x.type === 'multiprotocol' ? `${x.afi}/${x.safi}` : ''));
    const ours: string[] = this.config.families.map((f) => (f === 'ipv6-unicast' ? '2/1' : '1/1'));
    const families = mp.length === 0 ? ['1/1'].filter((f) => ours.includes(f)) : ours.filter((f) => mp.includes(f));
    this.negotiated = {
      holdTime: hold, keepalive, remoteId: m.bgpId, remoteCaps: m.capabilities,
      ctx: { ...INITIAL_CONTEXT, fourOctetAs: m.capabilities.some((x) => x.type === 'four-octet-as'), ibgp: this.ibgp },
      routeRefresh: m.capabilities.some((x) => x.type === 'route-refresh'),
      enhancedRouteRefresh: m.capabilities.some((x) => x.type === 'enhanced-route-refresh'),
      families, localAddress: (c.socket.localAddress ?? '').replace(/^::ffff:/, ''),
    };
    c.state = 'Established';
    this.active = c;
    this.lastError = undefined;
    this.establishedTransitions++;
    this.syncState();
    this.armHold(c, hold);
    this.armKeepalive(c);
    this.log.info({ holdTime: hold, families }, 'session established');
    this.events.established(this);
  }

  private armKeepalive(c: Conn): void {
    this.keepaliveTimer?.cancel();
    const ka = this.negotiated?.keepalive ?? 0;
    if (ka === 0) return;
    this.keepaliveTimer = this.deps.clock.setTimeout(() => {
      if (c !== this.active || c.state !== 'Established') return;
      c.socket.write(encodeKeepalive());
      this.stats.messagesOut++;
      this.armKeepalive(c);
    }, ka * 1000);
  }

  /** Send a NOTIFICATION on `c` and close it. */
  private closeConn(c: Conn, n: { code: number; subcode: number; data?: Uint8Array }, reason: string, quiet = false): void {
    if (!this.conns.includes(c)) return;
    if (c.state !== 'Connect') {
      c.socket.end(encodeNotification(n.code, n.subcode, n.data));
      this.stats.notificationsOut++;
      this.stats.messagesOut++;
    } else c.socket.destroy();
    if (!quiet) {
      const text = describeNotification(n.code, n.subcode, n.data ?? new Uint8Array(0));
      this.lastError = reason.startsWith('Error:') || reason.startsWith('Received:') ? reason : `Sent: ${text}`;
      this.log.warn({ code: n.code, subcode: n.subcode }, `sent NOTIFICATION: ${text} (${reason})`);
    }
    this.dropConn(c, reason);
  }

  private dropConn(c: Conn, reason: string): void {
    const i = this.conns.indexOf(c);
    if (i < 0) return;
    this.conns.splice(i, 1);
    const wasEstablished = c.state === 'Established';
    c.state = 'Idle';
    if (!c.socket.destroyed) c.socket.destroySoon?.();
    setTimeout(() => { if (!c.socket.destroyed) c.socket.destroy(); }, 1000).unref();
    if (c === this.active) {
      this.active = undefined;
      this.holdTimer?.cancel(); this.holdTimer = undefined;
      this.keepaliveTimer?.cancel(); this.keepaliveTimer = undefined;
      if (wasEstablished) {
        this.negotiated = undefined;
        this.log.info({ reason }, 'session down');
        this.events.down(this, reason);
      }
    }
    this.syncState();
    this.scheduleRetry();
  }

  private onClose(c: Conn): void {
    if (!this.conns.includes(c)) return;
    if (c.state === 'Established' && !this.lastError) this.lastError = 'Socket: Connection closed';
    else if (c.state === 'Established') this.lastError ??= 'Socket: Connection closed';
    this.dropConn(c, 'connection closed');
  }
}
