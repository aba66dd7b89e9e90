/**
 * JIT warm-up for tortie-bgpd: before the daemon's own sessions start, a private BgpSpeaker
 * passes a synthetic table from one loopback peer to another (announce, then withdraw, twice),
 * through the same code as real traffic: sockets, framer, decoder, Adj-RIB-In, Loc-RIB, update
 * group, encoder. V8 then runs that code optimised when the first real table arrives.
 *
 * Why: a table a peer sends right after the daemon (re)starts otherwise runs mostly in V8's
 * interpreter and baseline tier. The gain is measured by `node dist/bench/bgp/speaker-micro.js 1
 * 100000` against the same with MICRO_WARMUP=1 (this warm-up first); figures in bench/bgp/RESULTS.md.
 * Cost: a fraction of a second of CPU once at start (warmUpCpuMs, and the daemon logs it), before any
 * session is attempted. The private speaker, its sockets and its RIB are gone when warmUp()
 * returns, but the process keeps the memory it grew into: an idle daemon is ~80 MB RSS after
 * it, ~60 MB with --no-warmup (bench/bgp/run.js notes, idleTortieRssMB).
 * Failure (loopback down, a port refused: checked first, so it costs milliseconds) is logged and
 * ignored: the daemon starts cold. Rounds alternate between two testers, one without and one
 * with ADD-PATH (RFC 7911: path ids, the Adj-RIB-In's per-path routes), and every round reaches
 * both sinks, one without (update group) and one with ADD-PATH (add-path group): tortie-node
 * negotiates ADD-PATH wherever the peer agrees, tortie-bgpd where configured.
 *
 *   tester 127.0.0.2 ─┐                         ┌─▶ sink 127.0.0.3 (counts prefixes)
 *   tester 127.0.0.4 ─┴─UPDATEs─▶ private speaker ─┴─▶ sink 127.0.0.5 (ADD-PATH)
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { systemClock } from '../../common/clock.js';
import { describeError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { intToIpv4, type Prefix } from '../../common/prefix.js';
import { MessageFramer } from '../wire/framer.js';
import { encodeMessage } from '../wire/message.js';
import { encodeUpdates, encodeWithdraws } from '../wire/update-encoder.js';
import { INITIAL_CONTEXT, MessageType, type CodecContext, type PathAttributes } from '../wire/types.js';
import type { PeerConfig, SpeakerConfig } from './peer-config.js';
import { BgpSpeaker, type SpeakerDeps } from './speaker.js';

export interface WarmUpOptions {
  /** Prefixes per round (default 20000: past that, the measured gain flattens). */
  readonly routes?: number;
  readonly rounds?: number;
  /** Give up after this long (default 10 s); the daemon then starts cold. */
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

export interface WarmUpResult {
  readonly ok: boolean;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly routes: number;
  readonly error?: string;
}

const CTX: CodecContext = { ...INITIAL_CONTEXT, fourOctetAs: true };
const CTX_AP: CodecContext = { ...CTX, addPathSend: new Set(['1/1']), addPathReceive: new Set(['1/1']) };
/**
 * Private-use ASNs (RFC 6996), never seen outside this process. 2-octet ones: values V8 keeps as
 * small integers, like most real AS numbers and router IDs here, so the compiled code and the
 * object shapes it specialised on are those of real traffic (4-octet ones above 2^31 are heap
 * numbers in V8, and AS_PATH arrays of them are double arrays).
 */
const SPEAKER_AS = 65534;
const TESTER = { address: '127.0.0.2', asn: 65533, id: 0x0a7f0002 };
const SINK = { address: '127.0.0.3', asn: 65532, id: 0x0a7f0003 };
// The same AS as TESTER: the table's AS_PATHs start with it, as enforce-first-AS (on for eBGP) wants.
const TESTER_AP = { address: '127.0.0.4', asn: TESTER.asn, id: 0x0a7f0004, addPath: true };
const SINK_AP = { address: '127.0.0.5', asn: 65530, id: 0x0a7f0005, addPath: true };
/** Distinct prefixes table() can make: 16384 /26s in 172.16.0.0/12 for half of them. */
const MAX_ROUTES = 32_768;
/** A loopback connect answers in microseconds; this only bounds the wait for one that never will. */
const PROBE_MS = 500;

