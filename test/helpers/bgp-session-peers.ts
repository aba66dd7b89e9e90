/**
 * Two of our own BGP sessions over loopback for session tests: A on 127.0.0.1 and B on
 * 127.0.0.2 (both on `lo`), each with a listener on an ephemeral port, plus a scripted raw peer
 * (a bare TCP socket speaking through bgp/wire) for cases our own session would never produce.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { systemClock } from '../../common/clock.js';
import { silentLogger, createLogger, type Logger } from '../../common/logger.js';
import { BgpListener } from '../../bgp/session/listener.js';
import type { PeerConfig } from '../../bgp/speaker/peer-config.js';
import { BgpSpeaker, type SpeakerDeps } from '../../bgp/speaker/speaker.js';
import { BgpSession, type SessionConfig } from '../../bgp/session/session.js';
import { wireCodec } from '../../bgp/session/wire-codec-default.js';
import { MessageFramer } from '../../bgp/wire/framer.js';
import { decodeMessage, encodeMessage } from '../../bgp/wire/message.js';
import { INITIAL_CONTEXT, type BgpMessage, type CodecContext } from '../../bgp/wire/types.js';

export function testLogger(name: string): Logger {
  return process.env['TORTIE_TEST_LOG'] ? createLogger(name, 'debug') : silentLogger();
}

export type SideConfig = Partial<Omit<SessionConfig, 'peerAddress' | 'peerPort' | 'localAddress'>>;

export interface Side {
  readonly session: BgpSession;
  readonly listener: BgpListener;
  readonly address: string;
}

export interface Pair {
  readonly a: Side;
  readonly b: Side;
  close(): Promise<void>;
}

/** A (AS 65001, router id 1.1.1.1 by default) and B (AS 65002, 2.2.2.2), not started. */
export async function sessionPair(aCfg: SideConfig = {}, bCfg: SideConfig = {}): Promise<Pair> {
  const la = new BgpListener({ host: '127.0.0.1', port: 0 }, { logger: testLogger('A') });
  const lb = new BgpListener({ host: '127.0.0.2', port: 0 }, { logger: testLogger('B') });
  await la.listen();
  await lb.listen();
  const a = new BgpSession({
    name: 'A->B', localAs: 65001, peerAs: 65002, routerId: '1.1.1.1', connectRetryTime: 1,
    idleHold: { minMs: 200, maxMs: 1000, stableMs: 5000 }, ...aCfg,
    peerAddress: '127.0.0.2', peerPort: lb.port, localAddress: '127.0.0.1',
  }, { clock: systemClock, logger: testLogger('A'), codec: wireCodec });
  const b = new BgpSession({
    name: 'B->A', localAs: 65002, peerAs: 65001, routerId: '2.2.2.2', connectRetryTime: 1,
    idleHold: { minMs: 200, maxMs: 1000, stableMs: 5000 }, ...bCfg,
    peerAddress: '127.0.0.1', peerPort: la.port, localAddress: '127.0.0.2',
  }, { clock: systemClock, logger: testLogger('B'), codec: wireCodec });
  la.addSession(a);
  lb.addSession(b);
  return {
    a: { session: a, listener: la, address: '127.0.0.1' },
    b: { session: b, listener: lb, address: '127.0.0.2' },
    async close() {
      a.destroy(); b.destroy();
      await Promise.all([la.close(), lb.close()]);
    },
  };
}

/**
 * A scripted peer: a raw TCP socket that sends what the test tells it and records every decoded
 * message it receives. It sends nothing on its own (no keepalives), which makes hold timers expire.
 */
