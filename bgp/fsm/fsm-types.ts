/**
 * Inputs, outputs and configuration of the sans-I/O BGP FSM (RFC 4271 §8). Inputs are named after
 * the §8.1 events; outputs are the actions a driver executes (connect, send, close, timers) plus
 * notifications for the layer above (state changes, established, down, updates).
 */
import type { BgpWireError } from '../wire/errors.js';
import type { RoleConfig } from './role-check.js';
import type {
  AfiSafi, Capability, CodecContext, NotificationMessage, OpenMessage, RouteRefreshMessage, UpdateMessage,
  BgpMessage, AddPathMode,
} from '../wire/types.js';

export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

export type FsmInput =
  /** Event 1 */
  | { readonly type: 'ManualStart' }
  /** Event 2. `subcode` defaults to Cease/2 administrative shutdown; 4 = administrative reset. */
  | { readonly type: 'ManualStop'; readonly message?: string; readonly subcode?: number }
  /** Event 3 */
  | { readonly type: 'AutomaticStart' }
  /** Event 4 */
  | { readonly type: 'ManualStart_with_PassiveTcpEstablishment' }
  /**
   * Event 8: a stop decided by the implementation (max prefixes Cease/1, peer de-configured
   * Cease/3, administrative reset Cease/4, other configuration change Cease/6). With
   * `restart` the session comes back after the idle-hold back-off.
   */
  | {
    readonly type: 'AutomaticStop'; readonly subcode: number; readonly data?: Uint8Array;
    readonly message?: string; readonly restart: boolean;
  }
  /** Event 9 */
  | { readonly type: 'ConnectRetryTimer_Expires' }
  /** Event 10 */
  | { readonly type: 'HoldTimer_Expires' }
  /** Event 11 */
  | { readonly type: 'KeepaliveTimer_Expires' }
  /** Event 13 */
  | { readonly type: 'IdleHoldTimer_Expires' }
  /** RFC 9687: our output has made no progress for the send hold time (the peer is not reading). */
  | { readonly type: 'SendHoldTimer_Expires' }
  /** Event 16: our outgoing connection completed. */
  | { readonly type: 'Tcp_CR_Acked' }
  /** Event 17: an incoming connection was accepted for this peer. */
  | { readonly type: 'TcpConnectionConfirmed' }
  /** Event 18 */
  | { readonly type: 'TcpConnectionFails'; readonly error?: string }
  /** Event 19 */
  | { readonly type: 'BGPOpen'; readonly message: OpenMessage }
  /** Event 21 */
  | { readonly type: 'BGPHeaderErr'; readonly error: BgpWireError }
  /** Event 22 */
  | { readonly type: 'BGPOpenMsgErr'; readonly error: BgpWireError }
  /** Event 23: collision resolution decided this connection must go (Cease/7). */
  | { readonly type: 'OpenCollisionDump' }
  /** Events 24/25 */
  | { readonly type: 'NotifMsg'; readonly message: NotificationMessage }
  /** Event 26 */
  | { readonly type: 'KeepAliveMsg' }
  /** Event 27 */
  | { readonly type: 'UpdateMsg'; readonly message: UpdateMessage }
  /** Event 28 */
  | { readonly type: 'UpdateMsgErr'; readonly error: BgpWireError }
  /** RFC 2918 ROUTE-REFRESH received (treated like an UPDATE for timers). */
  | { readonly type: 'RouteRefreshMsg'; readonly message: RouteRefreshMessage };

export type FsmInputType = FsmInput['type'];

/** Why the session left a state; carried by every drop to Idle. */
export interface DownReason {
  readonly text: string;
  /** The NOTIFICATION we sent before closing, if any. */
  readonly notificationSent?: NotificationMessage;
  /** The NOTIFICATION the peer sent, if that is why. */
  readonly notificationReceived?: NotificationMessage;
  /** Whether the session had been Established. */
  readonly wasEstablished: boolean;
  /**
   * The session that went down (when it was Established): its `peerGracefulRestart` lets the
   * speaker's GR helper keep the peer's routes as stale for the restart time (RFC 4724) instead
   * of withdrawing them (bgp/speaker/graceful-restart.ts).
   */
  readonly session?: NegotiatedSession;
}

export type FsmOutput =
  | { readonly type: 'connect' }
  | { readonly type: 'send'; readonly message: BgpMessage }
  | { readonly type: 'close' }
  | { readonly type: 'start-timer'; readonly timer: TimerName; readonly ms: number }
  | { readonly type: 'stop-timer'; readonly timer: TimerName }
  | { readonly type: 'state-change'; readonly from: FsmState; readonly to: FsmState; readonly reason: string }
  | { readonly type: 'established'; readonly session: NegotiatedSession }
  | { readonly type: 'down'; readonly reason: DownReason }
  | { readonly type: 'deliver-update'; readonly message: UpdateMessage }
  | { readonly type: 'deliver-route-refresh'; readonly message: RouteRefreshMessage };

