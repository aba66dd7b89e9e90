/**
 * One BFD session in asynchronous mode (RFC 5880 §6.2, §6.8), sans-I/O: `process(input)` returns
 * outputs (packets to send, timers to (re)arm, state changes); the driver owns the socket, the
 * timers and the clock. Demand mode and the Echo function are not implemented (we send Required
 * Min Echo RX Interval 0, which tells the peer not to echo).
 *
 *   AdminDown ──AdminUp──▶ Down ──rx Down──▶ Init ──rx Init/Up──▶ Up
 *                            ▲ ◀──rx AdminDown / detect timer / rx Down (Up only)──┘
 *                            └─────────────── rx Init ─────────────────────────────▶ Up
 *
 * Timer changes go through a Poll Sequence (§6.5, §6.8.3): packets carry the new values with P
 * set until the peer answers F; meanwhile a larger Desired Min TX or a smaller Required Min RX is
 * not yet used for our own sending and detection. Outside Up we advertise a Desired Min TX of at
 * least one second (§6.8.3), and switch to the configured value by a Poll Sequence once Up.
 */
import { assertNever } from '../../common/assert-never.js';
import { authTypeCode, sequenceAcceptable, signSha1, verifySha1, type BfdAuthConfig } from './auth.js';
import {
  BFD_STATE_NAMES, BfdDiag, BfdState, encodeControl,
  type BfdControlPacket, type BfdStateName, type BfdStateValue,
} from './packet.js';

/** §6.8.3: while not Up, bfd.DesiredMinTxInterval is at least one second. */
export const SLOW_TX_US = 1_000_000;

export interface BfdSessionParams {
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly detectMult: number;
  /** §6.1 passive role: send nothing until the peer has been heard from. */
  readonly passive: boolean;
  readonly auth?: BfdAuthConfig;
}

export interface BfdSessionDeps {
  /** [0, 1): transmit jitter (§6.8.7) and the initial auth sequence. */
  readonly random: () => number;
  /** The C bit we send (§4.1, RFC 5882 §4.3.2); default clear. */
  readonly controlPlaneIndependent?: boolean;
}

export type BfdInput =
  | { readonly type: 'Start' }
  | { readonly type: 'AdminDown' }
  | { readonly type: 'AdminUp' }
  | { readonly type: 'Receive'; readonly packet: BfdControlPacket; readonly raw: Uint8Array }
  | { readonly type: 'TxTimerExpired' }
  | { readonly type: 'DetectTimerExpired' }
  | { readonly type: 'SetParams'; readonly params: BfdSessionParams };

export type BfdOutput =
  | { readonly type: 'Send'; readonly bytes: Uint8Array }
  | { readonly type: 'ArmTxTimer'; readonly ms: number }
  | { readonly type: 'CancelTxTimer' }
  | { readonly type: 'ArmDetectTimer'; readonly ms: number }
  | { readonly type: 'CancelDetectTimer' }
  | { readonly type: 'StateChange'; readonly from: BfdStateName; readonly to: BfdStateName; readonly diag: number }
  | { readonly type: 'Discard'; readonly reason: string };

/** What `show bfd sessions` shows of a session. */
export interface BfdSessionSnapshot {
  readonly state: BfdStateName;
  readonly remoteState: BfdStateName;
  /** The peer's C bit as last received (kept after a detection timeout: what its BFD said about itself). */
  readonly remoteControlPlaneIndependent: boolean;
  readonly localDiag: number;
  readonly remoteDiag: number;
  readonly localDiscr: number;
  readonly remoteDiscr: number;
  /** Interval we send at now (before jitter), µs; 0 when not sending periodically. */
  readonly txIntervalUs: number;
  /** Detection time in use, µs; 0 before the first packet. */
  readonly detectTimeUs: number;
  readonly desiredMinTxUs: number;
  readonly requiredMinRxUs: number;
  readonly remoteMinTxUs: number;
  readonly remoteMinRxUs: number;
  readonly remoteDetectMult: number;
  readonly pollPending: boolean;
}

