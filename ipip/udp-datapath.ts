/**
 * The UDP backend's data path, run as a worker thread (udp-tunnel.ts starts it) so that no packet
 * waits behind the agent's event loop, and no BGP keepalive or BFD packet waits behind packets.
 *
 *   pod ─► kernel route <block> dev tortie-udp ─► TUN ─► readTun batch ─► TTL−1, owner lookup
 *       ─► UDP <node IP>:8285 ─► peer's worker ─► source check, TTL−1 ─► its TUN ─► its pod
 *
 * Each datagram carries one inner IP packet and nothing else (Flannel's backend/udp wire format).
 * A packet to no known block gets an ICMP net-unreachable back into the TUN; a datagram from an
 * address that is not a node, or that is not a whole IP packet, is dropped; every drop is counted.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeSync, closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { formatAddress, parseAddress } from '../common/prefix.js';
import { loadNative } from '../common/native/native.js';
import { checkInner, decrementTtl, netUnreachable, RemoteTable, type UdpRemote } from './udp-packet.js';

export interface DatapathInit {
  readonly device: string;
  readonly port: number;
  /** The node's underlay address: datagrams go out from it, and ICMP errors come from it. */
  readonly localAddress: string;
  /** Largest number of datagrams waiting in the socket's send queue before new packets are dropped. */
  readonly maxSendQueue?: number;
}

export interface DatapathStats {
  /** Inner packets read from the TUN and sent as datagrams. */
  txPackets: number;
  txBytes: number;
  /** Datagrams accepted and written into the TUN. */
  rxPackets: number;
  rxBytes: number;
  dropNoRoute: number;
  dropUnknownSource: number;
  dropMalformed: number;
  dropTtl: number;
  dropSendQueue: number;
  tunWriteErrors: number;
  sendErrors: number;
}

export type ToDatapath =
  | { readonly type: 'remotes'; readonly remotes: readonly UdpRemote[]; readonly peers: readonly string[] }
  | { readonly type: 'stop' };

export type FromDatapath =
  | { readonly type: 'ready'; readonly device: string }
  | { readonly type: 'stats'; readonly stats: DatapathStats }
  | { readonly type: 'fatal'; readonly message: string };

export function emptyStats(): DatapathStats {
  return { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, dropNoRoute: 0, dropUnknownSource: 0, dropMalformed: 0,
    dropTtl: 0, dropSendQueue: 0, tunWriteErrors: 0, sendErrors: 0 };
}

function run(init: DatapathInit): void {
  const port = parentPort;
  if (port === null) throw new Error('udp-datapath runs as a worker thread');
  const post = (m: FromDatapath): void => { port.postMessage(m); };
  const stats = emptyStats();
  const table = new RemoteTable();
  let peers = new Set<string>();
  const local = parseAddress(init.localAddress);
  const maxQueue = init.maxSendQueue ?? 4096;
  const native = loadNative();
  let fd: number;
  try { fd = native.openTun(init.device).fd; } catch (err) {
    post({ type: 'fatal', message: `cannot open TUN ${init.device}: ${err instanceof Error ? err.message : String(err)}` });
    return;
  }
  // Bursts of a TCP window arrive faster than one thread writes them into the TUN: larger socket
  // buffers absorb them instead of dropping (the kernel caps them at net.core.[rw]mem_max).
  const sock: Socket = createSocket({ type: local.family === 4 ? 'udp4' : 'udp6', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });

  const toTun = (pkt: Uint8Array): boolean => {
    try { writeSync(fd, pkt); return true; } catch { stats.tunWriteErrors++; return false; }
  };

  const closeReader = native.readTun(fd, (err, packets) => {
    if (err !== null) { post({ type: 'fatal', message: `reading ${init.device}: ${err.message}` }); return; }
    for (const pkt of packets) fromTun(pkt);
  });

  /** One packet the kernel routed into the device: to its owner node, or an ICMP error back. */
  function fromTun(pkt: Buffer): void {
    const c = checkInner(pkt);
    if (!c.ok) { stats.dropMalformed++; return; }
    if (!decrementTtl(pkt, c.family)) { stats.dropTtl++; return; }
    const node = table.lookup(pkt, c.family);
    if (node === undefined) {
      stats.dropNoRoute++;
      if (c.family === local.family) {
        const icmp = netUnreachable(pkt, c.family, local.bytes);
        if (icmp !== undefined) toTun(icmp);
      }
      return;
    }
    if (sock.getSendQueueCount() >= maxQueue) { stats.dropSendQueue++; return; }
    stats.txPackets++;
    stats.txBytes += pkt.length;
    sock.send(pkt, init.port, node, (e) => { if (e !== null && e !== undefined) stats.sendErrors++; });
  }

  sock.on('message', (msg, rinfo) => {
    if (!peers.has(rinfo.address)) { stats.dropUnknownSource++; return; }
    const c = checkInner(msg);
    if (!c.ok) { stats.dropMalformed++; return; }
    if (!decrementTtl(msg, c.family)) { stats.dropTtl++; return; }
    if (toTun(msg)) { stats.rxPackets++; stats.rxBytes += msg.length; }
  });
  sock.on('error', (err) => { post({ type: 'fatal', message: `UDP ${init.localAddress}:${init.port}: ${err.message}` }); });
  sock.bind({ port: init.port, address: formatAddress(local), exclusive: true }, () => { post({ type: 'ready', device: init.device }); });

  const timer = setInterval(() => { post({ type: 'stats', stats: { ...stats } }); }, 1000);
  port.on('message', (m: ToDatapath) => {
    switch (m.type) {
      case 'remotes':
        try { table.set(m.remotes); } catch (err) { post({ type: 'fatal', message: `bad remote table: ${err instanceof Error ? err.message : String(err)}` }); }
        peers = new Set(m.peers.map((p) => formatAddress(parseAddress(p))));
        break;
      case 'stop':
        clearInterval(timer);
        closeReader();
        sock.close();
        try { closeSync(fd); } catch { /* already closed */ }
        post({ type: 'stats', stats: { ...stats } });
        port.close();
        break;
    }
  });
}

if (parentPort !== null && (workerData as { udpDatapath?: DatapathInit } | undefined)?.udpDatapath !== undefined) {
  run((workerData as { udpDatapath: DatapathInit }).udpDatapath);
}
