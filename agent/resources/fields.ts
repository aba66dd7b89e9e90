/**
 * Field validators shared by every kind, as zod schemas (zod v4: strict objects report unknown
 * keys with their path, issues carry field paths, defaults are filled while parsing).
 */
import { z } from 'zod';
import { formatAddress, formatPrefix, parseAddress, parsePrefix, prefixOverlaps, type Prefix } from '../../common/prefix.js';
import { parseSelector, SelectorError } from './selector.js';

/** Go duration (`90s`, `2m`, `1h30m`, `500ms`, `0`) → milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0, m: RegExpExecArray | null, end = 0;
  if (text === '') return undefined;
  while ((m = re.exec(text)) !== null) { ms += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0); end = re.lastIndex; }
  return end === text.length ? ms : undefined;
}

export const duration = z.string().refine((s) => parseDuration(s) !== undefined,
  { message: 'must be a duration such as 90s, 2m or 1h30m' });

export const MAX_AS = 4294967295;

/** AS number: 0..4294967295, plain or asdot (`1.10` = 65546). */
export function parseAsNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= MAX_AS ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const dotted = /^(\d{1,5})\.(\d{1,5})$/.exec(v);
  if (dotted !== null) {
    const hi = Number(dotted[1]), lo = Number(dotted[2]);
    return hi <= 65535 && lo <= 65535 ? hi * 65536 + lo : undefined;
  }
  return /^\d{1,10}$/.test(v) && Number(v) <= MAX_AS ? Number(v) : undefined;
}

export const asNumber = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseAsNumber(v);
  if (n === undefined) {
    const hint = typeof v === 'number' && !Number.isInteger(v) ? ' (quote a dotted AS number: asNumber: "1.10")' : '';
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not an AS number (0-4294967295 or dotted a.b)${hint}` });
    return z.NEVER;
  }
  return n;
});

export const port = z.int().min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535');

export const ipAddress = z.string().transform((v, ctx) => {
  try { return formatAddress(parseAddress(v)); } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** Strictly masked CIDR, canonicalised. */
export const cidr = z.string().transform((v, ctx) => {
  try { return formatPrefix(parsePrefix(v)); } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** Address with prefix length, host bits allowed (Node spec.bgp.ipv4Address `10.0.3.7/24`). */
export function addressWithPrefix(family?: 4 | 6) {
  return z.string().superRefine((v, ctx) => {
    let f: 4 | 6;
    try { f = parsePrefix(v, { allowHostBits: true }).family; } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an address with a prefix length, e.g. 10.0.3.7/24' });
      return;
    }
    if (family !== undefined && f !== family) ctx.addIssue({ code: 'custom', message: `must be an IPv${family} address with a prefix length` });
  });
}

/** BGPPeer peerIP: `ip`, `ip:port` (IPv4) or `[ipv6]:port`. */
export function parsePeerIp(v: string): { ip: string; port: number | undefined } | string {
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(v);
  const [host, portText] = bracket !== null ? [bracket[1] ?? '', bracket[2]] : v4port !== null ? [v4port[1] ?? '', v4port[2]] : [v, undefined];
  let ip: string;
  try { ip = formatAddress(parseAddress(host)); } catch { return `${JSON.stringify(v)} is not an IP, IPv4:port or [IPv6]:port`; }
  if (bracket !== null && !host.includes(':')) return `${JSON.stringify(v)}: brackets are for IPv6 addresses`;
  if (portText === undefined) return { ip, port: undefined };
  const p = Number(portText);
  if (!Number.isInteger(p) || p < 1 || p > 65535) return `${JSON.stringify(v)}: port must be 1-65535`;
  return { ip, port: p };
}

export const peerIp = z.string().superRefine((v, ctx) => {
  const r = parsePeerIp(v);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

export const selector = z.string().superRefine((v, ctx) => {
  try { parseSelector(v); } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof SelectorError ? err.message : String(err) });
  }
});

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}
export const resourceName = z.string().refine(isValidName,
  { message: 'must be a lowercase RFC 1123 subdomain (a-z, 0-9, "-", ".", at most 253 characters)' });

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
export const labels = z.record(z.string().regex(LABEL_KEY, 'invalid label key'), z.string().regex(LABEL_VALUE, 'invalid label value (at most 63 characters of A-Z a-z 0-9 - _ .)'));

export const metadata = z.strictObject({
  name: resourceName,
  labels: labels.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  creationTimestamp: z.union([z.string(), z.null()]).optional(),
  generation: z.number().optional(),
  namespace: z.string().optional(),
  generateName: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.unknown()).optional(),
  managedFields: z.array(z.unknown()).optional(),
  selfLink: z.string().optional(),
});

export const secretKeyRef = z.strictObject({
  secretKeyRef: z.strictObject({ name: z.string().min(1), key: z.string().min(1), optional: z.boolean().optional() }),
});

const LINK_LOCAL: readonly Prefix[] = [parsePrefix('169.254.0.0/16'), parsePrefix('fe80::/10')];
export function overlapsLinkLocal(p: Prefix): boolean { return LINK_LOCAL.some((l) => prefixOverlaps(l, p)); }