export class RawPeer {
  readonly received: BgpMessage[] = [];
  ctx: CodecContext = INITIAL_CONTEXT;
  closed = false;
  private readonly framer = new MessageFramer(() => this.ctx);
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.framer.push(d);
      for (let m = this.framer.next(); m !== undefined; m = this.framer.next()) this.received.push(decodeMessage(m, this.ctx).message);
    });
    socket.on('error', () => { /* recorded as closed */ });
    socket.on('close', () => { this.closed = true; });
  }

  /** Connect to `host:port` from `localAddress`. */
  static connect(host: string, port: number, localAddress: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, localAddress });
      s.once('error', reject);
      s.once('connect', () => resolve(new RawPeer(s)));
    });
  }

  /** Listen on `host` (ephemeral port); resolves with the server and a promise of the first peer. */
  static async listen(host: string): Promise<{ server: Server; port: number; peer: Promise<RawPeer> }> {
    const server = createServer();
    let resolvePeer: (p: RawPeer) => void = () => undefined;
    const peer = new Promise<RawPeer>((r) => { resolvePeer = r; });
    server.on('connection', (s) => resolvePeer(new RawPeer(s)));
    await new Promise<void>((r) => server.listen({ host, port: 0 }, () => r()));
    const addr = server.address();
    return { server, port: typeof addr === 'object' && addr !== null ? addr.port : 0, peer };
  }

  send(m: BgpMessage): void {
    this.socket.write(encodeMessage(m, this.ctx));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- a BgpSpeaker over loopback

/** SpeakerDeps over real TCP, connecting and listening as tortie-bgpd does. */
export function tcpSpeakerDeps(): SpeakerDeps {
  return {
    clock: systemClock, logger: testLogger('speaker'),
    connect: (o) => connect({ host: o.host, port: o.port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) }),
    listen: (o, onConn) => new Promise<Server>((resolve, reject) => {
      const s = createServer(onConn);
      s.once('error', reject);
      s.listen({ host: o.address, port: o.port }, () => resolve(s));
    }),
  };
}

/** A BgpSpeaker over loopback (AS 65000, router id 10.0.0.1) on 127.0.0.1:`port`, started; `status(name)`: one peer's status. */
export async function startLoopbackSpeaker(port: number, peers: PeerConfig[]): Promise<{ speaker: BgpSpeaker; status: (name: string) => ReturnType<BgpSpeaker['status']>[number] | undefined }> {
  const speaker = new BgpSpeaker(tcpSpeakerDeps(), { routerId: '10.0.0.1', asn: 65000, listen: { address: '127.0.0.1', port }, peers });
  await speaker.start();
  return { speaker, status: (name) => speaker.status().find((x) => x.name === name) };
}

/** A passive IPv4-unicast peer of the speaker under test (a RawPeer connects from `address`). */
export function passivePeerConfig(name: string, address: string, asn: number, over: Partial<PeerConfig> = {}): PeerConfig {
  return {
    name, address, asn, port: 179, passive: true, holdTime: 90, keepalive: 30, connectRetry: 1,
    families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false, ...over,
  };
}

/**
 * A RawPeer connected from `address` to the speaker on 127.0.0.1:`port`, its OPEN (4-octet AS,
 * IPv4 unicast, route refresh) and KEEPALIVE sent; it decodes as an iBGP peer when `ibgp`, and
 * with IPv4 path ids when `addPathReceive` (it offers to receive them: configure the speaker's
 * peer with `addPaths: { send: true }`).
 */
export async function openRawPeer(port: number, address: string, asn: number, bgpId: number, opts: { holdTime?: number; ibgp?: boolean; addPathReceive?: boolean } = {}): Promise<RawPeer> {
  const r = await RawPeer.connect('127.0.0.1', port, address);
  r.send({ type: 'open', version: 4, myAs: asn, holdTime: opts.holdTime ?? 0, bgpId,
    capabilities: [{ type: 'four-octet-as', asn }, { type: 'multiprotocol', afi: 1, safi: 1 }, { type: 'route-refresh' },
      ...(opts.addPathReceive === true ? [{ type: 'add-path' as const, families: [{ afi: 1, safi: 1, mode: 1 as const }] }] : [])] });
  r.send({ type: 'keepalive' });
  r.ctx = { ...INITIAL_CONTEXT, fourOctetAs: true, ibgp: opts.ibgp ?? false, // LOCAL_PREF is kept only on iBGP (RFC 7606)
    ...(opts.addPathReceive === true ? { addPathReceive: new Set(['1/1']) } : {}) };
  return r;
}
