/** Starts ns-agent.js inside a namespace and calls it; `stop()` ends exactly that process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const AGENT = fileURLToPath(new URL('./ns-agent.js', import.meta.url));

export class NsAgent {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly ready: Promise<void>;
  stderr = '';

  constructor(readonly ns: string, env: Record<string, string> = {}) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    let markReady: () => void = () => undefined;
    this.ready = new Promise((r) => { markReady = r; });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => {
      const msg = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
      if (msg.id === 0) { markReady(); return; }
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.ok) w?.resolve(msg.result); else w?.reject(new Error(msg.error ?? 'ns-agent error'));
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`ns-agent in ${ns} exited (${code}): ${this.stderr}`));
      this.waiting.clear();
    });
  }

  async call<T = unknown>(op: string, args: object = {}, timeoutMs = 60_000): Promise<T> {
    await this.ready;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => { this.waiting.delete(id); reject(new Error(`ns-agent ${op} timed out`)); }, timeoutMs);
      this.waiting.set(id, { resolve: (v) => { clearTimeout(t); resolve(v as T); }, reject: (e) => { clearTimeout(t); reject(e); } });
      this.child.stdin?.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin?.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(t);
  }
}
