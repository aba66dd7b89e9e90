/**
 * The RFC 4271 §8 BGP finite state machine for one connection, sans-I/O: `process(input)`
 * returns the actions to take (connect, send, close, timers) and what happened (state changes
 * with a reason, established with the negotiated session, down, delivered messages). The driver
 * (bgp/session/session.ts) owns the socket and the clock. Timer events for timers that are not
 * running are stale and ignored, so a driver race cannot turn into an FSM error.
 *
 * Not modelled (optional in RFC 4271 §8.1): DelayOpen, SendNOTIFICATIONwithoutOPEN, collision
 * detection in Established (the driver refuses the second connection instead).
 */
import { assertNever } from '../../common/assert-never.js';
import { CeaseSubcode, ErrorCode, FsmSubcode, type BgpWireError } from '../wire/errors.js';
import type { NotificationMessage, OpenMessage } from '../wire/types.js';
import type { FsmConfig, FsmInput, FsmOutput, FsmState, NegotiatedSession, TimerName } from './fsm-types.js';
import { IdleHoldBackoff } from './idle-hold-backoff.js';
import { buildLocalOpen, negotiate, notificationGr, peerRestarting } from './negotiate.js';
import { checkOpen } from './open-check.js';
import { hardResetWrap, notification, shutdownNotification } from './notifications.js';

export interface FsmDeps {
  /** Monotonic milliseconds (only used to decide when the idle-hold back-off resets). */
  readonly now: () => number;
}

interface DropOptions {
  readonly notify?: NotificationMessage;
  readonly received?: NotificationMessage;
  /** Come back automatically after the idle-hold back-off. */
  readonly restart: boolean;
}

const FSM_SUBCODE: Partial<Record<FsmState, number>> = {
  OpenSent: FsmSubcode.UNEXPECTED_IN_OPENSENT,
  OpenConfirm: FsmSubcode.UNEXPECTED_IN_OPENCONFIRM,
  Established: FsmSubcode.UNEXPECTED_IN_ESTABLISHED,
};

const TIMER_EVENT: Partial<Record<FsmInput['type'], TimerName>> = {
  ConnectRetryTimer_Expires: 'connectRetry', HoldTimer_Expires: 'hold',
  KeepaliveTimer_Expires: 'keepalive', IdleHoldTimer_Expires: 'idleHold',
};

export class BgpFsm {
  private stateValue: FsmState = 'Idle';
  /** RFC 4271 ConnectRetryCounter: drops since the last ManualStart. */
  connectRetryCounter = 0;
  /** Set when the OPEN exchange completed (OpenConfirm and Established). */
  negotiated: NegotiatedSession | undefined;
  localOpen: OpenMessage;
  private backoffState: IdleHoldBackoff;
  private autoRestart = false;
  private passive: boolean;
  private readonly running = new Set<TimerName>();

  constructor(readonly config: FsmConfig, private readonly deps: FsmDeps) {
    this.localOpen = buildLocalOpen(config);
    this.passive = config.passive;
    this.backoffState = new IdleHoldBackoff(config.idleHold.minMs, config.idleHold.maxMs, config.idleHold.stableMs);
  }

  get state(): FsmState { return this.stateValue; }

  /**
   * Take over the restart policy of `other` (the FSM whose connection lost a collision), so the
   * surviving connection's FSM restarts the same way (active or passive, same back-off).
   */
  inherit(other: BgpFsm): void {
    this.passive = other.passive;
    this.autoRestart = other.autoRestart;
    this.connectRetryCounter = other.connectRetryCounter;
    this.backoffState = other.backoffState;
  }

  /** Whether the FSM will restart by itself (after ManualStart, until ManualStop). */
  get backoff(): IdleHoldBackoff { return this.backoffState; }

  get automaticRestart(): boolean { return this.autoRestart; }

  /**
   * The path to the peer works again (its BFD session came Up after the Down that closed this
   * session, RFC 5882 §4.3): the input that connects now instead of after the idle-hold back-off
   * (Idle, waiting to restart) or the connect retry time (Active), with the back-off forgotten.
   * Undefined when there is nothing to hurry: the session is connecting, up, or stopped by hand.
   */
  pathRestored(): FsmInput | undefined {
    if (this.stateValue === 'Idle' && this.autoRestart) { this.backoffState.reset(); return { type: 'AutomaticStart' }; }
    if (this.stateValue === 'Active' && !this.passive && this.running.has('connectRetry')) return { type: 'ConnectRetryTimer_Expires' };
    return undefined;
  }

