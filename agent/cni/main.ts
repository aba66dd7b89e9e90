#!/usr/bin/env node
/**
 * tortie CNI plugin entry (and `tortie-ipam` when TORTIE_CNI_ROLE=ipam). Reads the network
 * configuration on stdin and the CNI_* environment, prints the result or the spec's error JSON,
 * exits non-zero on error. Kept free of heavy imports: the runtime starts it once per pod. The build
 * bundles it into dist/agent/cni/tortie-cni.cjs (one CommonJS file starts ~12 ms sooner than the
 * ESM module graph); that file is what runtimes execute.
 */
import { readFileSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseRequest } from './cni-config.js';
import { CniError, CniErrorCode } from './cni-error.js';
import { unixAgentClient } from './agent-client.js';
import { handle, type PluginDeps } from './plugin.js';

const LOG_FILE = process.env['TORTIE_CNI_LOG'] ?? '/var/log/tortie/cni.log';

function log(level: string, msg: string, fields: Record<string, unknown>): void {
  try {
    appendFileSync(LOG_FILE, `${JSON.stringify({ level, time: Date.now(), name: 'tortie-cni', pid: process.pid, msg, ...fields })}\n`);
  } catch { /* logging must never fail a pod */ }
}

async function main(): Promise<number> {
  let stdin = '';
  try { stdin = readFileSync(0, 'utf8'); } catch { /* VERSION may come without stdin */ }
  let cniVersion = '1.0.0';
  const started = performance.now();
  try {
    const req = parseRequest(process.env, stdin);
    cniVersion = req.config.cniVersion;
    const deps: PluginDeps = {
      role: process.env['TORTIE_CNI_ROLE'] === 'ipam' || req.config.type === 'tortie-ipam' ? 'ipam' : 'main',
      agent: unixAgentClient(req.config.agentSocket, undefined, (r, waitMs) =>
        log('info', 'tortie-node is not listening (starting or restarting?): waiting for it', { request: r.type, socket: req.config.agentSocket, waitMs })),
      exec: (cmd, args, input) => {
        const r = spawnSync(cmd, args, { input: input ?? '', encoding: 'utf8' });
        return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
      },
      writeFile: (p, d) => writeFileSync(p, d),
      exists: (p) => existsSync(p),
      readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } },
      ...(req.config.etcd === undefined ? {} : { releaseInDatastore: async (handle: string) => {
        const etcd = req.config.etcd;
        if (etcd === undefined) return [];
        // Kept out of the bundle (scripts/bundle.sh): the etcd client loads only on this path.
        const { releaseHandleInDatastore } = await import('./datastore-release.js');
        const released = await releaseHandleInDatastore(etcd, handle);
        log('info', 'tortie-node down: released in etcd', { handle, released });
        return released;
      } }),
    };
    const result = await handle(req, deps);
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
    log('info', `${req.command} done`, { containerId: req.containerId, ifname: req.ifname, ms: Math.round(performance.now() - started) });
    return 0;
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CniErrorCode.IO, err instanceof Error ? err.message : String(err));
    process.stdout.write(`${JSON.stringify(e.toJSON(cniVersion))}\n`);
    log('error', e.message, { code: e.code, details: e.details, command: process.env['CNI_COMMAND'] });
    return 1;
  }
}

// No top-level await: the shipped plugin is this file bundled into one CommonJS file (tortie-cni.cjs).
void main().then((code) => { process.exitCode = code; });
