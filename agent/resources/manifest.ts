/**
 * Read a manifest (multi-document YAML or JSON, `List`/`<Kind>List` documents expanded) and
 * validate every resource. All-or-nothing: if any document is invalid, the result carries the
 * problems (file, document index, field path, reason) and no resources.
 *
 * Hostile input is bounded as it streams in: the text is split into documents at `---`/`...`
 * lines and each is parsed alone (one document's parse tree in memory at a time), a document
 * larger than etcd will take is refused as soon as it passes the limit, without reading it to
 * the end, and reading stops after MAX_PROBLEMS problems. Each resource's stored value is checked
 * against etcd's request size limit (`--max-request-bytes`, 1.5 MiB by default) before anything
 * is written. A `List` document may be larger than one value (its items are checked one by one),
 * up to LIST_FACTOR times the limit.
 */
import { TortieError } from '../../common/errors.js';
import { validateResource, type Resource } from './kinds.js';
import { GO_YAML_OPTIONS } from './go-yaml.js';

export interface ManifestProblem {
  readonly file: string;
  /** 0-based index of the document in the file. */
  readonly document: number;
  /** `items[3]` when the resource is inside a List document. */
  readonly item?: number;
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: ManifestProblem): string {
  const item = p.item === undefined ? '' : ` items[${p.item}]`;
  return `${p.file}: document ${p.document}${item}: ${p.path}: ${p.message}`;
}

export class ManifestError extends TortieError {
  constructor(readonly problems: readonly ManifestProblem[], more = false) {
    super('invalid-manifest', problems.map(formatProblem).join('\n') + (more ? `\n(stopped after ${problems.length} problems)` : ''));
    this.name = 'ManifestError';
  }
}

/** etcd's default `--max-request-bytes`: a put larger than this is refused by the server. */
export const ETCD_DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
export const LIST_FACTOR = 8;
export const MAX_PROBLEMS = 100;
/** What the datastore adds to a resource when it stores it (key, uid, creationTimestamp, framing). */
const STORED_OVERHEAD = 512;

export interface ManifestLimits {
  /** Largest value etcd takes (its `--max-request-bytes`). */
  readonly maxRequestBytes: number;
}
export const DEFAULT_LIMITS: ManifestLimits = { maxRequestBytes: ETCD_DEFAULT_MAX_REQUEST_BYTES };

const mib = (n: number): string => (n >= 1048576 ? `${(n / 1048576).toFixed(n % 1048576 === 0 ? 0 : 1)} MiB` : `${Math.round(n / 1024)} KiB`);

/** One document's text, 0-based index, 1-based first line. */
export interface RawDocument { readonly index: number; readonly line: number; readonly text: string }

const SEPARATOR = /^(---|\.\.\.)(?:[ \t\r\n]|$)/;
const LIST_KIND = /^kind:[ \t]*["']?\w*List["']?[ \t]*(#.*)?$/;
const JSON_LIST_KIND = /"kind"\s*:\s*"\w*List"/;

/**
 * Splits text arriving in chunks into documents, refusing (ManifestError) a document as soon as
 * it grows past the limit: nothing past that point is kept.
 */
export class DocumentSplitter {
  private readonly lines: string[] = [];
  private bytes = 0;
  private partial = '';
  private index = 0;
  private lineNo = 0;
  private startLine = 1;
  private isList = false;
  private sawContent = false;
  /** `Kind(name)` from the document's first lines, to name a document refused before it is parsed. */
  private kind: string | undefined;
  private name: string | undefined;

  constructor(private readonly file: string, private readonly limits: ManifestLimits = DEFAULT_LIMITS) {}

  /** Feed text; returns the documents completed by it. */
  push(chunk: string): RawDocument[] {
    const out: RawDocument[] = [];
    const text = this.partial + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl + 1), out);
      start = nl + 1;
    }
    this.partial = text.slice(start);
    if (!this.isList && this.bytes < 65536 && this.partial.length > 0) {
      // A long line still arriving (minified JSON): is it a list?
      const head = this.partial.slice(0, 65536);
      if ((!this.sawContent && head.trimStart().startsWith('[')) || JSON_LIST_KIND.test(head)) this.isList = true;
    }
    this.check(this.partial.length);
    return out;
  }

  end(): RawDocument[] {
    const out: RawDocument[] = [];
    if (this.partial !== '') this.line(this.partial, out);
    this.partial = '';
    this.flush(out);
    return out;
  }

  private line(l: string, out: RawDocument[]): void {
    this.lineNo++;
    const m = SEPARATOR.exec(l);
    if (m !== null) {
      this.flush(out);
      this.startLine = this.lineNo + 1;
      // `--- {inline: doc}` starts a document on the separator line itself.
      const rest = m[1] === '---' ? l.slice(3).trim() : '';
      if (rest !== '' && !rest.startsWith('#')) { this.startLine = this.lineNo; this.add(`${rest}\n`); }
      return;
    }
    this.add(l);
  }

  private add(l: string): void {
    const t = l.trimStart();
    if (!this.sawContent && t !== '' && !t.startsWith('#') && !t.startsWith('%')) {
      this.sawContent = true;
      if (t.startsWith('[')) this.isList = true;
    }
    if (!this.isList && this.bytes < 65536 && (LIST_KIND.test(l.trimEnd()) || JSON_LIST_KIND.test(l))) this.isList = true;
    if (this.bytes < 65536) {
      this.kind ??= /^kind:[ \t]*["']?(\w+)/.exec(l)?.[1];
      this.name ??= /^ {1,4}name:[ \t]*["']?([-\w.]+)/.exec(l)?.[1];
    }
    this.lines.push(l);
    this.bytes += l.length;
    this.check(0);
  }

  private check(pending: number): void {
    // Length in UTF-16 units bounds the UTF-8 size from below: a document refused here is
    // certainly too large; the exact stored size is checked per resource after parsing.
    const limit = this.isList ? this.limits.maxRequestBytes * LIST_FACTOR : this.limits.maxRequestBytes;
    if (this.bytes + pending <= limit) return;
    const what = this.isList ? `a List document larger than ${mib(limit)} (${LIST_FACTOR} x etcd's request size limit)`
      : `larger than ${mib(limit)}, etcd's request size limit (--max-request-bytes): etcd would refuse it`;
    const named = this.kind === undefined ? '' : ` (${this.kind}${this.name === undefined ? '' : `(${this.name})`})`;
    throw new ManifestError([{ file: this.file, document: this.index, path: `line ${this.startLine}${named}`,
      message: `${what}; refused without reading the rest of the input` }]);
  }

  private flush(out: RawDocument[]): void {
    if (this.sawContent) out.push({ index: this.index, line: this.startLine, text: this.lines.join('') });
    if (this.sawContent || this.lines.length > 0) this.index++;
    this.lines.length = 0;
    this.bytes = 0;
    this.isList = false;
    this.sawContent = false;
    this.kind = undefined;
    this.name = undefined;
  }
}

/** Parse one document's text (JSON fast path, else YAML as calicoctl reads it). */
export async function parseDocument(doc: RawDocument, file: string): Promise<unknown> {
  const trimmed = doc.text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try { return JSON.parse(doc.text); } catch { /* YAML flow style is not always JSON; YAML reports positions */ }
  }
  const { parseDocument: parseYaml } = await import('yaml');
  const d = parseYaml(doc.text, GO_YAML_OPTIONS);
  if (d.errors.length > 0) {
    throw new ManifestError(d.errors.map((e) => ({ file, document: doc.index, path: `line ${doc.line - 1 + (e.linePos?.[0]?.line ?? 1)}`,
      message: e.message.split('\n')[0] ?? e.message })));
  }
  return d.toJS({ maxAliasCount: 100 });
}

