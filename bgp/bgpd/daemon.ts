/**
 * tortie-bgpd wiring: config → BgpSpeaker with real sockets → control socket → signals
 * and BFD (SIGHUP reload with a per-peer diff, SIGTERM/SIGINT BFD AdminDown and Cease/2 to every
 * peer then exit). BFD Down on a peer's session takes its BGP session down with Cease/10.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { connectTcp } from '../session/socket-options.js';
import { systemClock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { BgpSpeaker, type SpeakerDeps } from '../speaker/speaker.js';
import { BfdDriver } from '../bfd/driver.js';
import { warmUp } from '../speaker/warm-up.js';
import type { BgpdConfig, BgpdKernel } from './config.js';
import type { BestPathChange } from '../speaker/views.js';
import { startCtlServer } from './ctl-server.js';

export function realDeps(logger: Logger): SpeakerDeps {
  return {
    clock: systemClock,
    logger,
    // TTL, GTSM and TCP-MD5 are set before the SYN (socket-options.ts).
    connect: connectTcp,
    listen: (o, onConnection) => new Promise<Server>((resolve, reject) => {
      const srv = createServer((s: Socket) => onConnection(s));
      srv.once('error', (err) => reject(new Error(`cannot listen on ${o.address}:${o.port}: ${err.message}`)));
      srv.listen({ host: o.address, port: o.port, ipv6Only: false }, () => resolve(srv));
    }),
  };
}

/** Longest wait with `kernel.persist` for every peer's End-of-RIB before the kernel is programmed. */
const PERSIST_WAIT_MS = 30_000;

export interface Daemon { readonly speaker: BgpSpeaker; stop(): Promise<void> }

/**
 * Where the `kernel` section's routes go: main.ts (the daemon's composition root) passes
 * felix/routes GatewayRoutes, the reconciler tortie-node uses; bgp/ itself stays free of netlink.
 */
export interface KernelSink {
  start(): Promise<void>;
  /** Begin writing (and removing) routes; before it, set() only records. */
  program(): void;
  /** The next hops of `prefix`, best first; undefined: no route. */
  set(prefix: string, nextHops: readonly string[] | undefined): void;
  stop(persist: boolean): Promise<void>;
}

/** What the kernel gets for a best-path change: learned routes only, the multipath set when merged. */
export function kernelNextHops(c: BestPathChange, mergePaths: boolean): string[] | undefined {
  const b = c.best;
  if (b === undefined || b.from === 'local' || b.nextHop === 'self') return undefined;
  const family = c.prefix.includes(':') ? 6 : 4;
  const paths = mergePaths && c.multipath !== undefined ? c.multipath : [b];
  const hops = [...new Set(paths.filter((r) => r.from !== 'local' && r.nextHop !== 'self' && r.nextHop.includes(':') === (family === 6)).map((r) => r.nextHop))];
  return hops.length === 0 ? undefined : hops;
}

