/**
 * cni.sock: the agent side of agent/cni/agent-protocol.ts. IPAM by handle = container id with
 * attributes pod/namespace/node; endpoint-up programs the workload routes and answers once
 * they are in the kernel; release is idempotent; check, gc, status.
 */
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { isDatastoreError } from '../datastore/errors.js';
import type { AgentRequest, AgentResponse } from '../cni/agent-protocol.js';
import type { AssignResult, Ipam } from '../ipam/ipam.js';
import { deleteWorkloadRecord, putWorkloadRecord } from '../ipam/workload-records.js';
import type { RouteTable } from '../../felix/routes/route-table.js';
import { readFileSync } from 'node:fs';
import { isValidAddress } from '../../common/prefix.js';
import type { Netlink } from '../../felix/netlink/types.js';
import { startLineServer, type LineServer } from './line-server.js';
import type { NodeAgent } from './node-agent.js';

export interface CniServerDeps {
  readonly ipam: Ipam;
  readonly agent: NodeAgent;
  readonly routeTable: RouteTable;
  readonly netlink: Netlink;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly mtu: () => number | undefined;
  /** Dual stack: ask IPAM for an IPv6 address too (the node has IP6 and an IPv6 pool exists). */
  readonly want6?: () => boolean;
  /** Interface index by name (sysfs), undefined when absent. */
  readonly ifindexOf: (name: string) => number | undefined;
}

/** /sys/class/net/<name>/ifindex: `ip netns exec` and a hostNetwork pod both see their netns there. */
export function sysfsIfindex(name: string): number | undefined {
  if (!/^[\w.@-]{1,15}$/.test(name)) return undefined;
  try { const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim()); return Number.isInteger(n) && n > 0 ? n : undefined; } catch { return undefined; }
}

const delay = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms); });

const err = (code: string, message: string, retry = false): AgentResponse => ({ type: 'error', code, message, ...(retry ? { retry } : {}) });

function validate(req: unknown): AgentRequest | string {
  if (req === null || typeof req !== 'object') return 'request must be a JSON object';
  const o = req as Record<string, unknown>;
  const str = (k: string): boolean => typeof o[k] === 'string' && (o[k] as string).length > 0;
  switch (o['type']) {
    case 'status': return req as AgentRequest;
    case 'gc': return Array.isArray(o['valid']) ? req as AgentRequest : 'gc needs valid: [{containerId, ifname}]';
    case 'assign': {
      if (!str('containerId')) return 'assign needs containerId';
      const strings = (k: string): boolean => o[k] === undefined || (Array.isArray(o[k]) && (o[k] as unknown[]).every((x) => typeof x === 'string' && x !== ''));
      for (const k of ['ips', 'ipv4Pools', 'ipv6Pools']) if (!strings(k)) return `assign: ${k} must be a list of non-empty strings`;
      for (const k of ['assignIpv4', 'assignIpv6']) if (o[k] !== undefined && typeof o[k] !== 'boolean') return `assign: ${k} must be a boolean`;
      const bad = ((o['ips'] ?? []) as string[]).find((a) => !isValidAddress(a));
      return bad === undefined ? req as AgentRequest : `assign: ${JSON.stringify(bad)} is not an IP address`;
    }
    case 'release':
      return str('containerId') ? req as AgentRequest : `${String(o['type'])} needs containerId`;
    case 'endpoint-up': case 'check':
      if (!str('containerId') || !str('hostIfname') || !Array.isArray(o['addresses']) || !(o['addresses'] as unknown[]).every((a) => typeof a === 'string')) {
        return `${String(o['type'])} needs containerId, hostIfname and addresses`;
      }
      for (const a of o['addresses'] as string[]) {
        const [ip, len] = a.split('/');
        if (!isValidAddress(ip ?? '') || (len !== undefined && len !== (a.includes(':') ? '128' : '32'))) {
          return `${String(o['type'])}: address ${JSON.stringify(a)} is not an IP address (optionally /32 or /128)`;
        }
      }
      if (!/^[\w.@-]{1,15}$/.test(o['hostIfname'] as string)) return `${String(o['type'])}: hostIfname ${JSON.stringify(o['hostIfname'])} is not an interface name`;
      return req as AgentRequest;
    default: return `unknown request type ${JSON.stringify(o['type'])}`;
  }
}

