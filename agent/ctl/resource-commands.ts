/**
 * calicoctl's resource verbs: apply|create|replace|delete -f FILE|-, get KIND [NAME...]
 * [-o ps|wide|yaml|json], patch KIND NAME -p JSON, delete KIND NAME... Manifests are
 * validated as a whole before anything is written (one bad document: nothing written).
 */
import { closeSync, openSync } from 'node:fs';
import { isDatastoreError } from '../datastore/errors.js';
import type { Datastore } from '../datastore/datastore.js';
import { releasePoolAffinities, type IpamGcDeps } from '../ipam/ipam-gc.js';
import { DEFAULT_LIMITS, ManifestError, streamManifest, type ManifestLimits } from '../resources/manifest.js';
import { ManifestSpool, readChunks } from './manifest-spool.js';
import { compatNotes } from '../resources/compat-notes.js';
import { parsePrefix, prefixOverlaps, type Prefix } from '../../common/prefix.js';
import { apiVersionOf, resolveKind, validateResource, type Kind, type KindInfo, type Resource } from '../resources/kinds.js';
import { effectiveBgpConfiguration } from '../resources/bgp-configuration.js';
import { CtlError } from './ctl-error.js';
import { formatColumns } from './table.js';
import { tableFor } from './resource-table.js';

export type Verb = 'apply' | 'create' | 'replace' | 'delete';
const PAST: Record<Verb, string> = { apply: 'applied', create: 'created', replace: 'replaced', delete: 'deleted' };

export interface Io { out(text: string): void; err(text: string): void; /** File descriptor `-f -` reads. */ readonly stdinFd: number }

/** etcd's request size limit the manifest is checked against (TORTIE_MAX_REQUEST_BYTES, else etcd's default). */
export function manifestLimits(env: NodeJS.ProcessEnv = process.env): ManifestLimits {
  const v = env['TORTIE_MAX_REQUEST_BYTES'];
  if (v === undefined || v === '') return DEFAULT_LIMITS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 4096) throw new CtlError(`TORTIE_MAX_REQUEST_BYTES=${JSON.stringify(v)}: must be a byte count of at least 4096 (etcd's --max-request-bytes)`);
  return { maxRequestBytes: n };
}

/**
 * Read, parse and validate a manifest as it streams in (bounded memory: one document's parse tree
 * at a time, resources spooled past a thousand). Throws CtlError naming every problem; nothing
 * has been written then. The caller closes the returned spool.
 */
export async function parseManifestFile(file: string, io: Io): Promise<ManifestSpool> {
  const name = file === '-' ? '<stdin>' : file;
  let fd: number;
  if (file === '-') fd = io.stdinFd;
  else {
    try { fd = openSync(file, 'r'); } catch (err) {
      throw new CtlError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
    }
  }
  const spool = new ManifestSpool();
  const pools: Array<{ name: string; cidr: string; prefix: Prefix }> = [];
  try {
    await streamManifest(readChunks(fd), name, (r) => {
      spool.add(r);
      if (r.kind === 'IPPool') pools.push({ name: r.metadata.name, cidr: r.spec.cidr, prefix: parsePrefix(r.spec.cidr) });
    }, manifestLimits());
    if (spool.count === 0) throw new CtlError(`${name}: no resources found`);
    refuseOverlappingPools(pools, name);
    return spool;
  } catch (err) {
    spool.close();
    if (err instanceof ManifestError) throw new CtlError(`Failed to execute command: invalid manifest, nothing was written:\n${err.message}`, { cause: err });
    throw err;
  } finally {
    if (file !== '-') closeSync(fd);
  }
}

/**
 * Two pools of one manifest that overlap: refused before anything is written (calicoctl would
 * create the first and fail on the second). Sorted by first address, an overlap shows between
 * neighbours: the nearest later pool starting inside one that overlaps it also starts inside it.
 */
function refuseOverlappingPools(pools: Array<{ name: string; cidr: string; prefix: Prefix }>, file: string): void {
  const key = (p: Prefix): string => `${p.family}:${Buffer.from(p.bytes).toString('hex')}`;
  const sorted = [...pools].sort((a, b) => (key(a.prefix) < key(b.prefix) ? -1 : key(a.prefix) > key(b.prefix) ? 1 : a.prefix.length - b.prefix.length));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1], b = sorted[i];
    if (a === undefined || b === undefined || a.name === b.name || !prefixOverlaps(a.prefix, b.prefix)) continue;
    throw new CtlError(`Failed to execute command: invalid manifest, nothing was written:\n${file}: IPPool(${b.name}) CIDR overlaps with IPPool(${a.name}) CIDR ${a.cidr}`);
  }
}

