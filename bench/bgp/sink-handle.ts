/** The harness's side of a sink child process: its state and one-shot waits for its events. */
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import type { BenchLab, LabProcess } from '../lib/lab.js';
import { waitFor } from '../lib/deadline.js';
import type { SinkEvent } from './sink.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface PhaseTimes { readonly tNs: bigint; readonly firstNs: bigint; readonly t50Ns: bigint; readonly t90Ns: bigint; readonly updates: number }

export class SinkHandle {
  sessions = 0;
  count = 0;
  listening = false;
  readonly errors: string[] = [];
  private pending: { ev: 'full' | 'empty'; resolve: (t: PhaseTimes) => void } | undefined;
  private statusWaiter: ((e: SinkEvent & { ev: 'status' }) => void) | undefined;

  constructor(readonly proc: LabProcess) {
    proc.onLine((line) => {
      let e: SinkEvent;
      try { e = JSON.parse(line) as SinkEvent; } catch { proc.output += line + '\n'; return; }
      switch (e.ev) {
        case 'listening': this.listening = true; break;
        case 'established': case 'closed': this.sessions = e.sessions; break;
        case 'status': this.count = e.count; this.statusWaiter?.(e); break;
        case 'error': if (this.errors.length < 20) this.errors.push(e.message); break;
        case 'full': case 'empty':
          this.count = e.count;
          if (this.pending?.ev === e.ev) {
            const p = this.pending; this.pending = undefined;
            p.resolve({ tNs: BigInt(e.tNs), firstNs: BigInt(e.firstNs), t50Ns: BigInt(e.t50Ns), t90Ns: BigInt(e.t90Ns), updates: e.updates });
          }
          break;
      }
    });
  }

  static async start(lab: BenchLab, ns: string, asn: number, routerId: string): Promise<SinkHandle> {
    const proc = lab.spawn('sink', ns, process.execPath,
      ['--max-old-space-size=512', join(here, 'sink-main.js'), '--asn', String(asn), '--router-id', routerId, '--listen', '0.0.0.0:179', '--hold', '240']);
    const h = new SinkHandle(proc);
    await waitFor('sink listening', 10_000, () => { if (proc.exited) throw new Error(proc.exitReason()); return h.listening ? true : undefined; });
    return h;
  }

  /** Arm before T0: resolves when the count reaches n (`expect`) or 0 (`expect-empty`). */
  arm(ev: 'full' | 'empty', n: number): Promise<PhaseTimes> {
    return new Promise((resolve) => {
      this.pending = { ev, resolve };
      this.proc.send(JSON.stringify(ev === 'full' ? { cmd: 'expect', n } : { cmd: 'expect-empty' }));
    });
  }

  async status(): Promise<{ sessions: number; count: number }> {
    const e = await new Promise<SinkEvent & { ev: 'status' }>((resolve) => {
      this.statusWaiter = resolve;
      this.proc.send('{"cmd":"status"}');
    });
    return { sessions: e.sessions, count: e.count };
  }
}
