/**
 * Real BGP peers for interop tests, each started inside a network namespace from a generated
 * config in a temp dir, with its PID recorded and cleanup registered on the Topology.
 *
 *   const bird = await BirdPeer.start(topo, ns, birdConfig);   // bird -c -s -P (daemonises)
 *   bird.protocol('tortie')  -> { state: 'up', bgpState: 'Established', fields, lastError }
 *   bird.routes()            -> [{ prefix, proto, primary, attrs: { 'BGP.as_path': ... } }]
 *   const frr = await FrrPeer.start(topo, ns, bgpdConf);        // bgpd -Z alone, vtysh JSON
 *   const gobgp = await GobgpPeer.start(topo, ns, toml);        // gobgpd + gobgp -j
 *   const exa = await ExabgpPeer.start(topo, ns, conf);         // exabgp in the foreground
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killPidFile, Proc, sh, trySh } from './sh.js';
import { pollUntil } from './poll.js';
import type { Topology } from './netns.js';
import { responseReader } from '../../bgp/bgpd/ctl-protocol.js';

function tempDir(tag: string, topo: Topology): string {
  const dir = mkdtempSync(join(tmpdir(), `tortie-${tag}-`));
  topo.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------- BIRD

export interface BirdProtocol {
  readonly name: string;
  readonly proto: string;
  /** up / down / start */
  readonly state: string;
  readonly info: string;
  /** "BGP state:" line, e.g. Established, Active, Connect, Down. */
  readonly bgpState: string | undefined;
  readonly lastError: string | undefined;
  /** Every "Key: value" line of `show protocols all NAME`, last occurrence wins. */
  readonly fields: Readonly<Record<string, string>>;
  /** "Routes: 1 imported, 0 filtered, 2 exported, 1 preferred" parsed per channel. */
  readonly routes: Readonly<Record<string, { imported: number; exported: number; filtered: number }>>;
}

export interface BirdRoute {
  readonly prefix: string;
  readonly proto: string;
  readonly primary: boolean;
  readonly via: string | undefined;
  /** "BGP.as_path" → "65002", "BGP.med" → "50", ... */
  readonly attrs: Readonly<Record<string, string>>;
}

export class BirdPeer {
  private constructor(readonly topo: Topology, readonly ns: string, readonly dir: string,
    readonly bin: { readonly bird: string; readonly birdc: string } = { bird: 'bird', birdc: 'birdc' }) {}

  get ctl(): string { return join(this.dir, 'bird.ctl'); }

  /** `bin`: other binaries than bird/birdc on PATH (BIRD 1.6 beside bird2, test/helpers/calico-bird.ts). */
  static async start(topo: Topology, ns: string, config: string, bin?: { bird: string; birdc: string }): Promise<BirdPeer> {
    const dir = tempDir('bird', topo);
    const peer = new BirdPeer(topo, ns, dir, bin);
    writeFileSync(join(dir, 'bird.conf'), config);
    const pidFile = join(dir, 'bird.pid');
    topo.defer(() => killPidFile(pidFile));
    topo.exec(ns, peer.bin.bird, ['-c', join(dir, 'bird.conf'), '-s', peer.ctl, '-P', pidFile]);
    await pollUntil(() => trySh(peer.bin.birdc, ['-s', peer.ctl, 'show', 'status']).status === 0,
      { what: 'bird control socket', timeoutMs: 5000 });
    return peer;
  }

  /** Run a birdc command and return its output without the "BIRD x ready." banner. */
  cmd(...args: string[]): string {
    const out = sh(this.bin.birdc, ['-s', this.ctl, ...args]);
    return out.split('\n').filter((l) => !/^BIRD .* ready\.$/.test(l)).join('\n');
  }

  protocol(name: string): BirdProtocol {
    return parseBirdProtocol(this.cmd('show', 'protocols', 'all', name));
  }

  routes(...filter: string[]): BirdRoute[] {
    const r = trySh('birdc', ['-s', this.ctl, 'show', 'route', ...filter, 'all']);
    if (r.status !== 0 && /Network not found/.test(r.stdout + r.stderr)) return [];
    if (r.status !== 0) throw new Error(`birdc show route failed: ${r.stdout}${r.stderr}`);
    return parseBirdRoutes(r.stdout);
  }

  get pidFile(): string { return join(this.dir, 'bird.pid'); }

  /** The daemon's PID while it runs, else undefined. */
  pid(): number | undefined {
    let pid: number;
    try { pid = Number(readFileSync(this.pidFile, 'utf8').trim()); } catch { return undefined; }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    try { process.kill(pid, 0); return pid; } catch { return undefined; }
  }

