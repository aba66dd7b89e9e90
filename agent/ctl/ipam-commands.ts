/** `ipam show [--ip IP | --show-blocks]`, `ipam release --ip IP | --from-report FILE...`, `ipam check [-o FILE]` (calico-compat.md §4.3). */
import { parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import type { Datastore } from '../datastore/datastore.js';
import type { KvStore } from '../datastore/kv-store.js';
import { Ipam } from '../ipam/ipam.js';
import { checkIpam, clusterGuid, type IpamLeak, type IpamProblem, type IpamReport, type ReportAllocation, type ReportHandle } from '../ipam/ipam-check.js';
import { listWorkloadRecords } from '../ipam/workload-records.js';
import { IpamError } from '../ipam/ipam-error.js';
import { handleKey } from '../datastore/key-layout.js';
import { isDatastoreError } from '../datastore/errors.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { affinityNode, attributeOf, inUse, ordinalToAddress } from '../ipam/block.js';
import type { Logger } from '../../common/logger.js';
import { assertNever } from '../../common/assert-never.js';
import { CtlError } from './ctl-error.js';
import { readIpamConfig, updateIpamConfig } from '../ipam/ipam-config.js';
import { formatBoxTable, formatG5 } from './table.js';
import type { Io } from './resource-commands.js';

export interface IpamCtx { readonly store: KvStore; readonly datastore: Datastore; readonly logger: Logger }

const pct = (part: number, total: number): string => `${total === 0 ? 0 : ((part / total) * 100).toFixed(0)}%`;

function row(grouping: string, cidr: string, total: number, used: number): string[] {
  return [grouping, cidr, formatG5(total), `${formatG5(used)} (${pct(used, total)})`, `${formatG5(total - used)} (${pct(total - used, total)})`];
}

export async function ipamShow(ctx: IpamCtx, opts: { ip?: string; showBlocks?: boolean; showBorrowed?: boolean; showConfiguration?: boolean }, io: Io): Promise<void> {
  const ipam = new Ipam(ctx);
  if (opts.showConfiguration === true) {
    const c = await readIpamConfig(ctx.store);
    io.out(formatBoxTable(['PROPERTY', 'VALUE'], [['StrictAffinity', String(c.strictAffinity)], ['AutoAllocateBlocks', String(c.autoAllocateBlocks)]]));
    return;
  }
  if (opts.showBorrowed === true) {
    const rows: string[][] = [];
    for (const b of (await ipam.allBlocks()).sort((x, y) => (x.cidr < y.cidr ? -1 : 1))) {
      const owner = affinityNode(b);
      b.allocations.forEach((_, o) => {
        const a = attributeOf(b, o);
        const user = a?.secondary?.['node'];
        if (a === undefined || owner === undefined || user === undefined || user === owner) return;
        const sec = a.secondary ?? {};
        const type = sec['type'] ?? (sec['pod'] !== undefined ? 'pod' : 'unknown');
        const to = sec['pod'] === undefined ? (a.handle_id ?? '') : `${sec['namespace'] ?? ''}/${sec['pod']}`;
        rows.push([ordinalToAddress(b.cidr, o), user, b.cidr, owner, type, to]);
      });
    }
    io.out(formatBoxTable(['IP', 'BORROWING-NODE', 'BLOCK', 'BLOCK OWNER', 'TYPE', 'ALLOCATED-TO'], rows));
    return;
  }
  if (opts.ip !== undefined) {
    try { parseAddress(opts.ip); } catch { throw new CtlError(`invalid IP address ${JSON.stringify(opts.ip)}`); }
    const info = await ipam.addressInfo(opts.ip);
    if (info === undefined) { io.out(`IP ${opts.ip} is not currently assigned\n`); return; }
    const lines = [`IP ${opts.ip} is in use`, 'Attributes:', ...Object.entries(info.attrs).map(([k, v]) => `  ${k}: ${v}`)];
    if (info.handle !== null) lines.push(`  handle: ${info.handle}`);
    io.out(`${lines.join('\n')}\n`);
    return;
  }
  const [{ items: pools }, blocks] = await Promise.all([ctx.datastore.list('IPPool'), ipam.allBlocks()]);
  const rows: string[][] = [];
  for (const p of pools) {
    const pp = parsePrefix(p.spec.cidr);
    const mine = blocks.filter((b) => prefixContains(pp, parsePrefix(b.cidr))).sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
    const total = 2 ** ((pp.family === 4 ? 32 : 128) - pp.length);
    rows.push(row('IP Pool', p.spec.cidr, total, mine.reduce((n, b) => n + inUse(b), 0)));
    if (opts.showBlocks === true) for (const b of mine) rows.push(row('Block', b.cidr, b.allocations.length, inUse(b)));
  }
  io.out(formatBoxTable(['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS FREE'], rows));
}

/** `ipam configure --strictaffinity=true|false [--autoallocateblocks=true|false]`. */
export async function ipamConfigure(ctx: IpamCtx, opts: { strictaffinity?: string; autoallocateblocks?: string }, io: Io): Promise<void> {
  const bool = (flag: string, v: string | undefined): boolean | undefined => {
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new CtlError(`--${flag} must be true or false, got ${JSON.stringify(v)}`);
    return v === 'true';
  };
  const strict = bool('strictaffinity', opts.strictaffinity), auto = bool('autoallocateblocks', opts.autoallocateblocks);
  if (strict === undefined && auto === undefined) throw new CtlError('ipam configure needs --strictaffinity=<true|false> or --autoallocateblocks=<true|false>');
  await updateIpamConfig(ctx.store, { ...(strict === undefined ? {} : { strictAffinity: strict }), ...(auto === undefined ? {} : { autoAllocateBlocks: auto }) });
  io.out('Successfully set IPAM configuration\n');
}

export async function ipamRelease(ctx: IpamCtx, ip: string, io: Io): Promise<void> {
  try { parseAddress(ip); } catch { throw new CtlError(`invalid IP address ${JSON.stringify(ip)}`); }
  const r = await new Ipam(ctx).releaseIps([ip]);
  if (r.released.length === 0) throw new CtlError(`IP address ${ip} is not assigned`);
  io.out(`Successfully released IP address ${ip}\n`);
}

function describeProblem(p: IpamProblem | IpamLeak): string {
  switch (p.type) {
    case 'allocation-without-handle': return `IP ${p.address} in block ${p.block} belongs to handle ${p.handle ?? '(none)'} which does not exist (possible leak)`;
    case 'handle-count-mismatch': return `handle ${p.handle} records ${p.recorded} address(es) in block ${p.block}, the block holds ${p.actual}`;
    case 'affinity-without-block': return `node ${p.node} has a ${p.state} affinity for block ${p.block}, which does not exist`;
    case 'block-without-affinity': return `block ${p.block} is affine to node ${p.node}, which has no affinity record for it`;
    case 'allocation-on-unknown-node': return `IP ${p.address} (handle ${p.handle ?? '(none)'}) is allocated to node ${p.node}, which does not exist (possible leak)`;
    case 'allocation-not-in-use': return `IP ${p.address} (handle ${p.handle ?? '(none)'}${p.workload === undefined ? '' : `, workload ${p.workload}`}${p.node === undefined ? '' : ` on node ${p.node}`}) is allocated but no running workload or node uses it (possible leak)`;
    case 'leaked-handle': return `handle ${p.handle} holds no address (leaked handle)`;
    case 'pool-overlap': return p.splitInto !== undefined
      ? `IPPool ${p.pool} (${p.cidr}, disabled) overlaps ${p.overlaps.join(', ')}: an ipam split stopped half way; run "tortiectl ipam split ${p.splitInto} --name ${p.pool}" again to finish it`
      : `IPPool ${p.pool} (${p.cidr}) overlaps ${p.overlaps.join(', ')}: addresses in both pools follow whichever IPAM finds first; delete or shrink one`;
    default: return assertNever(p, 'problem');
  }
}

/** Prints the check; with `output`, writes calicoctl's report file. Returns the number of problems (exit status stays 0, like calicoctl). */
export async function ipamCheck(ctx: IpamCtx, io: Io, opts: { output?: string; version?: string; writeFile?: (path: string, data: string) => void } = {}): Promise<number> {
  io.out('Checking IPAM for inconsistencies...\n\n');
  const r = await checkIpam(ctx, opts.version === undefined ? {} : { version: opts.version });
  io.out(`Found ${r.blocks} IPAM blocks.\nFound ${r.allocations} allocated IPs.\nFound ${r.handles} handles.\n`);
  const notInUse = Object.values(r.report.allocations).flat().filter((a) => !a.inUse).length;
  io.out(`Found ${notInUse} IPs that are allocated in IPAM but not actually in use.\n`);
  const all = [...r.problems, ...r.leaks];
  io.out(`Found ${all.length} problems.\n`);
  for (const p of all) io.out(`  ${describeProblem(p)}\n`);
  io.out('Check complete.\n');
  if (opts.output !== undefined) {
    try { (opts.writeFile ?? ((f, d) => writeFileSync(f, d, { mode: 0o600 })))(opts.output, `${JSON.stringify(r.report, null, 2)}\n`); } catch (err) {
      throw new CtlError(`cannot write the report to ${opts.output}: ${(err as Error).message}`, { cause: err });
    }
    io.out(`Report written to ${opts.output}.\n`);
  }
  return all.length;
}

function readReport(file: string): IpamReport {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) { throw new CtlError(`cannot read report ${file}: ${(err as Error).message}`, { cause: err }); }
  let v: unknown;
  try { v = JSON.parse(text); } catch (err) { throw new CtlError(`report ${file} is not JSON: ${(err as Error).message}`, { cause: err }); }
  const o = v as Partial<IpamReport> | null;
  if (o === null || typeof o !== 'object' || typeof o.clusterGUID !== 'string' || typeof o.version !== 'string'
    || o.allocations === null || typeof o.allocations !== 'object' || (o.leakedHandles !== undefined && !Array.isArray(o.leakedHandles))) {
    throw new CtlError(`report ${file} is not an ipam check report (needs version, clusterGUID, allocations)`);
  }
  for (const [ip, list] of Object.entries(o.allocations)) {
    if (!Array.isArray(list) || list.some((a: Partial<ReportAllocation>) => typeof a?.ip !== 'string' || typeof a.inUse !== 'boolean')) {
      throw new CtlError(`report ${file}: allocations["${ip}"] must be a list of {ip, inUse, ...}`);
    }
  }
  return o as IpamReport;
}

