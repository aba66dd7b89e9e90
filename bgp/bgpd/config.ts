/**
 * tortie-bgpd configuration: a YAML file validated with zod (strict: unknown fields are errors),
 * or the quick command-line form (`--as --router-id --peer ADDR,as=N,...`). Errors name the
 * file, the field path, the line and the reason.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { isValidAddress, isValidPrefix, parsePrefix } from '../../common/prefix.js';
import { TortieError } from '../../common/errors.js';
import { canonicalAddress } from '../session/listener.js';
import type { BfdSessionSpec } from '../bfd/engine.js';
import { BGP_ROLES, type BgpRole } from '../wire/role.js';
import { communityMatch, communityMatchFields, communitySet, communitySetFields } from './config-communities.js';
import type { AddPathsConfig, PeerConfig, PolicyRule, PolicyConfig, SpeakerConfig, OriginateConfig, Family } from '../speaker/peer-config.js';

/** "65001", 65001 or asdot "1.10" (= 65546) → 32-bit AS number. */
export function parseAsn(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 1 && input <= 0xffffffff ? input : undefined;
  const dot = /^(\d{1,5})\.(\d{1,5})$/.exec(input);
  if (dot) {
    const hi = Number(dot[1]), lo = Number(dot[2]);
    if (hi > 0xffff || lo > 0xffff) return undefined;
    const v = hi * 65536 + lo;
    return v >= 1 ? v : undefined;
  }
  if (!/^\d{1,10}$/.test(input)) return undefined;
  return parseAsn(Number(input));
}

