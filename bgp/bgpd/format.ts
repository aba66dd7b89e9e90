/**
 * Human output of tortie-bgpctl, shaped like `birdc show protocols [all]` and `show route [all]`
 * so operators (and scripts written for BIRD) read it the same way.
 */
import { parsePrefix } from '../../common/prefix.js';
import type { PeerStatus, RouteCount, RouteView } from '../speaker/speaker.js';
import type { BfdSessionView } from '../bfd/engine.js';
import { diagText } from '../bfd/packet.js';

function hms(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

function birdState(p: PeerStatus): string {
  if (!p.enabled) return 'down';
  return p.state === 'Established' ? 'up' : 'start';
}

function info(p: PeerStatus): string {
  if (!p.enabled) return p.lastError ?? '';
  if (p.state === 'Established') return 'Established';
  return p.lastError ? `${p.state.padEnd(13)} ${p.lastError}` : p.state;
}

const MESSAGE_TYPES = [['open', 'OPEN'], ['update', 'UPDATE'], ['notification', 'NOTIFICATION'], ['keepalive', 'KEEPALIVE'], ['route-refresh', 'ROUTE-REFRESH']] as const;

/** Seconds with ms, as birdc prints timers ("57.321"); "-" when not running. */
const secs = (s: number | undefined): string => (s === undefined ? '-' : s.toFixed(3));

export function formatProtocols(peers: readonly PeerStatus[], all: boolean): string {
  const lines = [`${'Name'.padEnd(10)} ${'Proto'.padEnd(10)} ${'Table'.padEnd(10)} ${'State'.padEnd(6)} ${'Since'.padEnd(13)} Info`];
  for (const p of peers) {
    lines.push(`${p.name.padEnd(10)} ${'BGP'.padEnd(10)} ${'---'.padEnd(10)} ${birdState(p).padEnd(6)} ${hms(p.since).padEnd(13)} ${info(p)}`.trimEnd());
    if (!all) continue;
    if (p.description !== undefined) lines.push(`  Description:    ${p.description}`);
    lines.push(`  BGP state:          ${p.enabled ? p.state : 'Down'}`);
    lines.push(`    Neighbor address: ${p.address}`);
    lines.push(`    Neighbor AS:      ${p.asn}`);
    lines.push(`    Local AS:         ${p.localAsn}`);
    if (p.state === 'Established') {
      lines.push(`    Neighbor ID:      ${p.remoteId ?? ''}`);
      lines.push(`    Neighbor caps:    ${p.capabilities.join(', ')}`);
      if (p.localCapabilities) { lines.push('    Local capabilities'); for (const c of p.localCapabilities) lines.push(`      ${c}`); }
      if (p.peerCapabilities) { lines.push('    Neighbor capabilities'); for (const c of p.peerCapabilities) lines.push(`      ${c}`); }
      if (p.negotiated) lines.push(`    Negotiated:       ${p.negotiated.join(', ')}`);
      lines.push(`    Session:          ${p.asn === p.localAsn ? 'internal' : 'external'}${p.fourOctetAs ? ' AS4' : ''}`);
      lines.push(`    Source address:   ${p.localAddress ?? ''}`);
      // birdc: time left / negotiated (seconds, counting down)
      lines.push(`    Hold timer:       ${secs(p.holdTimerLeft)}/${p.holdTime ?? 0}`);
      lines.push(`    Keepalive timer:  ${secs(p.keepaliveTimerLeft)}/${p.keepalive ?? 0}`);
      lines.push(`    Uptime:           ${p.uptimeSeconds} s`);
    }
    lines.push(`    InQ / OutQ:       ${p.inQueueBytes} / ${p.outQueueBytes} bytes`);
    if (p.lastError !== undefined) lines.push(`    Last error:       ${p.lastError}`);
    const gr = p.gracefulRestart;
    if (gr) lines.push(`    Graceful restart: ${gr.state === 'restart-wait' ? 'waiting for the peer to restart' : gr.state === 'long-lived' ? 'long-lived stale (LLGR_STALE), waiting for the peer' : 'waiting for End-of-RIB'} (${gr.families.join(', ')}: ${gr.staleRoutes} stale routes)`);
    lines.push(`    Established transitions: ${p.establishedTransitions}`);
    const mt = p.messageTypes;
    if (mt) {
      lines.push(`    Messages:         ${'received'.padStart(10)} ${'sent'.padStart(10)}`);
      for (const [k, label] of MESSAGE_TYPES) lines.push(`      ${label.padEnd(16)}${String(mt.in[k]).padStart(10)} ${String(mt.out[k]).padStart(10)}`);
      lines.push(`      ${'total'.padEnd(16)}${String(p.messages.messagesIn).padStart(10)} ${String(p.messages.messagesOut).padStart(10)}`);
    }
    const fams = Object.keys(p.familyPrefixes);
    for (const f of fams.length ? fams : p.families.length ? p.families : ['ipv4-unicast']) {
      const c = p.familyPrefixes[f] ?? { received: 0, accepted: 0, exported: 0 };
      lines.push(`  Channel ${f === 'ipv6-unicast' ? 'ipv6' : f === 'ipv4-unicast' ? 'ipv4' : f}`);
      lines.push(`    State:          ${p.state === 'Established' && p.families.includes(f) ? 'UP' : 'DOWN'}`);
      lines.push(`    Routes:         ${c.accepted} imported, ${c.received - c.accepted} filtered, ${c.exported} exported`);
    }
    lines.push(`  Prefixes:         ${p.prefixes.received} received, ${p.prefixes.accepted} accepted, ${p.prefixes.advertised} advertised`);
    lines.push('');
  }
  return lines.join('\n');
}

const ORIGIN_CHAR = { IGP: 'i', EGP: 'e', incomplete: '?' } as const;

/** `filtered`: the routes refused on import (birdc `show route filtered`), with why in `all` form. */
export function formatRoutes(routes: readonly RouteView[], all: boolean, filtered = false): string {
  // By network, like reading a routing table; the paths of one network keep the speaker's order
  // (best first) because the sort is stable.
  const sorted = [...routes].sort((a, b) => family(a) - family(b) || byNetwork(a, b));
  return new RouteFormatter(all, filtered).lines(sorted).join('\n');
}

const family = (r: RouteView): number => (r.prefix.includes(':') ? 6 : 4);

/**
 * birdc's route listing for routes that arrive in batches, already in network order (the
 * daemon streams them so): a table header when the family changes, the network printed once
 * for its paths. Keeps only the last family and network between batches.
 * Multipath: this is the BGP table, so each path keeps its own line and `*` marks the best, as
 * in birdc's `show route` of BIRD's master table (scripts reading birdc keep working); the other
 * members of the equal-cost set the kernel gets are marked `=` (FRR's multipath mark) and say so
 * in the `all` form. BIRD merges paths only on export to its kernel protocol, which is where it
 * prints one route with several `via` lines; the kernel's own `ip route` shows the same here.
 */
export class RouteFormatter {
  private fam = 0;
  private last = '';

  constructor(private readonly all: boolean, private readonly filtered = false) {}

  lines(routes: readonly RouteView[]): string[] {
    const lines: string[] = [];
    for (const r of routes) {
      if (r.accepted === this.filtered) continue;
      const f = family(r);
      if (f !== this.fam) { lines.push(`Table master${f}:`); this.fam = f; this.last = ''; }
      const head = r.prefix === this.last ? ''.padEnd(20) : r.prefix.padEnd(20);
      this.last = r.prefix;
      const src = r.from === 'local' ? 'static' : 'unicast';
      lines.push(`${head} ${src} [${r.from} ${hms(r.since)}${r.pathId !== undefined ? ` path ${r.pathId}` : ''}${r.stale ? ' stale' : ''}]${r.best ? ' *' : r.multipath ? ' =' : ''} (100) [${r.asPath.length ? `AS${r.asPath[r.asPath.length - 1]}` : ''}${ORIGIN_CHAR[r.origin]}]`);
      if (r.from !== 'local') lines.push(`\tvia ${r.nextHop}`);
      if (!this.all) continue;
      lines.push(`\tType: ${r.from === 'local' ? 'static' : 'BGP'} univ`);
      lines.push(`\tBGP.origin: ${r.origin === 'incomplete' ? 'Incomplete' : r.origin}`);
      lines.push(`\tBGP.as_path: ${r.asPathText}`);
      lines.push(`\tBGP.next_hop: ${r.nextHop}`);
      if (r.med !== undefined) lines.push(`\tBGP.med: ${r.med}`);
      if (r.localPref !== undefined) lines.push(`\tBGP.local_pref: ${r.localPref}`);
      if (r.atomicAggregate) lines.push('\tBGP.atomic_aggr:');
      if (r.aggregator !== undefined) lines.push(`\tBGP.aggregator: ${r.aggregator}`);
      if (r.communities.length) lines.push(`\tBGP.community: ${r.communities.map((c) => `(${c.replace(':', ',')})`).join(' ')}`);
      if (r.extendedCommunities?.length) lines.push(`\tBGP.ext_community: ${r.extendedCommunities.map((c) => `(${c.replaceAll(':', ', ')})`).join(' ')}`);
      if (r.largeCommunities?.length) lines.push(`\tBGP.large_community: ${r.largeCommunities.map((c) => `(${c.replaceAll(':', ', ')})`).join(' ')}`);
      if (r.originatorId !== undefined) lines.push(`\tBGP.originator_id: ${r.originatorId}`);
      if (r.clusterList?.length) lines.push(`\tBGP.cluster_list: ${r.clusterList.join(' ')}`);
      for (const u of r.unknownAttributes ?? []) lines.push(`\tBGP.unknown: ${u}`);
      lines.push(this.filtered ? `\tFiltered: ${r.reason}` : `\tBest: ${r.best ? 'yes' : 'no'} (${r.reason})`);
      if (r.multipath) lines.push('\tMultipath: yes (in the equal-cost set installed with the best path)');
    }
    return lines;
  }
}

/** Network order: address bytes, then prefix length. */
function byNetwork(a: RouteView, b: RouteView): number {
  if (a.prefix === b.prefix) return 0;
  const pa = parsePrefix(a.prefix), pb = parsePrefix(b.prefix);
  for (let i = 0; i < pa.bytes.length; i++) {
    const d = (pa.bytes[i] ?? 0) - (pb.bytes[i] ?? 0);
    if (d !== 0) return d;
  }
  return pa.length - pb.length;
}

/** birdc's `show route count`, with the split per family. */
export function formatRouteCount(c: RouteCount): string {
  return `${c.best} of ${c.routes} routes for ${c.networks} networks (${c.ipv4} IPv4, ${c.ipv6} IPv6)\n`
    + `  ipv4: ${c.ipv4} routes for ${c.networks4} networks\n  ipv6: ${c.ipv6} routes for ${c.networks6} networks`;
}

/**
 * `show bfd sessions [all]`, birdc's columns (IP address, Interface → our peer name, State, Since,
 * Interval = our transmit interval, Timeout = detection time, both in seconds).
 */
export function formatBfdSessions(sessions: readonly BfdSessionView[], all: boolean): string {
  const sec = (us: number) => (us / 1e6).toFixed(3).padStart(8);
  const lines = [`${'IP address'.padEnd(25)} ${'Peer'.padEnd(12)} ${'State'.padEnd(10)} ${'Since'.padEnd(13)} Interval  Timeout`];
  for (const s of sessions) {
    lines.push(`${s.peer.padEnd(25)} ${s.id.padEnd(12)} ${s.state.padEnd(10)} ${hms(s.since).padEnd(13)} ${sec(s.txIntervalUs)} ${sec(s.detectTimeUs)}`);
    if (!all) continue;
    lines.push(`  Mode:             ${s.multihop ? 'multihop (RFC 5883, UDP 4784)' : 'single-hop (RFC 5881, UDP 3784)'}${s.local !== undefined ? `, source ${s.local}` : ''}`);
    lines.push(`  Local:            discr ${s.localDiscr}, diag ${s.localDiag} (${diagText(s.localDiag)}), min tx ${s.desiredMinTxUs / 1000} ms, min rx ${s.requiredMinRxUs / 1000} ms${s.pollPending ? ', poll pending' : ''}`);
    lines.push(`  Remote:           discr ${s.remoteDiscr}, state ${s.remoteState}, diag ${s.remoteDiag} (${diagText(s.remoteDiag)}), min tx ${s.remoteMinTxUs / 1000} ms, min rx ${s.remoteMinRxUs / 1000} ms, multiplier ${s.remoteDetectMult}`);
    lines.push(`  Packets:          ${s.packetsIn} in, ${s.packetsOut} out, ${s.discarded} discarded`);
  }
  return lines.join('\n');
}
