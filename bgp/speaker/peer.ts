/**
 * One configured peer: its config and compiled policies, its current BgpSession (replaced on a
 * config change), counters carried over from earlier sessions, and what outlives a session:
 * the Adj-RIB-In (its routes in the Loc-RIB, kept stale across a graceful restart) and the
 * graceful-restart helper state. Per-session state is the EstablishedSession (undefined when
 * the session is not Established).
 */
import type { CompiledPolicy } from '../policy/compile-policy.js';
import type { AdjRibIn } from '../rib/adj-rib-in.js';
import type { BgpSession } from '../session/session.js';
import type { EstablishedSession } from './established-session.js';
import type { GrHelperState } from './graceful-restart.js';
import type { PeerConfig } from './peer-config.js';
import { compilePeerPolicy } from './policy-config.js';

export interface PeerMessageStats {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly updatesIn: number;
  readonly updatesOut: number;
  readonly notificationsIn: number;
  readonly notificationsOut: number;
  readonly routeRefreshIn: number;
}

type Counters = Omit<PeerMessageStats, 'routeRefreshIn'> & { readonly establishedTransitions: number };

const ZERO: Counters = { establishedTransitions: 0, messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, notificationsIn: 0, notificationsOut: 0 };

export class Peer {
  enabled = true;
  lastError: string | undefined;
  importPolicy: CompiledPolicy | undefined;
  exportPolicy: CompiledPolicy | undefined;
  routeRefreshIn = 0;
  /** The peer's routes in the Loc-RIB: from its first Established until flushed (down without GR, GR timers, removal). */
  adjIn: AdjRibIn | undefined;
  /** Wall ms of the session that sent the routes held (the "since" of its routes). */
  routesSince = 0;
  /** The Established session; undefined in every other state. */
  established: EstablishedSession | undefined;
  /** Graceful restart helper (RFC 4724 §4.2): set while its routes are kept stale. */
  gr: GrHelperState | undefined;
  /** Counters of this peer's earlier sessions (a config change replaces the session). */
  private base: Counters = ZERO;

  constructor(public config: PeerConfig, public session: BgpSession) {
    this.setPolicies(config);
  }

  get name(): string { return this.config.name; }

  setPolicies(config: PeerConfig): void {
    this.importPolicy = compilePeerPolicy(config.import, 'import');
    this.exportPolicy = compilePeerPolicy(config.export, 'export');
  }

  /** Replace the session (config change): fold the old one's counters into the totals. */
  replaceSession(config: PeerConfig, session: BgpSession): void {
    const t = this.totals();
    this.base = t;
    this.config = config;
    this.setPolicies(config);
    this.session = session;
  }

  /** Counters over all of this peer's sessions. */
  totals(): Counters {
    const st = this.session.stats;
    const b = this.base;
    return {
      establishedTransitions: b.establishedTransitions + st.establishedTransitions, messagesIn: b.messagesIn + st.messagesIn,
      messagesOut: b.messagesOut + st.messagesOut, updatesIn: b.updatesIn + st.updatesIn, updatesOut: b.updatesOut + st.updatesOut,
      notificationsIn: b.notificationsIn + sumCounts(st.notificationsReceived), notificationsOut: b.notificationsOut + sumCounts(st.notificationsSent),
    };
  }
}

function sumCounts(r: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const k in r) n += r[k] ?? 0;
  return n;
}
