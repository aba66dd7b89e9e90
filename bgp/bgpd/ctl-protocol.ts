/**
 * The bgpd control protocol: one JSON request per line on a unix socket, JSON response lines
 * back. A list that may be long (`show-route`) comes in several lines, each
 * `{"ok":true,"data":[...],"more":true}`, then a last line without `more` (or `{"ok":false,...}`):
 * the server never holds the whole answer, the client prints as it reads. Every other answer is
 * one line. Shared by the server (ctl-server.ts) and the client (ctl-main.ts).
 */
export type CtlRequest =
  | { readonly cmd: 'show-protocols'; readonly name?: string }
  | {
    readonly cmd: 'show-route'; readonly prefix?: string; readonly filtered?: boolean;
    /** Longest match for this address (birdc `show route for`). */
    readonly for?: string;
    /** What this peer is sent (birdc `show route export`). */
    readonly export?: string;
  }
  | { readonly cmd: 'show-route-count' }
  | { readonly cmd: 'show-status' }
  | { readonly cmd: 'show-bfd-sessions' }
  | { readonly cmd: 'reload' }
  | { readonly cmd: 'enable' | 'disable' | 'restart' | 'refresh'; readonly name: string };

export type CtlResponse =
  | { readonly ok: true; readonly data: unknown; readonly more?: true }
  | { readonly ok: false; readonly error: string };

export const DEFAULT_CTL_PATH = '/run/tortie/bgpd.ctl';

/**
 * The client side of one request: feed it the socket's text as it comes; it returns undefined
 * until the last line, then the whole answer (a long list arrives as several lines marked
 * `more`, joined here) or the daemon's error.
 */
export function responseReader(): (text: string) => { readonly data: unknown } | { readonly error: string } | undefined {
  let buf = '';
  const parts: unknown[] = [];
  return (text) => {
    buf += text;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const r = JSON.parse(buf.slice(0, nl)) as CtlResponse;
      buf = buf.slice(nl + 1);
      if (r.ok && r.more === true) { parts.push(...(r.data as unknown[])); continue; }
      if (!r.ok) return { error: r.error };
      return { data: parts.length > 0 ? [...parts, ...(r.data as unknown[])] : r.data };
    }
    return undefined;
  };
}

export function parseRequest(line: string): CtlRequest {
  let v: unknown;
  try { v = JSON.parse(line); } catch { throw new Error('request is not JSON'); }
  if (typeof v !== 'object' || v === null) throw new Error('request must be a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);
  switch (o['cmd']) {
    case 'show-protocols': { const name = str('name'); return name !== undefined ? { cmd: 'show-protocols', name } : { cmd: 'show-protocols' }; }
    case 'show-route': {
      const prefix = str('prefix'), forAddr = str('for'), exp = str('export');
      return {
        cmd: 'show-route', ...(prefix !== undefined ? { prefix } : {}), ...(o['filtered'] === true ? { filtered: true } : {}),
        ...(forAddr !== undefined ? { for: forAddr } : {}), ...(exp !== undefined ? { export: exp } : {}),
      };
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