/**
 * `ipam release --from-report FILE... [--force]` as calicoctl: the reports must name this cluster;
 * a report from another tortiectl version is refused without --force; with several reports only
 * what all of them call leaked is released (reports taken apart in time rule out an ADD in
 * progress). Tortie has no datastore lock: instead each address is re-checked just before its
 * release (still allocated to the same handle with the same sequence number, no workload record
 * for it), and a handle is deleted only at the revision the report saw.
 */
export async function ipamReleaseFromReports(ctx: IpamCtx, files: readonly string[], opts: { force: boolean; version: string }, io: Io): Promise<void> {
  const reports = files.map((f) => ({ file: f, r: readReport(f) }));
  const { guid } = await clusterGuid(ctx.store);
  for (const { file, r } of reports) {
    if (r.clusterGUID !== guid) throw new CtlError(`cluster does not match the provided report (${file}): mismatched cluster GUID. Refusing to release`);
    if (r.version !== opts.version) {
      if (!opts.force) throw new CtlError(`the provided report (${file}) was produced using a different version (${r.version}) of tortiectl. Refusing to release`);
      io.out('WARNING: Report was produced using a different version of tortiectl. Ignoring due to --force option\n');
    }
  }
  // Intersection: an IP (with the same handle and sequence number) not in use in every report;
  // a handle leaked at the same revision in every report.
  let ips: Map<string, ReportAllocation> | undefined;
  let handles: Map<string, ReportHandle> | undefined;
  for (const { r } of reports) {
    const next = new Map<string, ReportAllocation>();
    for (const list of Object.values(r.allocations)) {
      for (const a of list) {
        if (a.inUse) continue;
        const prev = ips?.get(a.ip);
        if (ips !== undefined && (prev === undefined || prev.handle !== a.handle || prev.sequenceNumber !== a.sequenceNumber)) continue;
        next.set(a.ip, a);
      }
    }
    ips = next;
    const nextH = new Map<string, ReportHandle>();
    for (const h of r.leakedHandles ?? []) {
      if (handles === undefined || handles.get(h.ID)?.Revision === h.Revision) nextH.set(h.ID, h);
    }
    handles = nextH;
  }
  const ipam = new Ipam(ctx);
  const leakedIps = [...(ips ?? new Map<string, ReportAllocation>()).values()];
  if (leakedIps.length > 0) {
    io.out(`Releasing ${leakedIps.length} old IPs...\n`);
    const records = await listWorkloadRecords(ctx.store);
    let released = 0, gone = 0, skipped = 0;
    for (const a of leakedIps) {
      const info = await ipam.addressInfo(a.ip);
      if (info === undefined) { gone++; continue; }
      const handle = info.handle ?? undefined;
      if (handle !== a.handle || info.sequenceNumber !== a.sequenceNumber || (handle !== undefined && records.has(handle))) {
        skipped++; io.out(`  ${a.ip} changed since the report (re-assigned or now in use): skipped\n`); continue;
      }
      try {
        const r = await ipam.releaseIps([a.ip], a.sequenceNumber);
        if (r.released.length > 0) released++; else gone++;
      } catch (err) {
        if (err instanceof IpamError && err.code === 'ipam-stale-sequence') { skipped++; continue; }
        throw err;
      }
    }
    io.out(`Released ${released} IPs successfully\n`);
    if (gone > 0) io.out(`${gone} addresses marked as leaked in the report had already been cleaned up.\n`);
    if (skipped > 0) io.out(`${skipped} addresses changed since the report and were left alone.\n`);
  } else {
    io.out("Report didn't contain any leaked IPs to clean up.\n");
  }
  const leakedHandles = [...(handles ?? new Map<string, ReportHandle>()).values()];
  if (leakedHandles.length > 0) {
    io.out(`Deleting ${leakedHandles.length} handles...\n`);
    let ok = 0, skipped = 0;
    for (const h of leakedHandles) {
      try { await ctx.store.delete(handleKey(h.ID), h.Revision); ok++; } catch (err) {
        if (isDatastoreError(err, 'not-found') || isDatastoreError(err, 'conflict')) { skipped++; continue; }
        throw err;
      }
    }
    io.out(`Released ${ok} handles; ${skipped} skipped; 0 errors.\n`);
  } else {
    io.out("Report didn't contain any handles to clean up.\n");
  }
}
