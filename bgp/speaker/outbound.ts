/**
 * The speaker's outbound path: Loc-RIB changes → update groups (peers with equal ExportTargets
 * share one UpdateGroup, so the export transform and policy run once per change for all of
 * them, with no per-peer table) → per-member batches packed per attribute set (pack.ts),
 * flushed once per event-loop turn; members with equal batches and equal session addresses
 * share the encoded bytes. Next hops in a group are placeholders patched per member here.
 */
import { networkInterfaces } from 'node:os';
import { sharedSubnetLinkLocal } from './link-local.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { formatAddress, parseAddress } from '../../common/prefix.js';
import { encodeEndOfRib, prepareAttributes, type PreparedAttributes } from '../wire/update-encoder.js';
import type { CodecContext } from '../wire/types.js';
import { canonicalAddress } from '../session/listener.js';
import type { BestChanges, LocRib } from '../rib/loc-rib.js';
import { isSelfNextHop, NEXT_HOP_SELF_V4, NEXT_HOP_SELF_V6, UpdateGroup, type GroupBatch, type MemberBatch } from '../rib/update-group.js';
import { exportTargetKey, type ExportedAttributes, type ExportTarget } from '../rib/export.js';
import { AddPathGroup } from '../rib/add-path-group.js';
import { PathIds } from '../rib/path-ids.js';
import type { EstablishedSession, Group } from './established-session.js';
import type { Peer } from './peer.js';
import { addPathSend, nlriBlob, UpdateAssembler, type NlriBlob } from './pack.js';
import { TableSync, type RegroupFrom } from './table-sync.js';

/** Prepared attribute blocks kept per peer before its cache is reset. */
const PREPARED_LIMIT = 20_000;
/** Pending changes of an update group that are flushed at once instead of at the next setImmediate. */
const EAGER_FLUSH = 4096;
/** Largest reusable encode buffer (sendBatch); bigger batches (a table dump) get their own. */
const SCRATCH_MAX = 1 << 20;

/**
 * Work shared during one flush: NLRI blobs per entry list (and family, ADD-PATH), and whole
 * encoded batches by batch and encoding key (members sharing both share the bytes).
 */
interface EncodedCache {
  readonly blobs: Map<readonly number[], Array<NlriBlob | undefined>>;
  readonly bytes: Map<GroupBatch, Map<string, { readonly msgs: Uint8Array | undefined; readonly count: number }>>;
}
const newEncodedCache = (): EncodedCache => ({ blobs: new Map(), bytes: new Map() });

export interface OutboundDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The current Loc-RIB (replaced when the speaker's identity changes). */
  readonly rib: () => LocRib;
  /** Our AS towards this peer. */
  readonly localAs: (p: Peer) => number;
  readonly stopped: () => boolean;
}

export class Outbound {
  private readonly groups = new Map<string, Group>();
  private scratch: Uint8Array | undefined;
  private flushScheduled = false;
  /** Marks the entries of a shared batch that one peer must not get (reused, stamped per use). */
  private skipMask = new Uint32Array(1024);
  private skipStamp = 0;
  /** The path ids ADD-PATH groups send (one per source and received id; kept with the Loc-RIB). */
  private pathIds = new PathIds();
  /** Table syncs under way (table-sync.ts), by session. */
  private readonly syncs = new Map<EstablishedSession, TableSync>();
  /** ROUTE-REFRESH requests waiting for (or being answered by) a table sync, by session. */
  private readonly refreshes = new Map<EstablishedSession, Array<{ readonly afi: number; readonly safi: number; readonly markers: boolean }>>();

  constructor(private readonly deps: OutboundDeps) {}

  /** Forget every group (the Loc-RIB was replaced; its peers were removed first). */
  clear(): void {
    for (const s of this.syncs.values()) s.cancel();
    this.syncs.clear();
    this.refreshes.clear();
    this.groups.clear(); this.pathIds = new PathIds();
  }

  /** Loc-RIB changes: record them in every group; large bursts are flushed at once. */
  apply(changes: BestChanges): void {
    for (const s of this.syncs.values()) s.changed(changes);
    for (const g of this.groups.values()) {
      g.ug.apply(changes);
      // A burst (many UPDATEs read in one event-loop turn) is passed on in slices rather than
      // all at the setImmediate: the decoded prefixes and change records die young instead of
      // being promoted to the old generation, and the first bytes leave sooner.
      // Each flush costs a write per member: large groups (a Calico mesh) wait for more changes.
      if (g.ug.pendingCount >= EAGER_FLUSH * Math.max(1, g.members.size - 15)) this.flushGroup(g, newEncodedCache());
    }
    if (this.groups.size > 0) this.scheduleFlush();
  }

