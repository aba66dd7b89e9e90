/**
 * Snapshot → BgpSpeaker configuration (calico-compat.md §1.2, §1.3, §2.3, §2.4):
 *   - full iBGP mesh between nodes when nodeToNodeMeshEnabled (default true), nodes with a
 *     routeReflectorClusterID left out; Calico's passive-side rule: dial only peers whose IP
 *     string sorts below ours;
 *   - BGPPeers: global, `node`, `nodeSelector`; `peerIP` or `peerSelector` (with the reverse
 *     side of a node-to-node peering generated, reversePeering Auto);
 *   - route-reflector clients when this node has a cluster ID and the iBGP peer has none or another;
 *   - import: external peers never give us a route inside our pools; BGPFilter import rules;
 *   - export: BGPFilter export rules, then Calico's export function (pool with disableBGPExport →
 *     reject; pool, service CIDR, prefixAdvertisement → accept; anything else → reject);
 *   - TCP-MD5 from BGPPeer `password.secretKeyRef` and BGPConfiguration `nodeMeshPassword` (mesh
 *     sessions), read through `secrets` (mounted Secret files; see agent/node/CONFIG.md); GTSM
 *     from `ttlSecurity` (hop count, BIRD `ttl security on; multihop N`); every other eBGP session
 *     multihop 64, as Calico renders every session `multihop`;
 *   - ADD-PATH send and receive on every session (Calico's `add paths on`).
 */
import { parseDuration, parsePeerIp } from '../resources/fields.js';
import { effectiveBgpConfiguration } from '../resources/bgp-configuration.js';
import { evaluateSelector, parseSelector, selectorMatches, type Selector } from '../resources/selector.js';
import { parsePrefix } from '../../common/prefix.js';
import type { PeerConfig, PolicyConfig, SpeakerConfig } from '../../bgp/speaker/peer-config.js';
import type { NodeInfo, PeerInfo, Snapshot } from './snapshot.js';
import { filterRules, linearize, type FilterRule } from './bgp-filter-rules.js';
import { routerIdFor } from './router-id.js';
import { bgpConfigurationNotes, bgpPeerNotes } from '../resources/compat-notes.js';
import { withRoutePriority } from './route-priority.js';

export type PeerKind = 'node-to-node mesh' | 'global' | 'node specific';

export interface CalcPeer {
  readonly config: PeerConfig;
  readonly kind: PeerKind;
  /** The Calico node on the other end, when it is one. */
  readonly node?: string;
  /** The BGPPeer this session comes from (none for the mesh). */
  readonly source?: string;
}

export interface BgpCalcResult {
  /** undefined when this node cannot run BGP (no IPv4 address in its Node resource). */
  readonly speaker: SpeakerConfig | undefined;
  readonly peers: readonly CalcPeer[];
  /** Things the configuration asks for that we cannot do, each naming the resource and field. */
  readonly problems: readonly string[];
}

/**
 * The value of one key of a Secret (read from where the DaemonSet mounts it); throws with a
 * message naming the Secret, key and file, never the value.
 */
export type SecretReader = (name: string, key: string) => string;

type SecretRef = { readonly secretKeyRef: { readonly name: string; readonly key: string; readonly optional?: boolean | undefined } };

/** Calico's bare `multihop` (BIRD's default hop count). */
const CALICO_MULTIHOP = 64;

/**
 * A password reference → the key, or undefined with a problem recorded. `ok: false` means the
 * session must not be configured (a non-optional Secret is unreadable: without its key the peer
 * would refuse us anyway, and we must not fall back to an unauthenticated session).
 */
function resolvePassword(ref: SecretRef | undefined, where: string, secrets: SecretReader | undefined, problems: string[]):
  { readonly ok: true; readonly password?: string } | { readonly ok: false } {
  if (ref === undefined) return { ok: true };
  const { name, key, optional } = ref.secretKeyRef;
  const what = `${where}: Secret ${name} key ${key}`;
  if (secrets === undefined) { problems.push(`${what}: no Secret reader configured; session not configured`); return { ok: false }; }
  let value: string;
  try { value = secrets(name, key); } catch (err) {
    if (optional === true) { problems.push(`${what} (optional): ${(err as Error).message}; session without a password`); return { ok: true }; }
    problems.push(`${what}: ${(err as Error).message}; session not configured`);
    return { ok: false };
  }
  const n = Buffer.byteLength(value, 'utf8');
  if (n < 1 || n > 80) { problems.push(`${what}: the password must be 1..80 bytes (TCP-MD5), it is ${n}; session not configured`); return { ok: false }; }
  return { ok: true, password: value };
}