interface Timers { readonly txUs: number; readonly rxUs: number }

export class BfdSession {
  // RFC 5880 §6.8.1 state variables (intervals in µs).
  private sessionState: BfdStateValue = BfdState.Down;
  private remoteSessionState: BfdStateValue = BfdState.Down;
  private remoteCpi = false;
  private remoteDiscr = 0;
  private localDiag = 0;
  private remoteDiag = 0;
  private remoteMinRxUs = 1;
  private remoteMinTxUs = 0;
  private remoteDetectMult = 0;
  private rcvAuthSeq: number | undefined;
  private xmitAuthSeq: number;
  /** Values in our packets (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval). */
  private advertised: Timers;
  /** Values used for our own transmit interval and detection time (differ during a Poll Sequence). */
  private inUse: Timers;
  private pollPending = false;
  private txArmed = false;
  private started = false;
  /** One periodic packet per process() step: a state change that also starts a Poll sends once. */
  private sentThisStep = false;
  private params: BfdSessionParams;

  constructor(readonly localDiscr: number, params: BfdSessionParams, private readonly deps: BfdSessionDeps) {
    if (localDiscr === 0 || localDiscr > 0xffffffff) throw new RangeError('local discriminator must be 1..2^32-1');
    this.params = params;
    this.advertised = this.idleTimers();
    this.inUse = this.advertised;
    this.xmitAuthSeq = Math.floor(deps.random() * 0x100000000) >>> 0;
  }

  get state(): BfdStateName { return BFD_STATE_NAMES[this.sessionState] ?? 'Down'; }

  process(input: BfdInput): BfdOutput[] {
    const out: BfdOutput[] = [];
    this.sentThisStep = false;
    switch (input.type) {
      case 'Start':
        if (this.started) break;
        this.started = true;
        this.sendNow(out);
        break;
      case 'AdminDown':
        // Repeated AdminDown re-sends (a planned shutdown says it twice in case one is lost).
        if (this.sessionState !== BfdState.AdminDown) {
          this.setState(BfdState.AdminDown, BfdDiag.AdministrativelyDown, out);
          out.push({ type: 'CancelDetectTimer' });
        }
        this.sendNow(out);
        break;
      case 'AdminUp':
        if (this.sessionState === BfdState.AdminDown) {
          this.setState(BfdState.Down, BfdDiag.NoDiagnostic, out);
          this.sendNow(out);
        }
        break;
      case 'Receive':
        this.receive(input.packet, input.raw, out);
        break;
      case 'TxTimerExpired':
        this.txArmed = false;
        this.transmitPeriodic(out);
        break;
      case 'DetectTimerExpired':
        this.detectExpired(out);
        break;
      case 'SetParams':
        this.params = input.params;
        this.changeAdvertised(this.sessionState === BfdState.Up ? this.upTimers() : this.idleTimers(), out);
        break;
      default: assertNever(input, 'BFD input');
    }
    return out;
  }

  snapshot(): BfdSessionSnapshot {
    return {
      state: this.state, remoteState: BFD_STATE_NAMES[this.remoteSessionState] ?? 'Down', remoteControlPlaneIndependent: this.remoteCpi,
      localDiag: this.localDiag, remoteDiag: this.remoteDiag,
      localDiscr: this.localDiscr, remoteDiscr: this.remoteDiscr,
      txIntervalUs: this.mayTransmitPeriodic() ? this.txIntervalUs() : 0,
      detectTimeUs: this.remoteDetectMult > 0 ? this.detectTimeUs() : 0,
      desiredMinTxUs: this.advertised.txUs, requiredMinRxUs: this.advertised.rxUs,
      remoteMinTxUs: this.remoteMinTxUs, remoteMinRxUs: this.remoteMinRxUs, remoteDetectMult: this.remoteDetectMult,
      pollPending: this.pollPending,
    };
  }

  // ------------------------------------------------------------ reception (§6.8.6)