/**
 * Calico's CNI IPAM: `IP=` addresses exactly (any enabled pool, Manual ones included), else one
 * IPv4 (unless assign_ipv4 is "false") and one IPv6 (assign_ipv6, else when the node is dual
 * stack) from the requested pools or the node's Automatic ones. reuseHandle: an ADD the runtime
 * retries gets the addresses it was given before.
 */
async function assign(deps: CniServerDeps, req: Extract<AgentRequest, { type: 'assign' }>): Promise<AssignResult> {
  const base = {
    handle: req.containerId, node: deps.nodeName, reuseHandle: true,
    attrs: { node: deps.nodeName, ...(req.pod === undefined ? {} : { pod: req.pod }), ...(req.namespace === undefined ? {} : { namespace: req.namespace }) },
  };
  if (req.ips === undefined || req.ips.length === 0) {
    return deps.ipam.autoAssign({ ...base, num4: req.assignIpv4 === false ? 0 : 1, num6: (req.assignIpv6 ?? deps.want6?.() === true) ? 1 : 0,
      ...(req.ipv4Pools === undefined ? {} : { ipv4Pools: req.ipv4Pools }), ...(req.ipv6Pools === undefined ? {} : { ipv6Pools: req.ipv6Pools }) });
  }
  const got: AssignResult[] = [];
  try {
    for (const ip of req.ips) got.push(await deps.ipam.assignIp({ ...base, ip }));
  } catch (e) {
    // All or nothing, as a dual-stack auto-assignment: give back what this call took.
    const taken = got.filter((g) => g.reused !== true).flatMap((g) => [...g.ipv4, ...g.ipv6].map((a) => a.address));
    await deps.ipam.releaseIps(taken).catch((x: unknown) => deps.logger.error({ err: describeError(x) }, 'releasing requested addresses after a failure'));
    throw e;
  }
  return { ipv4: got.flatMap((g) => g.ipv4), ipv6: got.flatMap((g) => g.ipv6), ...(got.every((g) => g.reused === true) ? { reused: true } : {}) };
}

