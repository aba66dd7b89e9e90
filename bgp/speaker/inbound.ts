/**
 * The speaker's inbound path: one peer's UPDATEs and ROUTE-REFRESHes into its Adj-RIB-In.
 * End-of-RIB goes to graceful restart (helper sweeps, our selection deferral); RFC 7606
 * treat-as-withdraw removes what the peer had installed and sends no NOTIFICATION; AFI/SAFI
 * disable drops a family for the session; ROUTE-REFRESH (RFC 2918) with BoRR/EoRR (RFC 7313).
 * Semantic checks the wire codec cannot make (they need the session): a NEXT_HOP that is our own
 * address (RFC 4271 §5.1.3) and AS_CONFED segments from a peer outside our confederation
 * (RFC 5065 §5.3, RFC 7606 §7.2) make the route unusable, so it is treated as withdrawn.
 */
import type { Logger } from '../../common/logger.js';
import { LogLimiter } from '../../common/log-limiter.js';
import type { Clock } from '../../common/clock.js';
import { bytesEqual, formatAddress } from '../../common/prefix.js';
import { endOfRibFamily } from '../wire/update-encoder.js';
import { AsPathSegmentType, type UpdateMessage } from '../wire/types.js';
import type { UpdateInfo } from '../session/session-config.js';
import type { EstablishedSession } from './established-session.js';
import type { Peer } from './peer.js';
import { enforceMaxPrefixes } from './max-prefix.js';
import { usableNextHop } from './link-local.js';

export interface InboundDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** End-of-RIB of a family received from the peer (graceful restart helper, selection deferral). */
  readonly endOfRib: (p: Peer, afi: number, safi: number) => void;
  /** The peer asked for our table of a family again (ROUTE-REFRESH subtype 0). */
  readonly refresh: (p: Peer, afi: number, safi: number) => void;
  /** Mark the peer's routes of a family stale (BoRR); sweep them (EoRR). */
  readonly markStale: (p: Peer, family: 4 | 6, why: string) => void;
  readonly sweepStale: (p: Peer, family: 4 | 6, why: string) => void;
  /** The peer is still this speaker's (not stopped, not replaced): max-prefix restart timers check it. */
  readonly current: (p: Peer) => boolean;
}

const familyOf = (afi: number, safi: number): 4 | 6 | undefined => (safi !== 1 ? undefined : afi === 1 ? 4 : afi === 2 ? 6 : undefined);

export class Inbound {
  /** One line per treat-as-withdraw UPDATE would let a peer flood the log: per peer, rate-limited. */
  private readonly malformedLog: LogLimiter;

  constructor(private readonly deps: InboundDeps) {
    this.malformedLog = new LogLimiter({ now: () => deps.clock.now() });
  }

  /**
   * RFC 7606 §2 AFI/SAFI disable (RFC 4760 §7): drop every route of that family from this peer
   * and ignore the family until the session ends; no NOTIFICATION.
   */
  private disableFamilies(p: Peer, e: EstablishedSession, info: UpdateInfo): void {
    for (const x of info.problems) {
      if (x.action !== 'afi-safi-disable' || x.afiSafi === undefined || x.afiSafi.safi !== 1) continue;
      const family: 4 | 6 = x.afiSafi.afi === 2 ? 6 : 4;
      if (e.disabledFamilies.has(family)) continue;
      e.disabledFamilies.add(family);
      const n = p.adjIn?.withdrawFamily(family) ?? 0;
      this.deps.log.warn({ peer: p.config.name, family: `ipv${family}`, withdrawn: n, problem: x.message },
        'malformed UPDATE: address family disabled for this session, its routes withdrawn (RFC 7606 AFI/SAFI disable)');
    }
  }

