/**
 * `node status`: ask the local tortie-node over its control socket, print calicoctl's tables.
 * `node status --all`: every node's, as each tortie-node publishes it to the datastore
 * (agent/node/bgp-status-publisher.ts), from one place.
 */
import { connect } from 'node:net';
import { CtlError } from './ctl-error.js';
import { formatBoxTable } from './table.js';
import {
  DEFAULT_NODE_CTL_SOCKET, parseBfdStatusResponse, parseNodeStatusResponse,
  type BfdStatus, type NodeStatusRequest, type NodeStatusResponse, type PeerStatus,
} from './node-status-protocol.js';
import type { Io } from './resource-commands.js';
import type { KvStore } from '../datastore/kv-store.js';
import { STATUS_PREFIX } from '../datastore/key-layout.js';

export async function queryNodeStatus(socketPath: string, timeoutMs = 5000): Promise<NodeStatusResponse | 'not-running'> {
  const r = await queryNodeCtl(socketPath, 'bgp-status', timeoutMs);
  if (r === 'not-running') return r;
  const parsed = parseNodeStatusResponse(r);
  if (typeof parsed === 'string') throw new CtlError(`malformed answer from ${socketPath}: ${parsed}`);
  return parsed;
}

export async function queryBfdStatus(socketPath: string, timeoutMs = 5000): Promise<BfdStatus[]> {
  const r = await queryNodeCtl(socketPath, 'bfd-status', timeoutMs);
  if (r === 'not-running') return [];
  const parsed = parseBfdStatusResponse(r);
  if (typeof parsed === 'string') throw new CtlError(`malformed answer from ${socketPath}: ${parsed}`);
  return parsed;
}

/** One request on node.ctl: its JSON answer, or 'not-running' when nothing listens there. */
export function queryNodeCtl(socketPath: string, command: NodeStatusRequest['command'], timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new CtlError(`no answer from ${socketPath} within ${timeoutMs} ms`)); }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      const line = buf.split('\n')[0] ?? '';
      try { resolve(JSON.parse(line)); } catch { reject(new CtlError(`malformed answer from ${socketPath}: ${JSON.stringify(line.slice(0, 100))}`)); }
    };
    sock.on('connect', () => sock.write(`${JSON.stringify({ command })}\n`));
    sock.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) { sock.end(); } });
    sock.on('end', finish);
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve('not-running');
      else if (err.code === 'EACCES') reject(new CtlError(`permission denied on ${socketPath}: run as root`));
      else reject(new CtlError(`cannot talk to ${socketPath}: ${err.message}`));
    });
  });
}

function peerTable(peers: readonly PeerStatus[]): string {
  return formatBoxTable(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'],
    peers.map((p) => [p.peerIP, p.type, p.state, p.since, p.info]));
}

export async function nodeStatus(io: Io, socketPath = process.env['TORTIE_NODE_CTL'] ?? DEFAULT_NODE_CTL_SOCKET): Promise<number> {
  const r = await queryNodeStatus(socketPath);
  if (r === 'not-running') { io.out('Calico process is not running.\n'); return 1; }
  if (!r.ok) throw new CtlError(`tortie-node answered with an error: ${r.error}`);
  if (!r.processRunning) { io.out('Calico process is running.\n\nThe BGP backend process (BIRD) is not running.\n'); return 1; }
  let out = `Calico process is running.\n${familyTables(r.peers)}`;
  // Tortie's addition (calicoctl has no BFD): only when the agent runs BFD sessions.
  const bfd = await queryBfdStatus(socketPath);
  if (bfd.length > 0) {
    out += '\nBFD sessions\n';
    out += formatBoxTable(['PEER ADDRESS', 'TYPE', 'STATE', 'REMOTE', 'TX MS', 'DETECT MS', 'DIAGNOSTIC'],
      bfd.map((b) => [b.peerIP, b.multihop ? 'multihop' : 'single-hop', b.state, b.remoteState, String(b.txIntervalMs), String(b.detectTimeMs), b.diag]));
  }
  io.out(out);
  return 0;
}

function familyTables(all: readonly PeerStatus[]): string {
  let out = '';
  for (const family of [4, 6] as const) {
    const peers = all.filter((p) => p.family === family);
    out += `\nIPv${family} BGP status\n`;
    out += peers.length === 0 ? `No IPv${family} peers found.\n` : peerTable(peers);
  }
  return out;
}

/** Every node's published status (key /tortie/status/v1/<node>/bgp), by node name. */
export async function nodeStatusAll(io: Io, store: KvStore, wallNow = Date.now()): Promise<number> {
  const { entries } = await store.list(STATUS_PREFIX);
  const nodes: Array<{ node: string; updated: number; status: NodeStatusResponse }> = [];
  for (const e of entries) {
    if (!e.key.endsWith('/bgp')) continue;
    const name = e.key.slice(STATUS_PREFIX.length, -'/bgp'.length);
    let v: Record<string, unknown>;
    try { v = JSON.parse(e.value) as Record<string, unknown>; } catch { io.err(`node ${name}: malformed status in ${e.key} (not JSON); skipped\n`); continue; }
    const st = parseNodeStatusResponse(v?.['status']);
    if (typeof st === 'string' || typeof v['updated'] !== 'number') { io.err(`node ${name}: malformed status in ${e.key} (${typeof st === 'string' ? st : 'no "updated"'}); skipped\n`); continue; }
    nodes.push({ node: name, updated: v['updated'], status: st });
  }
  if (nodes.length === 0) { io.out('No node has published its BGP status (each tortie-node does, every few seconds, while it runs).\n'); return 1; }
  let out = '';
  for (const n of nodes.sort((a, b) => a.node.localeCompare(b.node))) {
    const age = Math.max(0, Math.round((wallNow - n.updated) / 1000));
    out += `${out === '' ? '' : '\n'}Node ${n.node} (status from ${age} s ago)\n`;
    const r = n.status;
    if (!r.ok) out += `tortie-node reported an error: ${r.error}\n`;
    else if (!r.processRunning) out += 'The BGP backend process is not running.\n';
    else out += familyTables(r.peers);
  }
  io.out(out);
  return 0;
}
