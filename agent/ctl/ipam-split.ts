/**
 * `ipam split <number> (--cidr CIDR | --name NAME)`: an IPPool becomes <number> (a power of two)
 * pools of equal size named `split-<name>-<i>`, each a copy of the old one with its part of the
 * CIDR, as calicoctl's ipam/split.go. calicoctl needs `datastore migrate lock` first so no IPAM
 * runs in between; Tortie has no lock and needs none, because there is one intermediate state:
 *
 *   1. one etcd txn: the old pool disabled and annotated `tortie.io/split-into: <number>`
 *      (CAS on its revision), the new pools created (skipping the overlap check, as calicoctl's
 *      UnsafeCreate). At every revision IPAM sees the old pool enabled or the new ones, never
 *      both; the CIDR never lies only in a disabled pool (NAT outgoing, tunnels stay).
 *   2. the old pool deleted (CAS). Existing blocks lie inside the new pools (blockSize ≤ their
 *      prefix), so the IPAM controller releases nothing.
 *
 * Stopped between 1 and 2, `ipam check` reports the overlap as an unfinished split and the same
 * command run again finishes it (2 only). Every new pool is validated before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { formatPrefix, parsePrefix, type Prefix } from '../../common/prefix.js';
import { resourceKey } from '../datastore/key-layout.js';
import { validateResource, type ResourceOfKind } from '../resources/kinds.js';
import { CtlError } from './ctl-error.js';
import { SPLIT_ANNOTATION } from '../ipam/ipam-check.js';
import type { IpamCtx } from './ipam-commands.js';
import type { Io } from './resource-commands.js';

/** `cidr` cut into `parts` equal CIDRs, in address order (calicoctl splitCIDR). */
export function splitCidr(cidr: string, parts: number): string[] {
  const power = Math.log2(parts);
  if (!Number.isInteger(parts) || parts < 2 || !Number.isInteger(power)) throw new CtlError(`number to split CIDR into is not a valid power of 2: ${parts}`);
  const p = parsePrefix(cidr);
  const bits = p.family === 4 ? 32 : 128;
  if (p.length + power > bits) throw new CtlError(`the CIDR ${cidr} is not large enough to be split into ${parts} parts`);
  const len = p.length + power;
  const base = p.bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  const step = 1n << BigInt(bits - len);
  const out: string[] = [];
  for (let i = 0n; i < BigInt(parts); i++) {
    let v = base + i * step;
    const bytes = new Uint8Array(bits / 8);
    for (let j = bytes.length - 1; j >= 0; j--) { bytes[j] = Number(v & 0xffn); v >>= 8n; }
    out.push(formatPrefix({ family: p.family, bytes, length: len } satisfies Prefix));
  }
  return out;
}

type Pool = ResourceOfKind<'IPPool'>;

/** The new pools for `old` cut into `cidrs`: copies named split-<name>-<i>. */
export function splitPools(old: Pool, cidrs: readonly string[]): Pool[] {
  const name = old.metadata.name;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return cidrs.map((cidr, i) => {
    const n = `split-${name}-${i}`.length > 253 ? `split-${name.slice(0, 245)}-${i}` : `split-${name}-${i}`;
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...md } = old.metadata;
    return { ...old, metadata: { ...md, name: n, uid: randomUUID(), creationTimestamp: now }, spec: { ...old.spec, cidr, disabled: old.spec.disabled ?? false } };
  });
}

/** Step 1 (one txn): the old pool disabled and marked, the new pools created. Returns the old pool as written. */
export async function beginSplit(ctx: IpamCtx, old: Pool, fresh: readonly Pool[]): Promise<Pool> {
  const { resourceVersion, ...md } = old.metadata;
  const marked: Pool = { ...old, metadata: { ...md, annotations: { ...md.annotations, [SPLIT_ANNOTATION]: String(fresh.length) } }, spec: { ...old.spec, disabled: true } };
  if (resourceVersion === undefined) throw new CtlError(`IPPool(${old.metadata.name}) has no resourceVersion; nothing was changed`);
  const [written] = await ctx.store.commit([
    { op: 'update', key: resourceKey('ippools', old.metadata.name), value: JSON.stringify(marked), expectedModRevision: resourceVersion },
    ...fresh.map((p) => ({ op: 'create' as const, key: resourceKey('ippools', p.metadata.name), value: JSON.stringify(p) })),
  ]);
  return { ...marked, metadata: { ...marked.metadata, ...(written === undefined ? {} : { resourceVersion: written.modRevision }) } };
}

export async function ipamSplit(ctx: IpamCtx, parts: number, sel: { cidr?: string; name?: string }, io: Io): Promise<void> {
  if (sel.cidr === undefined && sel.name === undefined) throw new CtlError('no name or CIDR provided. Provide a name or CIDR to denote the IP pool to split');
  const pools = (await ctx.datastore.list('IPPool')).items;
  // By CIDR, the pool being split (an interrupted split leaves the new pools inside it).
  const old = sel.name !== undefined ? pools.find((p) => p.metadata.name === sel.name)
    : pools.find((p) => formatPrefix(parsePrefix(p.spec.cidr)) === formatPrefix(parsePrefix(sel.cidr ?? '')));
  if (old === undefined) throw new CtlError(`unable to find IP pool ${sel.name ?? ''} covering the specified CIDR ${sel.cidr ?? ''}`);
  const cidrs = splitCidr(old.spec.cidr, parts);
  const name = old.metadata.name;
  const begun = old.metadata.annotations?.[SPLIT_ANNOTATION];
  const fresh = splitPools(old, cidrs);
  let marked = old;
  if (begun !== undefined) {
    // Step 1 was written by an earlier run: the new pools must be there as it made them.
    if (begun !== String(parts)) throw new CtlError(`IPPool(${name}) is being split into ${begun} pools by an earlier ipam split that stopped half way; run "ipam split ${begun} --name ${name}" to finish it; nothing was changed`);
    for (const p of fresh) {
      const got = pools.find((q) => q.metadata.name === p.metadata.name);
      if (got === undefined || formatPrefix(parsePrefix(got.spec.cidr)) !== p.spec.cidr) {
        throw new CtlError(`IPPool(${name}) was being split but IPPool(${p.metadata.name}) ${got === undefined ? 'is missing' : `has CIDR ${got.spec.cidr}`} (expected ${p.spec.cidr}); nothing was changed`);
      }
    }
    io.err(`IPPool(${name}): finishing a split an earlier run began.\n`);
  } else {
    for (const p of fresh) {
      const v = validateResource(p);
      if (!v.ok) throw new CtlError(`IPPool(${p.metadata.name}) with CIDR ${p.spec.cidr} would be invalid: ${v.issues.map((x) => `${x.path}: ${x.message}`).join('; ')}; nothing was changed`);
      if (pools.some((q) => q.metadata.name === p.metadata.name)) throw new CtlError(`IPPool(${p.metadata.name}) already exists; nothing was changed`);
    }
    try {
      marked = await beginSplit(ctx, old, fresh);
    } catch (err) {
      throw new CtlError(`splitting IPPool(${name}) failed, nothing was changed: ${(err as Error).message}`, { cause: err });
    }
  }
  await ctx.datastore.delete('IPPool', name, marked.metadata.resourceVersion);
  io.out(`IP Pool ${name} was successfully split into ${parts} smaller pools.\n`);
  for (const p of fresh) io.out(`Created ${p.metadata.name} with CIDR ${p.spec.cidr}.\n`);
}