export const DEFAULT_TIMERS = { holdTime: 90, keepalive: 30, connectRetry: 1 } as const;

/** Calico's protocol names: Mesh_10_0_3_8, Global_10_0_0_1_port_1790 (calico-compat §2.3). */
export function peerName(kind: PeerKind, ip: string, port: number | undefined): string {
  const prefix = kind === 'node-to-node mesh' ? 'Mesh' : kind === 'global' ? 'Global' : 'Node';
  return `${prefix}_${ip.replace(/[.:]/g, '_')}${port === undefined ? '' : `_port_${port}`}`;
}

export function peerKindOfName(name: string): PeerKind | undefined {
  if (name.startsWith('Mesh_')) return 'node-to-node mesh';
  if (name.startsWith('Global_')) return 'global';
  if (name.startsWith('Node_')) return 'node specific';
  return undefined;
}

export function globalAsn(s: Snapshot): number {
  return effectiveBgpConfiguration(s.bgpConfigs.get('default')).asNumber;
}

export function nodeAsn(s: Snapshot, n: NodeInfo): number { return n.asNumber ?? globalAsn(s); }

function listenPortOf(s: Snapshot, node: string): number {
  return effectiveBgpConfiguration(s.bgpConfigs.get('default'), s.bgpConfigs.get(`node.${node}`)).listenPort;
}

function appliesToLocal(p: PeerInfo, local: NodeInfo): boolean {
  if (p.spec.node !== undefined) return p.spec.node === local.name;
  if (p.spec.nodeSelector !== undefined) return selectorMatches(p.spec.nodeSelector, local.labels);
  return true;
}

/** Pools (enabled or not: a disabled pool still holds live blocks) as prefix matches ge len le 32 (128). */
function poolMatches(s: Snapshot, pred: (p: Snapshot['pools'][number]) => boolean = () => true) {
  return s.pools.filter((p) => pred(p)).map((p) => { const prefix = parsePrefix(p.cidr); return { prefix, le: prefix.family === 4 ? 32 : 128 }; });
}

/** Calico's calico_export_to_bgp_peers, as speaker rules (after any BGPFilter export rules). */
export function exportPolicy(s: Snapshot, filterRulesFirst: readonly FilterRule[]): PolicyConfig {
  const cfg = s.bgpConfigs.get('default');
  const rules: FilterRule[] = [...filterRulesFirst];
  const noExport = poolMatches(s, (p) => p.disableBGPExport);
  if (noExport.length > 0) rules.push({ match: { prefixes: noExport }, action: 'reject' });
  const accept = [
    ...poolMatches(s, (p) => !p.disableBGPExport),
    ...[...(cfg?.serviceClusterIPs ?? []), ...(cfg?.serviceExternalIPs ?? []), ...(cfg?.serviceLoadBalancerIPs ?? [])]
      .map((c) => parsePrefix(c.cidr)).map((prefix) => ({ prefix, le: prefix.family === 4 ? 32 : 128 })),
  ];
  if (accept.length > 0) rules.push({ match: { prefixes: accept }, action: 'accept' });
  return { rules: linearize(rules, 'reject'), default: 'reject' };
}

/** External (non-node) peers never give us a route inside our own pools; then BGPFilter import rules; then accept. */
export function importPolicy(s: Snapshot, external: boolean, filterRulesFirst: readonly FilterRule[]): PolicyConfig | undefined {
  const pools = poolMatches(s);
  const rules: FilterRule[] = [];
  if (external && pools.length > 0) rules.push({ match: { prefixes: pools }, action: 'reject' });
  rules.push(...filterRulesFirst);
  return rules.length === 0 ? undefined : { rules: linearize(rules, 'accept'), default: 'accept' };
}

interface Target {
  ip: string; family: 4 | 6; port: number | undefined; asn: number; node: NodeInfo | undefined; kind: PeerKind; source: PeerInfo | undefined;
  /** Generated from a peerSelector (forward or reverse side): confd never makes those passive. */
  selected?: boolean;
}

/**
 * Whether we wait for the peer to dial, as confd renders `passive on` (bgp_processor.go
 * buildPeerFromData, client.go nodeAsBGPPeers): mesh peers, and global BGPPeers whose peerIP is a
 * Calico node's address, wait when the peer's IP string sorts above ours; node-specific
 * peerings and every peerSelector-generated one (forward and reverse) never wait, so both sides
 * dial and the BGP collision rule keeps one connection. Matching it side by side keeps a
 * half-Calico cluster from a pair that both wait.
 */
