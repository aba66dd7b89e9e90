/**
 * A calico-node stand-in for migration tests: BIRD 1.6 (Calico runs a fork of 1.6.8) configured
 * the way confd renders bird.cfg, bird_aggr.cfg and bird_ipam.cfg for one node (IPv4), written
 * from the semantics of confd's templates and bgp_processor.go, not copied:
 *   - bgp_template: local AS, gateway recursive, add paths on, graceful restart, connect delay 2,
 *     connect retry 5, error wait 5,30; every session `multihop`, `source address` = node IP;
 *   - passive side: mesh peers, and global peers that are Calico nodes, wait when the peer's IP
 *     string sorts above ours; node-specific and peerSelector-made peerings always dial;
 *   - import: preference 200 when LOCAL_PREF > 2147483647 - normal priority, then accept;
 *   - export: krt_metric <-> bgp_local_pref (2147483647 - metric), then calico_export_to_bgp_peers
 *     (disabled pools, Felix tunnel interfaces on iBGP, prefixAdvertisements communities,
 *     calico_aggr for confirmed blocks, static routes, enabled pools, else reject);
 *   - kernel: metric = 2147483647 - LOCAL_PREF, VXLAN pools left to Felix, the rest accepted.
 * The fork's `krt_tunnel` (IPIP via tunl0) is not in Debian's BIRD: IPIP pools are refused here.
 */
import { existsSync } from 'node:fs';
import { trySh } from './sh.js';

export const BIRD_INT_MAX = 2147483647;

export interface CalicoPool { readonly cidr: string; readonly ipipMode?: 'Never' | 'Always' | 'CrossSubnet'; readonly vxlanMode?: 'Never' | 'Always' | 'CrossSubnet'; readonly disableBGPExport?: boolean }

export interface CalicoBirdPeer {
  /** mesh → Mesh_, global → Global_, node → Node_ (confd's three peer types). */
  readonly type: 'mesh' | 'global' | 'node';
  readonly ip: string;
  readonly asNumber: number;
  readonly port?: number;
  /** The peer is a Calico node found by its peerIP (confd CalicoNode); peerSelector-made peers are not. */
  readonly calicoNode: boolean;
  readonly restartTime?: number;
  readonly keepaliveTime?: number;
  readonly nextHopMode?: 'Self' | 'Keep';
  readonly rrClusterId?: string;
}

export interface CalicoBirdNode {
  readonly nodeName: string;
  readonly ip: string;
  readonly asNumber: number;
  readonly routerId?: string;
  readonly listenPort?: number;
  readonly pools: readonly CalicoPool[];
  /** Confirmed blocks affine to this node (blackholes, aggregated on export). */
  readonly blocks: readonly string[];
  readonly prefixAdvertisements?: ReadonlyArray<{ readonly cidr: string; readonly communities: readonly string[] }>;
  readonly normalRoutePriority?: number;
  readonly rrClusterId?: string;
  readonly peers: readonly CalicoBirdPeer[];
}

/** confd's passive rule (bgp_processor.go: mesh by IP string; global only for Calico nodes; node never). */
export function confdPassive(p: CalicoBirdPeer, ourIp: string): boolean {
  if (p.type === 'node') return false;
  if (p.type === 'global' && !p.calicoNode) return false;
  return p.ip > ourIp;
}

export function confdPeerName(p: CalicoBirdPeer): string {
  const prefix = p.type === 'mesh' ? 'Mesh' : p.type === 'global' ? 'Global' : 'Node';
  return `${prefix}_${p.ip.replace(/[.:]/g, '_')}${p.port === undefined ? '' : `_port_${p.port}`}`;
}

function communityAdd(c: string): string {
  const parts = c.split(':');
  return parts.length === 2 ? `bgp_community.add((${parts[0]}, ${parts[1]}));` : `bgp_large_community.add((${parts[0]}, ${parts[1]}, ${parts[2]}));`;
}

/**
 * The three files confd writes, concatenated in include order (bird_aggr, bird_ipam, bird); for
 * bird6 (`ip` an IPv6 address, `routerId` the node's IPv4 address) the bird6*.cfg equivalents.
 * Pools and prefixAdvertisements of the other family are left out, as confd splits them.
 */
