/** Tiny `--name value` parser for the benchmark's child processes (repeatable flags). */

export function parseFlags(argv: readonly string[], known: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}" at position ${i + 1}`);
    const name = a.slice(2);
    if (!known.includes(name)) throw new Error(`unknown flag --${name} (known: ${known.map((k) => `--${k}`).join(', ')})`);
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    (out[name] ??= []).push(v);
    i++;
  }
  return out;
}

export function hostPort(s: string, what: string): [string, number] {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--${what} ${s}: expected ADDR:PORT`);
  return [s.slice(0, i), port];
}
