/**
 * A session's configuration (validated into the FSM's config), its dependencies, statistics and
 * events. Bad configuration fails here with a TortieError naming the session and the field.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { TortieError } from '../../common/errors.js';
import { isValidAddress, parseAddress, ipv4ToInt } from '../../common/prefix.js';
import type { BgpWireError, ErrorAction } from '../wire/errors.js';
import type { AfiSafi, RouteRefreshMessage, UpdateMessage } from '../wire/types.js';
import type {
  AddPathFamilyConfig, DownReason, FsmConfig, FsmState, GracefulRestartConfig, NegotiatedSession,
} from '../fsm/fsm-types.js';
import type { RoleConfig } from '../fsm/role-check.js';
import type { ApplySocketOptions, ConnectOptions, SocketOptions } from './socket-options.js';
import type { WireCodec } from './wire-codec.js';

export interface SessionConfig {
  /** Display name, used in logs ({ peer }); defaults to the peer address. */
  readonly name?: string;
  readonly peerAddress: string;
  /** Default 179. */
  readonly peerPort?: number;
  /** Source address for outgoing connections; incoming ones must arrive on it when set. */
  readonly localAddress?: string;
  readonly localAs: number;
  readonly peerAs: number;
  /** Router id / BGP identifier, dotted quad. */
  readonly routerId: string;
  /** Proposed hold time, seconds: 0 or ≥ 3. Default 90. */
  readonly holdTime?: number;
  /**
   * Seconds between connection attempts. Default 5 (what Calico configures in BIRD), not the
   * RFC's 120: on a cluster fabric a peer that restarts should be back within seconds.
   */
  readonly connectRetryTime?: number;
  readonly passive?: boolean;
  /** Families to negotiate; default IPv4 unicast. */
  readonly families?: readonly AfiSafi[];
  readonly addPath?: readonly AddPathFamilyConfig[];
  readonly gracefulRestart?: GracefulRestartConfig;
  /** RFC 8654; default true. */
  readonly extendedMessage?: boolean;
  /** RFC 2918/7313; default true. */
  readonly routeRefresh?: boolean;
  readonly requiredCapabilities?: readonly number[];
  /** Back-off between automatic restarts after an error: default 5 s doubling to 30 s (Calico), reset after 60 s Established. */
  readonly idleHold?: { readonly minMs: number; readonly maxMs: number; readonly stableMs: number };
  /** Hold timer while waiting for the OPEN; default 240 s (RFC 4271 §8.2.2 suggests 4 minutes). */
  readonly openHoldTimeMs?: number;
  /** TTL, minimum TTL (GTSM), TCP-MD5: handed to `connect` for outgoing connections, applied to accepted ones. */
  readonly socketOptions?: SocketOptions;
  /** send() reports false above this many queued bytes (default 1 MiB); listen for 'drain'. */
  readonly writeHighWaterBytes?: number;
  /** Above this many queued bytes the session is dropped with Cease/8 (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /**
   * RFC 9687 send hold time, ms: a session whose output makes no progress this long is dropped
   * with 8/0. Default max(8 min, 2 × hold time); 0 disables.
   */
  readonly sendHoldTimeMs?: number;
  /** Messages processed per event-loop turn before yielding (default 256). */
  readonly sliceMessages?: number;
  /** RFC 9234 BGP role (eBGP): capability 9 in our OPEN, Role Mismatch (2/11) for a peer that does not pair. */
  readonly role?: RoleConfig;
}

export type { ConnectOptions } from './socket-options.js';

export interface SessionDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly codec: WireCodec;
  /** Opens outgoing connections with `options.socketOptions` set before the SYN (default connectTcp). */
  readonly connect?: (options: ConnectOptions) => Socket;
  /** Sets TTL and minimum TTL on accepted connections (default: through common/native). */
  readonly applySocketOptions?: ApplySocketOptions;
}

export interface NotificationInfo {
  readonly code: number;
  readonly subcode: number;
  /** "Bad peer AS", "Administrative shutdown: \"maintenance\"" ... */
  readonly text: string;
  /** RFC 9003 shutdown communication, when present. */
  readonly shutdownMessage?: string;
  /** Wall-clock ms. */
  readonly at: number;
}