const asn = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseAsn(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not an AS number (1..4294967295 or asdot "1.10")` });
    return z.NEVER;
  }
  return n;
});
const address = z.string().refine(isValidAddress, { message: 'not a valid IPv4 or IPv6 address' });
const ipv4 = z.string().refine((s) => isValidAddress(s) && !s.includes(':'), { message: 'must be an IPv4 address (dotted quad)' });
const prefix = z.string().refine((s) => isValidPrefix(s), { message: 'not a valid prefix (address/length, host bits zero)' });
const port = z.number().int().min(1).max(65535);
const community = z.string().regex(/^\d{1,5}:\d{1,5}$/, { message: 'community must be "ASN:VALUE" (each 0..65535)' })
  .refine((s) => s.split(':').every((p) => Number(p) <= 65535), { message: 'community halves must be 0..65535' });

const prefixMatch = z.strictObject({ prefix, ge: z.number().int().min(0).max(128).optional(), le: z.number().int().min(0).max(128).optional() });
const rule = z.strictObject({
  match: z.strictObject({
    prefixes: z.array(prefixMatch).optional(),
    prefixList: z.string().optional(),
    communities: z.array(community).optional(),
    ...communityMatchFields,
  }).optional(),
  action: z.enum(['accept', 'reject']).default('accept'),
  set: z.strictObject({
    communities: z.strictObject({ add: z.array(community).optional(), remove: z.array(community).optional(), set: z.array(community).optional() }).optional(),
    ...communitySetFields,
    localPref: z.number().int().min(0).max(0xffffffff).optional(),
    med: z.number().int().min(0).max(0xffffffff).optional(),
    prepend: z.number().int().min(1).max(10).optional(),
  }).optional(),
});
const policy = z.strictObject({ rules: z.array(rule).default([]), default: z.enum(['accept', 'reject']).default('reject') });
const policyRef = z.union([z.string(), policy]);
const family = z.enum(['ipv4-unicast', 'ipv6-unicast']);

/**
 * Per-peer BFD (bgp/bfd). Names and defaults follow FRR's bfd profile (receive-interval,
 * transmit-interval 300 ms, detect-multiplier 3, passive-mode) and MetalLB's BFDProfile; BIRD's
 * `min rx interval` / `min tx interval` / `multiplier` / `passive` are the same knobs.
 */
const bfd = z.strictObject({
  enabled: z.boolean().default(true),
  minRx: z.number().int().min(1).max(60_000).default(300),
  minTx: z.number().int().min(1).max(60_000).default(300),
  multiplier: z.number().int().min(1).max(255).default(3),
  multihop: z.boolean().optional(),
  passive: z.boolean().default(false),
  auth: z.strictObject({
    type: z.enum(['keyed-sha1', 'meticulous-keyed-sha1']),
    keyId: z.number().int().min(0).max(255).default(1),
    key: z.string().min(1).max(20).refine((k) => Buffer.byteLength(k) <= 20, { message: 'key must be at most 20 bytes' }),
  }).optional(),
});

const peer = z.strictObject({
  name: z.string().regex(/^[A-Za-z][\w.-]{0,63}$/, { message: 'name must start with a letter; letters, digits, "_", "-", "."' }).optional(),
  address,
  asn,
  port: port.default(179),
  passive: z.boolean().default(false),
  // BIRD `multihop [N]` (bare: 64), FRR `ebgp-multihop [N]`: the TTL we send.
  multihop: z.union([z.literal(true), z.number().int().min(1).max(255)]).optional(),
  // BIRD `ttl security on` (hops from multihop, else 1) or FRR/Calico `ttl-security hops N`.
  ttlSecurity: z.union([z.boolean(), z.number().int().min(1).max(255)]).optional(),
  // BIRD/FRR `password`: TCP-MD5 (RFC 2385), at most 80 bytes (TCP_MD5SIG_MAXKEYLEN).
  password: z.string().refine((v) => { const n = Buffer.byteLength(v, 'utf8'); return n >= 1 && n <= 80; },
    { message: 'password must be 1..80 bytes (the TCP-MD5 key limit)' }).optional(),
  localAddress: address.optional(),
  holdTime: z.number().int().refine((h) => h === 0 || (h >= 3 && h <= 65535), { message: 'holdTime must be 0 or 3..65535 (RFC 4271 §4.2)' }).default(90),
  keepalive: z.number().int().min(1).max(21845).optional(),
  connectRetry: z.number().int().min(1).max(65535).default(5),
  families: z.array(family).min(1).optional(),
  nextHopSelf: z.boolean().default(false),
  nextHopKeep: z.boolean().default(false),
  allowAsIn: z.number().int().min(0).max(255).default(0),
  localAs: asn.optional(),
  nextHopSelf4: ipv4.optional(),
  nextHopSelf6: z.string().refine((v) => isValidAddress(v) && v.includes(':'), { message: 'must be an IPv6 address' }).optional(),
  routeReflectorClient: z.boolean().default(false),
  import: policyRef.optional(),
  export: policyRef.optional(),
  maxPrefixes: z.number().int().min(1).optional(),
  maxPrefixAction: z.enum(['restart', 'warn', 'disable']).optional(),
  maxPrefixRestart: z.number().int().min(1).max(65535).optional(),
  enforceFirstAs: z.boolean().optional(),
  linkLocalNextHop: z.boolean().optional(),
  localRole: z.enum(BGP_ROLES as [BgpRole, ...BgpRole[]]).optional(),
  roleStrict: z.boolean().optional(),
  description: z.string().max(200).optional(),
  bfd: bfd.optional(),
  // ADD-PATH (RFC 7911): BIRD `add paths on|rx|tx|off` (true = on), or the long form.
  addPaths: z.union([z.boolean(), z.enum(['on', 'rx', 'tx', 'off']), z.strictObject({
    send: z.boolean().default(false),
    receive: z.boolean().default(false),
    limit: z.number().int().min(1).max(0xffff).optional(),
    families: z.array(family).min(1).optional(),
  })]).optional(),
});

const fileSchema = z.strictObject({
  routerId: ipv4,
  asn,
  clusterId: ipv4.optional(),
  listen: z.strictObject({ address: address.default('0.0.0.0'), port: port.default(179) }).optional(),
  peers: z.array(peer).default([]),
  prefixLists: z.record(z.string(), z.array(prefixMatch)).default({}),
  policies: z.record(z.string(), policy).default({}),
  originate: z.array(z.strictObject({
    prefix, nextHop: address.optional(), communities: z.array(community).optional(),
    med: z.number().int().min(0).max(0xffffffff).optional(), localPref: z.number().int().min(0).max(0xffffffff).optional(),
  })).default([]),
  warmUp: z.boolean().default(true),
  multipath: z.strictObject({
    maxPaths: z.number().int().min(1).max(256),
    relaxAsPath: z.boolean().default(false),
  }).optional(),
  kernel: z.strictObject({
    table: z.number().int().min(1).max(0xffffffff).default(254),
    // Every route of this protocol in the table is ours to replace or remove: never the kernel's own (0-4).
    protocol: z.number().int().min(5, { message: 'must be 5..255: 0-4 are the kernel\'s own (unspec, redirect, kernel, boot, static)' }).max(255).default(186),
    mergePaths: z.boolean().default(true),
    persist: z.boolean().default(false),
    families: z.array(z.enum(['ipv4', 'ipv6'])).min(1).default(['ipv4', 'ipv6']),
  }).optional(),
  gracefulRestart: z.strictObject({
    enabled: z.boolean().default(true),
    restartTime: z.number().int().min(1).max(4095).default(120),
    stalePathTime: z.number().int().min(1).max(65535).default(360),
    helper: z.boolean().default(true),
    forwardingPreserved: z.boolean().default(false),
    /** RFC 4724 Selection_Deferral_Timer after `-R` (BIRD `graceful restart wait`, FRR `select-defer-time`). */
    selectionDeferralTime: z.number().int().min(1).max(3600).default(240),
    /** RFC 9494 (BIRD `long lived stale time`, FRR `bgp long-lived-graceful-restart stale-time`); 0: not offered. */
    longLivedStaleTime: z.number().int().min(0).max(0xffffff).default(0),
    /** Keep an LLGR peer's routes as LLGR_STALE past its restart time (BIRD `long lived graceful restart aware`). */
    longLivedHelper: z.boolean().default(true),
  }).optional(),
});

export type BgpdFileConfig = z.output<typeof fileSchema>;

export interface BgpdConfig {
  readonly speaker: SpeakerConfig;
  readonly originate: readonly BgpdOriginate[];
  /** Run the JIT warm-up (bgp/speaker/warm-up.ts) before the first session; read at start only. */
  readonly warmUp: boolean;
  /** Where it came from, for messages ("/etc/tortie/bgpd.yaml" or "command line"). */
  readonly source: string;
  /** BFD sessions, one per peer with `bfd` enabled, keyed by peer name. */
  readonly bfd: readonly BgpdBfdPeer[];
  /** Best (or multipath) routes into the kernel (BIRD `protocol kernel`); reloads apply changes (kernel-export.ts). */
  readonly kernel?: BgpdKernel;
}

export interface BgpdKernel {
  readonly table: number;
  readonly protocol: number;
  /** Install the multipath set as one ECMP route (BIRD `merge paths on`); else the best path only. */
  readonly mergePaths: boolean;
  /** Leave the routes in the kernel at stop (BIRD `persist`). */
  readonly persist: boolean;
  readonly families: ReadonlyArray<4 | 6>;
}

/** A peer's BFD session: what the BFD engine needs (intervals in µs, as on the wire). */
export interface BgpdBfdPeer {
  readonly peerName: string;
  readonly spec: BfdSessionSpec;
}

/** An originated prefix: the speaker's OriginateConfig plus MED and LOCAL_PREF. */
export interface BgpdOriginate extends OriginateConfig {
  readonly med?: number;
  readonly localPref?: number;
}

export class ConfigError extends TortieError {
  constructor(message: string, where: string, readonly issues: readonly string[] = [message]) {
    super('invalid-config', message, { where });
    this.name = 'ConfigError';
  }
}

export function loadConfigFile(path: string): BgpdConfig {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (err) {
    throw new ConfigError(`cannot read config file: ${(err as Error).message}`, path);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, file: string): BgpdConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e ? lineCounter.linePos(e.pos[0]) : undefined;
    throw new ConfigError(`YAML syntax error: ${e?.message.split('\n')[0] ?? 'unknown'}`,
      pos ? `${file}:${pos.line}:${pos.col}` : file);
  }
  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap(unionBranch).map((iss) => {
      const path = iss.code === 'unrecognized_keys' ? [...iss.path, iss.keys[0] ?? ''] : iss.path;
      const node = doc.getIn(path.map((p) => (typeof p === 'symbol' ? String(p) : p)), true) as { range?: [number, number, number] } | undefined;
      const keyPath = formatPath(path);
      const line = node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
      const reason = iss.code === 'unrecognized_keys' ? `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}` : iss.message;
      return `${file}${line === undefined ? '' : `:${line}`}: ${keyPath || '(top level)'}: ${reason}`;
    });
    throw new ConfigError(issues.join('\n'), file, issues);
  }
  return fromFile(parsed.data, file);
}

/**
 * An error inside an inline policy (a union with the policy name) says only "Invalid input": use
 * the issues of the branch that got furthest (the deepest path), so the field is named.
 */
function unionBranch(iss: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (iss.code !== 'invalid_union' || iss.errors.length === 0) return [iss];
  const depth = (b: readonly z.core.$ZodIssue[]) => Math.max(...b.map((i) => i.path.length));
  const best = iss.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
  return best.flatMap((i) => unionBranch({ ...i, path: [...iss.path, ...i.path] }));
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

function toPolicy(ref: BgpdFileConfig['peers'][number]['import'], cfg: BgpdFileConfig, where: string): PolicyConfig | undefined {
  if (ref === undefined) return undefined;
  const p = typeof ref === 'string' ? cfg.policies[ref] : ref;
  if (!p) throw new ConfigError(`unknown policy ${JSON.stringify(ref)} (defined: ${Object.keys(cfg.policies).join(', ') || 'none'})`, where);
  const rules: PolicyRule[] = p.rules.map((r, i) => {
    const list = r.match?.prefixList;
    if (list !== undefined && !cfg.prefixLists[list]) {
      throw new ConfigError(`unknown prefix list ${JSON.stringify(list)}`, `${where}.rules[${i}].match.prefixList`);
    }
    const prefixes = [...(r.match?.prefixes ?? []), ...(list !== undefined ? cfg.prefixLists[list] ?? [] : [])];
    return {
      ...(r.match ? {
        match: {
          ...(prefixes.length ? { prefixes: prefixes.map((m) => ({ prefix: parsePrefix(m.prefix), ...(m.ge !== undefined ? { ge: m.ge } : {}), ...(m.le !== undefined ? { le: m.le } : {}) })) } : {}),
          ...(r.match.communities ? { communities: r.match.communities.map(parseCommunity) } : {}),
          ...communityMatch(r.match),
        },
      } : {}),
      action: r.action,
      ...(r.set ? {
        set: {
          ...(r.set.communities?.add ? { addCommunities: r.set.communities.add.map(parseCommunity) } : {}),
          ...(r.set.communities?.remove ? { removeCommunities: r.set.communities.remove.map(parseCommunity) } : {}),
          ...communitySet(r.set, r.set.communities?.set?.map(parseCommunity)),
          ...(r.set.localPref !== undefined ? { localPref: r.set.localPref } : {}),
          ...(r.set.med !== undefined ? { med: r.set.med } : {}),
          ...(r.set.prepend !== undefined ? { prepend: r.set.prepend } : {}),
        },
      } : {}),
    };
  });
  return { rules, default: p.default };
}

export function parseCommunity(s: string): number {
  const [a, b] = s.split(':').map(Number);
  return (((a ?? 0) << 16) | (b ?? 0)) >>> 0;
}

/** BIRD's bare `multihop`. */
const DEFAULT_MULTIHOP = 64;

/**
 * `multihop` and `ttlSecurity` → the speaker's TTL (hops) and GTSM hop count. ttlSecurity: true
 * takes the hop count from multihop, as BIRD (1 when not multihop, 64 for iBGP's default);
 * ttlSecurity: N is FRR's `ttl-security hops N`, which FRR refuses together with ebgp-multihop.
 */
function ttlOf(p: BgpdFileConfig['peers'][number], ebgp: boolean, where: string): { multihop?: number; ttlSecurity?: number } {
  const multihop = p.multihop === true ? DEFAULT_MULTIHOP : p.multihop;
  if (p.ttlSecurity === undefined || p.ttlSecurity === false) return multihop !== undefined ? { multihop } : {};
  if (typeof p.ttlSecurity === 'number') {
    if (multihop !== undefined) {
      throw new ConfigError('ttlSecurity: N and multihop together: with GTSM the TTL sent is 255; give the hop count once ' +
        '(ttlSecurity: true with multihop: N, as BIRD, or ttlSecurity: N alone, as FRR)', `${where}.ttlSecurity`);
    }
    return { ttlSecurity: p.ttlSecurity };
  }
  return { ttlSecurity: multihop ?? (ebgp ? 1 : DEFAULT_MULTIHOP) };
}

/** `addPaths` → the speaker's AddPathsConfig (undefined: off); families must be among the peer's. */
function addPathsOf(p: BgpdFileConfig['peers'][number], fam: readonly Family[], where: string): AddPathsConfig | undefined {
  const a = p.addPaths;
  if (a === undefined || a === false || a === 'off') return undefined;
  if (a === true || a === 'on') return { send: true, receive: true };
  if (a === 'rx') return { send: false, receive: true };
  if (a === 'tx') return { send: true, receive: false };
  const bad = a.families?.find((f) => !fam.includes(f));
  if (bad !== undefined) throw new ConfigError(`addPaths.families: ${bad} is not one of the peer's families (${fam.join(', ')})`, `${where}.addPaths.families`);
  if (a.limit !== undefined && !a.send) throw new ConfigError('addPaths.limit without send: true (the limit is on the paths we send)', `${where}.addPaths.limit`);
  if (!a.send && !a.receive) return undefined;
  return { send: a.send, receive: a.receive, ...(a.limit !== undefined ? { limit: a.limit } : {}), ...(a.families ? { families: a.families } : {}) };
}

