/**
 * calicoctl's two table styles:
 *  - `formatColumns`: `get` output (Go tabwriter, minwidth 5, padding 3, no borders);
 *  - `formatBoxTable`: `node status` / `ipam show` (olekukonko/tablewriter: `+---+` borders,
 *    upper-case headers centred, one space padding, numeric cells right-aligned).
 */
export function formatColumns(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(5, ...all.map((r) => (r[i] ?? '').length + 3)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('')).join('\n') + '\n';
}

/** olekukonko/tablewriter's `decimal` pattern: only such cells are right-aligned. */
const NUMERIC = /^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$/;

export function formatBoxTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const up = headers.map((h) => h.toUpperCase());
  const widths = up.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const centre = (s: string, w: number): string => {
    const gap = w - s.length;
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + s + ' '.repeat(gap - left);
  };
  const cell = (s: string, w: number): string => (NUMERIC.test(s) ? s.padStart(w) : s.padEnd(w));
  const out = [line, `|${up.map((h, i) => ` ${centre(h, widths[i] ?? 0)} `).join('|')}|`, line];
  for (const r of rows) out.push(`|${widths.map((w, i) => ` ${cell(r[i] ?? '', w)} `).join('|')}|`);
  out.push(line);
  return out.join('\n') + '\n';
}

/** Go's `%.5g`. */
export function formatG5(n: number): string {
  if (n === 0) return '0';
  const s = n.toPrecision(5);
  const [mant = '', exp] = s.split('e');
  const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
  if (exp === undefined) return m;
  const e = Number(exp);
  return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}
