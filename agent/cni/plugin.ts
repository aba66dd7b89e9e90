/**
 * The CNI plugin's commands (spec 1.0 ADD, DEL, CHECK, VERSION; 1.1 GC and STATUS).
 *
 *   runtime ──stdin/env──▶ parseRequest ─▶ handle() ──▶ agent (assign/endpoint-up/release)
 *                                               └──▶ workload-interface (ip -batch, nsenter)
 *
 * ADD leaves nothing half-made: a failure after assignment deletes the interface and releases
 * the addresses before the error is returned. An ADD for an attachment that exists never touches
 * it: its result when it is intact, else an error. DEL is idempotent and succeeds when the namespace,
 * the interface or the allocation is already gone.
 */
import type { CniRequest } from './cni-config.js';
import { SUPPORTED_VERSIONS, requestedIps } from './cni-config.js';
import { CniError, CniErrorCode } from './cni-error.js';
import type { AgentClient } from './agent-client.js';
import { AgentUnavailableError, expectOk } from './agent-client.js';
import type { PodIdentity } from './agent-protocol.js';
import {
  type InterfaceDeps, GATEWAY_V4, GATEWAY_V6, HOST_SIDE_MAC, InterfaceExistsError, checkWorkloadInterface, containerInterfaceMac,
  createWorkloadInterface, deleteWorkloadInterface, hostInterfaceName, randomMac,
} from './workload-interface.js';

export interface PluginDeps extends InterfaceDeps {
  readonly agent: AgentClient;
  /** Release a handle straight in the datastore (DEL while tortie-node is down); absent without etcd config. */
  readonly releaseInDatastore?: (handle: string) => Promise<string[]>;
  readFile(path: string): string | undefined;
  /** `tortie-ipam` (IPAM only) or `tortie` (the whole interface). */
  readonly role: 'main' | 'ipam';
}

export type CniResult = Record<string, unknown>;

function identity(req: CniRequest): PodIdentity {
  const ns = req.args['K8S_POD_NAMESPACE'];
  const pod = req.args['K8S_POD_NAME'];
  return {
    containerId: req.containerId, ifname: req.ifname,
    ...(ns !== undefined && ns !== '' ? { namespace: ns } : {}),
    ...(pod !== undefined && pod !== '' ? { pod } : {}),
  };
}

function resolveMtu(req: CniRequest, deps: PluginDeps, agentMtu: number | undefined): number {
  if (req.config.mtu > 0) return req.config.mtu;
  if (agentMtu !== undefined && agentMtu > 0) return agentMtu;
  const text = deps.readFile(req.config.mtuFile)?.trim();
  const fromFile = text === undefined ? NaN : Number(text);
  return Number.isInteger(fromFile) && fromFile >= 576 ? fromFile : 1500;
}

function ipsResult(req: CniRequest, addresses: readonly string[], interfaceIndex?: number): Array<Record<string, unknown>> {
  const legacy = req.config.cniVersion.startsWith('0.');
  return addresses.map((address) => ({
    ...(legacy ? { version: address.includes(':') ? '6' : '4' } : {}),
    address,
    ...(interfaceIndex !== undefined ? { interface: interfaceIndex } : {}),
    gateway: address.includes(':') ? GATEWAY_V6 : GATEWAY_V4,
  }));
}

function defaultRoutes(addresses: readonly string[]): Array<Record<string, string>> {
  const routes: Array<Record<string, string>> = [];
  if (addresses.some((a) => !a.includes(':'))) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
  if (addresses.some((a) => a.includes(':'))) routes.push({ dst: '::/0', gw: GATEWAY_V6 });
  return routes;
}

function addResult(req: CniRequest, hostIfname: string, containerMac: string, addresses: readonly string[]): CniResult {
  return {
    cniVersion: req.config.cniVersion,
    interfaces: [
      { name: hostIfname, mac: HOST_SIDE_MAC },
      { name: req.ifname, mac: containerMac, sandbox: req.netns },
    ],
    ips: ipsResult(req, addresses, 1),
    routes: defaultRoutes(addresses),
    dns: {},
  };
}

/**
 * An ADD for an attachment that is already there (same container id and interface, the
 * addresses its handle holds): CNI 1.0/1.1 let the plugin answer with its result or an error,
 * and it must not damage it. When the interface, its addresses and the host side are as an
 * earlier ADD made them, this is the result (the agent re-confirms the route; nothing is
 * re-created); otherwise an error, and the running attachment is left as it is.
 */
async function existingAttachment(req: CniRequest, deps: PluginDeps, id: PodIdentity, hostIfname: string,
  addresses: readonly string[], cause: InterfaceExistsError): Promise<CniResult> {
  try {
    checkWorkloadInterface(deps, { netns: req.netns, ifname: req.ifname, hostIfname, addresses });
  } catch (err) {
    throw new CniError(cause.code, `${cause.message}; it does not match the addresses container ${req.containerId} holds (${addresses.join(', ')}): ${err instanceof Error ? err.message : String(err)}`);
  }
  expectOk(await deps.agent.call({ type: 'endpoint-up', ...id, hostIfname, addresses }), 'ok');
  return addResult(req, hostIfname, containerInterfaceMac(deps, req.netns, req.ifname) ?? '', addresses);
}