export function calicoBirdConfig(all: CalicoBirdNode): string {
  const v6 = all.ip.includes(':');
  const mine = (cidr: string): boolean => cidr.includes(':') === v6;
  const n: CalicoBirdNode = { ...all, pools: all.pools.filter((p) => mine(p.cidr)),
    ...(all.prefixAdvertisements === undefined ? {} : { prefixAdvertisements: all.prefixAdvertisements.filter((a) => mine(a.cidr)) }) };
  if (v6 && n.routerId === undefined) throw new Error('bird6 needs routerId (the node\'s IPv4 address)');
  const prio = n.normalRoutePriority ?? 1024;
  for (const p of n.pools) {
    if (p.ipipMode !== undefined && p.ipipMode !== 'Never') throw new Error(`pool ${p.cidr}: IPIP needs the Calico BIRD fork's krt_tunnel`);
  }
  const usesVxlan = (p: CalicoPool): boolean => p.vxlanMode !== undefined && p.vxlanMode !== 'Never';
  const aggr = [
    '# bird_aggr.cfg',
    'template static static_template {',
    ...(n.blocks.length > 0 ? n.blocks.map((b) => `   route ${b} blackhole;`) : ['   # No IP blocks or static routes for this host.']),
    '}',
    ...(n.blocks.length > 0 ? ['protocol static from static_template {', '}'] : []),
    'function calico_aggr ()',
    '{',
    ...n.blocks.flatMap((b) => [
      `      if ( net = ${b} ) then { accept; }`,
      `      if ( net ~ ${b} && krt_metric < ${prio} ) then { accept; }`,
      `      if ( net ~ ${b} ) then { reject; }`,
    ]),
    '}',
  ];
  const sortedPools = [...n.pools].sort((a, b) => a.cidr.localeCompare(b.cidr));
  const ipam = [
    '# bird_ipam.cfg',
    'function reject_local_routes () {',
    '  if (defined(ifname)) then {',
    '     if (ifname ~ "bpf*.cali") then {',
    '        reject;',
    '     }',
    '  }',
    '}',
    'function calico_export_to_bgp_peers(bool internal_peer) {',
    ...sortedPools.filter((p) => p.disableBGPExport === true).map((p) => `  if (net ~ ${p.cidr}) then { reject; } # BGP export is disabled.`),
    '  if (internal_peer) then {',
    // programClusterRoutes default (EnabledNoEncapOnly): Felix owns IPIP, so tunl0 routes stay home too.
    '    if (defined(ifname)) then {',
    '      if ((ifname ~ "*.cali") || (ifname ~ "*.calico") || (ifname ~ "tunl0")) then {',
    '        reject;',
    '      }',
    '    }',
    '  }',
    '  reject_local_routes();',
    '  apply_communities();',
    '  calico_aggr();',
    ...sortedPools.filter((p) => p.disableBGPExport !== true).map((p) => `  if (net ~ ${p.cidr}) then { accept; }`),
    '}',
    'filter calico_kernel_programming {',
    '  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {',
    `      krt_metric = ${prio};`,
    '      if (defined(bgp_local_pref)) then {',
    `          krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
    '      }',
    `      if (krt_metric < ${prio}) then {`,
    '          preference = 200;',
    '      }',
    '  }',
    // IPv6: only the reject statements, the final accept covers the rest.
    ...sortedPools.flatMap((p) => (usesVxlan(p) ? [`  if (net ~ ${p.cidr}) then { reject; } # VXLAN routes are handled by Felix.`] : v6 ? [] : [`  if (net ~ ${p.cidr}) then { accept; }`])),
    '  accept;',
    '}',
  ];
  const peerBlock = (p: CalicoBirdPeer): string[] => {
    const importLines = [
      `if (defined(bgp_local_pref)&&(bgp_local_pref > ${BIRD_INT_MAX - prio})) then`,
      '  preference = 200;',
      'accept;',
    ];
    const ibgp = p.asNumber === n.asNumber;
    const exportLines = [
      'if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {',
      `  krt_metric = ${BIRD_INT_MAX} - bgp_local_pref;`,
      '} else {',
      `  if (!defined(krt_metric)) then { krt_metric = ${prio}; }`,
      `  bgp_local_pref = ${BIRD_INT_MAX} - krt_metric;`,
      '}',
      `calico_export_to_bgp_peers(${ibgp});`,
      'reject;',
    ];
    const rr = n.rrClusterId !== undefined && ibgp && (p.rrClusterId === undefined || p.rrClusterId !== n.rrClusterId);
    return [
      `protocol bgp ${confdPeerName(p)} from bgp_template {`,
      `  neighbor ${p.ip}${p.port === undefined ? '' : ` port ${p.port}`} as ${p.asNumber};`,
      `  source address ${n.ip};`,
      '  ttl security off;',
      '  multihop;',
      `  import filter {\n    ${importLines.join('\n    ')}\n  };`,
      `  export filter {\n    ${exportLines.join('\n    ')}\n  };`,
      ...(confdPassive(p, n.ip) ? ['  passive on;'] : []),
      ...(p.restartTime !== undefined ? [`  graceful restart time ${p.restartTime};`] : []),
      ...(p.keepaliveTime !== undefined ? [`  keepalive time ${p.keepaliveTime};`] : []),
      ...(rr ? ['  rr client;', `  rr cluster id ${n.rrClusterId};`] : []),
      ...(p.nextHopMode === 'Keep' ? ['  next hop keep;'] : []),
      ...(p.nextHopMode === 'Self' ? ['  next hop self;'] : []),
      '}',
    ];
  };
  const bird = [
    '# bird.cfg',
    'function apply_communities ()',
    '{',
    ...(n.prefixAdvertisements ?? []).flatMap((a) => [`      if ( net ~ ${a.cidr} ) then {`, ...a.communities.map((c) => `          ${communityAdd(c)}`), '      }']),
    '}',
    'template kernel kernel_template {',
    '  learn;',
    '  persist;',
    '  scan time 2;',
    '  import all;',
    '}',
    'template direct direct_template {',
    '  debug { states };',
    '  interface -"cali*", -"kube-ipvs*", "*";',
    '}',
    ...aggr,
    ...ipam,
    `router id ${n.routerId ?? n.ip};`,
    ...(n.listenPort !== undefined ? [`listen bgp port ${n.listenPort};`] : []),
    'protocol kernel from kernel_template {',
    '  export filter calico_kernel_programming;',
    '  graceful restart;',
    '  merge paths on;',
    '}',
    'protocol device {',
    '  debug { states };',
    '  scan time 2;',
    '}',
    'protocol direct from direct_template {',
    '}',
    'template bgp bgp_template {',
    '  debug { states, routes, filters, events };',
    '  description "Connection to BGP peer";',
    `  local as ${n.asNumber};`,
    '  gateway recursive;',
    '  add paths on;',
    '  graceful restart;',
    '  connect delay time 2;',
    '  connect retry time 5;',
    '  error wait time 5,30;',
    '}',
    ...n.peers.flatMap(peerBlock),
    '',
  ];
  return bird.join('\n');
}

/**
 * BIRD 1.6's binaries, IPv4 (bird, birdc) and IPv6 (bird6, birdc6): TORTIE_BIRD16_DIR, or
 * /opt/bird16/usr/sbin (setup.sh unpacks Debian's `bird` there beside bird2), or PATH when `bird` is 1.x.
 */
export function bird16Binaries(): { v4: { bird: string; birdc: string }; v6: { bird: string; birdc: string } } | undefined {
  const dirs = [process.env['TORTIE_BIRD16_DIR'], '/opt/bird16/usr/sbin'].filter((d): d is string => d !== undefined && d !== '');
  const pair = (d: string, sfx: string) => ({ bird: `${d}bird${sfx}`, birdc: `${d}birdc${sfx}` });
  for (const d of dirs) {
    if (['bird', 'birdc', 'bird6', 'birdc6'].every((b) => existsSync(`${d}/${b}`))) return { v4: pair(`${d}/`, ''), v6: pair(`${d}/`, '6') };
  }
  const v = trySh('bird', ['--version']);
  if (/BIRD version 1\./.test(v.stdout + v.stderr)) return { v4: pair('', ''), v6: pair('', '6') };
  return undefined;
}

export interface Bird16Route {
  readonly prefix: string;
  readonly via: string | undefined;
  readonly proto: string;
  readonly primary: boolean;
  readonly attrs: Readonly<Record<string, string>>;
}

/** BIRD 1.6 `show route all`: "10.1.0.0/26  via 10.0.0.5 on eth0 [Mesh_10_0_0_5 12:00:01] * (100/0) [i]" + "\tBGP.x: y" lines. */
export function parseBird16Routes(text: string): Bird16Route[] {
  const out: Bird16Route[] = [];
  let prefix = '';
  let cur: { prefix: string; via: string | undefined; proto: string; primary: boolean; attrs: Record<string, string> } | undefined;
  for (const l of text.split('\n')) {
    const head = /^(\S+)?\s+(?:via (\S+) on \S+|blackhole|unreachable|prohibited|dev \S+|multipath)\s*\[(\S+)[^\]]*\]\s*(\*)?/.exec(l);
    if (head && !l.startsWith('\t')) {
      if (cur) out.push(cur);
      if (head[1]) prefix = head[1];
      cur = { prefix, via: head[2], proto: head[3] ?? '', primary: head[4] === '*', attrs: {} };
      continue;
    }
    const kv = /^\s+([\w.]+):\s?(.*)$/.exec(l);
    if (cur && kv) cur.attrs[kv[1] ?? ''] = (kv[2] ?? '').trim();
  }
  if (cur) out.push(cur);
  return out;
}
