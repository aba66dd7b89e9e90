/**
 * The projectcalico.org/v3 kinds Tortie stores (and Tortie's own tortie.io/v1 BFDProfile): typed resource objects, calicoctl's kind
 * aliases, storage names, and one `validateResource()` that returns every problem with its
 * field path (unknown fields included) or the resource with defaults filled in.
 */
import { z } from 'zod';
import { metadata } from './fields.js';
import { dropNulls, parseAsCalico } from './go-yaml.js';
import { checkIpPoolMetadata, ipPoolSpec, type IPPoolSpec } from './ip-pool.js';
import { bgpPeerSpec, type BGPPeerSpec } from './bgp-peer.js';
import { bgpConfigurationSpec, PER_NODE_BGP_FIELDS, type BGPConfigurationSpec } from './bgp-configuration.js';
import { nodeSpec, nodeStatus, type NodeSpec } from './node.js';
import { felixConfigurationSpec, type FelixConfigurationSpec } from './felix-configuration.js';
import { bgpFilterSpec, type BGPFilterSpec } from './bgp-filter.js';
import { ipReservationSpec, type IPReservationSpec } from './ip-reservation.js';
import { bfdProfileSpec, checkBfdAnnotation, TORTIE_API_VERSION, type BFDProfileSpec } from './bfd-profile.js';

export const API_VERSION = 'projectcalico.org/v3';

export type Metadata = z.output<typeof metadata>;

interface ResourceOf<K extends string, S, V extends string = typeof API_VERSION> {
  readonly apiVersion: V;
  readonly kind: K;
  readonly metadata: Metadata;
  readonly spec: S;
  readonly status?: Record<string, unknown>;
}
export type IPPool = ResourceOf<'IPPool', IPPoolSpec>;
export type BGPPeer = ResourceOf<'BGPPeer', BGPPeerSpec>;
export type BGPConfiguration = ResourceOf<'BGPConfiguration', BGPConfigurationSpec>;
export type CalicoNode = ResourceOf<'Node', NodeSpec>;
export type FelixConfiguration = ResourceOf<'FelixConfiguration', FelixConfigurationSpec>;
export type BGPFilter = ResourceOf<'BGPFilter', BGPFilterSpec>;
export type IPReservation = ResourceOf<'IPReservation', IPReservationSpec>;
export type BFDProfile = ResourceOf<'BFDProfile', BFDProfileSpec, typeof TORTIE_API_VERSION>;
export type Resource = IPPool | BGPPeer | BGPConfiguration | CalicoNode | FelixConfiguration | BGPFilter | IPReservation | BFDProfile;
export type Kind = Resource['kind'];
export type ResourceOfKind<K extends Kind> = Extract<Resource, { kind: K }>;

export interface KindInfo {
  readonly kind: Kind;
  /** Its apiVersion: projectcalico.org/v3 unless said (Tortie's own kinds: tortie.io/v1). */
  readonly apiVersion?: string;
  /** Storage / display plural (lower case, as Calico's etcd layout). */
  readonly plural: string;
  readonly aliases: readonly string[];
  readonly spec: z.ZodType;
  readonly status?: z.ZodType;
  /** Extra checks that need the name (e.g. `node.<name>` BGPConfiguration). */
  readonly checkName?: (name: string, spec: Record<string, unknown>) => Issue[];
  /** Extra checks of annotations against the spec (Tortie's extensions ride on annotations). */
  readonly checkAnnotations?: (annotations: Readonly<Record<string, string>> | undefined, spec: Record<string, unknown>, name: string) => Issue[];
}

export interface Issue { readonly path: string; readonly message: string }

const configName = (kind: string, perNodeFields?: readonly string[]) => (name: string, spec: Record<string, unknown>): Issue[] => {
  if (name === 'default') return [];
  if (!name.startsWith('node.') || name.length <= 5) {
    return [{ path: 'metadata.name', message: `a ${kind} must be named "default" or "node.<nodename>"` }];
  }
  if (perNodeFields === undefined) return [];
  return Object.keys(spec).filter((k) => !perNodeFields.includes(k) && spec[k] !== undefined)
    .map((k) => ({ path: `spec.${k}`, message: `cannot be set in a per-node ${kind} (only ${perNodeFields.join(', ')})` }));
};