export interface SessionStats {
  readonly name: string;
  readonly state: FsmState;
  /** Wall-clock ms of the last state change. */
  readonly since: number;
  /** Ms in Established, when Established. */
  readonly uptimeMs: number | undefined;
  readonly establishedTransitions: number;
  /** Drops from Established. */
  readonly flaps: number;
  /** Connection collisions resolved (RFC 4271 §6.8). */
  readonly collisions: number;
  /** NOTIFICATIONs sent / received on any of this peer's connections, by "code/subcode". */
  readonly notificationsSent: Readonly<Record<string, number>>;
  readonly notificationsReceived: Readonly<Record<string, number>>;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly updatesIn: number;
  readonly updatesOut: number;
  readonly lastError: string | undefined;
  readonly lastNotificationSent: NotificationInfo | undefined;
  readonly lastNotificationReceived: NotificationInfo | undefined;
  readonly queuedBytes: number;
  /** Bytes received and not yet processed (InQ). */
  readonly receivedBytes: number;
  readonly connectRetryCounter: number;
  /** Messages by type, received and sent, over this session object's connections. */
  readonly messageTypes: { readonly in: MessageTypeCounts; readonly out: MessageTypeCounts };
  /** Ms until each running timer fires (hold, keepalive, connectRetry, idleHold). */
  readonly timersLeftMs: Readonly<Partial<Record<'connectRetry' | 'hold' | 'keepalive' | 'idleHold', number>>>;
}

export interface MessageTypeCounts {
  readonly open: number;
  readonly update: number;
  readonly notification: number;
  readonly keepalive: number;
  readonly 'route-refresh': number;
}

/** Zero counts, to count into. */
export function noMessages(): { -readonly [K in keyof MessageTypeCounts]: number } {
  return { open: 0, update: 0, notification: 0, keepalive: 0, 'route-refresh': 0 };
}

export interface UpdateInfo { readonly action: ErrorAction | undefined; readonly problems: readonly BgpWireError[] }

export interface ConnectionInfo {
  /** True when we initiated it. */
  readonly outgoing: boolean;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

export interface StateChange { readonly from: FsmState; readonly to: FsmState; readonly reason: string }

export interface SessionEventMap {
  state: [StateChange];
  established: [NegotiatedSession];
  /**
   * A decoded UPDATE. When `info.action` is 'treat-as-withdraw' (RFC 7606) the NLRI it lists
   * must be withdrawn, not installed; 'attribute-discard' means attributes were dropped.
   */
  update: [UpdateMessage, UpdateInfo];
  'route-refresh': [RouteRefreshMessage];
  down: [DownReason];
  /** Queued output fell back under writeHighWaterBytes after send() returned false. */
  drain: [];
}

function routerIdToInt(text: string, where: string): number {
  if (!isValidAddress(text) || parseAddress(text).family !== 4) {
    throw new TortieError('BAD_ROUTER_ID', `routerId "${text}" is not an IPv4 dotted quad`, { where });
  }
  return ipv4ToInt(parseAddress(text).bytes) >>> 0;
}

function positive(v: number, field: string, where: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new TortieError('BAD_SESSION_CONFIG', `${field} ${v} must be a positive number`, { where });
  return v;
}

/** Validate a SessionConfig and fill in the defaults; throws TortieError naming the field. */
export function toFsmConfig(config: SessionConfig, where: string): FsmConfig {
  if (!isValidAddress(config.peerAddress)) {
    throw new TortieError('BAD_PEER_ADDRESS', `peerAddress "${config.peerAddress}" is not an IP address`, { where });
  }
  if (config.localAddress !== undefined && !isValidAddress(config.localAddress)) {
    throw new TortieError('BAD_LOCAL_ADDRESS', `localAddress "${config.localAddress}" is not an IP address`, { where });
  }
  const holdTime = config.holdTime ?? 90;
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > 65535 || holdTime === 1 || holdTime === 2) {
    throw new TortieError('BAD_HOLD_TIME', `holdTime ${holdTime} must be 0 or 3..65535 seconds`, { where });
  }
  for (const [field, v] of [['localAs', config.localAs], ['peerAs', config.peerAs]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new TortieError('BAD_AS', `${field} ${v} must be 1..4294967295`, { where });
  }
  const idleHold = config.idleHold ?? { minMs: 5000, maxMs: 30000, stableMs: 60000 };
  positive(idleHold.minMs, 'idleHold.minMs', where);
  if (idleHold.maxMs < idleHold.minMs) throw new TortieError('BAD_SESSION_CONFIG', `idleHold.maxMs ${idleHold.maxMs} is below minMs ${idleHold.minMs}`, { where });
  return {
    localAs: config.localAs, peerAs: config.peerAs, routerId: routerIdToInt(config.routerId, where),
    holdTime, connectRetryTime: positive(config.connectRetryTime ?? 5, 'connectRetryTime', where), passive: config.passive ?? false,
    families: config.families ?? [], addPath: config.addPath ?? [],
    ...(config.gracefulRestart ? { gracefulRestart: config.gracefulRestart } : {}),
    extendedMessage: config.extendedMessage ?? true, routeRefresh: config.routeRefresh ?? true,
    requiredCapabilities: config.requiredCapabilities ?? [],
    idleHold,
    openHoldTimeMs: positive(config.openHoldTimeMs ?? 240_000, 'openHoldTimeMs', where),
    ...(config.role ? { role: config.role } : {}),
  };
}