  /** SIGKILL: a crash, no NOTIFICATION, the TCP sessions reset by the kernel. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    await pollUntil(() => this.pid() === undefined, { what: 'bird gone', timeoutMs: 5000 });
  }

  /**
   * Start again once it has exited (after `birdc graceful restart` or kill()), optionally with a
   * new config; `recovery` passes -R (graceful restart recovery: R bit, waits for End-of-RIB).
   */
  async restart(opts: { recovery?: boolean; config?: string } = {}): Promise<void> {
    await pollUntil(() => this.pid() === undefined, { what: 'bird exited', timeoutMs: 10_000 });
    if (opts.config !== undefined) writeFileSync(join(this.dir, 'bird.conf'), opts.config);
    this.topo.exec(this.ns, 'bird', ['-c', join(this.dir, 'bird.conf'), '-s', this.ctl, '-P', this.pidFile, ...(opts.recovery ? ['-R'] : [])]);
    await pollUntil(() => trySh('birdc', ['-s', this.ctl, 'show', 'status']).status === 0, { what: 'bird control socket', timeoutMs: 5000 });
  }

  /** `show bfd sessions`: one row per session of every BFD protocol (Interval/Timeout in seconds). */
  bfdSessions(): BirdBfdSession[] {
    return parseBirdBfdSessions(this.cmd('show', 'bfd', 'sessions'));
  }

  /** birdc configure (re-read the config file, which `rewrite` may have changed). */
  reconfigure(config?: string): string {
    if (config !== undefined) writeFileSync(join(this.dir, 'bird.conf'), config);
    return this.cmd('configure');
  }
}

export interface BirdBfdSession {
  readonly address: string;
  /** Up / Down / Init / AdminDown */
  readonly state: string;
  readonly interval: number;
  readonly timeout: number;
}

export function parseBirdBfdSessions(text: string): BirdBfdSession[] {
  const out: BirdBfdSession[] = [];
  for (const l of text.split('\n')) {
    const t = l.trim().split(/\s+/);
    const state = t.find((x) => /^(Up|Down|Init|AdminDown)$/.test(x));
    if (!state || !/^[\d.:a-f]+$/i.test(t[0] ?? '') || t.length < 4) continue;
    out.push({ address: t[0] ?? '', state, interval: Number(t[t.length - 2]), timeout: Number(t[t.length - 1]) });
  }
  return out;
}

export function parseBirdProtocol(text: string): BirdProtocol {
  const lines = text.split('\n');
  const headerIdx = lines.findIndex((l) => /^name\s+proto/i.test(l));
  const row = lines[headerIdx + 1] ?? '';
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+(?:\s+\S+)?)\s{2,}(.*)$/.exec(row)
    ?? /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(row);
  const fields: Record<string, string> = {};
  const routes: Record<string, { imported: number; exported: number; filtered: number }> = {};
  let channel = '';
  for (const l of lines.slice(headerIdx + 2)) {
    const ch = /^\s+Channel (\S+)/.exec(l);
    if (ch) { channel = ch[1] ?? ''; continue; }
    const r = /^\s+Routes:\s+(\d+) imported, (?:(\d+) filtered, )?(\d+) exported/.exec(l);
    if (r) { routes[channel] = { imported: Number(r[1]), filtered: Number(r[2] ?? 0), exported: Number(r[3]) }; continue; }
    const kv = /^\s+([^:]+):\s+(.*)$/.exec(l);
    if (kv) fields[(kv[1] ?? '').trim()] = (kv[2] ?? '').trim();
  }
  return {
    name: m?.[1] ?? '', proto: m?.[2] ?? '', state: m?.[4] ?? '', info: (m?.[6] ?? '').trim(),
    bgpState: fields['BGP state'], lastError: fields['Last error'], fields, routes,
  };
}

export function parseBirdRoutes(text: string): BirdRoute[] {
  const out: BirdRoute[] = [];
  let prefix = '';
  let cur: { prefix: string; proto: string; primary: boolean; via: string | undefined; attrs: Record<string, string> } | undefined;
  const flush = () => { if (cur) out.push(cur); cur = undefined; };
  for (const l of text.split('\n')) {
    if (/^Table /.test(l) || l.trim() === '') continue;
    const head = /^(\S+)?\s+\S+\s+\[(\S+)[^\]]*\]\s*(\*)?/.exec(l);
    if (head && !l.startsWith('\t')) {
      flush();
      if (head[1]) prefix = head[1];
      cur = { prefix, proto: head[2] ?? '', primary: head[3] === '*', via: undefined, attrs: {} };
      continue;
    }
    if (!cur) continue;
    const via = /^\s+via (\S+)/.exec(l);
    if (via) { cur.via = via[1]; continue; }
    const kv = /^\s+([\w.]+):\s?(.*)$/.exec(l);
    if (kv) cur.attrs[kv[1] ?? ''] = (kv[2] ?? '').trim();
  }
  flush();
  return out;
}

