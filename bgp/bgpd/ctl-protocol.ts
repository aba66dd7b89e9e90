/**
 * The bgpd control protocol: one JSON request per line on a unix socket, one JSON response line
 * back. Shared by the server (ctl-server.ts) and the client (ctl-main.ts).
 */
export type CtlRequest =
  | { readonly cmd: 'show-protocols'; readonly name?: string }
  | { readonly cmd: 'show-route'; readonly prefix?: string; readonly filtered?: boolean }
  | { readonly cmd: 'show-route-count' }
  | { readonly cmd: 'show-status' }
  | { readonly cmd: 'show-bfd-sessions' }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'enable' | 'disable' | 'restart' | 'refresh'; readonly name: string };

export type CtlResponse =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly error: string };

export const DEFAULT_CTL_PATH = '/run/tortie/bgpd.ctl';

export function parseRequest(line: string): CtlRequest {
  let v: unknown;
  try { v = JSON.parse(line); } catch { throw new Error('request is not JSON'); }
  if (typeof v !== 'object' || v === null) throw new Error('request must be a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);
  switch (o['cmd']) {
    case 'show-protocols': { const name = str('name'); return name !== undefined ? { cmd: 'show-protocols', name } : { cmd: 'show-protocols' }; }
    case 'show-route': {
      const prefix = str('prefix');
      return { cmd: 'show-route', ...(prefix !== undefined ? { prefix } : {}), ...(o['filtered'] === true ? { filtered: true } : {}) };
    }
    case 'show-route-count': return { cmd: 'show-route-count' };
    case 'show-status': return { cmd: 'show-status' };
    case 'show-bfd-sessions': return { cmd: 'show-bfd-sessions' };
    case 'reload': return { cmd: 'reload' };
    case 'enable': case 'disable': case 'restart': case 'refresh': {
      const name = str('name');
      if (name === undefined) throw new Error(`${String(o['cmd'])} needs "name"`);
      return { cmd: o['cmd'], name };
    }
    default: throw new Error(`unknown command ${JSON.stringify(o['cmd'])}`);
  }
}
