/**
 * The sockets and timers around one BfdEngine, shared by the two places it runs: the worker
 * thread of tortie-bgpd (worker-main.ts) and the tortie-bfd process of tortie-node (sidecar.ts).
 * It takes ToEngine messages and emits FromEngine ones (engine-protocol.ts).
 *
 * Receive: one socket per family and port: 3784 single-hop (RFC 5881 §4), 4784 multihop
 * (RFC 5883 §5), bound to the wildcard address. Send: one socket per session bound to a source
 * port in 49152-65535 (RFC 5881 §4: unique per session) with TTL / hop limit 255 (§5).
 * Received TTL (RFC 5881 §5, GTSM): Node's dgram has no IP_RECVTTL, so instead of reading the
 * TTL of each datagram the single-hop receive socket carries a socket filter (the native helper's
 * setTtlFilter, the one BGP's GTSM uses) that drops, per single-hop peer address, anything that
 * arrives with a TTL / hop limit below 255: such a packet crossed a router. Without the native
 * helper the check is off, and the host says so once.
 *
 * `add` for a session that exists with the same addresses claims it as it is (changed timers go
 * through a Poll Sequence) and reports its state: a tortie-node that restarted takes its
 * sessions back from tortie-bfd without a flap.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { systemClock } from '../../common/clock.js';
import { describeError } from '../../common/errors.js';
import { loadNative } from '../../common/native/native.js';
import { BfdEngine, canonical, sameParams, type BfdSessionSpec } from './engine.js';
import { diagText } from './packet.js';
import type { EngineOptions, FromEngine, ToEngine } from './engine-protocol.js';

export const BFD_SINGLE_HOP_PORT = 3784;
export const BFD_MULTIHOP_PORT = 4784;
const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_MAX = 65535;
const LOG_EVERY_MS = 10_000;
const RETRY_MS = 5000;

/**
 * The fd under a bound dgram socket. Node keeps its handle under the symbol "state symbol"
 * (lib/internal/dgram.js); `socket._handle` reaches the same but prints a DEP0112 warning
 * (plain text on stderr, in the middle of the JSON log).
 */