// ---------------------------------------------------------------- FRR

export class FrrPeer {
  private constructor(readonly topo: Topology, readonly ns: string, readonly dir: string) {}

  /**
   * bgpd alone (-Z: no zebra), vty socket in its own dir owned by frr; with `bfddConf`, bfdd
   * beside it (static `bfd` peers: without zebra, bgpd cannot register its own BFD sessions).
   */
  static async start(topo: Topology, ns: string, bgpdConf: string, opts: { bfddConf?: string } = {}): Promise<FrrPeer> {
    const dir = tempDir('frr', topo);
    chmodSync(dir, 0o755);
    const peer = new FrrPeer(topo, ns, dir);
    const frr = frrIds();
    writeFileSync(join(dir, 'bgpd.conf'), bgpdConf);
    chownSync(dir, frr.uid, frr.gid);
    chownSync(join(dir, 'bgpd.conf'), frr.uid, frr.gid);
    const pidFile = join(dir, 'bgpd.pid');
    topo.defer(() => killPidFile(pidFile));
    topo.exec(ns, '/usr/lib/frr/bgpd', ['-d', '-f', join(dir, 'bgpd.conf'), '-i', pidFile,
      '-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-n', '-Z', '-u', 'frr', '-g', 'frr']);
    await pollUntil(() => existsSync(join(dir, 'bgpd.vty')) && trySh('vtysh', ['--vty_socket', dir, '-c', 'show bgp summary json']).status === 0,
      { what: 'frr bgpd vty', timeoutMs: 8000 });
    if (opts.bfddConf !== undefined) await peer.startBfdd(opts.bfddConf);
    return peer;
  }

  get bfddPidFile(): string { return join(this.dir, 'bfdd.pid'); }

  /** Start (or restart) bfdd with its own control socket and config in this peer's dir. */
  async startBfdd(conf?: string): Promise<void> {
    const frr = frrIds();
    if (conf !== undefined) {
      writeFileSync(join(this.dir, 'bfdd.conf'), conf);
      chownSync(join(this.dir, 'bfdd.conf'), frr.uid, frr.gid);
    }
    rmSync(join(this.dir, 'bfdd.vty'), { force: true });
    this.topo.defer(() => killPidFile(this.bfddPidFile));
    this.topo.exec(this.ns, '/usr/lib/frr/bfdd', ['-d', '-f', join(this.dir, 'bfdd.conf'), '-i', this.bfddPidFile,
      '-z', join(this.dir, 'zserv.api'), '--vty_socket', this.dir, '--bfdctl', join(this.dir, 'bfdd.sock'), '-u', 'frr', '-g', 'frr']);
    await pollUntil(() => existsSync(join(this.dir, 'bfdd.vty')) && trySh('vtysh', ['--vty_socket', this.dir, '-c', 'show bfd peers json']).status === 0,
      { what: 'frr bfdd vty', timeoutMs: 8000 });
  }

  /** `show bfd peers json`. */
  bfdPeers(): FrrBfdPeer[] {
    return this.json('show bfd peers json') as FrrBfdPeer[];
  }

  vtysh(...commands: string[]): string {
    return sh('vtysh', ['--vty_socket', this.dir, ...commands.flatMap((c) => ['-c', c])]);
  }

  json(command: string): unknown {
    const out = this.vtysh(command);
    try { return JSON.parse(out) as unknown; } catch { throw new Error(`vtysh "${command}" did not return JSON: ${out.slice(0, 300)}`); }
  }

  /** Configure in config mode: lines such as 'router bgp 65001', ' neighbor 10.0.0.2 shutdown'. */
  configure(...lines: string[]): string {
    return this.vtysh('configure terminal', ...lines);
  }
}

/** One entry of FRR bfdd's `show bfd peers json` (intervals in ms). */
export interface FrrBfdPeer {
  readonly multihop: boolean;
  readonly peer: string;
  readonly local?: string;
  /** up / down / init / shutdown */
  readonly status: string;
  readonly diagnostic: string;
  readonly 'remote-diagnostic': string;
  readonly 'receive-interval': number;
  readonly 'transmit-interval': number;
  readonly 'detect-multiplier': number;
  readonly 'remote-receive-interval': number;
  readonly 'remote-transmit-interval': number;
  readonly 'remote-detect-multiplier': number;
}