/** Run the warm-up; never throws. */
export async function warmUp(opts: WarmUpOptions): Promise<WarmUpResult> {
  const routes = Math.min(opts.routes ?? 20_000, MAX_ROUTES);
  const rounds = opts.rounds ?? 2;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const done = (error?: string): WarmUpResult => {
    const c = process.cpuUsage(cpu0);
    const r: WarmUpResult = { ok: error === undefined, wallMs: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000), routes: routes * rounds, ...(error !== undefined ? { error } : {}) };
    if (error === undefined) opts.logger.info(r, 'JIT warm-up done');
    else opts.logger.warn(r, 'JIT warm-up skipped: starting cold');
    return r;
  };
  const rig = new Rig(routes);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not finished within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    });
    await Promise.race([rig.run(rounds), timeout]);
    return done();
  } catch (err) {
    return done(describeError(err));
  } finally {
    clearTimeout(timer);
    await rig.close();
  }
}

/** One loopback peer of the warm-up: answers OPEN, counts the IPv4 prefixes it is sent. */
class FakePeer {
  held = 0;
  private closed = false;
  private socket: Socket | undefined;
  private server: Server | undefined;
  private waiters: Array<{ want: number; resolve: () => void }> = [];
  private onEstablished: (() => void) | undefined;
  private readonly established = new Promise<void>((r) => { this.onEstablished = r; });

  private readonly ctx: CodecContext;

  constructor(private readonly me: { address: string; asn: number; id: number; addPath?: boolean }) {
    this.ctx = me.addPath === true ? CTX_AP : CTX;
  }

  /** Listen on an ephemeral port of `me.address`; the speaker connects to it. */
  async listen(): Promise<number> {
    const srv = createServer((s) => this.accept(s));
    this.server = srv;
    await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen({ host: this.me.address, port: 0 }, () => resolve()); });
    if (this.closed) { srv.close(); throw new Error('warm-up stopped'); } // close() ran while binding
    const a = srv.address();
    if (!a || typeof a !== 'object') throw new Error('no port');
    return a.port;
  }

  private accept(s: Socket): void {
    if (this.socket) { s.destroy(); return; }
    this.socket = s;
    s.on('error', () => { /* the rig's deadline reports a dead session */ });
    const f = new MessageFramer(() => this.ctx);
    s.on('data', (d: Buffer) => {
      try {
        f.push(d);
        for (let m = f.next(); m !== undefined; m = f.next()) this.onMessage(m);
      } catch { s.destroy(); }
    });
    s.write(encodeMessage({ type: 'open', version: 4, myAs: this.me.asn, holdTime: 240, bgpId: this.me.id, capabilities: [
      { type: 'four-octet-as', asn: this.me.asn }, { type: 'multiprotocol', afi: 1, safi: 1 },
      ...(this.me.addPath === true ? [{ type: 'add-path' as const, families: [{ afi: 1, safi: 1, mode: 3 as const }] }] : []),
    ] }, INITIAL_CONTEXT));
  }

  private onMessage(m: Uint8Array): void {
    const type = m[18];
    if (type === MessageType.OPEN) { this.socket?.write(encodeMessage({ type: 'keepalive' }, CTX)); return; }
    if (type === MessageType.KEEPALIVE) { this.onEstablished?.(); return; }
    if (type !== MessageType.UPDATE) return;
    this.held += this.me.addPath === true ? countIpv4AddPath(m) : countIpv4(m);
    this.waiters = this.waiters.filter((w) => { if (w.want !== this.held) return true; w.resolve(); return false; });
  }

  whenEstablished(): Promise<void> { return this.established; }

  /** Resolves once the peer holds exactly `want` prefixes. */
  until(want: number): Promise<void> {
    if (this.held === want) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ want, resolve }));
  }

  write(bytes: Uint8Array): void { this.socket?.write(bytes); }

  close(): void { this.closed = true; this.socket?.destroy(); this.server?.close(); }
}

