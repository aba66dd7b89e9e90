/**
 * CPU seconds and peak memory of a process tree, read from /proc (Linux).
 *
 * CPU = utime + stime (fields 14 and 15 of /proc/PID/stat; the kernel sums every thread of the
 * thread group there) over the root and all its descendants. Peak RSS = VmHWM of
 * /proc/PID/status, summed over the tree (each daemon here is a single process, so the sum is the
 * one process's high-water mark).
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64 and arm64

export interface ProcSample {
  /** utime+stime in seconds over the tree. */
  readonly cpuSeconds: number;
  /** Sum of VmHWM (peak resident set) in bytes over the tree. */
  readonly peakRssBytes: number;
  /** Sum of VmRSS in bytes over the tree. */
  readonly rssBytes: number;
  readonly pids: readonly number[];
}

interface StatLine { readonly pid: number; readonly ppid: number; readonly ticks: number }

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // comm may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field N is f[N - 3].
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { pid, ppid, ticks: utime + stime };
}

function statusKb(pid: number, key: string): number {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return 0; }
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m?.[1] !== undefined ? Number(m[1]) : 0;
}

/** The root PID and every descendant alive now. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return [root]; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = readStat(Number(e));
    if (s === undefined) continue;
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s.pid]); else list.push(s.pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop();
    if (p === undefined) break;
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** Sample the tree under `root`; a process that vanished contributes nothing. */
export function sampleTree(root: number): ProcSample {
  const pids = processTree(root);
  let ticks = 0; let hwm = 0; let rss = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s === undefined) continue;
    ticks += s.ticks;
    hwm += statusKb(pid, 'VmHWM');
    rss += statusKb(pid, 'VmRSS');
  }
  return { cpuSeconds: ticks / CLK_TCK, peakRssBytes: hwm * 1024, rssBytes: rss * 1024, pids };
}
