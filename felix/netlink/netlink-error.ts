/** A failed netlink request: what object, which errno, and what to do about it. */
import { TortieError } from '../../common/errors.js';

export class NetlinkError extends TortieError {
  /** errno name from the kernel ("EEXIST", "ENODEV", ...) or "ETIMEDOUT"/"ESOCKET" locally. */
  readonly errno: string;
  readonly object: string;
  constructor(operation: string, object: string, errno: string, cause?: unknown) {
    super('netlink-error', `${operation} ${object} failed: ${errno} (${hint(errno)})`,
      cause === undefined ? {} : { cause });
    this.name = 'NetlinkError';
    this.errno = errno;
    this.object = object;
  }
}

function hint(errno: string): string {
  switch (errno) {
    case 'EEXIST': return 'the object already exists; a resync will adopt or replace it';
    case 'ESRCH': case 'ENOENT': return 'the object is already gone';
    case 'ENODEV': return 'the interface does not exist (yet); the route stays pending until it appears';
    case 'ENETUNREACH': return 'the gateway is not reachable on that interface; use onlink or check the node subnet';
    case 'EPERM': case 'EACCES': return 'needs CAP_NET_ADMIN (run as root)';
    case 'EOPNOTSUPP': return 'the kernel lacks support for this object type';
    case 'EINVAL': return 'the kernel rejected the request as malformed; this is a bug, please report it';
    case 'ENOBUFS': return 'the netlink socket overflowed; a full resync follows';
    case 'ETIMEDOUT': return 'no answer from the kernel within the timeout; the request will be retried on resync';
    default: return 'will be retried on the next resync';
  }
}

/** The errno name in an error thrown by the `netlink` package ("Request rejected: EEXIST"). */
export function errnoOf(err: unknown): string {
  if (err instanceof NetlinkError) return err.errno;
  const msg = err instanceof Error ? err.message : String(err);
  const m = /Request rejected: (\w+)/.exec(msg) ?? /\b(E[A-Z0-9]{2,})\b/.exec(msg);
  if (m?.[1] !== undefined) return m[1];
  if (/timeout/i.test(msg)) return 'ETIMEDOUT';
  return 'ESOCKET';
}
