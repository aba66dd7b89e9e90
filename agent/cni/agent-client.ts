/** The plugin's side of the agent protocol: connect, send one line, read one line, with a deadline. */
import { createConnection } from 'node:net';
import type { AgentRequest, AgentResponse } from './agent-protocol.js';
import { CniError, CniErrorCode } from './cni-error.js';

export interface AgentClient {
  call(request: AgentRequest): Promise<AgentResponse>;
}

export function unixAgentClient(socketPath: string, timeoutMs = 60_000): AgentClient {
  return {
    call(request) {
      return new Promise((resolve, reject) => {
        const sock = createConnection(socketPath);
        let buf = '';
        const fail = (err: CniError): void => { sock.destroy(); reject(err); };
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
          fail(new CniError(down ? CniErrorCode.AGENT_UNAVAILABLE : CniErrorCode.IO,
            down ? `tortie-node is not running on this host (no listener on ${socketPath}); start it and retry`
              : `talking to tortie-node at ${socketPath} failed: ${err.message}`, err.code ?? ''));
        });
        sock.on('close', () => {
          clearTimeout(timer);
          if (!buf.includes('\n')) reject(new CniError(CniErrorCode.IO, `tortie-node closed the connection without answering (${socketPath})`));
        });
      });
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
