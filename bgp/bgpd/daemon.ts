/**
 * tortie-bgpd wiring: config → BgpSpeaker with real sockets → control socket → signals
 * (SIGHUP reload with a per-peer diff, SIGTERM/SIGINT Cease/2 to every peer then exit).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { connectTcp } from '../session/socket-options.js';
import { systemClock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { BgpSpeaker, type SpeakerDeps } from '../speaker/speaker.js';
import { warmUp } from '../speaker/warm-up.js';
import type { BgpdConfig } from './config.js';
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

export interface Daemon { readonly speaker: BgpSpeaker; stop(): Promise<void> }

export async function runDaemon(cfg: BgpdConfig, opts: { ctlPath: string; ctlGroup?: number; reload: (() => BgpdConfig) | undefined }, logger: Logger): Promise<Daemon> {
  const startedAt = systemClock.now();
  if (cfg.warmUp) await warmUp({ logger });
  const speaker = new BgpSpeaker(realDeps(logger), cfg.speaker);
  await speaker.start();
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
  const reload = (): unknown => {
    if (!opts.reload) throw new Error('reload needs a config file (started with the quick command-line form)');
    const next = opts.reload();
    const diff = speaker.reconfigure(next.speaker);
    applyOriginate(next);
    logger.info(diff, 'configuration reloaded');
    return diff;
  };
  const ctl = await startCtlServer(opts.ctlPath, { speaker: () => speaker, reload, startedAt, now: () => systemClock.now() }, logger,
    opts.ctlGroup !== undefined ? { group: opts.ctlGroup } : {});
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await speaker.stop();
    await new Promise<void>((r) => ctl.close(() => r()));
  };
  process.on('SIGHUP', () => {
    try { reload(); } catch (err) { logger.error(`reload failed, keeping the running configuration: ${describeError(err)}`); }
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      logger.info({ signal: sig }, 'shutting down: Cease/2 to every peer');
      // Give the NOTIFICATIONs a moment to leave the socket buffers before exiting.
      void stop().then(() => setTimeout(() => process.exit(0), 200));
    });
  }
  return { speaker, stop };
}