function summary(verb: Verb, rs: ManifestSpool): string {
  return rs.kinds.size === 1 ? `Successfully ${PAST[verb]} ${rs.count} '${rs.firstKind ?? ''}' resource(s)` : `Successfully ${PAST[verb]} ${rs.count} resource(s)`;
}

/** Write already-validated resources in file order; stops at the first failure and says how far it got. */
export async function fileVerb(ds: Datastore, verb: Verb, rs: ManifestSpool, io: Io,
  opts: { skipExists?: boolean; skipNotExists?: boolean; ipamGc?: IpamGcDeps }): Promise<void> {
  let done = 0;
  for (const r of rs) {
    if (verb !== 'delete') for (const note of compatNotes(r)) io.err(`Warning: ${note}\n`);
    try {
      switch (verb) {
        case 'apply': await ds.apply(r); break;
        case 'create': await ds.create(r); break;
        case 'replace': await ds.update(r); break;
        case 'delete': await deleteResource(ds, r.kind, r.metadata.name, r.metadata.resourceVersion, opts.ipamGc); break;
      }
    } catch (err) {
      const skip = (opts.skipExists === true && isDatastoreError(err, 'already-exists')) || (opts.skipNotExists === true && isDatastoreError(err, 'not-found'));
      if (!skip) {
        const msg = `resource ${r.kind}(${r.metadata.name}): ${(err as Error).message}`;
        throw new CtlError(done === 0 ? `Failed to ${verb} any resources: ${msg}` : `Partial success: ${PAST[verb]} the first ${done} out of ${rs.count} resources:\n${msg}`, { cause: err });
      }
    }
    done++;
  }
  io.out(`${summary(verb, rs)}\n`);
}

export function kindOrThrow(text: string): KindInfo {
  const k = resolveKind(text);
  if (k === undefined) throw new CtlError(`resource type '${text}' is not supported`);
  return k;
}

export type OutputFormat = 'ps' | 'wide' | 'yaml' | 'json';