let frrIdCache: { uid: number; gid: number } | undefined;
function frrIds(): { uid: number; gid: number } {
  if (!frrIdCache) {
    frrIdCache = { uid: Number(sh('id', ['-u', 'frr']).trim()), gid: Number(sh('id', ['-g', 'frr']).trim()) };
  }
  return frrIdCache;
}

// ---------------------------------------------------------------- GoBGP

export class GobgpPeer {
  private constructor(readonly topo: Topology, readonly ns: string, readonly dir: string, readonly proc: Proc) {}

  static async start(topo: Topology, ns: string, toml: string): Promise<GobgpPeer> {
    const dir = tempDir('gobgp', topo);
    writeFileSync(join(dir, 'gobgp.toml'), toml);
    const proc = new Proc('ip', ['netns', 'exec', ns, 'gobgpd', '-f', join(dir, 'gobgp.toml'),
      '--api-hosts=127.0.0.1:50051', '-l', 'debug']);
    topo.defer(() => proc.stop());
    const peer = new GobgpPeer(topo, ns, dir, proc);
    await pollUntil(() => peer.tryCli('global').status === 0, { what: 'gobgpd API', timeoutMs: 8000 });
    return peer;
  }

  private tryCli(...args: string[]): { status: number; stdout: string; stderr: string } {
    return trySh('ip', ['netns', 'exec', this.ns, 'gobgp', '-u', '127.0.0.1', '-p', '50051', ...args]);
  }

  cli(...args: string[]): string {
    return this.topo.exec(this.ns, 'gobgp', ['-u', '127.0.0.1', '-p', '50051', ...args]);
  }

  json(...args: string[]): unknown {
    const out = this.cli('-j', ...args);
    try { return JSON.parse(out) as unknown; } catch { throw new Error(`gobgp -j ${args.join(' ')} did not return JSON: ${out.slice(0, 300)}`); }
  }

  /** The neighbor object from `gobgp -j neighbor ADDR`. */
  neighbor(address: string): GobgpNeighbor {
    return this.json('neighbor', address) as GobgpNeighbor;
  }
}

export interface GobgpNeighbor {
  readonly conf?: { readonly neighbor_address?: string; readonly peer_asn?: number };
  readonly state?: {
    readonly session_state?: number;
    readonly messages?: { readonly received?: Record<string, number>; readonly sent?: Record<string, number> };
  };
}

/** GoBGP's session_state enum (api.PeerState_SessionState): 6 = ESTABLISHED. */
export const GOBGP_ESTABLISHED = 6;

// ---------------------------------------------------------------- ExaBGP

export class ExabgpPeer {
  private constructor(readonly topo: Topology, readonly ns: string, readonly dir: string, readonly proc: Proc) {}

  get logFile(): string { return join(this.dir, 'exabgp.log'); }

  static async start(topo: Topology, ns: string, conf: string): Promise<ExabgpPeer> {
    const dir = tempDir('exabgp', topo);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'exabgp.conf'), conf);
    const log = join(dir, 'exabgp.log');
    const proc = new Proc('ip', ['netns', 'exec', ns, 'env', 'exabgp.daemon.user=root',
      'exabgp.daemon.daemonize=false', `exabgp.log.destination=${log}`, 'exabgp.log.level=INFO',
      'exabgp.log.packets=true', 'exabgp.log.message=true', 'exabgp.log.network=true',
      'exabgp.daemon.pid=' + join(dir, 'exabgp.pid'), 'exabgp', join(dir, 'exabgp.conf')]);
    topo.defer(() => proc.stop('SIGTERM', 2000));
    return new ExabgpPeer(topo, ns, dir, proc);
  }

  log(): string {
    try { return readFileSync(this.logFile, 'utf8') + this.proc.output; } catch { return this.proc.output; }
  }
}

// ---------------------------------------------------------------- tortie-bgpd itself

const BGPD_MAIN = new URL('../../bgp/bgpd/tortie-bgpd.cjs', import.meta.url).pathname;

/** tortie-bgpd (dist/bgp/bgpd/tortie-bgpd.cjs, the shipped bundle) run inside a namespace, queried over its control socket. */
export class TortieBgpd {
  private constructor(readonly topo: Topology, readonly ns: string, readonly dir: string, public proc: Proc, readonly args: readonly string[]) {}

  get ctlPath(): string { return join(this.dir, 'bgpd.ctl'); }
  get configPath(): string { return join(this.dir, 'bgpd.yaml'); }