/** Announced minus withdrawn prefixes of a classic IPv4 UPDATE (walks the length octets). */
export function countIpv4(m: Uint8Array): number {
  const wl = (m[19]! << 8) | m[20]!;
  let n = 0;
  for (let p = 21; p < 21 + wl;) { n--; p += 1 + ((m[p]! + 7) >>> 3); }
  const al = (m[21 + wl]! << 8) | m[22 + wl]!;
  for (let p = 23 + wl + al; p < m.length;) { n++; p += 1 + ((m[p]! + 7) >>> 3); }
  return n;
}

/** countIpv4 for a session with ADD-PATH: a 4-byte path id before each prefix. */
export function countIpv4AddPath(m: Uint8Array): number {
  const wl = (m[19]! << 8) | m[20]!;
  let n = 0;
  for (let p = 21; p < 21 + wl;) { n--; p += 5 + ((m[p + 4]! + 7) >>> 3); }
  const al = (m[21 + wl]! << 8) | m[22 + wl]!;
  for (let p = 23 + wl + al; p < m.length;) { n++; p += 5 + ((m[p + 4]! + 7) >>> 3); }
  return n;
}

/** Connect to a throw-away listener on `address`: rejects at once when loopback is down (ENETUNREACH). */
async function loopbackProbe(address: string): Promise<void> {
  const srv = createServer((s) => s.destroy());
  try {
    await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen({ host: address, port: 0 }, () => resolve()); });
    const a = srv.address();
    if (!a || typeof a !== 'object') throw new Error('no port');
    await new Promise<void>((resolve, reject) => {
      const c = connect({ host: address, port: a.port });
      // a loopback that was up and is down drops the SYN: no error, no answer
      const t = setTimeout(() => { c.destroy(); reject(new Error(`loopback ${address} unusable: no answer to a connect within ${PROBE_MS} ms`)); }, PROBE_MS);
      c.once('connect', () => { clearTimeout(t); c.destroy(); resolve(); });
      c.once('error', (err) => { clearTimeout(t); c.destroy(); reject(new Error(`loopback ${address} unusable: ${err.message}`)); });
    });
  } finally {
    srv.close();
  }
}

/** The private speaker and its two peers. */
class Rig {
  private readonly tester = new FakePeer(TESTER);
  private readonly sink = new FakePeer(SINK);
  private readonly testerAp = new FakePeer(TESTER_AP);
  private readonly sinkAp = new FakePeer(SINK_AP);
  private speaker: BgpSpeaker | undefined;
  private closing = false;

  constructor(private readonly routes: number) {}

  async run(rounds: number): Promise<void> {
    await loopbackProbe(TESTER.address); // fail now, not after the speaker's connect retries
    this.live();
    const [tPort, sPort, taPort, saPort] = await Promise.all([this.tester.listen(), this.sink.listen(), this.testerAp.listen(), this.sinkAp.listen()]);
    this.live();
    const peer = (name: string, p: { address: string; asn: number; addPath?: boolean }, port: number): PeerConfig => ({
      name, address: p.address, asn: p.asn, port, passive: false, holdTime: 240, keepalive: 80, connectRetry: 1,
      families: ['ipv4-unicast'], nextHopSelf: false, routeReflectorClient: false,
      ...(p.addPath === true ? { addPaths: { send: true, receive: true } } : {}),
    });
    const deps: SpeakerDeps = {
      clock: systemClock, logger: silentLogger(),
      connect: (o) => connect({ host: o.host, port: o.port }),
      listen: () => Promise.reject(new Error('the warm-up speaker does not listen')),
    };
    const config: Omit<SpeakerConfig, 'peers'> = { routerId: '10.127.0.1', asn: SPEAKER_AS, listen: { address: '127.0.0.1', port: 0 } };
    this.speaker = new BgpSpeaker(deps, { ...config, peers: [peer('tester', TESTER, tPort), peer('sink', SINK, sPort), peer('tester-ap', TESTER_AP, taPort), peer('sink-ap', SINK_AP, saPort)] });
    await this.speaker.start(); // close() during start stops it: this.speaker is already set
    this.live();
    await Promise.all([this.tester, this.sink, this.testerAp, this.sinkAp].map((p) => p.whenEstablished()));
    const plain = table(this.routes, CTX), ap = table(this.routes, CTX_AP);
    for (let r = 0; r < rounds; r++) {
      if (r === 1) await otherListener(deps, config);
      const [t, { announce, withdraw }] = r % 2 === 0 ? [this.tester, plain] : [this.testerAp, ap];
      t.write(announce);
      await Promise.all([this.sink.until(this.routes), this.sinkAp.until(this.routes)]);
      t.write(withdraw);
      await Promise.all([this.sink.until(0), this.sinkAp.until(0)]);
    }
  }

