/**
 * The driver of one BGP session (RFC 4271 §8): owns the TCP connection(s), the clock, framer
 * and codec; feeds the sans-I/O FSM (bgp/fsm/fsm.ts) and executes its outputs. Connection
 * collisions (§6.8) run a second FSM on the incoming connection until the BGP identifiers decide
 * which connection survives; the loser gets Cease/7.
 */
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import type { TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { assertNever } from '../../common/assert-never.js';
import { describeError } from '../../common/errors.js';
import { BgpWireError, CeaseSubcode, ErrorCode } from '../wire/errors.js';
import type { BgpMessage, NotificationMessage, RouteRefreshMessage, UpdateMessage } from '../wire/types.js';
import { BgpFsm } from '../fsm/fsm.js';
import type { FsmConfig, FsmInput, FsmOutput, FsmState, NegotiatedSession, TimerName } from '../fsm/fsm-types.js';
import { notification, notificationText } from '../fsm/notifications.js';
import { decodeShutdownCommunication } from '../wire/notification.js';
import { Connection, type ConnectionHandlers } from './connection.js';
import { incomingAction } from './incoming.js';
import { errorInput, TIMER_INPUT } from './fsm-inputs.js';
import { formatAddress, intToIpv4 } from '../../common/prefix.js';
import { LogLimiter } from '../../common/log-limiter.js';
import { applySocketOptions as defaultApplySocketOptions, connectTcp, md5UnansweredText, validateSocketOptions, type ApplySocketOptions } from './socket-options.js';
import { toFsmConfig, type ConnectOptions, type ConnectionInfo, type NotificationInfo, type SessionConfig, type SessionDeps,
  type SessionEventMap, type SessionStats, type StateChange, noMessages } from './session-config.js';

export type { ConnectOptions, ConnectionInfo, NotificationInfo, SessionConfig, SessionDeps, SessionEventMap, SessionStats,
  StateChange, UpdateInfo } from './session-config.js';

/** An FSM with the connection and timers it drives. */
interface Endpoint {
  readonly fsm: BgpFsm;
  conn: Connection | undefined;
  readonly timers: Map<TimerName, { handle: TimerHandle; deadline: number }>;
  /** True for the session's FSM; false for the FSM of an incoming connection during a collision. */
  main: boolean;
}

export class BgpSession extends EventEmitter<SessionEventMap> {
  readonly name: string;
  readonly config: SessionConfig;
  readonly fsmConfig: FsmConfig;
  private readonly log: Logger;
  private main: Endpoint;
  private second: Endpoint | undefined;
  private readonly connectFn: (options: ConnectOptions) => Socket;
  private readonly applyOpts: ApplySocketOptions;
  private sinceWall: number;
  private establishedAt: number | undefined;
  private counters = { establishedTransitions: 0, flaps: 0, collisions: 0, messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0 };
  private lastError: string | undefined;
  private readonly types = { in: noMessages(), out: noMessages() };
  private readonly notifSent: Record<string, number> = {};
  private readonly notifReceived: Record<string, number> = {};
  private lastSent: NotificationInfo | undefined;
  private lastReceived: NotificationInfo | undefined;
  private readonly handlers: ConnectionHandlers;
  private sendHold: { handle: TimerHandle } | undefined;
  /** Lines a peer can make us repeat (malformed UPDATEs kept up per RFC 7606, unanswered MD5 SYNs): rate-limited. */
  private readonly repeatLog: LogLimiter;

  constructor(config: SessionConfig, private readonly deps: SessionDeps) {
    super();
    this.config = config;
    this.name = config.name ?? config.peerAddress;
    this.fsmConfig = toFsmConfig(config, `session ${this.name}`);
    this.log = deps.logger.child({ peer: this.name });
    this.connectFn = deps.connect ?? ((o) => connectTcp(o));
    if (config.socketOptions) validateSocketOptions(config.socketOptions, `session ${this.name}`);
    this.applyOpts = deps.applySocketOptions ?? defaultApplySocketOptions;
    this.repeatLog = new LogLimiter({ now: () => deps.clock.now() });
    this.main = this.newEndpoint(true);
    this.sinceWall = deps.clock.wallNow();
    this.handlers = {
      message: (conn, bytes) => this.onMessage(conn, bytes),
      framingError: (conn, err) => this.onFramingError(conn, err),
      closed: (conn, error) => this.onClosed(conn, error),
      drained: (conn) => { if (conn === this.main.conn) this.emit('drain'); },
      writeBlocked: (conn, blocked) => this.onWriteBlocked(conn, blocked),
    };
  }

  // ------------------------------------------------------------ public API

  get state(): FsmState { return this.main.fsm.state; }
  /** The negotiated parameters while OpenConfirm or Established. */
  get negotiated(): NegotiatedSession | undefined { return this.main.fsm.negotiated; }
  get peerAddress(): string { return this.config.peerAddress; }
  /** The path to the peer is back (BFD Up): connect now, not after the back-off (BgpFsm.pathRestored). */
  restartNow(): void { const i = this.main.fsm.pathRestored(); if (i !== undefined) this.feed(this.main, i); }

  get stats(): SessionStats {
    const now = this.deps.clock.now();
    return {
      name: this.name, state: this.state, since: this.sinceWall,
      uptimeMs: this.state === 'Established' && this.establishedAt !== undefined ? now - this.establishedAt : undefined,
      ...this.counters, lastError: this.lastError, lastNotificationSent: this.lastSent,
      lastNotificationReceived: this.lastReceived, queuedBytes: this.main.conn?.queuedBytes ?? 0, receivedBytes: this.main.conn?.receivedBytes ?? 0,
      connectRetryCounter: this.main.fsm.connectRetryCounter, messageTypes: { in: { ...this.types.in }, out: { ...this.types.out } }, timersLeftMs: Object.fromEntries([...this.main.timers].map(([k, t]) => [k, Math.max(0, t.deadline - now)])),
      notificationsSent: { ...this.notifSent }, notificationsReceived: { ...this.notifReceived },
    };
  }

  /** ManualStart (passive sessions wait for the peer). */
  start(): void {
    this.feed(this.main, this.fsmConfig.passive ? { type: 'ManualStart_with_PassiveTcpEstablishment' } : { type: 'ManualStart' });
  }

  /**
   * ManualStop: Cease/2 administrative shutdown (or `subcode`, e.g. 4 administrative reset),
   * with an optional RFC 9003 message. Resolves when the connection is closed.
   */
  async stop(message?: string, subcode?: number): Promise<void> {
    const conns = [this.main.conn, this.second?.conn].filter((c): c is Connection => c !== undefined);
    const input: FsmInput = { type: 'ManualStop', ...(message !== undefined ? { message } : {}), ...(subcode !== undefined ? { subcode } : {}) };
    if (this.second) { const s = this.second; this.second = undefined; this.feed(s, input); this.clearTimers(s); }
    this.feed(this.main, input);
    await Promise.all(conns.map((c) => c.whenClosed()));
  }

  /**
   * AutomaticStop (RFC 4271 event 8) with a Cease subcode: max prefixes (1, `data` = AFI, SAFI,
   * limit), peer de-configured (3), administrative reset (4), other configuration change (6).
   * With `restart` the session comes back after the idle-hold back-off.
   */
  automaticStop(subcode: number, options: { restart: boolean; message?: string; data?: Uint8Array }): void {
    const input: FsmInput = { type: 'AutomaticStop', subcode, restart: options.restart,
      ...(options.message !== undefined ? { message: options.message } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}) };
    if (this.second) { const s = this.second; this.second = undefined; this.feed(s, input); this.clearTimers(s); }
    this.feed(this.main, input);
  }

  /**
   * Administrative reset (Cease/4), then accept the peer's new connection at once but open our
   * own only after `delayMs`: reconnecting in the same tick meets a peer that still holds the
   * old session and answers Cease/7 (collision). Passive sessions just wait.
   */
  async resetWithPause(delayMs: number, message?: string): Promise<void> {
    // stop() feeds the FSM synchronously; the old connection closes in the background while we
    // already accept the peer's new one (an Idle session would refuse it).
    const closed = this.stop(message, CeaseSubcode.ADMINISTRATIVE_RESET);
    if (this.state === 'Idle') {
      const fsm = this.main.fsm;
      this.feed(this.main, { type: 'ManualStart_with_PassiveTcpEstablishment' });
      if (!this.fsmConfig.passive) {
        this.deps.clock.setTimeout(() => {
          if (this.main.fsm === fsm && this.main.conn === undefined && this.second === undefined && fsm.endPassiveWait()) {
            this.feed(this.main, { type: 'ConnectRetryTimer_Expires' });
          }
        }, delayMs);
      }
    }
    await closed;
  }

  /** Administrative reset (Cease/4) then start again at once. */
  async reset(message?: string): Promise<void> {
    await this.stop(message, CeaseSubcode.ADMINISTRATIVE_RESET);
    this.start();
  }

  /**
   * Send an UPDATE or ROUTE-REFRESH on the Established session. Returns false when nothing was
   * sent (not Established) or when the output queue is above writeHighWaterBytes: wait for
   * 'drain' before sending more. Above maxQueuedBytes the session is dropped with Cease/8.
   */
  send(message: UpdateMessage | RouteRefreshMessage): boolean {
    const conn = this.main.conn;
    if (this.state !== 'Established' || conn === undefined) return false;
    const ok = this.write(conn, message);
    if (message.type === 'update') this.counters.updatesOut++;
    return this.overQueueLimit(conn) ? false : ok;
  }

  /**
   * Send UPDATEs the caller encoded itself for this session's negotiated codec context
   * (`negotiated.codec`), e.g. one attribute block packed with many NLRI and shared by the
   * peers of an update group; `count`: how many UPDATEs the buffers hold (several may be
   * concatenated in one). Same return value and limits as send().
   */
  sendEncoded(messages: readonly Uint8Array[], count = messages.length): boolean {
    const conn = this.main.conn;
    if (this.state !== 'Established' || conn === undefined) return false;
    let ok = true;
    for (const m of messages) ok = conn.write(m);
    conn.flush(); // a whole batch: hand it to the kernel now rather than at the end of the tick
    this.counters.messagesOut += count;
    this.counters.updatesOut += count; this.types.out.update += count;
    return this.overQueueLimit(conn) ? false : ok;
  }

  /** See Connection.writeIdle; true without a connection (nothing can be holding a buffer). */
  get writeIdle(): boolean {
    return this.main.conn?.writeIdle ?? true;
  }

  /** Above maxQueuedBytes the peer is not reading: drop the session (Cease/8), true. Shared by send() and sendEncoded(). */
  private overQueueLimit(conn: { readonly queuedBytes: number }): boolean {
    if (conn.queuedBytes <= (this.config.maxQueuedBytes ?? 64 << 20)) return false;
    this.log.warn({ queuedBytes: conn.queuedBytes }, 'peer is not reading; dropping the session (Cease/8 out of resources)');
    this.automaticStop(CeaseSubcode.OUT_OF_RESOURCES, { restart: true });
    return true;
  }

  /** The current TCP connection: who initiated it and its endpoints. */
  get connection(): ConnectionInfo | undefined {
    const c = this.main.conn;
    if (c === undefined) return undefined;
    return { outgoing: c.outgoing, localAddress: c.socket.localAddress, localPort: c.socket.localPort,
      remoteAddress: c.socket.remoteAddress, remotePort: c.socket.remotePort };
  }

  /** Bytes waiting to go to the peer. */
  get queuedBytes(): number { return this.main.conn?.queuedBytes ?? 0; }

  /** An accepted TCP connection from this peer (called by the listener); what it does: ./incoming.ts. */
  acceptConnection(socket: Socket): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (this.config.socketOptions !== undefined) {
      // TTL and GTSM's minimum TTL before anything is read or sent, or the connection is refused.
      try {
        this.applyOpts(socket, this.config.socketOptions, `session ${this.name}`);
      } catch (err) {
        this.lastError = `incoming connection from ${remote} refused: ${describeError(err)}`;
        this.log.warn({ remote, err: describeError(err) }, 'incoming connection refused: cannot set its socket options');
        socket.destroy();
        return;
      }
    }
    const state = this.state;
    const now = this.deps.clock.now();
    const action = incomingAction({ state, hasConnection: this.main.conn !== undefined, hasSecond: this.second !== undefined,
      peerGracefulRestart: this.negotiated?.peerGracefulRestart !== undefined,
      establishedForMs: state === 'Established' && this.establishedAt !== undefined ? now - this.establishedAt : undefined });
    switch (action) {
      case 'adopt':
        this.main.conn = this.wrap(socket, false);
        this.log.debug({ remote }, 'incoming connection adopted');
        this.feed(this.main, { type: 'TcpConnectionConfirmed' });
        return;
      case 'second': {
        // Like BIRD's separate incoming/outgoing slots: the collision rule picks one, never both dropped.
        this.log.info({ remote, state }, 'incoming connection while our own attempt is in progress: running both until collision detection');
        const ep = this.newEndpoint(false);
        ep.conn = this.wrap(socket, false);
        this.second = ep;
        this.feed(ep, { type: 'ManualStart_with_PassiveTcpEstablishment' });
        this.feed(ep, { type: 'TcpConnectionConfirmed' });
        return;
      }
      case 'restart':
        // No NOTIFICATION; the GR helper (bgp/speaker/graceful-restart.ts) keeps the peer's routes stale.
        this.log.info({ remote }, 'peer reconnected while Established: it restarted (graceful restart); replacing the session');
        this.feed(this.main, { type: 'TcpConnectionFails', error: 'peer restarted (new connection, graceful restart)' });
        this.feed(this.main, { type: 'AutomaticStart' });
        this.acceptConnection(socket);
        return;
      case 'collision': {
        this.log.info({ remote, state }, 'incoming connection refused: connection collision with an existing session (Cease/7)');
        const conn = this.wrap(socket, false);
        this.write(conn, notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION));
        conn.close();
        return;
      }
      case 'idle':
        this.log.info({ remote }, 'incoming connection refused: session is Idle');
        socket.destroy();
        return;
      default: assertNever(action, 'incoming action');
    }
  }

  /** Tear everything down without a NOTIFICATION (process exit, tests). */
  destroy(): void {
    this.sendHold?.handle.cancel();
    this.sendHold = undefined;
    for (const ep of [this.main, this.second]) {
      if (!ep) continue;
      this.clearTimers(ep);
      ep.conn?.destroy();
      ep.conn = undefined;
    }
    this.second = undefined;
  }

  // ------------------------------------------------------------ FSM plumbing

  private newEndpoint(main: boolean): Endpoint {
    return { fsm: new BgpFsm(this.fsmConfig, { now: () => this.deps.clock.now() }), conn: undefined, timers: new Map(), main };
  }

  private wrap(socket: Socket, outgoing: boolean): Connection {
    return new Connection(socket, outgoing, this.deps.codec, this.handlers, this.log,
      this.config.sliceMessages ?? 256, this.config.writeHighWaterBytes ?? 1 << 20);
  }

  private feed(ep: Endpoint, input: FsmInput): void {
    if (input.type === 'ConnectRetryTimer_Expires' && ep === this.main && ep.fsm.state === 'Connect' && ep.conn?.outgoing === true
      && !ep.conn.connected && this.config.socketOptions?.md5Password !== undefined) this.unansweredSignedSyn();
    const outputs = ep.fsm.process(input);
    for (const o of outputs) this.execute(ep, o);
    this.afterFeed(ep);
  }

  /** Our MD5-signed SYN went unanswered for a whole connect retry time: say what that most likely is. */
  private unansweredSignedSyn(): void {
    this.lastError = md5UnansweredText(this.fsmConfig.connectRetryTime);
    const extra = this.repeatLog.take('md5-unanswered');
    if (extra !== undefined) this.log.warn({ ...extra }, this.lastError);
  }

  /**
   * When our own connection failed (main FSM back in Idle/Active/Connect without a connection)
   * while the incoming one is negotiating, continue on the incoming one.
   */
  private afterFeed(ep: Endpoint): void {
    const s = this.second;
    if (ep !== this.main || s === undefined || this.main.conn !== undefined) return;
    if (s.fsm.state !== 'OpenSent' && s.fsm.state !== 'OpenConfirm') return;
    const ms = this.main.fsm.state;
    if (ms === 'Idle' && !this.main.fsm.automaticRestart) return;
    if (ms !== 'Idle' && ms !== 'Active' && ms !== 'Connect') return;
    this.log.info({ state: s.fsm.state }, 'our connection attempt failed; continuing on the incoming connection');
    this.promote(s);
  }

  private promote(s: Endpoint): void {
    const old = this.main;
    this.clearTimers(old);
    if (old.conn !== undefined) { const c = old.conn; old.conn = undefined; c.destroy(); }
    s.fsm.inherit(old.fsm);
    s.main = true;
    this.main = s;
    this.second = undefined;
    if (old.fsm.state !== s.fsm.state) {
      this.transition({ from: old.fsm.state, to: s.fsm.state, reason: 'continuing on the connection the peer initiated' });
    } else {
      this.log.info({ state: s.fsm.state }, 'continuing on the connection the peer initiated');
    }
  }

  private execute(ep: Endpoint, o: FsmOutput): void {
    switch (o.type) {
      case 'connect': this.doConnect(ep); return;
      case 'send': {
        if (ep.conn === undefined) return;
        this.write(ep.conn, o.message);
        if (o.message.type === 'notification' && ep.main) this.lastSent = this.info(o.message);
        return;
      }
      case 'close': {
        const c = ep.conn;
        ep.conn = undefined;
        c?.close();
        return;
      }
      case 'start-timer': this.startTimer(ep, o.timer, o.ms); return;
      case 'stop-timer': this.stopTimer(ep, o.timer); return;
      case 'state-change':
        if (ep.main) this.transition(o);
        else this.log.debug({ from: o.from, to: o.to, reason: o.reason }, 'collision connection state');
        return;
      case 'established': {
        if (ep.conn !== undefined) ep.conn.ctx = o.session.codec;
        if (!ep.main) {
          // The incoming connection got there first while ours was still connecting.
          if (this.second !== ep) return;
          this.promote(ep);
        }
        this.counters.establishedTransitions++;
        this.establishedAt = this.deps.clock.now();
        this.log.info({ holdTime: o.session.holdTime, keepalive: o.session.keepaliveTime, families: o.session.families.map((f) => `${f.afi}/${f.safi}`) }, 'session established');
        this.emit('established', o.session);
        return;
      }
      case 'down': {
        if (!ep.main) return;
        if (o.reason.wasEstablished) this.counters.flaps++;
        this.lastError = o.reason.text;
        this.establishedAt = undefined;
        this.log.info({ reason: o.reason.text, sent: o.reason.notificationSent && notificationText(o.reason.notificationSent),
          received: o.reason.notificationReceived && notificationText(o.reason.notificationReceived) }, 'session down');
        this.emit('down', o.reason);
        return;
      }
      case 'deliver-update': return; // emitted by onMessage with the decode problems
      case 'deliver-route-refresh': if (ep.main) this.emit('route-refresh', o.message); return;
      default: assertNever(o, 'FSM output');
    }
  }

  private transition(o: StateChange): void {
    this.sinceWall = this.deps.clock.wallNow();
    this.log.info({ from: o.from, to: o.to, reason: o.reason }, `${o.from} -> ${o.to}`);
    this.emit('state', { from: o.from, to: o.to, reason: o.reason });
  }

  private info(n: NotificationMessage): NotificationInfo {
    const msg = decodeShutdownCommunication(n);
    return { code: n.code, subcode: n.subcode, text: notificationText(n), at: this.deps.clock.wallNow(), ...(msg !== undefined ? { shutdownMessage: msg } : {}) };
  }

  private write(conn: Connection, message: BgpMessage): boolean {
    let bytes: Uint8Array;
    try {
      bytes = this.deps.codec.encode(message, conn.ctx);
    } catch (err) {
      this.log.error({ err: describeError(err), type: message.type }, 'cannot encode message; not sent');
      return false;
    }
    this.counters.messagesOut++; this.types.out[message.type]++;
    if (message.type === 'notification') {
      const k = `${message.code}/${message.subcode}`;
      this.notifSent[k] = (this.notifSent[k] ?? 0) + 1;
    }
    return conn.write(bytes);
  }

  private doConnect(ep: Endpoint): void {
    const old = ep.conn;
    if (old !== undefined) { ep.conn = undefined; old.destroy(); }
    const opts: ConnectOptions = {
      host: this.config.peerAddress, port: this.config.peerPort ?? 179,
      ...(this.config.localAddress !== undefined ? { localAddress: this.config.localAddress } : {}),
      ...(this.config.socketOptions !== undefined ? { socketOptions: this.config.socketOptions } : {}),
    };
    let socket: Socket;
    try {
      socket = this.connectFn(opts);
    } catch (err) {
      const msg = describeError(err);
      this.log.warn({ err: msg }, 'cannot open connection');
      queueMicrotask(() => this.feed(ep, { type: 'TcpConnectionFails', error: msg }));
      return;
    }
    const conn = this.wrap(socket, true);
    ep.conn = conn;
    socket.once('connect', () => {
      conn.connected = true;
      if (ep.conn !== conn) { conn.destroy(); return; }
      this.feed(ep, { type: 'Tcp_CR_Acked' });
    });
  }

  private startTimer(ep: Endpoint, timer: TimerName, ms: number): void {
    const deadline = this.deps.clock.now() + ms;
    const cur = ep.timers.get(timer);
    // Restarting a timer later than it would fire (the hold timer on every message) only moves
    // the deadline; the callback re-arms for the remainder. No timer churn per message.
    if (cur !== undefined && deadline >= cur.deadline) { cur.deadline = deadline; return; }
    cur?.handle.cancel();
    const arm = (delay: number): TimerHandle => this.deps.clock.setTimeout(() => {
      const t = ep.timers.get(timer);
      if (t === undefined) return;
      const left = t.deadline - this.deps.clock.now();
      if (left > 0) { t.handle = arm(left); return; }
      ep.timers.delete(timer);
      this.feed(ep, { type: TIMER_INPUT[timer] });
    }, delay);
    ep.timers.set(timer, { handle: arm(ms), deadline });
  }

  private stopTimer(ep: Endpoint, timer: TimerName): void {
    ep.timers.get(timer)?.handle.cancel();
    ep.timers.delete(timer);
  }

  private clearTimers(ep: Endpoint): void {
    for (const t of ep.timers.values()) t.handle.cancel();
    ep.timers.clear();
  }

  private endpointOf(conn: Connection): Endpoint | undefined {
    if (this.main.conn === conn) return this.main;
    if (this.second?.conn === conn) return this.second;
    return undefined;
  }

  // ------------------------------------------------------------ connection events

  private onMessage(conn: Connection, bytes: Uint8Array): boolean {
    const ep = this.endpointOf(conn);
    if (ep === undefined) return false;
    this.counters.messagesIn++;
    let decoded;
    try {
      decoded = this.deps.codec.decode(bytes, conn.ctx);
    } catch (err) {
      this.feed(ep, errorInput(err, bytes[18] ?? 0));
      return ep.conn === conn;
    }
    const m = decoded.message; if (ep.main) this.types.in[m.type]++;
    if (decoded.action === 'session-reset') {
      const first = decoded.problems[0] ?? new BgpWireError(ErrorCode.UPDATE_MESSAGE, 0, 'session reset');
      this.feed(ep, errorInput(first, bytes[18] ?? 0));
      return ep.conn === conn;
    }
    if (decoded.problems.length > 0) {
      const extra = this.repeatLog.take('malformed');
      if (extra !== undefined) {
        this.log.warn({ type: m.type, action: decoded.action, problems: decoded.problems.map((p) => `${p.code}/${p.subcode} ${p.message}`), ...extra },
          'malformed message handled per RFC 7606');
      }
    }
    switch (m.type) {
      case 'open':
        if (this.collision(ep, m.bgpId >>> 0)) return false;
        this.feed(ep, { type: 'BGPOpen', message: m });
        break;
      case 'keepalive': this.feed(ep, { type: 'KeepAliveMsg' }); break;
      case 'notification':
        if (ep.main) this.lastReceived = this.info(m);
        this.notifReceived[`${m.code}/${m.subcode}`] = (this.notifReceived[`${m.code}/${m.subcode}`] ?? 0) + 1;
        this.log.info({ code: m.code, subcode: m.subcode, text: notificationText(m), main: ep.main }, 'NOTIFICATION received');
        this.feed(ep, { type: 'NotifMsg', message: m });
        break;
      case 'update':
        if (ep.main) this.counters.updatesIn++;
        this.feed(ep, { type: 'UpdateMsg', message: m });
        if (ep.main && ep.fsm.state === 'Established') this.emit('update', m, { action: decoded.action, problems: decoded.problems });
        break;
      case 'route-refresh': this.feed(ep, { type: 'RouteRefreshMsg', message: m }); break;
      default: assertNever(m, 'message');
    }
    return ep.conn === conn;
  }

  /**
   * RFC 4271 §6.8: an OPEN arrived on `ep` while the other connection is also negotiating. The
   * connection initiated by the speaker with the higher BGP identifier survives. Returns true
   * when `ep` itself was dumped (its OPEN must not be processed).
   */
  private collision(ep: Endpoint, peerId: number): boolean {
    const other = ep === this.main ? this.second : this.main;
    if (other === undefined || other.conn === undefined) return false;
    const os = other.fsm.state;
    if (os !== 'OpenSent' && os !== 'OpenConfirm' && os !== 'Established') return false;
    const localId = this.fsmConfig.routerId;
    const epOutgoing = ep.conn?.outgoing ?? false;
    // Keep the connection the higher identifier initiated.
    const keepOutgoing = localId > peerId;
    const loser = os === 'Established' ? ep : (epOutgoing === keepOutgoing ? other : ep);
    const winner = loser === ep ? other : ep;
    this.counters.collisions++;
    this.log.info({ localId: formatAddress(intToIpv4(localId)), peerId: formatAddress(intToIpv4(peerId)), kept: winner.conn?.outgoing === true ? 'outgoing' : 'incoming' },
      'connection collision resolved (Cease/7 to the other connection)');
    if (loser === this.main) {
      // Send Cease/7 on the old main connection and continue with the winner's FSM.
      const lc = loser.conn;
      loser.conn = undefined;
      if (lc !== undefined) {
        this.write(lc, notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION));
        lc.close();
      }
      this.promote(winner);
    } else {
      this.second = undefined;
      this.feed(loser, { type: 'OpenCollisionDump' });
      this.clearTimers(loser);
    }
    return loser === ep;
  }

  /** RFC 9687: while the kernel is not taking our output, check for progress every send hold time. */
  private onWriteBlocked(conn: Connection, blocked: boolean): void {
    this.sendHold?.handle.cancel();
    this.sendHold = undefined;
    const ep = this.endpointOf(conn);
    const ms = this.config.sendHoldTimeMs ?? Math.max(480_000, 2 * this.fsmConfig.holdTime * 1000);
    if (!blocked || ep === undefined || ms <= 0) return;
    const arm = (accepted: number): TimerHandle => this.deps.clock.setTimeout(() => {
      if (ep.conn !== conn || this.sendHold === undefined) return;
      if (conn.acceptedBytes > accepted) { this.sendHold = { handle: arm(conn.acceptedBytes) }; return; }
      this.sendHold = undefined;
      this.log.warn({ queuedBytes: conn.queuedBytes, ms }, 'no output progress for the send hold time');
      this.feed(ep, { type: 'SendHoldTimer_Expires' });
    }, ms);
    this.sendHold = { handle: arm(conn.acceptedBytes) };
  }

  private onFramingError(conn: Connection, err: unknown): void {
    const ep = this.endpointOf(conn);
    if (ep === undefined) { conn.destroy(); return; }
    this.feed(ep, errorInput(err, 0));
  }

  private onClosed(conn: Connection, error: string | undefined): void {
    const ep = this.endpointOf(conn);
    if (ep === undefined) return;
    ep.conn = undefined;
    if (ep === this.second) {
      this.second = undefined;
      this.clearTimers(ep);
      return;
    }
    this.feed(ep, { type: 'TcpConnectionFails', error: error ?? 'connection closed by peer' });
  }
}
