/**
 * Route dumps on their own raw rtnetlink socket, read in place: the `netlink` package's request
 * path turns every message of a dump into a header object, a message object and two Buffer
 * views before we see it, which at 100k routes costs more (allocation and GC) than decoding the
 * routes. Here each datagram is walked by offset and only RTM_NEWROUTE payloads reach the
 * caller's visitor, as (buffer, start, end).
 */
import { RawNetlinkSocket, Protocol } from 'netlink';
import { getSystemErrorName } from 'node:util';
import { NetlinkError, errnoOf } from './netlink-error.js';

const RTM_GETROUTE = 26, RTM_NEWROUTE = 24, NLMSG_ERROR = 2, NLMSG_DONE = 3;
const NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300, NLM_F_MULTI = 2, NLM_F_DUMP_INTR = 16;
const AF_INET = 2, AF_INET6 = 10;

export type RoutePayloadVisitor = (buf: Buffer, start: number, end: number) => void;

export class RouteDumper {
  private readonly sock: RawNetlinkSocket;
  private seq = 1;
  private current: { seq: number; visit: RoutePayloadVisitor; interrupted: boolean; done: (err?: Error) => void } | undefined;

  constructor(private readonly options: { readonly timeoutMs?: number } = {}) {
    this.sock = new RawNetlinkSocket(Protocol.ROUTE, { recvBufferSize: 8 << 20, sendBufferSize: 1 << 16 });
    this.sock.unref();
    // The package aborts the process on an unhandled socket error: fail the dump in flight instead.
    this.sock.on('error', (err) => this.finish(new NetlinkError('dump', 'routes', errnoOf(err), err)));
    this.sock.on('message', (buf) => this.onDatagram(buf));
  }

  /** Dump the family's routes; resolves true when the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR). */
  dump(family: 4 | 6, visit: RoutePayloadVisitor): Promise<boolean> {
    if (this.current !== undefined) return Promise.reject(new NetlinkError('dump', 'routes', 'EBUSY'));
    const seq = this.seq++;
    const msg = Buffer.alloc(16 + 12);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(RTM_GETROUTE, 4);
    msg.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    msg.writeUInt32LE(seq, 8);
    msg[16] = family === 4 ? AF_INET : AF_INET6;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => this.finish(new NetlinkError('dump', `IPv${family} routes`, 'ETIMEDOUT')), this.options.timeoutMs ?? 10_000);
      const cur = { seq, visit, interrupted: false, done: (err?: Error): void => {
        clearTimeout(timer);
        this.sock.unref();
        if (err === undefined) resolve(cur.interrupted); else reject(err);
      } };
      this.current = cur;
      this.sock.ref();
      this.sock.send(msg, {}, (err) => { if (err !== undefined) this.finish(new NetlinkError('dump', `IPv${family} routes`, errnoOf(err), err)); });
    });
  }

  private finish(err?: Error): void {
    const c = this.current;
    this.current = undefined;
    c?.done(err);
  }

  private onDatagram(buf: Buffer): void {
    const c = this.current;
    if (c === undefined) return;
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > buf.length) break;
      const type = buf.readUInt16LE(off + 4);
      const flags = buf.readUInt16LE(off + 6);
      const seq = buf.readUInt32LE(off + 8);
      if (seq === c.seq) {
        if ((flags & NLM_F_DUMP_INTR) !== 0) c.interrupted = true;
        if (type === RTM_NEWROUTE) {
          try { c.visit(buf, off + 16, off + len); } catch (err) { this.finish(err instanceof Error ? err : new Error(String(err))); return; }
        } else if (type === NLMSG_DONE) {
          this.finish();
          return;
        } else if (type === NLMSG_ERROR) {
          const errno = len >= 20 ? -buf.readInt32LE(off + 16) : 0;
          this.finish(errno === 0 ? undefined : new NetlinkError('dump', 'routes', errnoText(errno)));
          return;
        } else if ((flags & NLM_F_MULTI) === 0) {
          // A single-part reply that is not a route: nothing more will come for this dump.
          this.finish();
          return;
        }
      }
      off += (len + 3) & ~3;
    }
  }

  close(): void {
    this.finish(new NetlinkError('dump', 'routes', 'ECANCELED'));
    try { this.sock.close(); } catch { /* already closed */ }
  }
}

function errnoText(errno: number): string {
  try { return getSystemErrorName(-errno); } catch { return `errno ${errno}`; }
}