  update(p: Peer, update: UpdateMessage, info: UpdateInfo): void {
    let m = update;
    const rib = p.adjIn;
    const e = p.established;
    if (!rib || !e) return;
    // the session's codec puts classic IPv4 prefixes in compact4 (typed arrays, see bgp/wire)
    const c4 = m.compact4;
    if (m.nlri.length === 0 && m.withdrawn.length === 0 && (c4 === undefined || c4.nlri.length + c4.withdrawn.length === 0)
      && m.mpReach === undefined && info.action === undefined) {
      const eor = endOfRibFamily(m);
      if (eor) {
        e.eorReceived.add(eor.afi === 2 ? 'ipv6-unicast' : eor.afi === 1 ? 'ipv4-unicast' : `${eor.afi}/${eor.safi}`);
        this.deps.endOfRib(p, eor.afi, eor.safi);
        return;
      }
    }
    if (info.action === 'afi-safi-disable') this.disableFamilies(p, e, info);
    const off = e.disabledFamilies;
    if (off.size > 0) m = withoutFamilies(m, off);
    const w4 = m.compact4?.withdrawn, n4 = m.compact4?.nlri;
    if (m.withdrawn.length) rib.withdraw(m.withdrawn);
    if (w4?.length) rib.withdraw(w4);
    if (m.mpUnreach?.withdrawn.length) rib.withdraw(m.mpUnreach.withdrawn);
    const unusable = info.action === 'treat-as-withdraw' ? undefined : this.semanticProblem(p, e, m);
    if (info.action === 'treat-as-withdraw' || unusable !== undefined) {
      const n = m.nlri.length + (n4?.length ?? 0) + (m.mpReach?.nlri.length ?? 0);
      const extra = this.malformedLog.take(p.config.name);
      if (extra !== undefined) {
        this.deps.log.warn({ peer: p.config.name, action: 'treat-as-withdraw', problems: unusable !== undefined ? [unusable] : info.problems.map((x) => x.message), prefixes: n, ...extra },
          unusable !== undefined ? 'UPDATE not usable: its routes are ignored (treated as withdrawn), the session stays up'
            : 'malformed UPDATE: its routes are treated as withdrawn (RFC 7606)');
      }
      if (m.nlri.length) rib.withdraw(m.nlri);
      if (n4?.length) rib.withdraw(n4);
      if (m.mpReach?.nlri.length) rib.withdraw(m.mpReach.nlri);
      return;
    }
    if (m.nlri.length) rib.update(m.nlri, m.attributes);
    if (n4?.length) rib.update(n4, m.attributes);
    if (m.mpReach?.nlri.length) rib.update(m.mpReach.nlri, m.attributes, usableNextHop(m.mpReach.nextHops));
    enforceMaxPrefixes(p, rib.received, m, { clock: this.deps.clock, log: this.deps.log, current: this.deps.current });
  }

  /**
   * Why the UPDATE's routes cannot be used though it parsed, or undefined:
   * - NEXT_HOP (or the MP_REACH global next hop) is our own address on the session: RFC 4271
   *   §5.1.3 calls it semantically incorrect; the route is ignored, no NOTIFICATION (as BIRD and
   *   FRR, which log it and drop the route).
   * - AS_CONFED_SEQUENCE/SET from a peer that is not in our confederation: RFC 5065 §5.3 says
   *   such a path is malformed, and RFC 7606 §7.2 makes that treat-as-withdraw. We run no
   *   confederation, so every peer is outside one.
   */
  private semanticProblem(p: Peer, e: EstablishedSession, m: UpdateMessage): string | undefined {
    const hasNlri = m.nlri.length > 0 || (m.compact4?.nlri.length ?? 0) > 0 || (m.mpReach?.nlri.length ?? 0) > 0;
    if (!hasNlri) return undefined;
    for (const s of m.attributes.asPath ?? []) {
      if (s.type === AsPathSegmentType.AS_CONFED_SEQUENCE || s.type === AsPathSegmentType.AS_CONFED_SET) {
        return `AS_PATH holds an AS_CONFED segment from ${p.config.name}, which is not in our confederation (RFC 5065 §5.3, RFC 7606 §7.2)`;
      }
    }
    const nh4 = m.attributes.nextHop;
    const classic = m.nlri.length > 0 || (m.compact4?.nlri.length ?? 0) > 0;
    if (classic && nh4 !== undefined && e.local4 !== undefined && bytesEqual(nh4, e.local4)) {
      return `NEXT_HOP ${formatAddress(nh4)} is our own address on the session (RFC 4271 §5.1.3)`;
    }
    const mp = m.mpReach?.nextHops[0];
    const own = mp?.length === 16 ? e.local6 : mp?.length === 4 ? e.local4 : undefined;
    if (mp !== undefined && own !== undefined && (m.mpReach?.nlri.length ?? 0) > 0 && bytesEqual(mp, own)) {
      return `MP_REACH next hop ${formatAddress(mp)} is our own address on the session (RFC 4271 §5.1.3)`;
    }
    return undefined;
  }

  /**
   * ROUTE-REFRESH from the peer: a request (subtype 0) gets the table again. Enhanced route
   * refresh (RFC 7313 §4): BoRR marks the peer's routes of the family stale, EoRR removes those
   * it did not re-send in between (a route it dropped while we were not told). A family the
   * session did not negotiate is ignored (RFC 2918 §4: "MUST ignore").
   */
  routeRefresh(p: Peer, afi: number, safi: number, subtype: number): void {
    const e = p.established;
    if (!e) return;
    if (!e.negotiated.families.some((f) => f.afi === afi && f.safi === safi)) {
      const extra = this.malformedLog.take(`${p.config.name}/rr`);
      if (extra !== undefined) this.deps.log.info({ peer: p.config.name, afi, safi, subtype, ...extra }, 'ROUTE-REFRESH for a family not negotiated on this session: ignored (RFC 2918)');
      return;
    }
    if (subtype === 0) { p.routeRefreshIn++; this.deps.refresh(p, afi, safi); return; }
    const family = familyOf(afi, safi);
    if (family === undefined || !p.adjIn || e.negotiated.enhancedRouteRefresh !== true) return;
    if (subtype === 1) this.deps.markStale(p, family, 'BoRR: routes marked stale until EoRR (RFC 7313)');
    else if (subtype === 2) this.deps.sweepStale(p, family, 'EoRR: routes not re-sent during the refresh removed (RFC 7313)');
  }
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