export async function handleCniRequest(deps: CniServerDeps, raw: unknown): Promise<AgentResponse> {
  const req = validate(raw);
  if (typeof req === 'string') return err('bad-request', req);
  const log = deps.logger;
  try {
    switch (req.type) {
      case 'assign': {
        const started = performance.now();
        const r = await assign(deps, req);
        const addresses = [...r.ipv4, ...r.ipv6].map((a) => a.address);
        if (addresses.length === 0) return err('ipam-exhausted', 'no address left in any pool usable by this node');
        const mtu = deps.mtu();
        log.info({ containerId: req.containerId, pod: req.pod, addresses, ms: Math.round((performance.now() - started) * 10) / 10 }, 'assigned');
        return { type: 'assigned', addresses: addresses.map((a) => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`)),
          ...(mtu === undefined ? {} : { mtu }), ...(r.reused === true ? { existing: true } : {}) };
      }
      case 'endpoint-up': {
        deps.agent.setEndpoint(req.containerId, req.hostIfname, req.addresses);
        // The link may be new (or re-created under the same name) and its notification not yet
        // seen by the route table: tell it the current index (from sysfs: no netlink dump, which
        // would collide with the route table's), sync, and retry briefly while an apply fails
        // (a late notification with a stale index gives ENODEV once).
        let why = '';
        for (let attempt = 0; attempt < 20; attempt++) {
          const index = deps.ifindexOf(req.hostIfname);
          if (index === undefined) { why = `no interface ${req.hostIfname}`; await delay(100); continue; }
          deps.routeTable.onEvent({ type: 'link', action: 'new', link: { index, name: req.hostIfname, kind: 'veth', mtu: 0, up: true, operUp: true } });
          await deps.agent.syncNow();
          // This workload's routes only: another workload's pending route (its interface gone,
          // say) must not hold this ADD back.
          const missing = req.addresses.filter((a) => !deps.routeTable.isProgrammed(a));
          if (missing.length === 0) {
            // The record `ipam check` counts as "in use", written without holding the ADD up: a failure
            // costs a leak report (the agent re-publishes missing records), never the pod. A record left
            // by a racing DEL names a handle with no allocation, which nothing reads.
            void putWorkloadRecord(deps.ipam.store, { handle: req.containerId, node: deps.nodeName, iface: req.hostIfname, addresses: req.addresses,
              ...(req.pod === undefined ? {} : { pod: req.pod }), ...(req.namespace === undefined ? {} : { namespace: req.namespace }) })
              .catch((e: unknown) => log.warn({ containerId: req.containerId, err: describeError(e) }, 'cannot write the workload record'));
            return { type: 'ok' };
          }
          const last = deps.agent.lastApply;
          why = `${missing.join(', ')} not in the kernel yet${last === undefined ? ' (the dataplane has not applied yet)' : `; last apply: ${last.failed} route(s) failed, ${last.pending} pending`}`;
          await delay(50 + attempt * 10);
        }
        return err('dataplane', `routes for ${req.addresses.join(', ')} via ${req.hostIfname} not confirmed in 2 s: ${why}`, true);
      }
      case 'release': {
        const released = await deps.ipam.releaseByHandle(req.containerId);
        await deleteWorkloadRecord(deps.ipam.store, req.containerId);
        if (deps.agent.removeEndpoint(req.containerId)) await deps.agent.syncNow();
        log.info({ containerId: req.containerId, released }, 'released');
        return { type: 'ok', released };
      }
      case 'check': {
        const held = new Set((await deps.ipam.addressesForHandle(req.containerId)).map((a) => a.split('/')[0]));
        const lost = req.addresses.filter((a) => !held.has(a.split('/')[0]));
        if (lost.length > 0) return err('ipam-missing', `IPAM holds no allocation of ${lost.join(', ')} for container ${req.containerId}`);
        const ep = deps.agent.endpoint(req.containerId);
        if (ep === undefined || ep.iface !== req.hostIfname) return err('endpoint-missing', `tortie-node has no endpoint ${req.hostIfname} for container ${req.containerId}`);
        return { type: 'ok' };
      }
      case 'gc': {
        const valid = new Set(req.valid.map((v) => v.containerId));
        const handles = new Set<string>();
        for (const b of await deps.ipam.allBlocks()) {
          b.allocations.forEach((idx) => {
            if (idx === null) return;
            const a = b.attributes[idx];
            // Workload allocations only: tunnel addresses (VTEP, tunl0) are not CNI attachments.
            const tunnel = a?.secondary?.['type'] !== undefined || /^(vxlan|vxlan-v6|ipip)-tunnel-addr-/.test(a?.handle_id ?? '');
            if (a?.secondary?.['node'] === deps.nodeName && a.handle_id !== null && !tunnel && !valid.has(a.handle_id)) handles.add(a.handle_id);
          });
        }
        const released: string[] = [];
        for (const h of handles) {
          released.push(...await deps.ipam.releaseByHandle(h));
          await deleteWorkloadRecord(deps.ipam.store, h);
          const ep = deps.agent.endpoint(h);
          deps.agent.removeEndpoint(h);
          // The attachment is gone as far as the runtime knows: remove its host-side veth too.
          const index = ep === undefined ? undefined : deps.ifindexOf(ep.iface);
          if (index !== undefined) {
            try { await deps.netlink.deleteLink(index); } catch (e) { log.warn({ iface: ep?.iface, err: describeError(e) }, 'gc: cannot delete the host interface'); }
          }
        }
        if (handles.size > 0) await deps.agent.syncNow();
        return { type: 'ok', released };
      }
      case 'status': {
        await deps.ipam.poolsForNode(deps.nodeName, 4);
        return { type: 'ok' };
      }
    }
  } catch (e) {
    const retry = isDatastoreError(e, 'unavailable') || isDatastoreError(e, 'conflict');
    log.error({ type: req.type, err: describeError(e) }, 'CNI request failed');
    return err(req.type === 'assign' || req.type === 'release' ? 'ipam' : 'agent', describeError(e), retry);
  }
}

export function startCniServer(path: string, deps: CniServerDeps): Promise<LineServer> {
  const log = deps.logger.child({ component: 'cni-server' });
  return startLineServer(path, (req) => handleCniRequest({ ...deps, logger: log }, req), (m) => err('bad-request', m), log);
}
