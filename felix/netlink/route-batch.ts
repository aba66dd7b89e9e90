/**
 * Bulk route writes: many RTM_NEWROUTE/RTM_DELROUTE messages packed into one datagram (the
 * kernel processes every message of a datagram in order), without per-message ACKs; only the
 * last message of each datagram asks for one. Errors come back as NLMSG_ERROR carrying the
 * failed message's sequence number, and all of them arrive before the final ACK, so that ACK
 * is the barrier. This is what makes 100k routes as fast as `ip -batch`.
 */
import { createNetlink, Protocol, type NetlinkSocket } from 'netlink';
import { getSystemErrorName } from 'node:util';
import type { Logger } from '../../common/logger.js';
import { NetlinkError, errnoOf } from './netlink-error.js';
import { RequestQueue } from './request-queue.js';
import { describeRoute, encodeRoutePayload } from './rt-codec.js';
import type { RouteOp } from './types.js';

const RTM_NEWROUTE = 24, RTM_DELROUTE = 25, NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_REPLACE = 0x100, NLM_F_CREATE = 0x400;

interface Pending { readonly firstSeq: number; readonly lastSeq: number; readonly errors: Map<number, string>;
  readonly done: (err?: Error) => void }

export class RouteBatcher {
  private readonly sock: NetlinkSocket;
  private readonly port: number;
  private seq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: RequestQueue;

  constructor(private readonly deps: { readonly logger: Logger }, private readonly options: { perDatagram?: number; datagramsInFlight?: number; timeoutMs?: number } = {}) {
    this.sock = createNetlink(Protocol.ROUTE, { recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    this.port = this.sock.address().port;
    this.queue = new RequestQueue(options.datagramsInFlight ?? 1);
    this.sock.on('error', (err: unknown) => {
      // Replies may have been lost: fail everything in flight (the caller resyncs).
      this.deps.logger.warn({ errno: errnoOf(err) }, 'bulk route socket error');
      for (const p of this.pending.values()) p.done(new NetlinkError('batch', 'routes', errnoOf(err), err));
      this.pending.clear();
    });
    this.sock.on('message', (msgs) => {
      for (const m of msgs) {
        if (m.type !== NLMSG_ERROR || m.data.length < 4) continue;
        const errno = -m.data.readInt32LE(0);
        const p = this.findPending(m.seq);
        if (p === undefined) continue;
        if (errno !== 0) p.errors.set(m.seq, errnoName(errno));
        if (m.seq === p.lastSeq) {
          this.pending.delete(p.lastSeq);
          p.done();
        }
      }
    });
  }

  private findPending(seq: number): Pending | undefined {
    for (const p of this.pending.values()) if (seq >= p.firstSeq && seq <= p.lastSeq) return p;
    return undefined;
  }

  /** Apply the ops; returns one entry per op: undefined on success, else the NetlinkError. */
  async run(ops: readonly RouteOp[]): Promise<Array<NetlinkError | undefined>> {
    const per = this.options.perDatagram ?? 200;
    const results: Array<NetlinkError | undefined> = new Array<NetlinkError | undefined>(ops.length).fill(undefined);
    const chunks: Array<Promise<void>> = [];
    for (let i = 0; i < ops.length; i += per) {
      const start = i;
      const chunk = ops.slice(i, i + per);
      chunks.push(this.queue.run(() => this.sendChunk(chunk)).then((errs) => {
        errs.forEach((e, j) => { results[start + j] = e; });
      }));
    }
    await Promise.all(chunks);
    return results;
  }

  private sendChunk(ops: readonly RouteOp[]): Promise<Array<NetlinkError | undefined>> {
    // Encode first; an op that cannot be encoded (bad address text) fails alone, unsent.
    // Each buffer is nlmsghdr (16 bytes, filled below) + payload.
    const payloads: Array<Buffer | undefined> = ops.map((o) => {
      try { return encodeRoutePayload(o.route, o.op === 'delete', 16); } catch { return undefined; }
    });
    const sent = payloads.filter((p) => p !== undefined).length;
    if (this.seq + ops.length > 0x7fffffff) this.seq = 1;
    const firstSeq = this.seq;
    const seqOf: number[] = new Array<number>(ops.length).fill(-1);
    const bufs: Uint8Array[] = [];
    let k = 0;
    ops.forEach((o, j) => {
      const payload = payloads[j];
      if (payload === undefined) return;
      const seq = firstSeq + k;
      seqOf[j] = seq;
      k++;
      payload.writeUInt32LE(payload.length, 0);
      payload.writeUInt16LE(o.op === 'delete' ? RTM_DELROUTE : RTM_NEWROUTE, 4);
      payload.writeUInt16LE(NLM_F_REQUEST | (k === sent ? NLM_F_ACK : 0) | (o.op === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0), 6);
      payload.writeUInt32LE(seq, 8);
      payload.writeUInt32LE(this.port, 12);
      bufs.push(payload);
    });
    this.seq += sent;
    const lastSeq = firstSeq + sent - 1;
    return new Promise((resolve) => {
      const errors = new Map<number, string>();
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        resolve(ops.map((o, j) => {
          const what = `route ${describeRoute(o.route)}`;
          const seq = seqOf[j] ?? -1;
          if (seq < 0) return new NetlinkError(o.op, what, 'EINVAL');
          const e = errors.get(seq);
          if (e !== undefined) return new NetlinkError(o.op, what, e);
          if (err !== undefined) return new NetlinkError(o.op, what, errnoOf(err), err);
          return undefined;
        }));
      };
      const timer = setTimeout(() => {
        this.pending.delete(lastSeq);
        finish(new NetlinkError('batch', `${ops.length} routes`, 'ETIMEDOUT'));
      }, this.options.timeoutMs ?? 10_000);
      if (sent === 0) { finish(); return; }
      this.pending.set(lastSeq, { firstSeq, lastSeq, errors, done: finish });
      this.sock.socket.send(Buffer.concat(bufs), {}, (err) => {
        if (err !== undefined && err !== null) {
          this.pending.delete(lastSeq);
          finish(err);
        }
      });
    });
  }

  close(): void {
    try { this.sock.close(); } catch { /* closed */ }
  }
}

function errnoName(errno: number): string {
  try { return getSystemErrorName(-errno); } catch { return `errno ${errno}`; }
}
