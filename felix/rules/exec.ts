/**
 * How the rules backends run `nft`, `iptables-restore`, `ipset`: an injected function, so unit
 * tests pass a fake and the agent (the composition root) passes `spawnExec()`.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `cmd args` with `stdin`; resolves with the exit code (never rejects on a non-zero exit). */
export type Exec = (cmd: string, args: readonly string[], stdin?: string) => Promise<ExecResult>;

/**
 * A real `Exec`. `prefix` is prepended to every command, e.g. `['ip', 'netns', 'exec', 'ns1']`
 * to program a namespace. Failing to start the command (ENOENT) resolves with code 127.
 */
export function spawnExec(prefix: readonly string[] = []): Exec {
  return (cmd, args, stdin) => new Promise((resolve) => {
    const argv = [...prefix, cmd, ...args];
    const child = spawn(argv[0] ?? cmd, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: `${argv.join(' ')}: ${e.message}` }));
    child.on('close', (code, signal) => resolve({
      code: code ?? (signal === null ? 1 : 128),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8') + (signal === null ? '' : ` (killed by ${signal})`),
    }));
    child.stdin.on('error', () => { /* the command exited before reading stdin: reported via close */ });
    child.stdin.end(stdin ?? '');
  });
}
