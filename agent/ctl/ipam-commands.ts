/** `ipam show [--ip IP | --show-blocks]`, `ipam release --ip IP`, `ipam check` (calico-compat.md §4.3). */
import { parseAddress, parsePrefix, prefixContains } from '../../common/prefix.js';
import type { Datastore } from '../datastore/datastore.js';
import type { KvStore } from '../datastore/kv-store.js';
import { Ipam } from '../ipam/ipam.js';
import { checkIpam, type IpamProblem } from '../ipam/ipam-check.js';
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

function describeProblem(p: IpamProblem): string {
  switch (p.type) {
    case 'allocation-without-handle': return `IP ${p.address} in block ${p.block} belongs to handle ${p.handle ?? '(none)'} which does not exist (possible leak)`;
    case 'handle-count-mismatch': return `handle ${p.handle} records ${p.recorded} address(es) in block ${p.block}, the block holds ${p.actual}`;
    case 'affinity-without-block': return `node ${p.node} has a ${p.state} affinity for block ${p.block}, which does not exist`;
    case 'block-without-affinity': return `block ${p.block} is affine to node ${p.node}, which has no affinity record for it`;
    case 'allocation-on-unknown-node': return `IP ${p.address} (handle ${p.handle ?? '(none)'}) is allocated to node ${p.node}, which does not exist (possible leak)`;
    default: return assertNever(p, 'problem');
  }
}

/** Prints the report; returns the number of problems (exit status stays 0, like calicoctl). */
export async function ipamCheck(ctx: IpamCtx, io: Io): Promise<number> {
  io.out('Checking IPAM for inconsistencies...\n\n');
  const r = await checkIpam(ctx);
  io.out(`Found ${r.blocks} IPAM blocks.\nFound ${r.allocations} allocated IPs.\nFound ${r.handles} handles.\n`);
  io.out(`Found ${r.problems.length} problems.\n`);
  for (const p of r.problems) io.out(`  ${describeProblem(p)}\n`);
  io.out('Check complete.\n');
  return r.problems.length;
}