/** Validate one parsed document (a resource or a List of them) and check each stored size. */
export function validateDocument(doc: unknown, index: number, file: string, limits: ManifestLimits = DEFAULT_LIMITS):
  { resources: Resource[]; problems: ManifestProblem[] } {
  const resources: Resource[] = [];
  const problems: ManifestProblem[] = [];
  const one = (raw: unknown, item?: number): void => {
    const at = { file, document: index, ...(item === undefined ? {} : { item }) };
    const r = validateResource(raw);
    if (!r.ok) { for (const i of r.issues) problems.push({ ...at, path: i.path, message: i.message }); return; }
    const size = Buffer.byteLength(JSON.stringify(r.resource)) + STORED_OVERHEAD;
    if (size > limits.maxRequestBytes) {
      problems.push({ ...at, path: `${r.resource.kind}(${r.resource.metadata.name})`,
        message: `stored it would be about ${size} bytes, over etcd's request size limit of ${limits.maxRequestBytes} bytes (--max-request-bytes): etcd would refuse it` });
      return;
    }
    resources.push(r.resource);
  };
  const o = doc as Record<string, unknown> | null;
  if (Array.isArray(doc)) doc.forEach((it, j) => one(it, j));
  else if (o !== null && typeof o === 'object' && typeof o['kind'] === 'string' && o['kind'].endsWith('List') && 'items' in o) {
    const items = o['items'];
    if (!Array.isArray(items)) problems.push({ file, document: index, path: 'items', message: 'must be a list' });
    else items.forEach((it, j) => one(it, j));
  } else if (o !== null && o !== undefined) one(doc);
  return { resources, problems };
}

/**
 * Stream a manifest: `chunks` yields its text; each valid resource goes to `onResource` as soon as
 * its document is checked. Throws ManifestError with every problem found (up to MAX_PROBLEMS)
 * once the input is read; the caller writes nothing unless this returns.
 */
export async function streamManifest(chunks: Iterable<string> | AsyncIterable<string>, file: string,
  onResource: (r: Resource) => void | Promise<void>, limits: ManifestLimits = DEFAULT_LIMITS): Promise<number> {
  const splitter = new DocumentSplitter(file, limits);
  const problems: ManifestProblem[] = [];
  let count = 0;
  const take = async (docs: readonly RawDocument[]): Promise<void> => {
    for (const d of docs) {
      let parsed: unknown;
      try { parsed = await parseDocument(d, file); } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        problems.push(...err.problems);
        continue;
      }
      const v = validateDocument(parsed, d.index, file, limits);
      problems.push(...v.problems);
      if (problems.length === 0) for (const r of v.resources) { await onResource(r); count++; }
      if (problems.length >= MAX_PROBLEMS) throw new ManifestError(problems.slice(0, MAX_PROBLEMS), true);
    }
  };
  for await (const chunk of chunks) await take(splitter.push(chunk));
  await take(splitter.end());
  if (problems.length > 0) throw new ManifestError(problems);
  return count;
}

/** Parse and validate a whole manifest held in memory (tests, small inputs). */
export async function loadManifest(text: string, file: string, limits: ManifestLimits = DEFAULT_LIMITS): Promise<Resource[]> {
  const out: Resource[] = [];
  await streamManifest([text], file, (r) => { out.push(r); }, limits);
  return out;
}
