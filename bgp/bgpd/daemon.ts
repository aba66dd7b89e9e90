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
import type { BgpdConfig } from './config.js';
import { startCtlServer } from './ctl-server.js';
import { KernelExport, type KernelSinkFactory } from './kernel-export.js';

export type { KernelSink } from './kernel-export.js';

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

export interface Daemon { readonly speaker: BgpSpeaker; stop(): Promise<void> }

export async function runDaemon(cfg: BgpdConfig, opts: { ctlPath: string; ctlGroup?: number; reload: (() => BgpdConfig) | undefined;
  kernel?: KernelSinkFactory }, logger: Logger): Promise<Daemon> {
  const startedAt = systemClock.now();
  // Signals are taken from the first moment: one that arrives while the daemon is still starting
  // (its BGP port or control socket may already be open) stops it cleanly once start-up is done,
  // instead of killing it by the default action.
  let onStop: ((sig: string) => void) | undefined;
  let stopAsked: string | undefined;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => { if (onStop) onStop(sig); else stopAsked ??= sig; });
  if (cfg.warmUp) await warmUp({ logger });
  const speaker = new BgpSpeaker(realDeps(logger), cfg.speaker);
  // The kernel section (BIRD `protocol kernel`): attached before the first session, so every
  // best-path change reaches it; reloads apply changes to it (kernel-export.ts).
  const kernel = new KernelExport(speaker, opts.kernel, { logger, clock: systemClock, interfaceOf: (peer) => speaker.peerInterface(peer) });
  await kernel.attach(cfg.kernel);
  await speaker.start();
  kernel.begin();
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
  const reload = async (): Promise<unknown> => {
    if (!opts.reload) throw new Error('reload needs a config file (started with the quick command-line form)');
    const next = opts.reload();
    const diff = speaker.reconfigure(next.speaker);
    applyOriginate(next);
    applyBfd(next);
    logger.info(diff, 'configuration reloaded');
    return { ...diff, kernel: await kernel.reconfigure(next.kernel) };
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
    kernel.detachListener();
    await speaker.stop();
    await kernel.stop();
    await new Promise<void>((r) => ctl.close(() => r()));
  };
  process.on('SIGHUP', () => {
    reload().catch((err: unknown) => logger.error(`reload failed, keeping the running configuration: ${describeError(err)}`));
  });
  onStop = (sig) => {
    logger.info({ signal: sig }, 'shutting down: BFD AdminDown and Cease/2 to every peer');
    // Give the NOTIFICATIONs a moment to leave the socket buffers before exiting.
    void stop().then(() => setTimeout(() => process.exit(0), 200));
  };
  if (stopAsked !== undefined) onStop(stopAsked);
  return { speaker, stop };
}