export const KINDS: readonly KindInfo[] = [
  { kind: 'IPPool', plural: 'ippools', aliases: ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'], spec: ipPoolSpec, checkAnnotations: checkIpPoolMetadata },
  { kind: 'BGPPeer', plural: 'bgppeers', aliases: ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'], spec: bgpPeerSpec,
    checkAnnotations: checkBfdAnnotation('BGPPeer') },
  { kind: 'BGPConfiguration', plural: 'bgpconfigurations', aliases: ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
    spec: bgpConfigurationSpec, checkName: configName('BGPConfiguration', PER_NODE_BGP_FIELDS), checkAnnotations: checkBfdAnnotation('BGPConfiguration') },
  { kind: 'Node', plural: 'nodes', aliases: ['node', 'nodes', 'no', 'nos'], spec: nodeSpec, status: nodeStatus },
  { kind: 'FelixConfiguration', plural: 'felixconfigurations', aliases: ['felixconfiguration', 'felixconfigurations', 'felixconfig', 'felixconfigs'],
    spec: felixConfigurationSpec, checkName: configName('FelixConfiguration') },
  { kind: 'BGPFilter', plural: 'bgpfilters', aliases: ['bgpfilter', 'bgpfilters'], spec: bgpFilterSpec },
  { kind: 'IPReservation', plural: 'ipreservations', aliases: ['ipreservation', 'ipreservations', 'reservation', 'reservations'], spec: ipReservationSpec },
  { kind: 'BFDProfile', apiVersion: TORTIE_API_VERSION, plural: 'bfdprofiles', aliases: ['bfdprofile', 'bfdprofiles', 'bfd'], spec: bfdProfileSpec },
];

export function apiVersionOf(info: KindInfo): string { return info.apiVersion ?? API_VERSION; }

export function kindInfo(kind: Kind): KindInfo {
  const k = KINDS.find((x) => x.kind === kind);
  if (k === undefined) throw new Error(`unknown kind ${kind}`);
  return k;
}

/** Resolve a kind as typed on the command line (`ippool`, `bgpconfig`, `IPPool`...). */
export function resolveKind(text: string): KindInfo | undefined {
  const t = text.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === t || k.aliases.includes(t));
}

export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function zodIssues(err: z.ZodError, prefix: string): Issue[] {
  const out: Issue[] = [];
  for (const i of err.issues) {
    const base = formatIssuePath([...(prefix === '' ? [] : [prefix]), ...i.path]);
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) out.push({ path: base === '' ? k : `${base}.${k}`, message: 'unknown field' });
    } else {
      out.push({ path: base === '' ? '(document)' : base, message: i.message });
    }
  }
  return out;
}

export type ValidationResult =
  | { readonly ok: true; readonly resource: Resource }
  | { readonly ok: false; readonly issues: readonly Issue[] };

const TOP_LEVEL: readonly string[] = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

/** Validate one document; on success the resource carries defaults and canonical values. */
export function validateResource(doc: unknown): ValidationResult {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, issues: [{ path: '(document)', message: 'must be a mapping with apiVersion, kind, metadata and spec' }] };
  }
  const o = dropNulls(doc) as Record<string, unknown>;
  // encoding/json matches top-level names regardless of case, as every field (go-yaml.ts).
  for (const k of Object.keys(o)) {
    const canon = TOP_LEVEL.find((t) => t.toLowerCase() === k.toLowerCase());
    if (canon !== undefined && canon !== k && !(canon in o)) { o[canon] = o[k]; delete o[k]; }
  }
  const issues: Issue[] = [];
  const info = typeof o['kind'] === 'string' ? KINDS.find((k) => k.kind === o['kind']) : undefined;
  const wantVersion = info === undefined ? API_VERSION : apiVersionOf(info);
  if (o['apiVersion'] !== wantVersion) {
    issues.push({ path: 'apiVersion', message: `must be ${wantVersion}${info === undefined ? '' : ` for a ${info.kind}`} (got ${JSON.stringify(o['apiVersion'])})` });
  }
  if (info === undefined) {
    issues.push({ path: 'kind', message: `unsupported kind ${JSON.stringify(o['kind'])} (supported: ${KINDS.map((k) => k.kind).join(', ')})` });
    return { ok: false, issues };
  }
  for (const k of Object.keys(o)) {
    if (!TOP_LEVEL.includes(k)) issues.push({ path: k, message: 'unknown field' });
  }
  const md = parseAsCalico(metadata, o['metadata']);
  if (!md.success) issues.push(...zodIssues(md.error, 'metadata'));
  const spec = parseAsCalico(info.spec, o['spec'] ?? {});
  if (!spec.success) issues.push(...zodIssues(spec.error, 'spec'));
  let status: unknown;
  if (o['status'] !== undefined) {
    if (info.status === undefined) issues.push({ path: 'status', message: `${info.kind} has no status` });
    else {
      const st = parseAsCalico(info.status, o['status']);
      if (!st.success) issues.push(...zodIssues(st.error, 'status'));
      else status = st.data;
    }
  }
  if (md.success && spec.success && info.checkName !== undefined) {
    issues.push(...info.checkName(md.data.name, spec.data as Record<string, unknown>));
  }
  if (md.success && spec.success && info.checkAnnotations !== undefined) {
    issues.push(...info.checkAnnotations(md.data.annotations, spec.data as Record<string, unknown>, md.data.name));
  }
  if (issues.length > 0 || !md.success || !spec.success) return { ok: false, issues };
  const resource = { apiVersion: wantVersion, kind: info.kind, metadata: md.data, spec: spec.data,
    ...(status === undefined ? {} : { status }) } as Resource;
  return { ok: true, resource };
}