  private receive(p: BfdControlPacket, raw: Uint8Array, out: BfdOutput[]): void {
    if (!this.authOk(p, raw, out)) return;
    const txBefore = this.txIntervalUs();
    this.remoteDiscr = p.myDiscr;
    this.remoteSessionState = p.state;
    this.remoteCpi = p.cpi;
    this.remoteDiag = p.diag;
    this.remoteMinRxUs = p.requiredMinRxUs;
    this.remoteMinTxUs = p.desiredMinTxUs;
    this.remoteDetectMult = p.detectMult;
    if (p.final && this.pollPending) {
      this.pollPending = false;
      this.inUse = this.advertised;
    }
    // The peer now wants packets faster (its Required Min RX fell, typically in a Poll whose
    // Final it arms a shorter detection time on): a timer armed for the old, longer interval
    // would outlast that detection time, so the next packet is scheduled on the new interval.
    if (this.txArmed && this.txIntervalUs() < txBefore) { out.push({ type: 'CancelTxTimer' }); this.armTx(out); }
    if (this.sessionState === BfdState.AdminDown) { out.push({ type: 'Discard', reason: 'session is AdminDown' }); return; }
    out.push({ type: 'ArmDetectTimer', ms: this.detectTimeUs() / 1000 });
    const before = this.sessionState;
    if (p.state === BfdState.AdminDown) {
      if (this.sessionState !== BfdState.Down) this.setState(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, out);
    } else if (this.sessionState === BfdState.Down) {
      if (p.state === BfdState.Down) this.setState(BfdState.Init, this.localDiag, out);
      else if (p.state === BfdState.Init) this.setState(BfdState.Up, this.localDiag, out);
    } else if (this.sessionState === BfdState.Init) {
      if (p.state === BfdState.Init || p.state === BfdState.Up) this.setState(BfdState.Up, this.localDiag, out);
    } else if (p.state === BfdState.Down) {
      this.setState(BfdState.Down, BfdDiag.NeighborSignaledSessionDown, out);
    }
    // §6.8.6: a Poll gets a Final at once, whatever the transmit timer says.
    if (p.poll) out.push({ type: 'Send', bytes: this.encode(false, true) });
    if (this.sessionState !== before) this.sendNow(out);
    else if (!this.txArmed) this.transmitPeriodic(out); // a passive session's first word, or remoteMinRx back above 0
  }

  private authOk(p: BfdControlPacket, raw: Uint8Array, out: BfdOutput[]): boolean {
    const a = this.params.auth;
    const discard = (reason: string) => { out.push({ type: 'Discard', reason }); return false; };
    if (!a) return p.auth ? discard('authentication present but not configured') : true;
    if (!p.auth) return discard('authentication configured but packet has none');
    if (p.auth.type !== authTypeCode(a)) return discard(`auth type ${p.auth.type}, expected ${authTypeCode(a)}`);
    if (p.auth.keyId !== a.keyId) return discard(`auth key id ${p.auth.keyId}, expected ${a.keyId}`);
    if (!sequenceAcceptable(p.auth.type, p.auth.sequence, this.rcvAuthSeq, p.detectMult)) return discard(`auth sequence ${p.auth.sequence} out of window`);
    if (!verifySha1(raw, a.key)) return discard('auth digest mismatch');
    this.rcvAuthSeq = p.auth.sequence;
    return true;
  }

  private detectExpired(out: BfdOutput[]): void {
    if (this.sessionState === BfdState.Init || this.sessionState === BfdState.Up) {
      this.setState(BfdState.Down, BfdDiag.ControlDetectionTimeExpired, out);
    }
    // §6.8.1: RemoteDiscr is reset when nothing came for a Detection Time; the auth sequence too.
    this.remoteDiscr = 0;
    this.remoteSessionState = BfdState.Down;
    this.rcvAuthSeq = undefined;
    if (this.sessionState !== BfdState.AdminDown) this.sendNow(out);
  }

  private setState(to: BfdStateValue, diag: number, out: BfdOutput[]): void {
    const from = this.sessionState;
    this.localDiag = diag;
    if (from === to) return;
    this.sessionState = to;
    out.push({ type: 'StateChange', from: BFD_STATE_NAMES[from] ?? 'Down', to: BFD_STATE_NAMES[to] ?? 'Down', diag });
    if (to === BfdState.Up) this.changeAdvertised(this.upTimers(), out);
    else if (from === BfdState.Up) this.changeAdvertised(this.idleTimers(), out);
  }

