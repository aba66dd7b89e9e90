#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * tortie-bgpd: standalone BGP daemon. `tortie-bgpd -c FILE` or the quick form (see README).
 * The interpreter line caps V8's young generation at 8 MB per semi-space (default 16): the
 * speaker's garbage is short-lived, so this cuts peak RSS (bench/bgp 1x100k 111 -> 97 MB)
 * at no measured cost in time; bench/bgp runs the daemon with the flags of this line.
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createLogger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import { loadConfigFile, quickConfig, type BgpdConfig } from './config.js';
import { DEFAULT_CTL_PATH } from './ctl-protocol.js';
import { resolveGroup } from './ctl-server.js';
import { runDaemon, type KernelSink } from './daemon.js';
import { systemClock } from '../../common/clock.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const program = new Command('tortie-bgpd')
  .description('Tortie BGP-4 daemon')
  .option('-c, --config <file>', 'YAML configuration file')
  .option('--as <asn>', 'local AS (quick form)')
  .option('--router-id <id>', 'router ID (quick form)')
  .option('--peer <spec>', 'ADDR,as=N[,port=N][,passive][,local=ADDR][,hold=N][,nhs][,bfd][,addpaths] (repeatable)', collect, [])
  .option('--listen <addr:port>', 'listen address (quick form), default 0.0.0.0:179')
  .option('--originate <prefix>', 'prefix to originate (repeatable)', collect, [])
  .option('--ctl <path>', 'control socket (mode 0600)', DEFAULT_CTL_PATH)
  .option('--ctl-group <group>', 'group allowed to use the control socket (mode 0660), name or gid')
  .option('--no-warmup', 'skip the JIT warm-up at start (a synthetic table through a private speaker, ~0.3-0.4 s CPU)')
  .option('-R, --graceful-restart-recovery', 'we restarted: set the graceful-restart R bit in our OPENs (BIRD -R)')
  .option('--check', 'validate the configuration and exit')
  .parse();

const o = program.opts<{ config?: string; as?: string; routerId?: string; peer: string[]; listen?: string; originate: string[]; ctl: string; ctlGroup?: string; check?: boolean; warmup: boolean; gracefulRestartRecovery?: boolean }>();

let cfg: BgpdConfig;
let reload: (() => BgpdConfig) | undefined;
let ctlGroup: number | undefined;
try {
  if (o.ctlGroup !== undefined) ctlGroup = resolveGroup(o.ctlGroup);
  if (o.config !== undefined) {
    const file = o.config;
    cfg = loadConfigFile(file);
    reload = () => loadConfigFile(file);
  } else {
    if (o.as === undefined || o.routerId === undefined) throw new Error('either -c FILE, or --as and --router-id (with --peer ...) are required');
    cfg = quickConfig({ as: o.as, routerId: o.routerId, peer: o.peer, originate: o.originate, ...(o.listen !== undefined ? { listen: o.listen } : {}) });
  }
} catch (err) {
  process.stderr.write(`tortie-bgpd: ${describeError(err)}\n`);
  process.exit(2);
}
if (!o.warmup) cfg = { ...cfg, warmUp: false };
if (o.gracefulRestartRecovery) cfg = { ...cfg, speaker: { ...cfg.speaker, gracefulRestart: { ...cfg.speaker.gracefulRestart, restarting: true } } };
if (o.check) {
  process.stdout.write(`configuration OK: AS ${cfg.speaker.asn}, ${cfg.speaker.peers.length} peers\n`);
  process.exit(0);
}
const logger = createLogger('tortie-bgpd');
// The daemon's composition root: the kernel section's netlink and route reconciler are
// tortie-node's own (felix/), created here and handed to the daemon as a KernelSink; loaded
// only for a kernel section (the native netlink binding costs memory).
const kernel = async (k: { table: number; protocol: number; families: ReadonlyArray<4 | 6> }): Promise<KernelSink> => {
  const [{ RtNetlink }, { GatewayRoutes }] = await Promise.all([import('../../felix/netlink/rt-netlink.js'), import('../../felix/routes/gateway-routes.js')]);
  const log = logger.child({ component: 'kernel' });
  // From dist/bgp/bgpd (main.js or the tortie-bgpd.cjs bundle) to the unbundled notification reader.
  const notifyChild = fileURLToPath(new URL('../../felix/netlink/notify-child.js', import.meta.url));
  const netlink = new RtNetlink({ logger: log }, { notifyChild });
  const routes = new GatewayRoutes({ netlink, clock: systemClock, logger: log }, { table: k.table, protocol: k.protocol, families: k.families });
  // A reload that moves the section makes a new sink: the old one's netlink goes with it.
  return {
    start: () => routes.start(), program: () => routes.program(), set: (p, hops) => routes.set(p, hops),
    stop: async (persist) => { try { await routes.stop(persist); } finally { netlink.close(); } },
  };
};
runDaemon(cfg, { ctlPath: o.ctl, ...(ctlGroup !== undefined ? { ctlGroup } : {}), reload, kernel }, logger).catch((err: unknown) => {
  process.stderr.write(`tortie-bgpd: ${describeError(err)}\n`);
  process.exit(1);
});
