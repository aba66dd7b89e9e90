/**
 * Which pools an assignment may use: IPPool namespaceSelector, and pools a request names
 * (CNI `ipv4_pools` / `ipv6_pools`), as libcalico-go resolves them.
 */
import { formatPrefix, isValidPrefix, parsePrefix, type Family } from '../../common/prefix.js';
import type { IPPool } from '../resources/kinds.js';
import { selectorMatches } from '../resources/selector.js';

/**
 * IPPool namespaceSelector (Calico v3.31+) selects on the pod's Namespace labels. Without a
 * Kubernetes API Tortie knows only the labels every Namespace carries by name
 * (`kubernetes.io/metadata.name`, and Calico's `projectcalico.org/name`): a selector on other
 * labels is evaluated as if the Namespace had only those (a pool it excludes still serves requests
 * naming it, as requested pools ignore selectors in Calico). The agent and
 * tortiectl report it (agent/node/README.md).
 */
export function namespaceMatches(p: IPPool, namespace: string | undefined): boolean {
  const sel = p.spec.namespaceSelector;
  if (sel === undefined || sel.trim() === '') return true;
  // libcalico-go SelectsNamespace: no namespace (tunnel addresses, blocks) = no labels.
  return selectorMatches(sel, namespace === undefined ? {} : { 'kubernetes.io/metadata.name': namespace, 'projectcalico.org/name': namespace });
}

/**
 * Requested pools (libcalico-go ResolvePools, determinePools, then filterPoolsByUse): a CIDR names
 * the pool with exactly that CIDR, anything else a pool by name; each must exist, be enabled and
 * of this family; those that do not allow `use` are passed over. The pools in request order, or
 * the problem: `ipam-unknown-pool` naming the first bad one, `ipam-no-pool` when none allows `use`.
 */
export function requestedPools(items: readonly IPPool[], requested: readonly string[], family: Family, use: 'Workload' | 'Tunnel'):
  IPPool[] | { readonly code: 'ipam-unknown-pool' | 'ipam-no-pool'; readonly message: string } {
  const out: IPPool[] = [];
  for (const want of requested) {
    const cidr = isValidPrefix(want, { allowHostBits: true }) ? formatPrefix(parsePrefix(want, { allowHostBits: true })) : undefined;
    const p = items.find((x) => (cidr === undefined ? x.metadata.name === want : formatPrefix(parsePrefix(x.spec.cidr)) === cidr));
    const what = `requested IPv${family} pool ${JSON.stringify(want)}`;
    const bad = (why: string): { code: 'ipam-unknown-pool'; message: string } => ({ code: 'ipam-unknown-pool', message: `${what} ${why}` });
    if (p === undefined) return bad('does not exist');
    if (p.spec.disabled === true) return bad(`(${p.spec.cidr}) is disabled`);
    if (parsePrefix(p.spec.cidr).family !== family) return bad(`(${p.spec.cidr}) is an IPv${family === 4 ? 6 : 4} pool`);
    if (p.spec.allowedUses.includes(use) && !out.includes(p)) out.push(p);
  }
  if (out.length === 0) return { code: 'ipam-no-pool', message: `requested IPv${family} pools ${requested.map((r) => JSON.stringify(r)).join(', ')}: none allows use ${use}` };
  return out;
}