function dgramFd(s: Socket | undefined): number | undefined {
  if (s === undefined) return undefined;
  const o = s as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>;
  const sym = Object.getOwnPropertySymbols(s).find((x) => x.description === 'state symbol');
  const fd = sym === undefined ? undefined : o[sym]?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export interface EngineHost {
  handle(m: ToEngine): void;
  /** The sessions it runs. */
  ids(): string[];
}

export function createEngineHost(opts: EngineOptions, post: (m: FromEngine) => void): EngineHost {
  const singleHopPort = opts.singleHopPort ?? BFD_SINGLE_HOP_PORT;
  const multihopPort = opts.multihopPort ?? BFD_MULTIHOP_PORT;

  // Repeated complaints (a peer with no session here, a refused send) once per reason per interval.
  const lastLog = new Map<string, { at: number; suppressed: number }>();
  const log = (level: 'warn' | 'info' | 'debug', key: string, msg: string, fields: Record<string, unknown> = {}) => {
    const now = systemClock.now();
    const l = lastLog.get(key);
    if (l && now - l.at < LOG_EVERY_MS) { l.suppressed++; return; }
    lastLog.set(key, { at: now, suppressed: 0 });
    post({ type: 'log', level, msg, fields: { ...fields, ...(l?.suppressed ? { suppressed: l.suppressed } : {}) } });
  };

  /** A session's send socket; replaced after a failed bind (address not there yet) every RETRY_MS. */
  interface Tx { socket: Socket | undefined; retry: NodeJS.Timeout | undefined; closed: boolean }
  // A thread (or process) of its own is not enough when the CPUs are busy (the main thread busy with a table,
  // other processes): the kernel shares them fairly and a BFD packet can wait whole time slices.
  // A higher priority for this thread alone (setpriority on its TID; needs CAP_SYS_NICE, which
  // tortie-node and tortie-bgpd as root have) lets it run as soon as a timer or packet is due.
  const nice = opts.nice ?? -10;
  if (nice !== 0) {
    try {
      const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
      setPriority(tid, nice);
    } catch (err) {
      post({ type: 'log', level: 'info', msg: `BFD engine keeps its priority (cannot set nice ${nice}: ${describeError(err)})`, fields: {} });
    }
  }

  const txSockets = new Map<string, Tx>();
  const rxSockets = new Map<string, Socket>();
  const specs = new Map<string, BfdSessionSpec>();
  let ttlCheckOff = false;

  /** GTSM on a single-hop receive socket: its sessions' peers must arrive with TTL 255. */
  const applyTtlFilter = (v6: boolean): void => {
    const fd = dgramFd(rxSockets.get(`${v6 ? 6 : 4}/s`));
    if (ttlCheckOff || fd === undefined) return; // not bound yet: applied once it is
    const entries = [...specs.values()].filter((x) => !x.multihop && x.peer.includes(':') === v6)
      .map((x) => ({ address: canonical(x.peer), minTtl: 255 }));
    try {
      loadNative().setTtlFilter(fd, entries);
    } catch (err) {
      ttlCheckOff = true;
      post({ type: 'log', level: 'warn', msg: `BFD does not check the received TTL (RFC 5881 §5): ${describeError(err)}`, fields: {} });
    }
  };

  const engine = new BfdEngine({
    clock: systemClock,
    random: Math.random,
    controlPlaneIndependent: opts.controlPlaneIndependent === true,
    send: (id, spec, bytes) => {
      const s = txSockets.get(id)?.socket;
      if (!s) return;
      try {
        s.send(bytes, spec.multihop ? multihopPort : singleHopPort, spec.peer, (err) => {
          if (err) log('warn', `send:${id}:${(err as NodeJS.ErrnoException).code ?? ''}`, 'BFD send failed', { peer: spec.peer, err: err.message });
        });
      } catch (err) {
        log('warn', `send:${id}:throw`, 'BFD send failed', { peer: spec.peer, err: describeError(err) });
      }
    },
    onState: (event) => post({ type: 'state', event }),
    onDiscard: (reason, from) => log('debug', `discard:${from}:${reason}`, 'BFD packet discarded', { from, reason }),
    afterPendingInput: (fn) => { setImmediate(fn); },
  });

  const ensureListener = (v6: boolean, multihop: boolean): void => {
    const key = `${v6 ? 6 : 4}/${multihop ? 'm' : 's'}`;
    if (rxSockets.has(key)) return;
    // No SO_REUSEADDR: a second BFD daemon on this host must fail loudly here, not split the packets.
    const s = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    rxSockets.set(key, s);
    const p = multihop ? multihopPort : singleHopPort;
    s.on('error', (err) => {
      log('warn', `listen:${key}`, `BFD cannot listen on UDP ${p} (${v6 ? 'IPv6' : 'IPv4'}), retrying every ${RETRY_MS / 1000} s`, { err: err.message });
      rxSockets.delete(key);
      try { s.close(); } catch { /* never bound */ }
      setTimeout(() => ensureListener(v6, multihop), RETRY_MS);
    });
    s.on('message', (msg, rinfo) => engine.receive(msg, rinfo.address, multihop));
    s.bind({ port: p, address: v6 ? '::' : '0.0.0.0' }, () => {
      if (multihop) return;
      if (dgramFd(s) === undefined && !ttlCheckOff) {
        ttlCheckOff = true;
        post({ type: 'log', level: 'warn', msg: 'BFD does not check the received TTL (RFC 5881 §5): no file descriptor under the dgram socket', fields: {} });
      }
      applyTtlFilter(v6);
    });
  };

  const openTx = (id: string, spec: BfdSessionSpec): Tx => {
    const tx: Tx = { socket: undefined, retry: undefined, closed: false };
    const start = () => {
      tx.retry = undefined;
      if (tx.closed) return;
      const s = createSocket({ type: spec.peer.includes(':') ? 'udp6' : 'udp4' });
      tx.socket = s;
      let tries = 0;
      const tryBind = () => {
        const p = SOURCE_PORT_MIN + Math.floor(Math.random() * (SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1));
        s.bind({ port: p, ...(spec.local !== undefined ? { address: spec.local } : {}), exclusive: true }, () => {
          try { s.setTTL(255); } catch (err) { log('warn', `ttl:${id}`, 'BFD cannot set TTL 255', { peer: spec.peer, err: describeError(err) }); }
        });
      };
      s.on('error', (err) => {
        if (tx.socket !== s) return;
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && ++tries < 32) { tryBind(); return; }
        log('warn', `txsock:${id}`, `BFD send socket failed, retrying every ${RETRY_MS / 1000} s`, { peer: spec.peer, local: spec.local, err: err.message });
        tx.socket = undefined;
        try { s.close(); } catch { /* never bound */ }
        if (!tx.closed) tx.retry = setTimeout(start, RETRY_MS);
      });
      tryBind();
    };
    start();
    return tx;
  };

  const closeTx = (tx: Tx | undefined): void => {
    if (!tx) return;
    tx.closed = true;
    if (tx.retry) clearTimeout(tx.retry);
    const s = tx.socket;
    // Let a last AdminDown leave before closing.
    if (s) setTimeout(() => { try { s.close(); } catch { /* closed */ } }, 100);
  };

  const remove = (id: string): void => {
    engine.remove(id);
    closeTx(txSockets.get(id));
    txSockets.delete(id);
    const spec = specs.get(id);
    specs.delete(id);
    if (spec && !spec.multihop) applyTtlFilter(spec.peer.includes(':'));
  };

  /** Taken over as it runs; its state reported as a change to itself (from = to). */
  const claim = (id: string, spec: BfdSessionSpec): void => {
    const old = specs.get(id);
    if (old && !sameParams(old.params, spec.params)) engine.update(id, spec.params);
    specs.set(id, spec);
    const v = engine.list().find((x) => x.id === id);
    if (v) post({ type: 'state', event: { id, peer: v.peer, from: v.state, to: v.state, diag: v.localDiag, diagText: diagText(v.localDiag),
      remoteState: v.remoteState, remoteControlPlaneIndependent: v.remoteControlPlaneIndependent } });
  };

  const handle = (m: ToEngine): void => {
    try {
      switch (m.type) {
        case 'add': {
          const old = specs.get(m.id);
          if (old && old.peer === m.spec.peer && old.local === m.spec.local && old.multihop === m.spec.multihop) {
            claim(m.id, m.spec);
            break;
          }
          if (old) remove(m.id);
          ensureListener(m.spec.peer.includes(':'), m.spec.multihop);
          const tx = openTx(m.id, m.spec);
          txSockets.set(m.id, tx);
          try { engine.add(m.id, m.spec); } catch (err) { closeTx(tx); txSockets.delete(m.id); throw err; }
          specs.set(m.id, m.spec);
          if (!m.spec.multihop) applyTtlFilter(m.spec.peer.includes(':'));
          break;
        }
        case 'update': {
          engine.update(m.id, m.params);
          const old = specs.get(m.id);
          if (old) specs.set(m.id, { ...old, params: m.params });
          break;
        }
        case 'remove': remove(m.id); break;
        case 'list': post({ type: 'list', req: m.req, sessions: engine.list() }); break;
        case 'shutdown': {
          engine.adminDownAll();
          // A second AdminDown shortly after, in case the first was lost, then report done.
          setTimeout(() => {
            engine.adminDownAll();
            setTimeout(() => post({ type: 'done', req: m.req }), 20);
          }, 50);
          break;
        }
        default: { const never: never = m; throw new Error(`unknown message ${JSON.stringify(never)}`); }
      }
    } catch (err) {
      post({ type: 'log', level: 'error', msg: `BFD engine: ${describeError(err)}`, fields: { message: m.type } });
    }
  };
  return { handle, ids: () => [...specs.keys()] };
}
