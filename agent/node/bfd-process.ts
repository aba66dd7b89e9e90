/**
 * Starts tortie-bfd (bgp/bfd/sidecar-main.ts) for tortie-node when nothing serves its socket:
 * detached (its own session, not our child in the process tree's sense), so a kill -9 of the
 * agent leaves it running with the node's BFD sessions Up. `--exit-when-idle`: it exits once
 * no agent is connected and no session is left, so a lab or test run leaves nothing behind.
 * Its log goes to bfd.log and its PID to bfd.pid beside the socket (`tortie-lab fail NODE
 * freeze` stops it with the agent).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bundle (scripts/bundle.sh) when built, else the ESM entry point. */
export function bfdProcessMain(): string | undefined {
  const candidates = [
    fileURLToPath(new URL('../../bgp/bfd/tortie-bfd.cjs', import.meta.url)),
    fileURLToPath(new URL('../../bgp/bfd/sidecar-main.js', import.meta.url)),
  ];
  return candidates.find((p) => existsSync(p));
}

/** Start tortie-bfd serving `socket`; false when it is not installed next to this agent. */
export function startBfdProcess(socket: string, graceMs: number): boolean {
  const main = bfdProcessMain();
  if (main === undefined) return false;
  const dir = dirname(socket);
  const log = openSync(join(dir, 'bfd.log'), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [main, '--socket', socket, '--pid-file', join(dir, 'bfd.pid'),
      '--grace', String(Math.ceil(graceMs / 1000)), '--exit-when-idle'], {
      detached: true, stdio: ['ignore', log, log], env: { ...process.env, TORTIE_BFD_SOCKET: socket },
    });
    child.on('error', () => { /* reported by the socket staying unreachable */ });
    child.unref();
    return child.pid !== undefined;
  } finally {
    closeSync(log);
  }
}
