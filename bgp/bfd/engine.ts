/**
 * The BFD engine: the sessions of one process, packet demultiplexing (RFC 5880 §6.3, §6.8.6) and
 * each session's timers on an injected clock. No sockets: `receive(bytes, from)` in, `send` out,
 * so the worker (worker-main.ts) and the model tests drive the same code.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import { formatAddress, parseAddress } from '../../common/prefix.js';
import { assertNever } from '../../common/assert-never.js';
import { BfdPacketError, BfdState, decodeControl, diagText } from './packet.js';
import { BfdSession, type BfdOutput, type BfdSessionParams, type BfdSessionSnapshot } from './session.js';
import type { BfdStateName } from './packet.js';

export interface BfdSessionSpec {
  /** Peer address (IPv4 or IPv6, canonical text). */
  readonly peer: string;
  /** Our source address; absent: chosen by the kernel. */
  readonly local?: string;
  /** RFC 5883 multihop (UDP 4784) instead of RFC 5881 single-hop (3784). */
  readonly multihop: boolean;
  readonly params: BfdSessionParams;
}

export interface BfdStateEvent {
  readonly id: string;
  readonly peer: string;
  readonly from: BfdStateName;
  readonly to: BfdStateName;
  readonly diag: number;
  readonly diagText: string;
  /** The peer's state as last received: AdminDown means a planned stop, not a failure (RFC 5882 §3.2). */
  readonly remoteState: BfdStateName;
  /**
   * The peer's C bit: set, its BFD does not share fate with its control plane, so a Down means
   * its forwarding failed even while its BGP is restarting (RFC 5882 §4.3.2).
   */
  readonly remoteControlPlaneIndependent: boolean;
}

export interface BfdSessionView extends BfdSessionSnapshot {
  readonly id: string;
  readonly peer: string;
  readonly local?: string;
  readonly multihop: boolean;
  /** Wall-clock ms of the last state change (display only). */
  readonly since: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly discarded: number;
}

export interface BfdEngineDeps {
  readonly clock: Clock;
  readonly random: () => number;
  /** Our C bit (RFC 5880 §4.1): true when the engine does not share fate with the control plane. */
  readonly controlPlaneIndependent?: boolean;
  readonly send: (id: string, spec: BfdSessionSpec, bytes: Uint8Array) => void;
  readonly onState: (e: BfdStateEvent) => void;
  readonly onDiscard?: (reason: string, from: string) => void;
  /**
   * Run a detection-timer expiry after the datagrams already waiting have been read (the worker
   * passes setImmediate). After the thread was held up for longer than a detection time, libuv
   * runs due timers before it polls the sockets, so without this a packet that arrived in time
   * but was not yet read would still be counted missing. Default: at once.
   */
  readonly afterPendingInput?: (fn: () => void) => void;
}

interface Entry {
  readonly id: string;
  spec: BfdSessionSpec;
  readonly session: BfdSession;
  tx: TimerHandle | undefined;
  detect: TimerHandle | undefined;
  since: number;
  packetsIn: number;
  packetsOut: number;
  discarded: number;
}

const addrKey = (multihop: boolean, peer: string) => `${multihop ? 'm' : 's'}|${canonical(peer)}`;

export class BfdEngine {
  private readonly byId = new Map<string, Entry>();
  private readonly byDiscr = new Map<number, Entry>();
  private readonly byAddr = new Map<string, Entry>();

  constructor(private readonly deps: BfdEngineDeps) {}

  add(id: string, spec: BfdSessionSpec): void {
    if (this.byId.has(id)) throw new Error(`BFD session ${id} exists`);
    const k = addrKey(spec.multihop, spec.peer);
    if (this.byAddr.has(k)) throw new Error(`a BFD session to ${spec.peer} (${spec.multihop ? 'multihop' : 'single-hop'}) exists`);
    const e: Entry = {
      id, spec, session: new BfdSession(this.newDiscr(), spec.params, { random: this.deps.random, controlPlaneIndependent: this.deps.controlPlaneIndependent === true }),
      tx: undefined, detect: undefined, since: this.deps.clock.wallNow(), packetsIn: 0, packetsOut: 0, discarded: 0,
    };
    this.byId.set(id, e);
    this.byDiscr.set(e.session.localDiscr, e);
    this.byAddr.set(k, e);
    this.run(e, { type: 'Start' });
  }

  /** New timers or auth for an existing session (a Poll Sequence when Up). */
  update(id: string, params: BfdSessionParams): void {
    const e = this.byId.get(id);
    if (!e) throw new Error(`no BFD session ${id}`);
    e.spec = { ...e.spec, params };
    this.run(e, { type: 'SetParams', params });
  }

  /** Forget a session, telling the peer AdminDown first (RFC 5882 §3.2: not a failure). */
  remove(id: string): void {
    const e = this.byId.get(id);
    if (!e) return;
    this.run(e, { type: 'AdminDown' });
    e.tx?.cancel();
    e.detect?.cancel();
    this.byId.delete(id);
    this.byDiscr.delete(e.session.localDiscr);
    this.byAddr.delete(addrKey(e.spec.multihop, e.spec.peer));
  }

