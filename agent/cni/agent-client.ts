/** The plugin's side of the agent protocol: connect, send one line, read one line, with a deadline. */
import { createConnection } from 'node:net';
import type { AgentRequest, AgentResponse } from './agent-protocol.js';
import { CniError, CniErrorCode } from './cni-error.js';

export interface AgentClient {
  /** `waitMs`: while nothing listens on the socket (the agent starting or restarting), keep trying that long. */
  call(request: AgentRequest, options?: { readonly waitMs?: number }): Promise<AgentResponse>;
}

/**
 * Nothing listens on the agent's socket (not running, or restarting): CNI code 11, "try again
 * later", so the runtime retries; DEL knows to release through the datastore instead.
 */
export class AgentUnavailableError extends CniError {
  constructor(socketPath: string, waitedMs: number, code: string) {
    super(CniErrorCode.TRY_AGAIN_LATER, `tortie-node is not running on this host (no listener on ${socketPath}${waitedMs > 0 ? ` after waiting ${waitedMs} ms` : ''}); start it and retry`, code);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms); });

function callOnce(socketPath: string, timeoutMs: number, request: AgentRequest): Promise<AgentResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    const fail = (err: Error): void => { sock.destroy(); reject(err); };
    const timer = setTimeout(() => fail(new CniError(CniErrorCode.TRY_AGAIN_LATER,
      `tortie-node did not answer a ${request.type} request within ${timeoutMs} ms`, socketPath)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as AgentResponse);
      } catch (err) {
        reject(new CniError(CniErrorCode.DECODE, 'tortie-node sent an unreadable answer', String(err)));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const down = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      fail(down ? new AgentUnavailableError(socketPath, 0, err.code ?? '')
        : new CniError(CniErrorCode.IO, `talking to tortie-node at ${socketPath} failed: ${err.message}`, err.code ?? ''));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new CniError(CniErrorCode.IO, `tortie-node closed the connection without answering (${socketPath})`));
    });
  });
}

/** `onWait` is told once per call when it starts waiting for the agent (for the plugin's log). */
export function unixAgentClient(socketPath: string, timeoutMs = 60_000, onWait?: (request: AgentRequest, waitMs: number) => void): AgentClient {
  return {
    async call(request, options) {
      const waitMs = options?.waitMs ?? 0;
      const started = Date.now();
      // Nothing was sent while the socket refuses connections, so retrying cannot repeat a request.
      for (let pause = 100; ; pause = Math.min(pause * 2, 1000)) {
        try {
          return await callOnce(socketPath, timeoutMs, request);
        } catch (err) {
          const waited = Date.now() - started;
          if (!(err instanceof AgentUnavailableError) || waited >= waitMs) {
            throw err instanceof AgentUnavailableError && waitMs > 0 ? new AgentUnavailableError(socketPath, waited, err.details) : err;
          }
          if (pause === 100) onWait?.(request, waitMs);
          await sleep(Math.min(pause, waitMs - waited));
        }
      }
    },
  };
}

/** Turn an agent answer into a value or a CniError, for the plugin's handlers. */
export function expectOk<T extends AgentResponse['type']>(res: AgentResponse, want: T): Extract<AgentResponse, { type: T }> {
  if (res.type === want) return res as Extract<AgentResponse, { type: T }>;
  if (res.type === 'error') {
    const code = res.retry ? CniErrorCode.TRY_AGAIN_LATER
      : res.code.startsWith('ipam') ? CniErrorCode.IPAM_FAILED : CniErrorCode.PLUGIN_NOT_AVAILABLE;
    throw new CniError(code, `tortie-node: ${res.message}`, res.code);
  }
  throw new CniError(CniErrorCode.DECODE, `tortie-node answered ${res.type} where ${want} was expected`);
}