export function passiveLikeConfd(kind: PeerKind, peerIsNode: boolean, selected: boolean, peerIp: string, ourIp: string): boolean {
  if (kind === 'node specific' || selected || !peerIsNode) return false;
  return peerIp > ourIp;
}

/**
 * Our graceful-restart Restart Time towards a peer, seconds: the BGPPeer's maxRestartTime, or
 * BGPConfiguration nodeMeshMaxRestartTime for the mesh (Calico's BIRD `graceful restart time`);
 * undefined: the speaker's default (120 s, as BIRD's and so Calico's). The capability field has 12 bits.
 */
function gracefulRestartTime(s: Snapshot, t: Target, name: string, problems: string[]): number | undefined {
  const [text, where] = t.source !== undefined
    ? [t.source.spec.maxRestartTime, `BGPPeer ${t.source.name}: spec.maxRestartTime`]
    : [s.bgpConfigs.get('default')?.nodeMeshMaxRestartTime, 'BGPConfiguration default: spec.nodeMeshMaxRestartTime'];
  if (text === undefined) return undefined;
  const ms = parseDuration(text) ?? 0;
  const secs = Math.round(ms / 1000);
  if (secs > 4095) { problems.push(`${where} ${text} is above the 4095 s graceful restart allows; ${name} uses 4095 s`); return 4095; }
  return secs;
}

/** A node's address in a family (v4 sessions between IPv4 addresses, v6 between IPv6, as Calico). */
const addrOf = (n: NodeInfo, family: 4 | 6): string | undefined => (family === 4 ? n.ipv4 : n.ipv6);

