/**
 * A BgpSpeaker in the bench's own process with raw loopback peers (bench/bgp/speaker-micro.ts,
 * bench/ctl/ctl-bench.ts): the peers write pre-encoded UPDATEs straight to their sockets and
 * count what comes back, so the speaker's cost is measured without a second BGP implementation.
 *
 *   openRawPeer(...) ──TCP 127.0.0.1:port──▶ BgpSpeaker (speakerTcpDeps) ──▶ openRawPeer(monitor)
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { systemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/logger.js';
import type { SpeakerDeps } from '../../bgp/speaker/speaker.js';
import type { PeerConfig } from '../../bgp/speaker/peer-config.js';
import { MessageFramer } from '../../bgp/wire/framer.js';
import { encodeMessage } from '../../bgp/wire/message.js';
import { INITIAL_CONTEXT, type CodecContext } from '../../bgp/wire/types.js';

/** The codec context of a raw peer's session: 4-octet AS, and ADD-PATH both ways for IPv4 unicast when asked. */
export function rawPeerContext(addPaths: boolean): CodecContext {
  return { ...INITIAL_CONTEXT, fourOctetAs: true, ...(addPaths ? { addPathSend: new Set(['1/1']), addPathReceive: new Set(['1/1']) } : {}) };
}

/** SpeakerDeps over real TCP (as tortie-bgpd wires them), logging nothing. */
export function speakerTcpDeps(): SpeakerDeps {
  return {
    clock: systemClock, logger: silentLogger(),
    connect: (o) => connect({ host: o.host, port: o.port }),
    listen: (o, onConn) => new Promise<Server>((res, rej) => { const s = createServer(onConn); s.once('error', rej); s.listen({ host: o.address, port: o.port }, () => res(s)); }),
  };
}

/** A passive IPv4-unicast peer of the speaker for a raw peer connecting from `address` (hold time 240 s). */
export function rawPeerConfig(name: string, address: string, asn: number, addPaths = false): PeerConfig {
  return { name, address, asn, port: 179, passive: true, holdTime: 240, keepalive: 80, connectRetry: 5, families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false,
    ...(addPaths ? { addPaths: { send: true, receive: true } } : {}) };
}

export interface RawPeerOptions {
  /** Offer ADD-PATH (send and receive, IPv4 unicast); the messages are then framed with path ids. */
  readonly addPaths?: boolean;
  /** Send a KEEPALIVE this often (ms): for runs longer than the hold time. */
  readonly keepaliveMs?: number;
  /** Every whole message received (header included). */
  readonly onMessage?: (m: Uint8Array) => void;
}

/**
 * Connect from `address` to the speaker on 127.0.0.1:`port` and send OPEN (4-octet AS, IPv4
 * unicast, ADD-PATH when asked) and KEEPALIVE; resolves with the socket once connected.
 */
export function openRawPeer(port: number, address: string, asn: number, bgpId: number, opts: RawPeerOptions = {}): Promise<Socket> {
  const addPaths = opts.addPaths ?? false;
  const ctx = rawPeerContext(addPaths);
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: address });
    const f = new MessageFramer(() => ctx);
    s.on('data', (d: Buffer) => { f.push(d); for (let m = f.next(); m !== undefined; m = f.next()) opts.onMessage?.(m); });
    s.once('error', reject);
    s.once('connect', () => {
      s.write(encodeMessage({ type: 'open', version: 4, myAs: asn, holdTime: 240, bgpId, capabilities: [{ type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 },
        ...(addPaths ? [{ type: 'add-path' as const, families: [{ afi: 1, safi: 1, mode: 3 as const }] }] : [])] }, INITIAL_CONTEXT));
      s.write(encodeMessage({ type: 'keepalive' }, ctx));
      if (opts.keepaliveMs !== undefined) {
        const ka = setInterval(() => { if (!s.destroyed) s.write(encodeMessage({ type: 'keepalive' }, ctx)); }, opts.keepaliveMs);
        s.once('close', () => clearInterval(ka));
      }
      resolve(s);
    });
  });
}
