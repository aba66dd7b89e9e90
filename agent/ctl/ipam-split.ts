/**
 * `ipam split <number> (--cidr CIDR | --name NAME)`: an IPPool becomes <number> (a power of two)
 * pools of equal size named `split-<name>-<i>`, each a copy of the old one with its part of the
 * CIDR, as calicoctl's ipam/split.go. calicoctl needs `datastore migrate lock` first so no IPAM
 * runs in between; Tortie has no lock and needs none: the old pool is disabled first (no new
 * blocks from it), the new pools are created in one etcd transaction (all or none; they overlap
 * the old pool only until it is deleted, so the normal overlap check is skipped as calicoctl's
 * UnsafeCreate skips it), then the old pool is deleted. Existing blocks lie inside the new pools,
 * so the IPAM controller releases nothing. Every new pool is validated before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { formatPrefix, parsePrefix, type Prefix } from '../../common/prefix.js';
import { resourceKey } from '../datastore/key-layout.js';
import { validateResource, type ResourceOfKind } from '../resources/kinds.js';
import { CtlError } from './ctl-error.js';
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

export async function ipamSplit(ctx: IpamCtx, parts: number, sel: { cidr?: string; name?: string }, io: Io): Promise<void> {
  if (sel.cidr === undefined && sel.name === undefined) throw new CtlError('no name or CIDR provided. Provide a name or CIDR to denote the IP pool to split');
  const pools = (await ctx.datastore.list('IPPool')).items;
  const old = sel.name !== undefined ? pools.find((p) => p.metadata.name === sel.name)
    : pools.find((p) => formatPrefix(parsePrefix(p.spec.cidr)) === formatPrefix(parsePrefix(sel.cidr ?? '')));
  if (old === undefined) throw new CtlError(`unable to find IP pool ${sel.name ?? ''} covering the specified CIDR ${sel.cidr ?? ''}`);
  const cidrs = splitCidr(old.spec.cidr, parts);
  const name = old.metadata.name;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const fresh: Array<ResourceOfKind<'IPPool'>> = cidrs.map((cidr, i) => {
    const n = `split-${name}-${i}`.length > 253 ? `split-${name.slice(0, 245)}-${i}` : `split-${name}-${i}`;
    const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, ...md } = old.metadata;
    return { ...old, metadata: { ...md, name: n, uid: randomUUID(), creationTimestamp: now }, spec: { ...old.spec, cidr, disabled: false } };
  });
  for (const p of fresh) {
    const v = validateResource(p);
    if (!v.ok) throw new CtlError(`IPPool(${p.metadata.name}) with CIDR ${p.spec.cidr} would be invalid: ${v.issues.map((x) => `${x.path}: ${x.message}`).join('; ')}; nothing was changed`);
    if (pools.some((q) => q.metadata.name === p.metadata.name)) throw new CtlError(`IPPool(${p.metadata.name}) already exists; nothing was changed`);
  }
  const disabled = old.spec.disabled !== true ? await ctx.datastore.update({ ...old, spec: { ...old.spec, disabled: true } }) : undefined;
  try {
    await ctx.store.commit(fresh.map((p) => ({ op: 'create' as const, key: resourceKey('ippools', p.metadata.name), value: JSON.stringify(p) })));
  } catch (err) {
    // Nothing was created: the old pool goes back to how it was.
    if (disabled !== undefined) await ctx.datastore.update({ ...disabled, spec: { ...disabled.spec, disabled: old.spec.disabled ?? false } }).catch(() => undefined);
    throw new CtlError(`creating the split pools failed, nothing was created: ${(err as Error).message}`, { cause: err });
  }
  await ctx.datastore.delete('IPPool', name);
  io.out(`IP Pool ${name} was successfully split into ${parts} smaller pools.\n`);
  for (const p of fresh) io.out(`Created ${p.metadata.name} with CIDR ${p.spec.cidr}.\n`);
}