  /** Planned shutdown: every session AdminDown (sent at once; the periodic timer repeats it). */
  adminDownAll(): void {
    for (const e of this.byId.values()) this.run(e, { type: 'AdminDown' });
  }

  has(id: string): boolean { return this.byId.has(id); }

  /** A datagram from `from` on the single-hop (3784) or multihop (4784) port. */
  receive(bytes: Uint8Array, from: string, multihop: boolean): void {
    let p;
    try { p = decodeControl(bytes); } catch (err) {
      if (err instanceof BfdPacketError) { this.deps.onDiscard?.(err.message, from); return; }
      throw err;
    }
    let e: Entry | undefined;
    if (p.yourDiscr !== 0) {
      e = this.byDiscr.get(p.yourDiscr);
      if (!e) { this.deps.onDiscard?.(`Your Discriminator ${p.yourDiscr} matches no session`, from); return; }
      if (addrKey(e.spec.multihop, e.spec.peer) !== addrKey(multihop, canonical(from))) {
        this.deps.onDiscard?.(`Your Discriminator ${p.yourDiscr} belongs to ${e.spec.peer}`, from);
        return;
      }
    } else {
      if (p.state !== BfdState.Down && p.state !== BfdState.AdminDown) {
        this.deps.onDiscard?.('Your Discriminator is zero and State is not Down or AdminDown', from);
        return;
      }
      e = this.byAddr.get(addrKey(multihop, canonical(from)));
      if (!e) { this.deps.onDiscard?.(`no ${multihop ? 'multihop' : 'single-hop'} BFD session for ${from}`, from); return; }
    }
    e.packetsIn++;
    this.run(e, { type: 'Receive', packet: p, raw: bytes });
  }

  list(): BfdSessionView[] {
    return [...this.byId.values()].map((e) => ({
      id: e.id, peer: e.spec.peer, ...(e.spec.local !== undefined ? { local: e.spec.local } : {}), multihop: e.spec.multihop,
      since: e.since, packetsIn: e.packetsIn, packetsOut: e.packetsOut, discarded: e.discarded,
      ...e.session.snapshot(),
    }));
  }

  private run(e: Entry, input: Parameters<BfdSession['process']>[0]): void {
    for (const o of e.session.process(input)) this.apply(e, o);
  }

  private apply(e: Entry, o: BfdOutput): void {
    switch (o.type) {
      case 'Send': e.packetsOut++; this.deps.send(e.id, e.spec, o.bytes); break;
      case 'ArmTxTimer':
        e.tx?.cancel();
        e.tx = this.deps.clock.setTimeout(() => { e.tx = undefined; if (this.byId.get(e.id) === e) this.run(e, { type: 'TxTimerExpired' }); }, o.ms);
        break;
      case 'CancelTxTimer': e.tx?.cancel(); e.tx = undefined; break;
      case 'ArmDetectTimer':
        e.detect?.cancel();
        e.detect = this.deps.clock.setTimeout(() => {
          const fired = e.detect;
          const expire = () => {
            // Still the same timer: no packet re-armed it meanwhile.
            if (e.detect !== fired || this.byId.get(e.id) !== e) return;
            e.detect = undefined;
            this.run(e, { type: 'DetectTimerExpired' });
          };
          if (this.deps.afterPendingInput) this.deps.afterPendingInput(expire); else expire();
        }, o.ms);
        break;
      case 'CancelDetectTimer': e.detect?.cancel(); e.detect = undefined; break;
      case 'StateChange':
        e.since = this.deps.clock.wallNow();
        {
          const snap = e.session.snapshot();
          this.deps.onState({ id: e.id, peer: e.spec.peer, from: o.from, to: o.to, diag: o.diag, diagText: diagText(o.diag),
            remoteState: snap.remoteState, remoteControlPlaneIndependent: snap.remoteControlPlaneIndependent });
        }
        break;
      case 'Discard': e.discarded++; this.deps.onDiscard?.(o.reason, e.spec.peer); break;
      default: assertNever(o, 'BFD output');
    }
  }

  private newDiscr(): number {
    for (;;) {
      const d = (Math.floor(this.deps.random() * 0xfffffffe) + 1) >>> 0;
      if (d !== 0 && !this.byDiscr.has(d)) return d;
    }
  }
}

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1", what a dual-stack socket reports) → "10.0.0.1". */
export function canonical(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = m ? m[1] ?? address : address;
  try { return formatAddress(parseAddress(a)); } catch { return a.toLowerCase(); }
}

/** Same timers, role and key: an update would change nothing. */
export function sameParams(a: BfdSessionParams, b: BfdSessionParams): boolean {
  return a.desiredMinTxUs === b.desiredMinTxUs && a.requiredMinRxUs === b.requiredMinRxUs && a.detectMult === b.detectMult
    && a.passive === b.passive && a.auth?.type === b.auth?.type && a.auth?.keyId === b.auth?.keyId
    && Buffer.from(a.auth?.key ?? []).equals(Buffer.from(b.auth?.key ?? []));
}