export async function runDaemon(cfg: BgpdConfig, opts: { ctlPath: string; ctlGroup?: number; reload: (() => BgpdConfig) | undefined;
  kernel?: (k: BgpdKernel) => Promise<KernelSink> }, logger: Logger): Promise<Daemon> {
  const startedAt = systemClock.now();
  if (cfg.warmUp) await warmUp({ logger });
  const speaker = new BgpSpeaker(realDeps(logger), cfg.speaker);
  const k = cfg.kernel;
  const kernel = k !== undefined && opts.kernel !== undefined ? await opts.kernel(k) : undefined;
  let detachKernel = (): void => undefined;
  if (k !== undefined && kernel !== undefined) {
    await kernel.start();
    const families = new Set(k.families);
    detachKernel = speaker.onBestPathChange((c) => {
      if (families.has(c.prefix.includes(':') ? 6 : 4)) kernel.set(c.prefix, kernelNextHops(c, k.mergePaths));
    });
    logger.info({ table: k.table, protocol: k.protocol, mergePaths: k.mergePaths, persist: k.persist }, 'kernel routes: exporting best paths');
  }
  await speaker.start();
  let waitForSync: ReturnType<typeof setInterval> | undefined;
  if (k !== undefined && kernel !== undefined) {
    if (!k.persist) kernel.program();
    else {
      // Routes kept from the last run forward meanwhile: programming starts (and removes what
      // is no longer learned) once every peer has sent its End-of-RIB, or after PERSIST_WAIT_MS
      // (BIRD's kernel protocol defers its sync until graceful-restart recovery ends likewise).
      const t0 = systemClock.now();
      const timer = waitForSync = setInterval(() => {
        const peers = speaker.status().filter((p) => p.enabled);
        const synced = peers.every((p) => p.state === 'Established' && p.eorReceived.length > 0);
        if (!synced && systemClock.now() - t0 < PERSIST_WAIT_MS) return;
        clearInterval(timer);
        logger.info({ synced, waitedMs: systemClock.now() - t0 }, 'kernel routes: programming');
        kernel.program();
      }, 200);
      timer.unref();
    }
  }
  let originated = new Set<string>();
  const applyOriginate = (c: BgpdConfig) => {
    const next = new Set(c.originate.map((o) => o.prefix));
    for (const p of originated) if (!next.has(p)) speaker.withdraw(p);
    for (const o of c.originate) {
      speaker.originate(o.prefix, {
        ...(o.nextHop !== undefined ? { nextHop: o.nextHop } : {}), ...(o.communities ? { communities: o.communities } : {}),
        ...(o.med !== undefined ? { med: o.med } : {}), ...(o.localPref !== undefined ? { localPref: o.localPref } : {}),
      });
    }
    originated = next;
  };
  applyOriginate(cfg);
  // BFD runs in a worker thread, started with the first peer that asks for it.
  let bfd: BfdDriver | undefined;
  const applyBfd = (c: BgpdConfig) => {
    if (c.bfd.length === 0 && !bfd) return;
    if (!bfd) {
      bfd = new BfdDriver({ logger: logger.child({ component: 'bfd' }) });
      bfd.onState((e) => {
        if (e.to === 'Up' && e.from !== 'Up') { try { speaker.bfdUp(e.id); } catch { /* a peer removed meanwhile */ } return; }
        // RFC 5882 §3.2: a peer's AdminDown is a planned stop, not a failed path.
        if (e.from !== 'Up' || e.to !== 'Down' || e.remoteState === 'AdminDown') return;
        try {
          if (speaker.bfdDown(e.id, { forwardingFailed: e.remoteControlPlaneIndependent })) logger.warn({ peer: e.id, diag: e.diagText }, 'BFD Down: BGP session torn down (Cease/10) or its graceful restart ended');
        } catch (err) { logger.warn({ peer: e.id, err: describeError(err) }, 'BFD Down for an unknown peer'); }
      });
    }
    const want = new Map(c.bfd.map((b) => [b.peerName, b.spec]));
    for (const id of bfd.ids()) if (!want.has(id)) bfd.remove(id);
    for (const [id, spec] of want) bfd.set(id, spec);
  };
  applyBfd(cfg);
  const reload = (): unknown => {
    if (!opts.reload) throw new Error('reload needs a config file (started with the quick command-line form)');
    const next = opts.reload();
    const diff = speaker.reconfigure(next.speaker);
    applyOriginate(next);
    applyBfd(next);
    logger.info(diff, 'configuration reloaded');
    return diff;
  };
  const ctl = await startCtlServer(opts.ctlPath, {
    speaker: () => speaker, reload, startedAt, now: () => systemClock.now(),
    bfdSessions: async () => (bfd ? await bfd.sessions() : []),
  }, logger, opts.ctlGroup !== undefined ? { group: opts.ctlGroup } : {});
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // AdminDown first (RFC 5882 §3.2): peers keep forwarding until our Cease/2 arrives.
    await bfd?.stop();
    // The kernel keeps what it has while the sessions close (their withdrawals are not ours to
    // program): then `persist` leaves it all, and otherwise stop() removes it all.
    detachKernel();
    clearInterval(waitForSync);
    await speaker.stop();
    if (k !== undefined) await kernel?.stop(k.persist).catch((err: unknown) => logger.warn({ err: describeError(err) }, 'kernel routes: stop failed'));
    await new Promise<void>((r) => ctl.close(() => r()));
  };
  process.on('SIGHUP', () => {
    try { reload(); } catch (err) { logger.error(`reload failed, keeping the running configuration: ${describeError(err)}`); }
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      logger.info({ signal: sig }, 'shutting down: BFD AdminDown and Cease/2 to every peer');
      // Give the NOTIFICATIONs a moment to leave the socket buffers before exiting.
      void stop().then(() => setTimeout(() => process.exit(0), 200));
    });
  }
  return { speaker, stop };
}
