/**
 * Read YAML as calicoctl does, so a manifest Calico's client takes gives the same resource here.
 *
 * calicoctl unmarshals with projectcalico/go-yaml-wrapper (ghodss/yaml over go-yaml v2): YAML 1.1
 * scalars (`yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal), timestamps kept as
 * the text written (go-yaml v2 does so when decoding into interface{}), no sexagesimal numbers;
 * the result goes through encoding/json into the typed struct, and where the struct's field is a
 * string, a boolean or number is first turned into its Go text (strconv.FormatBool, FormatInt,
 * FormatFloat(v, 'g', -1, 32)). So `routeReflector: true` as a label value is the label "true",
 * and `null` on any field is the same as leaving it out. encoding/json also matches field names
 * without regard to case (`CIDR:` sets `cidr`), which the schema's own field names make possible.
 */
import type { z } from 'zod';
import type { ParseOptions, DocumentOptions, SchemaOptions, ToJSOptions } from 'yaml';

type Tags = NonNullable<Exclude<SchemaOptions['customTags'], ((t: never) => unknown)>>;

/** Options for the `yaml` package that resolve plain scalars as go-yaml v2 does. */
export const GO_YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions = {
  version: '1.1',
  customTags: (tags: Tags): Tags => tags.filter((t) => {
    if (typeof t !== 'object') return true;
    const tag = t as { tag?: string; format?: string };
    return tag.tag !== 'tag:yaml.org,2002:timestamp' && tag.format !== 'TIME';
  }),
  maxAliasCount: 100,
};

/** Go's strconv.FormatFloat(v, 'g', -1, 32): shortest digits that read back as the same float32. */
export function formatFloat32(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const f = Math.fround(v);
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  let digits = 1;
  while (digits < 9 && Math.fround(Number(f.toPrecision(digits))) !== f) digits++;
  const [mant = '', expText = '0'] = f.toExponential(digits - 1).split('e');
  const exp = Number(expText);
  // strconv's 'g' at the shortest precision uses an exponent below 1e-4 and from 1e6 on (eprec = 6).
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp);
    return `${mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  return String(Number(f.toPrecision(digits)));
}

/** The text Go's YAML-to-JSON step gives a scalar bound for a string field; undefined if it stays. */
export function goScalarText(v: unknown): string | undefined {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? String(v) : formatFloat32(v);
  return undefined;
}

/** Drop `null` map values (encoding/json leaves a field with null at its zero value). */
export function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== null) out[k] = dropNulls(x);
  return out;
}

function at(root: unknown, path: readonly PropertyKey[]): { parent: Record<PropertyKey, unknown>; key: PropertyKey } | undefined {
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[path[i] as PropertyKey];
  }
  const key = path[path.length - 1];
  if (key === undefined || cur === null || typeof cur !== 'object') return undefined;
  return { parent: cur as Record<PropertyKey, unknown>, key };
}

/** Every object field name a schema knows, by lower case (zod v4 definitions walked once). */
const fieldNames = new WeakMap<object, Map<string, string[]>>();
function knownFields(schema: z.ZodType): Map<string, string[]> {
  let m = fieldNames.get(schema);
  if (m !== undefined) return m;
  m = new Map();
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    const d = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (d === undefined) return;
    switch (d['type']) {
      case 'object':
        for (const [k, v] of Object.entries(d['shape'] as Record<string, unknown>)) {
          const list = m?.get(k.toLowerCase()) ?? [];
          if (!list.includes(k)) list.push(k);
          m?.set(k.toLowerCase(), list);
          walk(v);
        }
        break;
      case 'pipe': walk(d['in']); walk(d['out']); break;
      case 'array': walk(d['element']); break;
      case 'record': walk(d['valueType']); break;
      case 'union': for (const o of d['options'] as unknown[]) walk(o); break;
      case 'intersection': walk(d['left']); walk(d['right']); break;
      default: walk(d['innerType']);
    }
  };
  walk(schema);
  fieldNames.set(schema, m);
  return m;
}

/**
 * safeParse, turning booleans and numbers into Go's text wherever the schema wants a string (the
 * schema says where: each round rewrites the values zod reported as "expected string").
 */
export function parseAsCalico<S extends z.ZodType>(schema: S, value: unknown): ReturnType<S['safeParse']> {
  let v = dropNulls(value);
  let copied = false;
  for (let round = 0; ; round++) {
    const r = schema.safeParse(v) as ReturnType<S['safeParse']>;
    if (r.success || round >= 8) return r;
    let changed = false;
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        // encoding/json: `NatOutgoing` sets natOutgoing, unless the exact name is there too.
        if (!copied) { v = structuredClone(v); copied = true; }
        const obj = issue.path.length === 0 ? v : (() => { const slot = at(v, issue.path); return slot?.parent[slot.key]; })();
        if (obj === null || typeof obj !== 'object') continue;
        const o = obj as Record<string, unknown>;
        for (const k of issue.keys) {
          const canon = knownFields(schema).get(k.toLowerCase());
          const name = canon?.length === 1 ? canon[0] : undefined;
          if (name === undefined || name === k || name in o) continue;
          o[name] = o[k];
          delete o[k];
          changed = true;
        }
        continue;
      }
      if (issue.code !== 'invalid_type' || issue.expected !== 'string') continue;
      if (!copied) { v = structuredClone(v); copied = true; }
      const slot = at(v, issue.path);
      const text = slot === undefined ? undefined : goScalarText(slot.parent[slot.key]);
      if (slot === undefined || text === undefined) continue;
      slot.parent[slot.key] = text;
      changed = true;
    }
    if (!changed) return r;
  }
}