export function bgpSpeakerConfig(s: Snapshot, secrets?: SecretReader): BgpCalcResult {
  const problems: string[] = [];
  const local = s.nodes.get(s.localNode);
  if (local?.ipv4 === undefined) {
    return { speaker: undefined, peers: [], problems: [`Node ${s.localNode}: spec.bgp.ipv4Address is not set; BGP is off`] };
  }
  const eff = effectiveBgpConfiguration(s.bgpConfigs.get('default'), s.bgpConfigs.get(`node.${local.name}`));
  for (const name of ['default', `node.${local.name}`]) {
    const spec = s.bgpConfigs.get(name);
    if (spec !== undefined) problems.push(...bgpConfigurationNotes(name, spec));
  }
  const localAsn = nodeAsn(s, local);
  const nodesByIp = new Map<string, NodeInfo>();
  for (const n of s.nodes.values()) for (const a of [n.ipv4, n.ipv6]) if (a !== undefined) nodesByIp.set(a, n);
  const families = (n: NodeInfo): Array<4 | 6> => ([4, 6] as const).filter((f) => addrOf(local, f) !== undefined && addrOf(n, f) !== undefined);
  const nodeTargets = (n: NodeInfo, kind: PeerKind, source: PeerInfo | undefined): Target[] =>
    families(n).map((family) => ({ ip: addrOf(n, family) ?? '', family, port: undefined, asn: nodeAsn(s, n), node: n, kind, source, selected: source !== undefined }));

  const targets: Target[] = [];
  // 1. The mesh (route reflectors drop out of it).
  if (eff.nodeToNodeMeshEnabled && local.rrClusterId === undefined) {
    for (const n of [...s.nodes.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (n.name === local.name || n.rrClusterId !== undefined) continue;
      targets.push(...nodeTargets(n, 'node-to-node mesh', undefined));
    }
  }
  // 2. BGPPeer resources.
  for (const p of [...s.peers].sort((a, b) => a.name.localeCompare(b.name))) {
    const where = `BGPPeer ${p.name}`;
    let applies: boolean;
    try { applies = appliesToLocal(p, local); } catch (err) { problems.push(`${where}: spec.nodeSelector: ${(err as Error).message}`); continue; }
    const kind: PeerKind = p.spec.node !== undefined || p.spec.nodeSelector !== undefined ? 'node specific' : 'global';
    if (applies) problems.push(...bgpPeerNotes(p.name, p.spec));
    // Reverse side of a peerIP BGPPeer naming this node (reversePeering Auto, confd client.go): we
    // peer back, node-specific, with each node the BGPPeer applies to, in the peerIP's family;
    // without it the peer's dials would be refused as from an unknown peer.
    if (p.spec.peerIP !== undefined && p.spec.reversePeering !== 'Manual') {
      const r = parsePeerIp(p.spec.peerIP);
      if (typeof r !== 'string' && (r.ip === local.ipv4 || r.ip === local.ipv6)
        && (p.spec.asNumber ?? globalAsn(s)) === localAsn && (r.port === undefined || r.port === eff.listenPort)) {
        const family = r.ip.includes(':') ? 6 : 4;
        for (const n of s.nodes.values()) {
          let nApplies = false;
          try { nApplies = n.name !== local.name && appliesToLocal(p, n); } catch { /* reported on that node */ }
          if (nApplies) targets.push(...nodeTargets(n, 'node specific', p).filter((x) => x.family === family));
        }
      }
    }
    if (applies && p.spec.peerIP !== undefined) {
      const r = parsePeerIp(p.spec.peerIP);
      if (typeof r === 'string') { problems.push(`${where}: spec.peerIP: ${r}`); continue; }
      const family = r.ip.includes(':') ? 6 : 4;
      if (addrOf(local, family) === undefined) { problems.push(`${where}: spec.peerIP ${r.ip}: this node has no IPv${family} address`); continue; }
      if (r.ip === local.ipv4 || r.ip === local.ipv6) continue;
      const node = nodesByIp.get(r.ip);
      const asn = p.spec.asNumber ?? (node === undefined ? localAsn : nodeAsn(s, node));
      // confd names the port (Node_<ip>_port_<n>) only when the peer node's listenPort is configured.
      const configuredPort = node === undefined ? undefined : s.bgpConfigs.get(`node.${node.name}`)?.listenPort ?? s.bgpConfigs.get('default')?.listenPort;
      targets.push({ ip: r.ip, family, port: r.port ?? configuredPort, asn, node, kind, source: p });
    }
    if (p.spec.peerSelector !== undefined) {
      let sel: Selector;
      try { sel = parseSelector(p.spec.peerSelector); } catch (err) { problems.push(`${where}: spec.peerSelector: ${(err as Error).message}`); continue; }
      const matches = (n: NodeInfo): boolean => evaluateSelector(sel, n.labels);
      if (applies) {
        for (const n of s.nodes.values()) {
          if (n.name === local.name || !matches(n)) continue;
          targets.push(...nodeTargets(n, kind, p));
        }
      }
      // Reverse side (reversePeering Auto): a selected node peers back with the nodes the peer
      // applies to; confd emits these as node-specific peerings (Node_<ip>).
      if (p.spec.reversePeering !== 'Manual' && matches(local)) {
        for (const n of s.nodes.values()) {
          if (n.name === local.name) continue;
          let nApplies: boolean;
          try { nApplies = appliesToLocal(p, n); } catch { continue; }
          if (nApplies) targets.push(...nodeTargets(n, 'node specific', p));
        }
      }
    }
  }

  // One session per peer address: the first source wins (mesh before BGPPeers, then by name).
  const seen = new Set<string>();
  const peers: CalcPeer[] = [];
  for (const t of targets) {
    if (seen.has(t.ip)) continue;
    seen.add(t.ip);
    // Calico localASNumber: our AS on this session (BIRD `local as`); it decides iBGP or eBGP too.
    const localAs = t.source?.spec.localASNumber;
    const ibgp = t.asn === (localAs ?? localAsn);
    const name = peerName(t.kind, t.ip, t.port);
    const external = t.node === undefined;
    const filterNames = t.source?.spec.filters ?? [];
    const fr = filterRules(s, filterNames, ibgp, `${name}`, t.family);
    problems.push(...fr.problems);
    let imp: PolicyConfig | undefined, exp: PolicyConfig;
    try {
      imp = importPolicy(s, external, fr.importRules);
      exp = exportPolicy(s, fr.exportRules);
    } catch (err) {
      problems.push(`${name}: BGPFilters ${filterNames.join(', ')}: ${(err as Error).message}; filters ignored for this peer`);
      imp = importPolicy(s, external, []);
      exp = exportPolicy(s, []);
    }
    // Calico v3.32: LOCAL_PREF = 2147483647 - route priority on mesh and iBGP sessions.
    if (ibgp) exp = withRoutePriority(exp, t.family === 4 ? eff.ipv4NormalRoutePriority : eff.ipv6NormalRoutePriority);
    const rrClient = local.rrClusterId !== undefined && ibgp && (t.node?.rrClusterId === undefined || t.node.rrClusterId !== local.rrClusterId);
    const nextHopSelf = t.source?.spec.nextHopMode === 'Self';
    // Calico: keepOriginalNextHop (older) or nextHopMode Keep; only eBGP peers change (iBGP keeps anyway).
    const nextHopKeep = t.source?.spec.nextHopMode === 'Keep' || (t.source?.spec.keepOriginalNextHop === true && t.source.spec.nextHopMode !== 'Self');
    const allowAsIn = t.source?.spec.numAllowedLocalASNumbers ?? 0;
    const keepaliveMs = t.source?.spec.keepaliveTime === undefined ? undefined : parseDuration(t.source.spec.keepaliveTime);
    const keepalive = keepaliveMs === undefined ? undefined : keepaliveMs / 1000;
    const timers = keepalive === undefined || keepalive < 1 ? DEFAULT_TIMERS
      : { ...DEFAULT_TIMERS, keepalive: Math.round(keepalive), holdTime: Math.max(3, Math.round(keepalive) * 3) };
    const useNodeIp = t.source?.spec.sourceAddress !== 'None';
    const passwordRef = t.kind === 'node-to-node mesh' ? s.bgpConfigs.get('default')?.nodeMeshPassword : t.source?.spec.password;
    const pw = resolvePassword(passwordRef, t.source !== undefined ? `BGPPeer ${t.source.name} spec.password` : 'BGPConfiguration default spec.nodeMeshPassword', secrets, problems);
    if (!pw.ok) continue;
    // Calico ttlSecurity N: `ttl security on; multihop N`; 0 or unset: plain `multihop`.
    const ttlSecurity = t.source?.spec.ttlSecurity !== undefined && t.source.spec.ttlSecurity > 0 ? t.source.spec.ttlSecurity : undefined;
    const restartTime = gracefulRestartTime(s, t, name, problems);
    const config: PeerConfig = {
      name, address: t.ip, asn: t.asn,
      port: t.port ?? (t.node !== undefined ? listenPortOf(s, t.node.name) : 179),
      passive: passiveLikeConfd(t.kind, t.node !== undefined, t.selected === true, t.ip, addrOf(local, t.family) ?? ''),
      ...(useNodeIp ? { localAddress: addrOf(local, t.family) ?? local.ipv4 } : {}),
      ...timers,
      families: [t.family === 4 ? 'ipv4-unicast' : 'ipv6-unicast'],
      nextHopSelf,
      ...(nextHopKeep ? { nextHopKeep: true } : {}),
      // Calico numAllowedLocalASNumbers: BIRD's `allow local as N`.
      ...(allowAsIn > 0 ? { allowAsIn } : {}),
      ...(localAs !== undefined ? { localAs } : {}),
      routeReflectorClient: rrClient,
      ...(ttlSecurity !== undefined ? { ttlSecurity } : !ibgp ? { multihop: CALICO_MULTIHOP } : {}),
      ...(pw.password !== undefined ? { password: pw.password } : {}),
      ...(imp === undefined ? {} : { import: imp }),
      export: exp,
      description: t.node !== undefined ? `node ${t.node.name}` : t.source !== undefined ? `BGPPeer ${t.source.name}` : 'mesh',
      ...(restartTime !== undefined ? { gracefulRestartTime: restartTime } : {}),
      // Calico's bgp_template: `add paths on` (ADD-PATH both ways; used where the peer agrees).
      addPaths: { send: true, receive: true },
    };
    peers.push({ config, kind: t.kind, ...(t.node === undefined ? {} : { node: t.node.name }), ...(t.source === undefined ? {} : { source: t.source.name }) });
  }
  if (eff.bindMode === 'NodeIP' && local.ipv6 !== undefined) {
    problems.push(`BGPConfiguration: spec.bindMode NodeIP on a dual-stack node: one speaker serves both families here, so it listens on every address (Calico binds bird and bird6 to each node address)`);
  }
  const speaker: SpeakerConfig = {
    routerId: routerIdFor(s.routerIdSetting, local.name, local.ipv4) ?? local.ipv4, asn: localAsn,
    // bindMode None: every address; "::" (dual-stack socket) when the node also speaks IPv6.
    listen: { address: eff.bindMode === 'NodeIP' && local.ipv6 === undefined ? local.ipv4 : local.ipv6 !== undefined ? '::' : '0.0.0.0', port: eff.listenPort },
    peers: peers.map((p) => p.config),
    // Calico renders `rr cluster id` for a reflector's clients: our CLUSTER_LIST entry and loop check
    ...(local.rrClusterId !== undefined ? { clusterId: local.rrClusterId } : {}),
  };
  return { speaker, peers, problems };
}