export interface AddPathFamilyConfig extends AfiSafi { readonly mode: AddPathMode }

export interface GracefulRestartConfig {
  /** Restart time in seconds (12 bits). */
  readonly restartTime: number;
  /** N bit (RFC 8538). */
  readonly notification?: boolean;
  /** R bit: we restarted and kept (or are rebuilding) our routes; peers must not wait for our End-of-RIB. */
  readonly restarting?: boolean;
  /** Families whose forwarding state we preserve. */
  readonly forwardingPreserved?: boolean;
  /**
   * "Aware"/helper-only mode (BIRD's default): the capability lists no address families, so
   * peers keep none of our routes across our restarts, but they do send End-of-RIB (FRR sends
   * it, and answers ROUTE-REFRESH, only to GR-capable peers). Use with restartTime 0.
   */
  readonly helperOnly?: boolean;
  /**
   * RFC 9494: advertise the long-lived graceful-restart capability. `staleTime` > 0: our families
   * with this Long-lived Stale Time (seconds) and F as above; 0: no families ("aware", so peers
   * may send us LLGR_STALE routes). Absent: no LLGR capability.
   */
  readonly longLived?: { readonly staleTime: number };
}

/** What the FSM needs to know about the local side and the expected peer. */
export interface FsmConfig {
  readonly localAs: number;
  readonly peerAs: number;
  /** BGP identifier as an unsigned 32-bit integer. */
  readonly routerId: number;
  /** Proposed hold time in seconds: 0 or ≥ 3. */
  readonly holdTime: number;
  /** Seconds; RFC 4271 suggests 120, tortie defaults to 5 (Calico/BIRD connect retry). */
  readonly connectRetryTime: number;
  /** Never initiate connections; wait in Active. */
  readonly passive: boolean;
  /** Families to advertise with MP-BGP capabilities (IPv4 unicast when empty). */
  readonly families: readonly AfiSafi[];
  readonly addPath: readonly AddPathFamilyConfig[];
  readonly gracefulRestart?: GracefulRestartConfig;
  readonly extendedMessage: boolean;
  readonly routeRefresh: boolean;
  /** Capability codes the peer must advertise, else 2/7 (RFC 5492). */
  readonly requiredCapabilities: readonly number[];
  /** Idle-hold back-off after an error, ms: first delay, cap, and how long Established must last to reset it. */
  readonly idleHold: { readonly minMs: number; readonly maxMs: number; readonly stableMs: number };
  /** Hold timer while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes). */
  readonly openHoldTimeMs: number;
  /** RFC 9234 role: sent as a capability, the peer's checked (role-check.ts). */
  readonly role?: RoleConfig;
}

export interface AddPathNegotiated extends AfiSafi {
  /** We send path identifiers for this family. */
  readonly send: boolean;
  /** We receive path identifiers for this family. */
  readonly receive: boolean;
}

export interface GracefulRestartInfo {
  readonly restarting: boolean;
  readonly notification: boolean;
  readonly restartTime: number;
  readonly families: ReadonlyArray<AfiSafi & { readonly forwardingPreserved: boolean }>;
}

/** The peer's long-lived graceful-restart capability (RFC 9494 §3). */
export interface LongLivedGracefulRestartInfo {
  readonly families: ReadonlyArray<AfiSafi & { readonly forwardingPreserved: boolean; readonly staleTime: number }>;
}

/** The result of OPEN exchange and capability negotiation (RFC 4271 §4.2, RFC 5492). */
export interface NegotiatedSession {
  readonly peerAs: number;
  readonly peerBgpId: number;
  readonly localBgpId: number;
  readonly ibgp: boolean;
  /** Negotiated hold time in seconds (min of both; 0 = no keepalives, no hold timer). */
  readonly holdTime: number;
  /** Seconds; holdTime / 3, 0 when holdTime is 0. */
  readonly keepaliveTime: number;
  readonly fourOctetAs: boolean;
  /** Families both sides advertised (IPv4 unicast implied when a side sends no MP capability). */
  readonly families: readonly AfiSafi[];
  readonly addPath: readonly AddPathNegotiated[];
  readonly extendedMessage: boolean;
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
  /** The peer's graceful-restart capability, if it sent one. */
  readonly peerGracefulRestart?: GracefulRestartInfo;
  /** Whether we advertised graceful restart. */
  readonly localGracefulRestart: boolean;
  /** The peer's LLGR capability, when it sent it together with a graceful-restart one (RFC 9494 §3). */
  readonly peerLongLivedGracefulRestart?: LongLivedGracefulRestartInfo;
  readonly peerCapabilities: readonly Capability[];
  readonly unknownCapabilities: ReadonlyArray<{ readonly code: number; readonly value: Uint8Array }>;
  /** The context every encoder/decoder call on this session must use from now on. */
  readonly codec: CodecContext;
  readonly localOpen: OpenMessage;
  readonly peerOpen: OpenMessage;
}
