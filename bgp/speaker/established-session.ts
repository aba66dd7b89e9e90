/**
 * What lives for one Established BGP session (holo's neighbor/session split): created at
 * Established, dropped at down, so nothing of a session survives into the next one by mistake.
 * What outlives it (the peer's routes, fresh or stale under graceful restart) is the Peer's
 * Adj-RIB-In in the Loc-RIB; see peer.ts.
 */
import type { TimerHandle } from '../../common/clock.js';
import { formatAddress } from '../../common/prefix.js';
import type { PreparedAttributes } from '../wire/update-encoder.js';
import type { CodecContext } from '../wire/types.js';
import type { NegotiatedSession } from '../fsm/fsm-types.js';
import type { ExportedAttributes } from '../rib/export.js';
import type { UpdateGroup } from '../rib/update-group.js';
import type { AddPathGroup } from '../rib/add-path-group.js';
import type { Peer } from './peer.js';

/** An update group: peers with equal ExportTargets (FRR update-groups). */
export interface Group {
  readonly key: string;
  /** AddPathGroup: the members send several paths per prefix (ADD-PATH send negotiated). */
  readonly ug: UpdateGroup | AddPathGroup;
  readonly members: Map<string, Peer>;
}

export class EstablishedSession {
  readonly ctx: CodecContext;
  readonly sends4: boolean;
  readonly sends6: boolean;
  /** The update group it is a member of (set by Outbound.joinGroup). */
  group: Group | undefined;
  /** Our addresses on the session: they replace the placeholder next hops of the group. */
  local4: Uint8Array | undefined;
  local6: Uint8Array | undefined;
  /** Our link-local IPv6 address, sent after local6 when the peer shares its subnet (RFC 2545 §3; link-local.ts). */
  linkLocal6: Uint8Array | undefined;
  /** Encoded attribute blocks by exported attributes (valid for `preparedGen` of the group). */
  prepared = new Map<ExportedAttributes, PreparedAttributes | null>();
  preparedGen = -1;
  /** Key of what makes this peer's bytes differ from another member's for the same batch. */
  encodingKey = '';
  /** End-of-RIB received, by family name. */
  readonly eorReceived = new Set<string>();
  /** Families disabled by RFC 7606 AFI/SAFI disable. */
  readonly disabledFamilies = new Set<4 | 6>();
  /** Pending look for a missing next hop of the other family, and its back-off (ms, 0: none yet). */
  nhRetry: TimerHandle | undefined;
  nhRetryDelay = 0;
  private closed = false;

  constructor(readonly negotiated: NegotiatedSession, /** Wall ms it became Established. */ readonly since: number) {
    this.ctx = negotiated.codec;
    this.sends4 = negotiated.families.some((f) => f.afi === 1 && f.safi === 1);
    this.sends6 = negotiated.families.some((f) => f.afi === 2 && f.safi === 1);
  }

  /** Set our next hops for the session and derive the encoding key from them. */
  setLocal(local4: Uint8Array | undefined, local6: Uint8Array | undefined): void {
    this.local4 = local4;
    this.local6 = local6;
    const c = this.ctx;
    const nhText = (b: Uint8Array | undefined) => (b ? formatAddress(b) : '-');
    this.encodingKey = `${c.fourOctetAs ? 4 : 2}|${c.extendedMessage ? 1 : 0}|${[...c.addPathSend].join(',')}|${nhText(local4)}|${nhText(local6)}|${nhText(this.linkLocal6)}|${this.sends4 ? 1 : 0}${this.sends6 ? 1 : 0}`;
    this.prepared = new Map();
  }

  get isClosed(): boolean { return this.closed; }

  /** Session down: cancel its timers; the object is not used again. */
  close(): void {
    this.closed = true;
    this.nhRetry?.cancel();
    this.nhRetry = undefined;
    this.prepared = new Map();
  }
}