  /**
   * After a passive start of a session configured active (restart with a pause): from now on
   * connect ourselves. True when the FSM was waiting passively (Active) and now is not; feed
   * ConnectRetryTimer_Expires to connect at once.
   */
  endPassiveWait(): boolean {
    if (this.config.passive || !this.passive || this.stateValue !== 'Active') return false;
    this.passive = false;
    return true;
  }

  process(input: FsmInput): FsmOutput[] {
    const timer = TIMER_EVENT[input.type];
    if (timer !== undefined) {
      if (!this.running.has(timer)) return [];
      this.running.delete(timer);
    }
    const out: FsmOutput[] = [];
    switch (this.stateValue) {
      case 'Idle': this.idle(input, out); break;
      case 'Connect':
      case 'Active': this.connecting(input, out); break;
      case 'OpenSent': this.openSent(input, out); break;
      case 'OpenConfirm': this.openConfirm(input, out); break;
      case 'Established': this.established(input, out); break;
      default: assertNever(this.stateValue, 'FSM state');
    }
    return out;
  }

  // ------------------------------------------------------------ helpers

  private go(out: FsmOutput[], to: FsmState, reason: string): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    out.push({ type: 'state-change', from, to, reason });
  }

  private startTimer(out: FsmOutput[], timer: TimerName, ms: number): void {
    this.running.add(timer);
    out.push({ type: 'start-timer', timer, ms });
  }

  private stopTimer(out: FsmOutput[], timer: TimerName): void {
    if (!this.running.delete(timer)) return;
    out.push({ type: 'stop-timer', timer });
  }

  private start(out: FsmOutput[], reason: string): void {
    this.stopTimer(out, 'idleHold');
    this.startTimer(out, 'connectRetry', this.config.connectRetryTime * 1000);
    if (this.passive) {
      this.go(out, 'Active', `${reason}; passive, waiting for the peer to connect`);
    } else {
      out.push({ type: 'connect' });
      this.go(out, 'Connect', reason);
    }
  }

  private sendOpen(out: FsmOutput[], reason: string): void {
    this.stopTimer(out, 'connectRetry');
    // Built per OPEN: a capability may change between connections (the graceful-restart R bit
    // is set only while the speaker defers selection after its restart).
    this.localOpen = buildLocalOpen(this.config);
    out.push({ type: 'send', message: this.localOpen });
    this.startTimer(out, 'hold', this.config.openHoldTimeMs);
    this.go(out, 'OpenSent', reason);
  }

  private restartHold(out: FsmOutput[]): void {
    const n = this.negotiated;
    if (n !== undefined && n.holdTime > 0) this.startTimer(out, 'hold', n.holdTime * 1000);
  }

  /** Every drop to Idle goes through here and carries a reason. */
  private drop(out: FsmOutput[], text: string, options: DropOptions): void {
    const wasEstablished = this.stateValue === 'Established';
    const session = wasEstablished ? this.negotiated : undefined;
    if (options.notify !== undefined && session !== undefined && notificationGr(session)) options = { ...options, notify: hardResetWrap(options.notify) };
    if (options.notify !== undefined) out.push({ type: 'send', message: options.notify });
    out.push({ type: 'close' });
    for (const t of ['connectRetry', 'hold', 'keepalive'] as const) this.stopTimer(out, t);
    this.negotiated = undefined;
    this.go(out, 'Idle', text);
    out.push({
      type: 'down',
      reason: {
        text, wasEstablished, ...(session !== undefined ? { session } : {}),
        ...(options.notify !== undefined ? { notificationSent: options.notify } : {}),
        ...(options.received !== undefined ? { notificationReceived: options.received } : {}),
      },
    });
    if (options.restart && this.autoRestart && session !== undefined && peerRestarting(session, options)) {
      // RFC 4724: a graceful-restart peer that closed its session is restarting and reconnects
      // within its restart time while its routes are kept stale. Damping that (the Idle state
      // refuses its connection until the back-off expires) would hold every stale route that
      // long, growing with each rolling restart: listen and connect again at once instead.
      this.connectRetryCounter++;
      this.startTimer(out, 'idleHold', 0);
    } else if (options.restart && this.autoRestart) {
      this.connectRetryCounter++;
      this.startTimer(out, 'idleHold', this.backoff.dropped(this.deps.now()));
    } else {
      if (!options.restart) this.autoRestart = false;
      this.backoff.dropped(this.deps.now());
    }
  }

  private errorDrop(out: FsmOutput[], what: string, err: BgpWireError): void {
    this.drop(out, `${what}: ${err.message}`, { notify: notification(err.code, err.subcode, err.data), restart: true });
  }

  private fsmError(out: FsmOutput[], input: FsmInput): void {
    const sub = FSM_SUBCODE[this.stateValue] ?? FsmSubcode.UNSPECIFIED;
    this.drop(out, `FSM error: unexpected ${input.type} in ${this.stateValue}`,
      { notify: notification(ErrorCode.FSM, sub), restart: true });
  }

  /** ManualStop / AutomaticStop in a state where an OPEN went out: Cease with its subcode. */
  private stopWithCease(out: FsmOutput[], input: FsmInput & { type: 'ManualStop' | 'AutomaticStop' }): void {
    if (input.type === 'ManualStop') {
      const sub = input.subcode ?? CeaseSubcode.ADMINISTRATIVE_SHUTDOWN;
      const n = shutdownNotification(sub, input.message);
      this.drop(out, `administrative ${sub === CeaseSubcode.ADMINISTRATIVE_RESET ? 'reset' : 'shutdown'}${input.message ? `: ${input.message}` : ''}`,
        { notify: n, restart: false });
    } else {
      const n = input.data !== undefined ? notification(ErrorCode.CEASE, input.subcode, input.data) : shutdownNotification(input.subcode, input.message);
      this.drop(out, `automatic stop (Cease/${input.subcode})${input.message ? `: ${input.message}` : ''}`, { notify: n, restart: input.restart });
    }
  }

  // ------------------------------------------------------------ states

  private idle(input: FsmInput, out: FsmOutput[]): void {
    switch (input.type) {
      case 'ManualStart':
        this.autoRestart = true; this.passive = this.config.passive; this.connectRetryCounter = 0; this.backoff.reset();
        this.start(out, 'manual start'); return;
      case 'ManualStart_with_PassiveTcpEstablishment':
        this.autoRestart = true; this.passive = true; this.connectRetryCounter = 0; this.backoff.reset();
        this.start(out, 'manual start (passive)'); return;
      case 'AutomaticStart':
        this.autoRestart = true; this.start(out, 'automatic start'); return;
      case 'IdleHoldTimer_Expires':
        if (this.autoRestart) this.start(out, 'idle hold timer expired, restarting');
        return;
      case 'Tcp_CR_Acked':
      case 'TcpConnectionConfirmed':
        // An Idle session refuses connections.
        out.push({ type: 'close' }); return;
      case 'ManualStop':
        this.autoRestart = false; this.stopTimer(out, 'idleHold'); return;
      case 'AutomaticStop':
        if (!input.restart) { this.autoRestart = false; this.stopTimer(out, 'idleHold'); }
        return;
      case 'ConnectRetryTimer_Expires': case 'HoldTimer_Expires': case 'KeepaliveTimer_Expires': case 'SendHoldTimer_Expires':
      case 'TcpConnectionFails': case 'BGPOpen': case 'BGPHeaderErr': case 'BGPOpenMsgErr':
      case 'OpenCollisionDump': case 'NotifMsg': case 'KeepAliveMsg': case 'UpdateMsg':
      case 'UpdateMsgErr': case 'RouteRefreshMsg':
        return;
      default: assertNever(input, 'FSM input');
    }
  }

  /** Connect and Active: no BGP message has been sent yet, so no NOTIFICATION on the way down. */
  private connecting(input: FsmInput, out: FsmOutput[]): void {
    switch (input.type) {
      case 'ManualStart': case 'AutomaticStart': case 'ManualStart_with_PassiveTcpEstablishment':
      case 'IdleHoldTimer_Expires': case 'SendHoldTimer_Expires':
        return;
      case 'ManualStop':
        this.drop(out, `administrative shutdown${input.message ? `: ${input.message}` : ''}`, { restart: false }); return;
      case 'AutomaticStop':
        this.drop(out, `automatic stop (Cease/${input.subcode})`, { restart: input.restart }); return;
      case 'ConnectRetryTimer_Expires':
        if (this.passive) {
          this.startTimer(out, 'connectRetry', this.config.connectRetryTime * 1000);
          return;
        }
        if (this.stateValue === 'Connect') out.push({ type: 'close' });
        this.startTimer(out, 'connectRetry', this.config.connectRetryTime * 1000);
        out.push({ type: 'connect' });
        this.go(out, 'Connect', 'connect retry timer expired, connecting');
        return;
      case 'Tcp_CR_Acked':
        this.sendOpen(out, 'TCP connection established (outgoing), OPEN sent'); return;
      case 'TcpConnectionConfirmed':
        this.sendOpen(out, 'TCP connection accepted (incoming), OPEN sent'); return;
      case 'TcpConnectionFails':
        if (this.stateValue === 'Connect') {
          out.push({ type: 'close' });
          this.startTimer(out, 'connectRetry', this.config.connectRetryTime * 1000);
          this.go(out, 'Active', `connection failed${input.error ? `: ${input.error}` : ''}; retrying after ${this.config.connectRetryTime} s`);
        } else {
          this.drop(out, `connection failed${input.error ? `: ${input.error}` : ''}`, { restart: true });
        }
        return;
      case 'HoldTimer_Expires': case 'KeepaliveTimer_Expires': case 'BGPOpen': case 'BGPHeaderErr':
      case 'BGPOpenMsgErr': case 'OpenCollisionDump': case 'NotifMsg': case 'KeepAliveMsg':
      case 'UpdateMsg': case 'UpdateMsgErr': case 'RouteRefreshMsg':
        this.drop(out, `FSM error: unexpected ${input.type} in ${this.stateValue}`, { restart: true }); return;
      default: assertNever(input, 'FSM input');
    }
  }

  private openSent(input: FsmInput, out: FsmOutput[]): void {
    switch (input.type) {
      case 'ManualStart': case 'AutomaticStart': case 'ManualStart_with_PassiveTcpEstablishment':
      case 'IdleHoldTimer_Expires': case 'Tcp_CR_Acked': case 'TcpConnectionConfirmed':
        return;
      case 'ManualStop': case 'AutomaticStop':
        this.stopWithCease(out, input); return;
      case 'SendHoldTimer_Expires':
        this.drop(out, 'send hold timer expired: the peer is not reading (RFC 9687)',
          { notify: notification(ErrorCode.SEND_HOLD_TIMER_EXPIRED, 0), restart: true });
        return;
      case 'HoldTimer_Expires':
        this.drop(out, 'hold timer expired waiting for OPEN', { notify: notification(ErrorCode.HOLD_TIMER_EXPIRED, 0), restart: true }); return;
      case 'TcpConnectionFails':
        // RFC 4271 §8.2.2: close, restart the ConnectRetryTimer, continue to listen in Active.
        out.push({ type: 'close' });
        this.stopTimer(out, 'hold');
        this.startTimer(out, 'connectRetry', this.config.connectRetryTime * 1000);
        this.go(out, 'Active', `connection lost in OpenSent${input.error ? `: ${input.error}` : ''}`);
        return;
      case 'BGPOpen': {
        const err = checkOpen(input.message, this.config);
        if (err !== undefined) { this.errorDrop(out, 'bad OPEN', err); return; }
        const n = negotiate(this.config, this.localOpen, input.message);
        this.negotiated = n;
        out.push({ type: 'send', message: { type: 'keepalive' } });
        if (n.holdTime > 0) {
          this.startTimer(out, 'hold', n.holdTime * 1000);
          this.startTimer(out, 'keepalive', n.keepaliveTime * 1000);
        } else {
          this.stopTimer(out, 'hold');
        }
        this.go(out, 'OpenConfirm', `OPEN received (hold time ${n.holdTime} s)`);
        return;
      }
      case 'BGPHeaderErr': this.errorDrop(out, 'message header error', input.error); return;
      case 'BGPOpenMsgErr': this.errorDrop(out, 'OPEN message error', input.error); return;
      case 'OpenCollisionDump':
        this.drop(out, 'connection collision resolution', { notify: notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION), restart: true }); return;
      case 'NotifMsg':
        this.drop(out, 'NOTIFICATION received', { received: input.message, restart: true }); return;
      case 'ConnectRetryTimer_Expires': case 'KeepaliveTimer_Expires': case 'KeepAliveMsg':
      case 'UpdateMsg': case 'UpdateMsgErr': case 'RouteRefreshMsg':
        this.fsmError(out, input); return;
      default: assertNever(input, 'FSM input');
    }
  }

  private openConfirm(input: FsmInput, out: FsmOutput[]): void {
    switch (input.type) {
      case 'ManualStart': case 'AutomaticStart': case 'ManualStart_with_PassiveTcpEstablishment':
      case 'IdleHoldTimer_Expires': case 'Tcp_CR_Acked': case 'TcpConnectionConfirmed':
        return;
      case 'ManualStop': case 'AutomaticStop':
        this.stopWithCease(out, input); return;
      case 'SendHoldTimer_Expires':
        this.drop(out, 'send hold timer expired: the peer is not reading (RFC 9687)',
          { notify: notification(ErrorCode.SEND_HOLD_TIMER_EXPIRED, 0), restart: true });
        return;
      case 'HoldTimer_Expires':
        this.drop(out, 'hold timer expired in OpenConfirm', { notify: notification(ErrorCode.HOLD_TIMER_EXPIRED, 0), restart: true }); return;
      case 'KeepaliveTimer_Expires':
        out.push({ type: 'send', message: { type: 'keepalive' } });
        this.startTimer(out, 'keepalive', (this.negotiated?.keepaliveTime ?? 0) * 1000);
        return;
      case 'TcpConnectionFails':
        this.drop(out, `connection lost in OpenConfirm${input.error ? `: ${input.error}` : ''}`, { restart: true }); return;
      case 'BGPHeaderErr': this.errorDrop(out, 'message header error', input.error); return;
      case 'BGPOpenMsgErr': this.errorDrop(out, 'OPEN message error', input.error); return;
      case 'OpenCollisionDump':
        this.drop(out, 'connection collision resolution', { notify: notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION), restart: true }); return;
      case 'NotifMsg':
        this.drop(out, 'NOTIFICATION received', { received: input.message, restart: true }); return;
      case 'KeepAliveMsg': {
        const n = this.negotiated;
        if (n === undefined) { this.fsmError(out, input); return; }
        this.restartHold(out);
        this.backoff.established(this.deps.now());
        this.go(out, 'Established', 'KEEPALIVE received');
        out.push({ type: 'established', session: n });
        return;
      }
      case 'ConnectRetryTimer_Expires': case 'BGPOpen': case 'UpdateMsg': case 'UpdateMsgErr': case 'RouteRefreshMsg':
        this.fsmError(out, input); return;
      default: assertNever(input, 'FSM input');
    }
  }

  private established(input: FsmInput, out: FsmOutput[]): void {
    switch (input.type) {
      case 'ManualStart': case 'AutomaticStart': case 'ManualStart_with_PassiveTcpEstablishment':
      case 'IdleHoldTimer_Expires': case 'Tcp_CR_Acked': case 'TcpConnectionConfirmed':
        return;
      case 'ManualStop': case 'AutomaticStop':
        this.stopWithCease(out, input); return;
      case 'SendHoldTimer_Expires':
        this.drop(out, 'send hold timer expired: the peer is not reading (RFC 9687)',
          { notify: notification(ErrorCode.SEND_HOLD_TIMER_EXPIRED, 0), restart: true });
        return;
      case 'HoldTimer_Expires':
        this.drop(out, 'hold timer expired', { notify: notification(ErrorCode.HOLD_TIMER_EXPIRED, 0), restart: true }); return;
      case 'KeepaliveTimer_Expires':
        out.push({ type: 'send', message: { type: 'keepalive' } });
        this.startTimer(out, 'keepalive', (this.negotiated?.keepaliveTime ?? 0) * 1000);
        return;
      case 'TcpConnectionFails':
        this.drop(out, `connection lost${input.error ? `: ${input.error}` : ''}`, { restart: true }); return;
      case 'BGPHeaderErr': this.errorDrop(out, 'message header error', input.error); return;
      case 'BGPOpenMsgErr': this.errorDrop(out, 'OPEN message error', input.error); return;
      case 'UpdateMsgErr': this.errorDrop(out, 'UPDATE message error', input.error); return;
      case 'OpenCollisionDump':
        this.drop(out, 'connection collision resolution', { notify: notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION), restart: true }); return;
      case 'NotifMsg':
        this.drop(out, 'NOTIFICATION received', { received: input.message, restart: true }); return;
      case 'KeepAliveMsg':
        this.restartHold(out); return;
      case 'UpdateMsg':
        this.restartHold(out);
        out.push({ type: 'deliver-update', message: input.message });
        return;
      case 'RouteRefreshMsg':
        this.restartHold(out);
        // RFC 2918 §4: a ROUTE-REFRESH without the negotiated capability is ignored.
        if (this.negotiated?.routeRefresh === true) out.push({ type: 'deliver-route-refresh', message: input.message });
        return;
      case 'ConnectRetryTimer_Expires': case 'BGPOpen':
        this.fsmError(out, input); return;
      default: assertNever(input, 'FSM input');
    }
  }
}