async function add(req: CniRequest, deps: PluginDeps): Promise<CniResult> {
  const id = identity(req);
  // An agent starting or restarting is waited for (agent_wait_ms), then code 11: try again later.
  const wait = { waitMs: req.config.agentWaitMs };
  const ips = requestedIps(req.args);
  const assigned = expectOk(await deps.agent.call({ type: 'assign', ...id, ...req.config.ipam, ...(ips === undefined ? {} : { ips }) }, wait), 'assigned');
  if (assigned.addresses.length === 0) throw new CniError(CniErrorCode.IPAM_FAILED, 'tortie-node assigned no address');
  if (deps.role === 'ipam') {
    return { cniVersion: req.config.cniVersion, ips: ipsResult(req, assigned.addresses), routes: defaultRoutes(assigned.addresses) };
  }
  const hostIfname = hostInterfaceName(id);
  const containerMac = randomMac();
  try {
    createWorkloadInterface(deps, {
      netns: req.netns, ifname: req.ifname, hostIfname, mtu: resolveMtu(req, deps, assigned.mtu),
      addresses: assigned.addresses, containerMac,
    });
  } catch (err) {
    if (err instanceof InterfaceExistsError) {
      // Nothing was created. Addresses the handle held before belong to the running attachment:
      // they stay; addresses given for this ADD alone go back.
      if (assigned.existing === true) return existingAttachment(req, deps, id, hostIfname, assigned.addresses, err);
      try { await deps.agent.call({ type: 'release', ...id }); } catch { /* the agent's GC finds it */ }
      throw err;
    }
    await rollBack(deps, id, hostIfname);
    throw err;
  }
  try {
    expectOk(await deps.agent.call({ type: 'endpoint-up', ...id, hostIfname, addresses: assigned.addresses }, wait), 'ok');
  } catch (err) {
    await rollBack(deps, id, hostIfname);
    throw err;
  }
  return addResult(req, hostIfname, containerMac, assigned.addresses);
}

/** A failed ADD leaves nothing behind: no interface, no allocation. */
async function rollBack(deps: PluginDeps, id: PodIdentity, hostIfname: string): Promise<void> {
  try { deleteWorkloadInterface(deps, hostIfname); } catch { /* the error that made us roll back is reported */ }
  try { await deps.agent.call({ type: 'release', ...id }); } catch { /* the agent's GC finds it */ }
}

/**
 * DEL: the interface goes first (no agent needed), then the addresses. With the agent down, they
 * are released straight in the datastore when the configuration names it (as Calico's plugin
 * does); otherwise code 11 and the runtime retries the DEL.
 */
async function del(req: CniRequest, deps: PluginDeps): Promise<CniResult | undefined> {
  const id = identity(req);
  if (deps.role === 'main') deleteWorkloadInterface(deps, hostInterfaceName(id));
  let res;
  try {
    res = await deps.agent.call({ type: 'release', ...id });
  } catch (err) {
    if (!(err instanceof AgentUnavailableError) || deps.releaseInDatastore === undefined) throw err;
    try {
      await deps.releaseInDatastore(req.containerId);
    } catch (e) {
      throw new CniError(CniErrorCode.TRY_AGAIN_LATER, `tortie-node is down and releasing ${req.containerId} in etcd failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    return undefined;
  }
  if (res.type === 'error') expectOk(res, 'ok');
  return undefined;
}

function prevAddresses(req: CniRequest): string[] {
  const prev = req.config.prevResult;
  if (prev === null || typeof prev !== 'object') {
    throw new CniError(CniErrorCode.INVALID_CONFIG, 'CHECK needs prevResult in the network configuration');
  }
  const ips = (prev as Record<string, unknown>)['ips'];
  if (!Array.isArray(ips)) throw new CniError(CniErrorCode.INVALID_CONFIG, 'prevResult.ips is missing');
  return ips.map((ip: unknown) => String((ip as Record<string, unknown>)['address']));
}

async function check(req: CniRequest, deps: PluginDeps): Promise<undefined> {
  const id = identity(req);
  const addresses = prevAddresses(req);
  const hostIfname = hostInterfaceName(id);
  if (deps.role === 'main') checkWorkloadInterface(deps, { netns: req.netns, ifname: req.ifname, hostIfname, addresses });
  const res = await deps.agent.call({ type: 'check', ...id, hostIfname, addresses });
  if (res.type === 'error') throw new CniError(CniErrorCode.CHECK_FAILED, `tortie-node: ${res.message}`, res.code);
  return undefined;
}

/** Run one command; returns the JSON to print on stdout (undefined = print nothing). */
export async function handle(req: CniRequest, deps: PluginDeps): Promise<CniResult | undefined> {
  switch (req.command) {
    case 'VERSION':
      return { cniVersion: req.config.cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
    case 'ADD':
      return add(req, deps);
    case 'DEL':
      return del(req, deps);
    case 'CHECK':
      return check(req, deps);
    case 'GC': {
      const res = await deps.agent.call({ type: 'gc', valid: req.config.validAttachments ?? [] });
      if (res.type === 'error') expectOk(res, 'ok');
      return undefined;
    }
    case 'STATUS': {
      // CNI 1.1: code 50 when the plugin cannot serve ADDs (the agent not running among them).
      const res = await deps.agent.call({ type: 'status' }).catch((err: unknown) => {
        throw err instanceof AgentUnavailableError ? new CniError(CniErrorCode.PLUGIN_NOT_AVAILABLE, err.message, err.details) : err;
      });
      if (res.type === 'error') throw new CniError(CniErrorCode.PLUGIN_NOT_AVAILABLE, `tortie-node: ${res.message}`, res.code);
      return undefined;
    }
  }
}