export async function getCmd(ds: Datastore, kindText: string, names: readonly string[], output: string, io: Io): Promise<void> {
  const info = kindOrThrow(kindText);
  if (!['ps', 'wide', 'yaml', 'json'].includes(output)) throw new CtlError(`unrecognized output format '${output}' (ps, wide, yaml, json)`);
  let items: Resource[];
  if (names.length > 0) {
    items = [];
    for (const n of names) {
      const r = await ds.get(info.kind, n);
      if (r === undefined) throw new CtlError(`resource does not exist: ${info.kind}(${n})`);
      items.push(r);
    }
  } else {
    items = (await ds.list(info.kind)).items;
  }
  if (output === 'yaml' || output === 'json') {
    const doc = names.length === 1 ? items[0] : { apiVersion: apiVersionOf(info), kind: `${info.kind}List`, items, metadata: {} };
    if (output === 'json') io.out(`${JSON.stringify(doc, null, 2)}\n`);
    else { const { stringify } = await import('yaml'); io.out(stringify(doc)); }
    return;
  }
  const global = info.kind === 'Node' ? (await ds.get('BGPConfiguration', 'default'))?.spec : undefined;
  const t = tableFor(info.kind, items, output === 'wide', { globalAsNumber: effectiveBgpConfiguration(global).asNumber });
  io.out(formatColumns(t.headers, t.rows));
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function patchCmd(ds: Datastore, kindText: string, name: string, patchText: string, type: string, io: Io): Promise<void> {
  const info = kindOrThrow(kindText);
  if (type !== 'merge' && type !== 'strategic') throw new CtlError(`patch type '${type}' is not supported (merge, strategic)`);
  let patch: unknown;
  try { patch = JSON.parse(patchText); } catch (err) { throw new CtlError(`--patch is not valid JSON: ${(err as Error).message}`); }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new CtlError('--patch must be a JSON object');
  const cur = await ds.get(info.kind, name);
  if (cur === undefined) throw new CtlError(`resource does not exist: ${info.kind}(${name})`);
  const merged = mergePatch(cur, patch) as Record<string, unknown>;
  const md = merged['metadata'] as Record<string, unknown> | undefined;
  if (md?.['name'] !== name || merged['kind'] !== info.kind) throw new CtlError('a patch cannot change kind or metadata.name');
  const v = validateResource(merged);
  if (!v.ok) throw new CtlError(`patched ${info.kind}(${name}) is invalid, nothing was written:\n${v.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  try {
    await ds.update({ ...v.resource, metadata: { ...v.resource.metadata, resourceVersion: cur.metadata.resourceVersion ?? '' } } as Resource);
  } catch (err) { throw new CtlError(`Failed to patch ${info.kind}(${name}): ${(err as Error).message}`, { cause: err }); }
  io.out(`Successfully patched 1 '${info.kind}' resource\n`);
}

/**
 * Delete one resource. An IPPool goes as libcalico-go deletes it: disabled first (no new block is
 * claimed in it meanwhile), every node's block affinity in it released (empty blocks deleted, the
 * others kept for the addresses still in use), then the pool itself.
 */
export async function deleteResource(ds: Datastore, kind: Kind, name: string, resourceVersion: string | undefined, ipamGc: IpamGcDeps | undefined): Promise<void> {
  if (kind === 'IPPool' && ipamGc !== undefined) {
    const pool = await ds.get('IPPool', name);
    if (pool !== undefined && (resourceVersion === undefined || resourceVersion === '' || resourceVersion === pool.metadata.resourceVersion)) {
      const disabled = pool.spec.disabled === true ? pool : await ds.update({ ...pool, spec: { ...pool.spec, disabled: true } });
      await releasePoolAffinities(ipamGc, pool.spec.cidr);
      await ds.delete('IPPool', name, disabled.metadata.resourceVersion);
      return;
    }
  }
  await ds.delete(kind, name, resourceVersion);
}

export async function deleteByName(ds: Datastore, kindText: string, names: readonly string[], skipNotExists: boolean, io: Io, ipamGc?: IpamGcDeps): Promise<void> {
  const info = kindOrThrow(kindText);
  if (names.length === 0) throw new CtlError('delete needs a resource name (or -f FILE)');
  let n = 0;
  for (const name of names) {
    try { await deleteResource(ds, info.kind as Kind, name, undefined, ipamGc); n++; } catch (err) {
      if (skipNotExists && isDatastoreError(err, 'not-found')) continue;
      throw new CtlError(isDatastoreError(err, 'not-found') ? `resource does not exist: ${info.kind}(${name})` : (err as Error).message, { cause: err });
    }
  }
  io.out(`Successfully deleted ${n} '${info.kind}' resource(s)\n`);
}

/**
 * calicoctl label KIND NAME KEY=VALUE [--overwrite] | KEY --remove: read, change metadata.labels,
 * validate, write with the read's resourceVersion (a concurrent change is retried).
 */
export async function labelCmd(ds: Datastore, kindText: string, name: string, label: string, opts: { overwrite?: boolean; remove?: boolean }, io: Io): Promise<void> {
  const info = kindOrThrow(kindText);
  const eq = label.indexOf('=');
  if (opts.remove === true ? eq >= 0 : eq <= 0) {
    throw new CtlError(opts.remove === true ? `--remove takes a label key, not ${JSON.stringify(label)}` : `label must be KEY=VALUE (or KEY --remove), got ${JSON.stringify(label)}`);
  }
  const key = opts.remove === true ? label : label.slice(0, eq);
  const value = label.slice(eq + 1);
  for (let attempt = 0; ; attempt++) {
    const cur = await ds.get(info.kind, name);
    if (cur === undefined) throw new CtlError(`resource does not exist: ${info.kind}(${name})`);
    const labels: Record<string, string> = { ...(cur.metadata.labels ?? {}) };
    if (opts.remove === true) {
      if (!(key in labels)) throw new CtlError(`can not remove label of resource ${kindText} ${name}: label key ${key} is not found`);
      delete labels[key];
    } else {
      if (key in labels && labels[key] !== value && opts.overwrite !== true) {
        throw new CtlError(`failed to update label of resource ${kindText} ${name}: key ${key} is already present, please use '--overwrite' to set a new value`);
      }
      labels[key] = value;
    }
    const v = validateResource({ ...cur, metadata: { ...cur.metadata, labels } });
    if (!v.ok) throw new CtlError(`label ${JSON.stringify(label)} on ${info.kind}(${name}) is invalid, nothing was written:\n${v.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
    try {
      await ds.update({ ...v.resource, metadata: { ...v.resource.metadata, resourceVersion: cur.metadata.resourceVersion ?? '' } } as Resource);
    } catch (err) {
      if (attempt < 5 && isDatastoreError(err, 'conflict')) continue;
      throw new CtlError(`Failed to label ${info.kind}(${name}): ${(err as Error).message}`, { cause: err });
    }
    io.out(opts.remove === true ? `Successfully removed label ${key} from ${kindText} ${name}\n` : `Successfully set label ${key} on ${kindText} ${name}\n`);
    return;
  }
}