  /** run() goes on after an await only while close() has not been called (the deadline passed). */
  private live(): void {
    if (this.closing) throw new Error('warm-up stopped');
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const p of [this.tester, this.sink, this.testerAp, this.sinkAp]) p.close();
    await this.speaker?.stop().catch(() => undefined);
  }
}

/**
 * The Loc-RIB calls its change listener, a closure of the speaker's, once per UPDATE: code compiled
 * while only the warm-up's speaker ran calls that closure only and was thrown away at the daemon's
 * first table ("wrong call target" with --trace-deopt, inside AdjRibIn.update and withdrawV4, so
 * the rest of the table ran unoptimised). A second speaker (never started) originating and
 * withdrawing one prefix between the rounds shows that call site another speaker's closure before
 * the last round compiles it. Not before the first round: V8 allocates type feedback lazily, and
 * what a call site saw before it had any is not recorded.
 */
async function otherListener(deps: SpeakerDeps, config: Omit<SpeakerConfig, 'peers'>): Promise<void> {
  const other = new BgpSpeaker(deps, { ...config, peers: [] });
  other.originate('192.0.2.0/24');
  other.withdraw('192.0.2.0/24');
  await other.stop();
}

/**
 * The tester's UPDATEs, 1000 prefixes each, in address order within a message (as FRR and the
 * bench injector send a table): alternately /24s of 10.0.0.0/8 and /26s of 172.16.0.0/12, so
 * both halves of the address space (V8 holds addresses from 128.0.0.0 up as heap numbers, not
 * small integers) and more than one length go through the compiled code; under three attribute
 * sets (with and without MED and communities) so the decoder and the RIB see more than one shape.
 */
function table(routes: number, ctx: CodecContext): { announce: Uint8Array; withdraw: Uint8Array } {
  const sets: PathAttributes[] = [
    { origin: 0, asPath: [{ type: 2, asns: [TESTER.asn, 65001] }] },
    { origin: 0, asPath: [{ type: 2, asns: [TESTER.asn, 65002, 65003] }], med: 10 },
    { origin: 1, asPath: [{ type: 2, asns: [TESTER.asn] }], communities: [(65000 << 16) | 1] },
  ];
  const nh = Uint8Array.of(192, 0, 2, 2); // TEST-NET-1 (RFC 5737): loopback next hops are refused as martians
  const ann: Uint8Array[] = [], wd: Uint8Array[] = [];
  for (let k = 0; k < routes; k += 1000) {
    const chunk: Array<{ prefix: Prefix; pathId?: number }> = [];
    const high = (k / 1000) % 2 === 1;
    for (let j = k; j < Math.min(routes, k + 1000); j++) {
      const n = Math.floor(k / 2000) * 1000 + (j - k); // the n-th prefix of its half
      const a = high ? (0xac100000 + (n << 6)) >>> 0 : (0x0a000000 + (n << 8)) >>> 0;
      chunk.push({ prefix: { family: 4, bytes: intToIpv4(a), length: high ? 26 : 24 }, ...(ctx === CTX_AP ? { pathId: 1 + (j % 3) } : {}) });
    }
    ann.push(...encodeUpdates({ afi: 1, safi: 1 }, sets[(k / 1000) % sets.length]!, chunk, nh, ctx));
    wd.push(...encodeWithdraws({ afi: 1, safi: 1 }, chunk, ctx));
  }
  return { announce: Buffer.concat(ann), withdraw: Buffer.concat(wd) };
}