  /** Send what the pending changes call for now. */
  flush(): void {
    if (this.deps.stopped()) return;
    for (const g of this.groups.values()) this.flushGroup(g, newEncodedCache());
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flushGroup(g: Group, shared: EncodedCache | undefined): void {
    g.ug.flush((id, batch) => {
      const p = g.members.get(id);
      if (p) this.sendBatch(p, batch, shared);
    });
  }

  /**
   * A new Established session: work out our next hops on it, send it the table in slices
   * (table-sync.ts), then join the update group of its export target and send End-of-RIB
   * (RFC 4724 §2) per family.
   */
  start(p: Peer, e: EstablishedSession): void {
    if (this.syncs.get(e)?.join === true) return; // already on its way
    const localText = canonicalAddress(p.session.connection?.localAddress);
    const local = localText !== undefined ? parseAddress(localText) : undefined;
    e.linkLocal6 = p.config.linkLocalNextHop === false ? undefined : sharedSubnetLinkLocal(localText, p.config.address);
    e.setLocal(local?.family === 4 ? local.bytes : this.otherFamilyNextHop(p, 4, localText),
      local?.family === 6 ? local.bytes : this.otherFamilyNextHop(p, 6, localText));
    const g = this.groupFor(p, e);
    this.sync(p, e, g, true, (count, s) => this.joined(p, e, g, count, s, true));
  }

  /**
   * The end of a join (a new session, `eor`: then End-of-RIB per family) or a regroup: the
   * session becomes a member of `g`; then what waited for it.
   */
  private joined(p: Peer, e: EstablishedSession, g: Group, count: number, s: TableSync, eor: boolean): void {
    this.joinGroup(p, e, g, count, s.sent6);
    const eors: Uint8Array[] = [];
    if (eor) for (const f of e.negotiated.families) if (f.safi === 1 && (f.afi === 1 || f.afi === 2)) eors.push(encodeEndOfRib(f));
    if (eors.length) p.session.sendEncoded(eors);
    // a policy change or a next hop found late while joining: regroup or the table again; then the ROUTE-REFRESHes that came meanwhile
    const q = this.refreshes.get(e) ?? [];
    if (s.regroupAfter) this.regroup(p);
    if (this.syncs.get(e)?.join === true) { // regrouping again: it runs the queue when done
      if (s.resendAfter) q.unshift({ afi: 1, safi: 1, markers: false });
      if (q.length > 0) this.refreshes.set(e, q);
      return;
    }
    if (s.resendAfter) q.unshift({ afi: 1, safi: 1, markers: false });
    if (q.length > 0) { this.refreshes.set(e, q); this.nextRefresh(p, e); }
  }

  /** Send the table to the session in slices (see table-sync.ts); `done` once it was all sent. */
  private sync(p: Peer, e: EstablishedSession, g: Group, join: boolean, done: (count: number, s: TableSync) => void, from?: RegroupFrom): void {
    this.syncs.get(e)?.cancel();
    const s: TableSync = new TableSync(g, join, {
      memberId: p.config.name, rib: this.deps.rib(),
      live: () => !e.isClosed && p.established === e && !this.deps.stopped() && this.syncs.get(e) === s,
      send: (grp, b) => this.sendBatch(p, b, undefined, grp),
      done: (count) => { this.syncs.delete(e); done(count, s); },
      schedule: (fn) => setImmediate(fn),
    }, from);
    this.syncs.set(e, s);
    s.start();
  }

  /**
   * ROUTE-REFRESH (RFC 2918) for a family: the whole table again, within BoRR/EoRR (RFC 7313)
   * when negotiated. Requests that come while a table is being sent wait for it: each gets its
   * own table.
   */
  refresh(p: Peer, afi: number, safi: number, markers = true): void {
    const e = p.established;
    if (!e) return;
    let q = this.refreshes.get(e);
    if (!q) { q = []; this.refreshes.set(e, q); }
    q.push({ afi, safi, markers });
    if (q.length === 1 && e.group) this.nextRefresh(p, e); // else once it has joined (start)
  }

  private nextRefresh(p: Peer, e: EstablishedSession): void {
    const q = this.refreshes.get(e);
    const r = q?.[0];
    const g = e.group;
    if (!q || !r || !g || e.isClosed || p.established !== e) { this.refreshes.delete(e); return; }
    const enhanced = e.negotiated.enhancedRouteRefresh && r.markers;
    this.flushGroup(g, undefined);
    if (enhanced) p.session.send({ type: 'route-refresh', afi: r.afi, safi: r.safi, subtype: 1 });
    this.sync(p, e, g, false, () => {
      if (enhanced) p.session.send({ type: 'route-refresh', afi: r.afi, safi: r.safi, subtype: 2 });
      q.shift();
      if (q.length > 0) this.nextRefresh(p, e); else this.refreshes.delete(e);
    });
  }

  /** Routes currently advertised to the peer: in all, and of those IPv6 (the rest are IPv4). */
  advertised(p: Peer): { total: number; v6: number } {
    const e = p.established;
    if (!e) return { total: 0, v6: 0 };
    const g = e.group, s = this.syncs.get(e);
    return g ? { total: g.ug.advertised(p.config.name), v6: g.ug.advertised6(p.config.name) } : { total: s?.sent ?? 0, v6: s?.sent6 ?? 0 };
  }

  /** Put the peer into the update group `g` (or the group of its key now), holding `advertised` routes (`advertised6` IPv6). */
  private joinGroup(p: Peer, e: EstablishedSession, found: Group, advertised: number, advertised6 = 0): Group {
    let g = this.groups.get(found.key);
    if (!g) { g = found; this.groups.set(g.key, g); }
    this.flushGroup(g, undefined); // the members so far get the pending changes; the new one has the current state
    g.ug.addMember(p.config.name, advertised, advertised6);
    g.members.set(p.config.name, p);
    e.group = g;
    return g;
  }

  /** The update group of the peer's export target (created on demand; the peer is not added). */
  private groupFor(p: Peer, e: EstablishedSession): Group {
    const n = e.negotiated;
    // Placeholder next hops: members on different local addresses share the group.
    const target: ExportTarget = {
      kind: n.ibgp ? 'ibgp' : 'ebgp', localAs: this.deps.localAs(p), routerId: this.deps.rib().routerId, routeReflector: true,
      clusterId: this.deps.rib().clusterId,
      ...(p.config.localRole !== undefined && !n.ibgp ? { role: p.config.localRole } : {}),
      ...(p.config.routeReflectorClient ? { rrClient: true } : {}),
      localAddress: NEXT_HOP_SELF_V4, localAddress6: NEXT_HOP_SELF_V6,
      ...(p.config.nextHopSelf ? { nextHopSelf: true } : {}),
      ...(p.config.nextHopKeep === true && !n.ibgp ? { nextHopKeep: true } : {}),
      ...(n.peerLongLivedGracefulRestart ? { llgr: true } : {}),
      ...(p.exportPolicy ? { policy: p.exportPolicy } : {}),
    };
    const families = { v4: e.sends4, v6: e.sends6 };
    const limit = this.addPathLimit(p, e);
    const key = `${exportTargetKey(target)}|${families.v4 ? 4 : ''}${families.v6 ? 6 : ''}${limit === undefined ? '' : `|ap${limit}`}`;
    let g = this.groups.get(key);
    if (!g) {
      if (limit !== undefined) this.trackPaths(true);
      g = { key, ug: limit === undefined ? new UpdateGroup(target, families) : new AddPathGroup(target, families, limit, this.pathIds), members: new Map() };
      this.groups.set(key, g);
    }
    return g;
  }

  /** Take the session out of its update group (session down, or before a regroup); a sync under way stops. */
  leaveGroup(p: Peer, e: EstablishedSession): void {
    const s = this.syncs.get(e);
    s?.cancel();
    this.syncs.delete(e);
    this.refreshes.delete(e);
    const g = e.group ?? s?.group; // a joining session is not a member yet
    if (!g) return;
    g.ug.removeMember(p.config.name);
    g.members.delete(p.config.name);
    if (g.members.size === 0 && this.groups.get(g.key) === g && ![...this.syncs.values()].some((x) => x.group === g)) {
      this.groups.delete(g.key);
      if (g.ug instanceof AddPathGroup && ![...this.groups.values()].some((x) => x.ug instanceof AddPathGroup)) this.trackPaths(false);
    }
    e.group = undefined;
  }

  /**
   * The ADD-PATH send limit of the peer's group (0: all paths), or undefined for best path only:
   * ADD-PATH send not configured, or not negotiated for every family the session carries (a
   * member's families share one kind of group; the other case sends best paths, logged).
   */
  private addPathLimit(p: Peer, e: EstablishedSession): number | undefined {
    const ap = p.config.addPaths;
    if (!ap?.send) return undefined;
    const a4 = addPathSend(e.ctx, 4), a6 = addPathSend(e.ctx, 6);
    if (!a4 && !a6) return undefined;
    if ((e.sends4 && !a4) || (e.sends6 && !a6)) {
      this.deps.log.info({ peer: p.config.name, ipv4: a4, ipv6: a6 }, 'ADD-PATH send negotiated for only some of the session\'s families: sending best paths only');
      return undefined;
    }
    return ap.limit ?? 0;
  }

  /** Loc-RIB path tracking for ADD-PATH groups; pending changes (made without it) are passed on first. */
  private trackPaths(on: boolean): void {
    const rib = this.deps.rib();
    if (rib.trackPaths === on) return;
    if (on) rib.flush();
    rib.trackPaths = on;
  }

  /**
   * Move an Established peer to the update group of its (new) export target and send it the
   * difference, in slices (table-sync.ts with `from`: a join that starts from the old group's
   * export); it is a member of no group meanwhile. A ROUTE-REFRESH being answered starts again
   * afterwards, under the new export.
   */
  regroup(p: Peer): void {
    const e = p.established;
    if (!e) return;
    const under = this.syncs.get(e);
    if (under?.join === true) { under.regroupAfter = true; return; } // once it has joined (or regrouped)
    const old = e.group;
    if (!old) return;
    const g = this.groupFor(p, e); // before leaving: the ADD-PATH path tracking stays on when both are add-path groups
    if (g === old) return;
    this.flushGroup(old, undefined); // the session now holds the old export of the current table
    const from: RegroupFrom = { group: old, advertised: old.ug.advertised(p.config.name), advertised6: old.ug.advertised6(p.config.name) };
    const waiting = this.refreshes.get(e); // a refresh under way is cancelled with the group: sent again after
    this.leaveGroup(p, e);
    if (waiting !== undefined && waiting.length > 0) this.refreshes.set(e, waiting);
    this.sync(p, e, g, true, (count, s) => this.joined(p, e, g, count, s, false), from);
  }

  /**
   * Encode and send one member batch: withdrawals, then packed UPDATEs per attribute set, of
   * the families the peer negotiated, leaving out the entries the batch says to skip (the
   * peer's own routes). Members given the same plain batch that encode identically (codec
   * context, next hops, families) reuse the bytes.
   */
  private sendBatch(p: Peer, mb: MemberBatch, shared: EncodedCache | undefined, group?: Group): void {
    const e = p.established;
    const g = group ?? e?.group;
    if (!e || !g) return;
    const ctx = e.ctx;
    const plain = mb.skip.length === 0 && mb.extra === undefined;
    let byKey = plain ? shared?.bytes.get(mb.base) : undefined;
    const hit = byKey?.get(e.encodingKey);
    if (hit) { if (hit.msgs) p.session.sendEncoded([hit.msgs], hit.count); return; }
    if (e.preparedGen !== g.ug.generation || e.prepared.size > PREPARED_LIMIT) { e.prepared = new Map(); e.preparedGen = g.ug.generation; }
    const blobs = shared?.blobs ?? new Map<readonly number[], Array<NlriBlob | undefined>>();
    let skip: Uint32Array | undefined;
    let stamp = 0;
    if (mb.skip.length) {
      const n = mb.base.prefixes.length;
      if (this.skipMask.length < n) this.skipMask = new Uint32Array(Math.max(n, this.skipMask.length * 2));
      stamp = ++this.skipStamp;
      if (stamp === 0xffffffff) { this.skipMask.fill(0); this.skipStamp = stamp = 1; }
      skip = this.skipMask;
      for (const i of mb.skip) skip[i] = stamp;
    }
    const asm = new UpdateAssembler(ctx);
    this.encodeInto(p, e, mb.base, skip, stamp, asm, blobs);
    if (mb.extra) this.encodeInto(p, e, mb.extra, undefined, 0, asm, blobs);
    const cached = plain && shared !== undefined;
    const scratch = cached ? undefined : this.scratchFor(asm.byteLength);
    const out = asm.finish(scratch);
    if (cached) {
      if (!byKey) { byKey = new Map(); shared.bytes.set(mb.base, byKey); }
      byKey.set(e.encodingKey, { msgs: out, count: asm.messages });
    }
    if (!out) return;
    p.session.sendEncoded([out], asm.messages);
    // The kernel took it all at once (the usual case): the scratch buffer is free again. Else the
    // socket holds it until written; the next batch gets a new one.
    if (scratch !== undefined && out.buffer === scratch.buffer && !p.session.writeIdle) this.scratch = undefined;
  }

  /**
   * A buffer to encode one member's batch into, reused from batch to batch and member to member
   * while the kernel takes each write at once: encoding a skip batch for each of 100 members
   * otherwise left a new buffer per member per flush for the garbage collector, tens of MB of
   * dead external memory at the peak of a 100 x 1k run. Undefined (allocate) above SCRATCH_MAX.
   */
  private scratchFor(bytes: number): Uint8Array | undefined {
    if (bytes > SCRATCH_MAX) return undefined;
    if (this.scratch === undefined || this.scratch.length < bytes) {
      this.scratch = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(bytes, 64 << 10, 2 * (this.scratch?.length ?? 0))));
    }
    return this.scratch;
  }

  private encodeInto(p: Peer, e: EstablishedSession, b: GroupBatch, skip: Uint32Array | undefined, stamp: number, asm: UpdateAssembler,
    blobs: Map<readonly number[], Array<NlriBlob | undefined>>): void {
    const ctx = e.ctx;
    const fams: Array<4 | 6> = e.sends4 ? (e.sends6 ? [4, 6] : [4]) : e.sends6 ? [6] : [];
    const blobOf = (idx: readonly number[], family: 4 | 6): NlriBlob => {
      const ap = addPathSend(ctx, family);
      let arr = blobs.get(idx);
      if (!arr) { arr = []; blobs.set(idx, arr); }
      const slot = (family === 6 ? 2 : 0) + (ap ? 1 : 0);
      return (arr[slot] ??= nlriBlob(b.prefixes, idx, family, ap, b.pathIds));
    };
    // ADD-PATH entries are (prefix, path id) pairs, never one announced and withdrawn at once: the
    // withdrawals go last, so a receiver never sees a prefix lose its last path while its
    // replacement (another path id) is on the way
    const withdrawLast = b.pathIds !== undefined;
    if (b.withdraw.length && !withdrawLast) for (const family of fams) asm.add(blobOf(b.withdraw, family), b.withdraw, family, undefined, skip, stamp);
    for (const a of b.announce) {
      for (const family of fams) {
        const blob = blobOf(a.idx, family); // shared by the members of this flush
        if (blob.bytes.length === 0) continue; // no prefix of this family (no per-member scan)
        const prep = this.prepare(p, e, a.attrs, family === 6, ctx);
        if (prep === undefined) continue; // no next hop yet: sent once one is found
        if (prep !== null) {
          try {
            asm.add(blob, a.idx, family, prep, skip, stamp);
            continue;
          } catch (err) {
            this.deps.log.error({ peer: p.config.name, err: describeError(err), prefixes: a.idx.length, extendedMessage: ctx.extendedMessage },
              'cannot encode UPDATE (attributes too large for this peer\'s messages): its routes are withdrawn there instead');
          }
        }
        // The peer must not keep an older version of these routes as if it were current: withdraw.
        asm.add(blob, a.idx, family, undefined, skip, stamp);
      }
    }
    if (b.withdraw.length && withdrawLast) for (const family of fams) asm.add(blobOf(b.withdraw, family), b.withdraw, family, undefined, skip, stamp);
  }

  /**
   * Our next hop for the family the session's own address is not (IPv6 routes over an IPv4
   * session and vice versa): the configured nextHopSelf4/6, else the first global address of
   * that family on the interface holding the session's local address (as BIRD and FRR do).
   */
  private otherFamilyNextHop(p: Peer, family: 4 | 6, localText: string | undefined): Uint8Array | undefined {
    const configured = family === 4 ? p.config.nextHopSelf4 : p.config.nextHopSelf6;
    if (configured !== undefined) return parseAddress(configured).bytes;
    if (!p.config.families.includes(family === 6 ? 'ipv6-unicast' : 'ipv4-unicast') || localText === undefined) return undefined;
    const found = interfaceAddress(localText, family);
    if (found === undefined) this.deps.log.info({ peer: p.config.name, family }, `no IPv${family} address on the interface of ${localText}: IPv${family} routes need nextHopSelf${family} or an originated next hop`);
    return found;
  }

  /**
   * No next hop for a family we must send: the interface lookup can come back empty right after
   * the links come up (an interrupted dump). Look again later (0.5 s doubling to 60 s); once
   * found, the peer gets its whole table again (what it missed was never sent).
   */
  private noNextHop(p: Peer, e: EstablishedSession, family: 4 | 6): void {
    if (e.nhRetry !== undefined || e.isClosed) return;
    if (e.nhRetryDelay === 0) {
      this.deps.log.warn({ peer: p.config.name, family: `ipv${family}` }, `no IPv${family} next hop (no address of that family on the session or its interface, no nextHopSelf${family}): IPv${family} routes not sent; will look again`);
    }
    e.nhRetryDelay = Math.min(60_000, e.nhRetryDelay === 0 ? 500 : e.nhRetryDelay * 2);
    e.nhRetry = this.deps.clock.setTimeout(() => {
      e.nhRetry = undefined;
      if (e.isClosed || p.established !== e || this.deps.stopped()) return;
      const joining = this.syncs.get(e);
      const found = this.otherFamilyNextHop(p, family, canonicalAddress(p.session.connection?.localAddress));
      if (!found) { this.noNextHop(p, e, family); return; }
      e.setLocal(family === 4 ? found : e.local4, family === 6 ? found : e.local6);
      this.deps.log.info({ peer: p.config.name, family: `ipv${family}`, nextHop: formatAddress(found) }, 'next hop found on a later look: sending the table again');
      if (joining?.join === true) { joining.resendAfter = true; return; } // what the join sent so far lacked it
      this.refresh(p, family === 6 ? 2 : 1, 1, false); // the whole table again, after any refresh under way
    }, e.nhRetryDelay);
  }

  /**
   * The encoded attribute block for this peer: placeholder next hops become its own address.
   * undefined: no next hop of the family yet; null: the attributes cannot be encoded for it.
   */
  private prepare(p: Peer, e: EstablishedSession, attrs: ExportedAttributes, v6: boolean, ctx: CodecContext): PreparedAttributes | null | undefined {
    const hit = e.prepared.get(attrs);
    if (hit !== undefined) return hit;
    let prep: PreparedAttributes | null = null;
    const { nextHop, mpNextHop, ...rest } = attrs;
    let nh = v6 ? mpNextHop : nextHop;
    if (!nh || isSelfNextHop(nh)) nh = v6 ? e.local6 : e.local4;
    if (!nh || nh.length !== (v6 ? 16 : 4)) {
      this.noNextHop(p, e, v6 ? 6 : 4);
      return undefined; // not cached: a later look may find one
    }
    try {
      const ll = v6 && nh === e.local6 ? e.linkLocal6 : undefined; // our own next hop: with the link-local one
      prep = prepareAttributes(v6 ? { afi: 2, safi: 1 } : { afi: 1, safi: 1 }, rest, ll ? [nh, ll] : nh, ctx);
    } catch (err) {
      this.deps.log.error({ peer: p.config.name, err: describeError(err) }, 'cannot encode path attributes; routes not sent');
    }
    e.prepared.set(attrs, prep);
    return prep;
  }
}

/** A global address of `family` on the interface that holds `localText` (os.networkInterfaces). */
function interfaceAddress(localText: string, family: 4 | 6): Uint8Array | undefined {
  const all = networkInterfaces();
  for (const addrs of Object.values(all)) {
    if (!addrs?.some((a) => canonicalAddress(a.address) === localText)) continue;
    const want = addrs.find((a) => (family === 6 ? a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80') && a.address !== '::1' : a.family === 'IPv4' && !a.internal));
    if (want) return parseAddress(want.address).bytes;
  }
  return undefined;
}
