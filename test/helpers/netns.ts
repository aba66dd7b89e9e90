/**
 * Network namespaces for topology tests. Names carry a prefix and the test PID so parallel
 * tests never collide, and `cleanup()` removes exactly what this helper made.
 *
 *   const topo = new Topology('bgp');        // namespaces "tt-bgp-<pid>-a" ...
 *   const a = topo.ns('a'); const b = topo.ns('b');
 *   topo.link(a, 'eth0', '10.0.0.1/24', b, 'eth0', '10.0.0.2/24');
 *   try { ... } finally { await topo.cleanup(); }
 */
import { sh, trySh } from './sh.js';

let counter = 0;

export class Topology {
  readonly tag: string;
  private readonly namespaces: string[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  constructor(name: string) {
    this.tag = `tt${name}${process.pid % 100000}x${counter++}`.slice(0, 12);
  }

  /** Create a namespace with `lo` up; returns its full name. */
  ns(short: string): string {
    const name = `${this.tag}-${short}`;
    trySh('ip', ['netns', 'del', name]);
    sh('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A veth pair between two namespaces, addresses assigned (any number, v4 or v6), links up. */
  link(nsA: string, ifA: string, addrsA: string | readonly string[], nsB: string, ifB: string,
    addrsB: string | readonly string[]): void {
    sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    for (const [ns, ifn, addrs] of [[nsA, ifA, addrsA], [nsB, ifB, addrsB]] as const) {
      for (const a of typeof addrs === 'string' ? [addrs] : addrs) {
        sh('ip', ['-n', ns, 'addr', 'add', a, 'dev', ifn, ...(a.includes(':') ? ['nodad'] : [])]);
      }
      sh('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
    }
  }

  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string, args: readonly string[], input?: string): string {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], input);
  }

  /** Register a cleanup step (stop a daemon, remove a directory); run in reverse order. */
  defer(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try { await fn(); } catch { /* keep cleaning */ }
    }
    for (const ns of this.namespaces) {
      // Kill anything still running inside before deleting the namespace.
      const pids = trySh('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
      trySh('ip', ['netns', 'del', ns]);
    }
  }
}

/** Why a topology test cannot run here, or undefined when it can. */
export function topologySkipReason(...commands: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  // In CI the setup script installed everything: a missing tool must fail the test, not skip it.
  if (process.env['CI'] === 'true') return undefined;
  for (const c of commands) {
    if (trySh('sh', ['-c', `command -v ${c}`]).status !== 0) return `${c} is not installed (run scripts/setup.sh)`;
  }
  return undefined;
}