function fromFile(cfg: BgpdFileConfig, file: string): BgpdConfig {
  const names = new Set<string>();
  const addresses = new Map<string, number>();
  const peers: PeerConfig[] = cfg.peers.map((p, i) => {
    const name = p.name ?? defaultPeerName(p.address);
    if (names.has(name)) throw new ConfigError(`duplicate peer name ${JSON.stringify(name)}`, `${file}: peers[${i}].name`);
    names.add(name);
    // One session per peer address (the listener routes incoming connections by it): refused here
    // so that --check refuses what start would.
    const canon = canonicalAddress(p.address) ?? p.address;
    const first = addresses.get(canon);
    if (first !== undefined) throw new ConfigError(`peer address ${p.address} is already used by peers[${first}]: one peer per address`, `${file}: peers[${i}].address`);
    addresses.set(canon, i);
    const ttl = ttlOf(p, (p.localAs ?? cfg.asn) !== p.asn, `${file}: peers[${i}]`);
    const fam: Family[] = p.families ?? [p.address.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast'];
    const imp = toPolicy(p.import, cfg, `${file}: peers[${i}].import`);
    const exp = toPolicy(p.export, cfg, `${file}: peers[${i}].export`);
    const addPaths = addPathsOf(p, fam, `${file}: peers[${i}]`);
    return {
      name, address: p.address, asn: p.asn, port: p.port, passive: p.passive,
      ...ttl,
      ...(p.password !== undefined ? { password: p.password } : {}),
      ...(p.localAddress !== undefined ? { localAddress: p.localAddress } : {}),
      holdTime: p.holdTime, keepalive: p.keepalive ?? Math.floor(p.holdTime / 3), connectRetry: p.connectRetry,
      families: fam, nextHopSelf: p.nextHopSelf, routeReflectorClient: p.routeReflectorClient,
      ...(p.nextHopKeep ? { nextHopKeep: true } : {}),
      ...(p.allowAsIn > 0 ? { allowAsIn: p.allowAsIn } : {}),
      ...(p.localAs !== undefined ? { localAs: p.localAs } : {}),
      ...(p.nextHopSelf4 !== undefined ? { nextHopSelf4: p.nextHopSelf4 } : {}),
      ...(p.nextHopSelf6 !== undefined ? { nextHopSelf6: p.nextHopSelf6 } : {}),
      ...(imp ? { import: imp } : {}), ...(exp ? { export: exp } : {}),
      ...(p.maxPrefixes !== undefined ? { maxPrefixes: p.maxPrefixes } : {}),
      ...peerExtras(p, (p.localAs ?? cfg.asn) !== p.asn, `${file}: peers[${i}]`),
      ...(p.description !== undefined ? { description: p.description } : {}),
      ...(addPaths ? { addPaths } : {}),
    };
  });
  const bfdPeers = cfg.peers.flatMap((p, i): BgpdBfdPeer[] => {
    const b = p.bfd;
    if (!b?.enabled) return [];
    const name = peers[i]?.name ?? defaultPeerName(p.address);
    return [{
      peerName: name,
      spec: {
        peer: p.address, ...(p.localAddress !== undefined ? { local: p.localAddress } : {}),
        // Default: multihop BFD (RFC 5883) exactly when the BGP session is eBGP multihop.
        multihop: b.multihop ?? p.multihop !== undefined,
        params: {
          desiredMinTxUs: b.minTx * 1000, requiredMinRxUs: b.minRx * 1000, detectMult: b.multiplier, passive: b.passive,
          ...(b.auth ? { auth: { type: b.auth.type, keyId: b.auth.keyId, key: Uint8Array.from(Buffer.from(b.auth.key)) } } : {}),
        },
      },
    }];
  });
  return {
    source: file,
    warmUp: cfg.warmUp,
    bfd: bfdPeers,
    ...(cfg.kernel ? { kernel: { table: cfg.kernel.table, protocol: cfg.kernel.protocol, mergePaths: cfg.kernel.mergePaths, persist: cfg.kernel.persist,
      families: cfg.kernel.families.map((f) => (f === 'ipv4' ? 4 as const : 6 as const)) } } : {}),
    speaker: {
      routerId: cfg.routerId, asn: cfg.asn,
      listen: { address: cfg.listen?.address ?? '0.0.0.0', port: cfg.listen?.port ?? 179 },
      peers,
      ...(cfg.clusterId !== undefined ? { clusterId: cfg.clusterId } : {}),
      ...(cfg.multipath ? { multipath: { maxPaths: cfg.multipath.maxPaths, relaxAsPath: cfg.multipath.relaxAsPath } } : {}),
      ...(cfg.gracefulRestart ? { gracefulRestart: {
        enabled: cfg.gracefulRestart.enabled, restartTime: cfg.gracefulRestart.restartTime, staleTime: cfg.gracefulRestart.stalePathTime,
        helper: cfg.gracefulRestart.helper, forwardingPreserved: cfg.gracefulRestart.forwardingPreserved,
        selectionDeferralTime: cfg.gracefulRestart.selectionDeferralTime,
        longLivedStaleTime: cfg.gracefulRestart.longLivedStaleTime, longLivedHelper: cfg.gracefulRestart.longLivedHelper,
      } } : {}),
    },
    originate: cfg.originate.map((o) => ({
      prefix: o.prefix, ...(o.nextHop !== undefined ? { nextHop: o.nextHop } : {}),
      ...(o.communities ? { communities: o.communities.map(parseCommunity) } : {}),
      ...(o.med !== undefined ? { med: o.med } : {}), ...(o.localPref !== undefined ? { localPref: o.localPref } : {}),
    })),
  };
}

/** maxPrefixAction/Restart, enforceFirstAs, linkLocalNextHop, localRole/roleStrict: as given, checked against each other. */
function peerExtras(p: BgpdFileConfig['peers'][number], ebgp: boolean, where: string): Partial<PeerConfig> {
  if (p.maxPrefixAction !== undefined && p.maxPrefixes === undefined) throw new ConfigError('maxPrefixAction without maxPrefixes', `${where}.maxPrefixAction`);
  if (p.maxPrefixRestart !== undefined && (p.maxPrefixAction ?? 'restart') !== 'restart') {
    throw new ConfigError(`maxPrefixRestart goes with maxPrefixAction restart, not ${p.maxPrefixAction}`, `${where}.maxPrefixRestart`);
  }
  if (p.localRole !== undefined && !ebgp) throw new ConfigError('localRole is for eBGP sessions (RFC 9234): this peer is iBGP', `${where}.localRole`);
  if (p.roleStrict !== undefined && p.localRole === undefined) throw new ConfigError('roleStrict needs localRole', `${where}.roleStrict`);
  return {
    ...(p.maxPrefixAction !== undefined ? { maxPrefixAction: p.maxPrefixAction } : {}),
    ...(p.maxPrefixRestart !== undefined ? { maxPrefixRestart: p.maxPrefixRestart } : {}),
    ...(p.enforceFirstAs !== undefined ? { enforceFirstAs: p.enforceFirstAs } : {}),
    ...(p.linkLocalNextHop !== undefined ? { linkLocalNextHop: p.linkLocalNextHop } : {}),
    ...(p.localRole !== undefined ? { localRole: p.localRole } : {}),
    ...(p.roleStrict !== undefined ? { roleStrict: p.roleStrict } : {}),
  };
}

export function defaultPeerName(address: string): string {
  return `peer_${address.replace(/[.:]/g, '_')}`;
}

export interface QuickOptions {
  readonly as: string;
  readonly routerId: string;
  readonly peer: readonly string[];
  readonly listen?: string;
  readonly originate: readonly string[];
}

/**
 * The quick form: `--as 65002 --router-id 10.99.0.2 --peer 10.99.0.1,as=65001[,port=N][,passive]
 * [,local=ADDR][,hold=N][,nhs][,bfd][,addpaths]` (addpaths: ADD-PATH both ways); every peer accepts all and passes on all.
 */
export function quickConfig(o: QuickOptions): BgpdConfig {
  const where = 'command line';
  const localAs = parseAsn(o.as);
  if (localAs === undefined) throw new ConfigError(`--as ${JSON.stringify(o.as)} is not an AS number`, where);
  if (!isValidAddress(o.routerId) || o.routerId.includes(':')) throw new ConfigError(`--router-id ${JSON.stringify(o.routerId)} must be an IPv4 address`, where);
  let listen = { address: '0.0.0.0', port: 179 };
  if (o.listen !== undefined) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(o.listen);
    if (!m || !isValidAddress(m[1] ?? '') || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new ConfigError(`--listen ${JSON.stringify(o.listen)} must be ADDR:PORT (IPv6 as [ADDR]:PORT)`, where);
    }
    listen = { address: m[1] ?? '', port: Number(m[2]) };
  }
  const acceptAll: PolicyConfig = { rules: [], default: 'accept' };
  const bfdPeers: BgpdBfdPeer[] = [];
  const peers = o.peer.map((spec, i): PeerConfig => {
    const [addr, ...opts] = spec.split(',');
    const at = `--peer #${i + 1} ${JSON.stringify(spec)}`;
    if (!addr || !isValidAddress(addr)) throw new ConfigError(`${at}: ${JSON.stringify(addr)} is not an IP address`, where);
    let peerAs: number | undefined, portN = 179, passive = false, local: string | undefined, hold = 90, nhs = false, withBfd = false, addPaths = false;
    for (const opt of opts) {
      const [k, v = ''] = opt.split('=');
      switch (k) {
        case 'as': peerAs = parseAsn(v); if (peerAs === undefined) throw new ConfigError(`${at}: as=${v} is not an AS number`, where); break;
        case 'port': portN = Number(v); if (!Number.isInteger(portN) || portN < 1 || portN > 65535) throw new ConfigError(`${at}: port=${v} must be 1..65535`, where); break;
        case 'passive': passive = true; break;
        case 'local': if (!isValidAddress(v)) throw new ConfigError(`${at}: local=${v} is not an IP address`, where); local = v; break;
        case 'hold': hold = Number(v); if (!Number.isInteger(hold) || (hold !== 0 && (hold < 3 || hold > 65535))) throw new ConfigError(`${at}: hold=${v} must be 0 or 3..65535`, where); break;
        case 'nhs': nhs = true; break;
        case 'bfd': withBfd = true; break;
        case 'addpaths': addPaths = true; break;
        default: throw new ConfigError(`${at}: unknown peer option ${JSON.stringify(k)} (known: as=, port=, passive, local=, hold=, nhs, bfd, addpaths)`, where);
      }
    }
    if (peerAs === undefined) throw new ConfigError(`${at}: missing as=ASN`, where);
    if (withBfd) {
      bfdPeers.push({ peerName: defaultPeerName(addr), spec: {
        peer: addr, ...(local !== undefined ? { local } : {}), multihop: false,
        params: { desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, detectMult: 3, passive: false },
      } });
    }
    return {
      name: defaultPeerName(addr), address: addr, asn: peerAs, port: portN, passive,
      ...(local !== undefined ? { localAddress: local } : {}),
      holdTime: hold, keepalive: Math.floor(hold / 3), connectRetry: 5,
      families: [addr.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast'], nextHopSelf: nhs, routeReflectorClient: false,
      import: acceptAll, export: acceptAll,
      ...(addPaths ? { addPaths: { send: true, receive: true } } : {}),
    };
  });
  const seen = new Set<string>();
  for (const [i, p] of peers.entries()) {
    const canon = canonicalAddress(p.address) ?? p.address;
    if (seen.has(canon)) throw new ConfigError(`--peer #${i + 1}: peer address ${p.address} is given twice: one peer per address`, where);
    seen.add(canon);
  }
  const originate = o.originate.map((p) => {
    if (!isValidPrefix(p)) throw new ConfigError(`--originate ${JSON.stringify(p)} is not a prefix`, where);
    return { prefix: p };
  });
  return { source: where, warmUp: true, speaker: { routerId: o.routerId, asn: localAs, listen, peers }, originate, bfd: bfdPeers };
}