  /** Start with a YAML config (written to a temp file) or quick-form arguments. */
  static async start(topo: Topology, ns: string, config: { yaml: string } | { args: readonly string[] }): Promise<TortieBgpd> {
    const dir = tempDir('bgpd', topo);
    const ctl = join(dir, 'bgpd.ctl');
    let args: string[];
    if ('yaml' in config) {
      writeFileSync(join(dir, 'bgpd.yaml'), config.yaml);
      args = ['-c', join(dir, 'bgpd.yaml')];
    } else args = [...config.args];
    const d = new TortieBgpd(topo, ns, dir, TortieBgpd.spawn(ns, [...args, '--ctl', ctl]), args);
    topo.defer(() => d.proc.stop('SIGKILL'));
    await d.waitReady();
    return d;
  }

  private static spawn(ns: string, args: readonly string[]): Proc {
    return new Proc('ip', ['netns', 'exec', ns, process.execPath, BGPD_MAIN, ...args], { env: { ...process.env, TORTIE_LOG_LEVEL: 'debug' } });
  }

  private async waitReady(): Promise<void> {
    await pollUntil(async () => {
      if (this.proc.exited) throw new Error(`tortie-bgpd exited: ${this.proc.output.slice(-2000)}`);
      try { await this.request({ cmd: 'show-protocols' }); return true; } catch { return false; }
    }, { what: 'tortie-bgpd control socket', timeoutMs: 8000 });
  }

  /** SIGKILL: a crash, no NOTIFICATION (restart() starts it again). */
  async kill(): Promise<void> { await this.proc.stop('SIGKILL'); }

  /** Kill (SIGKILL) and start again with the same arguments, plus `extraArgs` (e.g. -R). */
  async restart(extraArgs: readonly string[] = []): Promise<void> {
    await this.proc.stop('SIGKILL');
    this.proc = TortieBgpd.spawn(this.ns, [...this.args, ...extraArgs, '--ctl', this.ctlPath]);
    this.topo.defer(() => this.proc.stop('SIGKILL'));
    await this.waitReady();
  }

  writeConfig(yaml: string): void { writeFileSync(this.configPath, yaml); }

  signal(sig: NodeJS.Signals): void { this.proc.child.kill(sig); }

  /** One control request; resolves with `data` or rejects with the daemon's error. */
  async request(req: Record<string, unknown>): Promise<unknown> {
    const { createConnection } = await import('node:net');
    return await new Promise((resolve, reject) => {
      const s = createConnection(this.ctlPath);
      s.setEncoding('utf8');
      s.on('error', reject);
      s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
      const read = responseReader();
      s.on('data', (d: string) => {
        const r = read(d);
        if (r === undefined) return;
        s.end();
        if ('error' in r) reject(new Error(r.error)); else resolve(r.data);
      });
    });
  }

  async peer(name: string): Promise<TortiePeerStatus> {
    const all = await this.request({ cmd: 'show-protocols', name }) as TortiePeerStatus[];
    const p = all[0];
    if (!p) throw new Error(`no peer ${name}`);
    return p;
  }

  async routes(prefix?: string): Promise<TortieRoute[]> {
    return await this.request(prefix === undefined ? { cmd: 'show-route' } : { cmd: 'show-route', prefix }) as TortieRoute[];
  }

  /** Run tortie-bgpctl (the real CLI) against this daemon. */
  ctl(...args: string[]): string {
    return sh(process.execPath, [new URL('../../bgp/bgpd/tortie-bgpctl.cjs', import.meta.url).pathname, '-s', this.ctlPath, ...args]);
  }
}

export interface TortiePeerStatus {
  readonly name: string; readonly state: string; readonly lastError?: string; readonly establishedTransitions: number;
  readonly prefixes: { received: number; accepted: number; advertised: number };
  readonly messages: { messagesIn: number; updatesIn: number; updatesOut: number; notificationsIn: number; notificationsOut: number; routeRefreshIn: number };
  readonly capabilities: readonly string[];
  readonly gracefulRestart?: { readonly state: string; readonly families: readonly string[]; readonly staleRoutes: number };
}

export interface TortieRoute {
  readonly prefix: string; readonly from: string; readonly nextHop: string; readonly asPath: readonly number[];
  readonly med?: number; readonly localPref?: number; readonly communities: readonly string[]; readonly best: boolean; readonly reason: string;
  readonly origin: string;
  /** Wall-clock ms when this path was learnt. */
  readonly since: number;
  /** Kept across the peer's graceful restart, not re-sent yet. */
  readonly stale?: true;
  /** The peer's path id (ADD-PATH receive); absent when 0. */
  readonly pathId?: number;
}