  // ------------------------------------------------------------ timers (§6.8.2-§6.8.4, §6.8.7)

  private upTimers(): Timers { return { txUs: this.params.desiredMinTxUs, rxUs: this.params.requiredMinRxUs }; }
  private idleTimers(): Timers { return { txUs: Math.max(this.params.desiredMinTxUs, SLOW_TX_US), rxUs: this.params.requiredMinRxUs }; }

  private changeAdvertised(next: Timers, out: BfdOutput[]): void {
    if (next.txUs === this.advertised.txUs && next.rxUs === this.advertised.rxUs) return;
    this.advertised = next;
    const s = this.sessionState;
    if ((s === BfdState.Up || s === BfdState.Init) && this.remoteDiscr !== 0) {
      // Until the Final: keep the faster of old/new sending and the longer of old/new detection.
      this.inUse = { txUs: Math.min(this.inUse.txUs, next.txUs), rxUs: Math.max(this.inUse.rxUs, next.rxUs) };
      this.pollPending = true;
      this.sendNow(out);
    } else {
      this.inUse = next;
      this.pollPending = false;
    }
  }

  /** §6.8.2: we send no faster than the peer can receive. */
  private txIntervalUs(): number { return Math.max(this.inUse.txUs, this.remoteMinRxUs); }

  /** §6.8.4, asynchronous mode: the peer's Detect Mult x the agreed interval it sends at. */
  private detectTimeUs(): number { return this.remoteDetectMult * Math.max(this.inUse.rxUs, this.remoteMinTxUs); }

  private mayTransmitPeriodic(): boolean {
    if (!this.started) return false;
    if (this.params.passive && this.remoteDiscr === 0) return false; // §6.8.7
    return this.remoteMinRxUs !== 0;
  }

  /** Send now and restart the periodic timer (state changes, Poll start). */
  private sendNow(out: BfdOutput[]): void {
    if (this.sentThisStep) return;
    if (this.txArmed) { out.push({ type: 'CancelTxTimer' }); this.txArmed = false; }
    this.transmitPeriodic(out);
  }

  private transmitPeriodic(out: BfdOutput[]): void {
    if (!this.mayTransmitPeriodic()) return;
    out.push({ type: 'Send', bytes: this.encode(this.pollPending, false) });
    this.sentThisStep = true;
    this.armTx(out);
  }

  private armTx(out: BfdOutput[]): void {
    // §6.8.7: reduce each interval by a random 0-25% (10-25% with Detect Mult 1).
    const interval = this.txIntervalUs();
    const factor = this.params.detectMult === 1 ? 0.75 + 0.15 * this.deps.random() : 0.75 + 0.25 * this.deps.random();
    out.push({ type: 'ArmTxTimer', ms: (interval * factor) / 1000 });
    this.txArmed = true;
  }

  private encode(poll: boolean, final: boolean): Uint8Array {
    const a = this.params.auth;
    let seq = 0;
    if (a) {
      seq = this.xmitAuthSeq;
      this.xmitAuthSeq = (this.xmitAuthSeq + 1) >>> 0;
    }
    const packet: BfdControlPacket = {
      diag: this.localDiag, state: this.sessionState, poll, final, cpi: this.deps.controlPlaneIndependent === true, demand: false,
      detectMult: this.params.detectMult, myDiscr: this.localDiscr, yourDiscr: this.remoteDiscr,
      desiredMinTxUs: this.advertised.txUs, requiredMinRxUs: this.advertised.rxUs, requiredMinEchoRxUs: 0,
      ...(a ? { auth: { type: authTypeCode(a), keyId: a.keyId, sequence: seq, digest: new Uint8Array(20) } } : {}),
    };
    const bytes = encodeControl(packet);
    if (a) signSha1(bytes, a.key);
    return bytes;
  }
}
