/**
 * Read a manifest (multi-document YAML or JSON, `List`/`<Kind>List` documents expanded) and
 * validate every resource. All-or-nothing: if any document is invalid, the result carries
 * every problem (file, document index, field path, reason) and no resources.
 */
import { TortieError } from '../../common/errors.js';
import { validateResource, type Resource } from './kinds.js';

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
  constructor(readonly problems: readonly ManifestProblem[]) {
    super('invalid-manifest', problems.map(formatProblem).join('\n'));
    this.name = 'ManifestError';
  }
}

/** Parse text into raw documents; a JSON or YAML syntax error becomes a ManifestError. */
export async function parseDocuments(text: string, file: string): Promise<unknown[]> {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(text);
      return Array.isArray(v) ? v : [v];
    } catch { /* fall through: YAML is a superset and reports positions */ }
  }
  const { parseAllDocuments } = await import('yaml');
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  const problems: ManifestProblem[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0) {
      for (const e of d.errors) problems.push({ file, document: i, path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message });
      return;
    }
    const v: unknown = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  });
  if (problems.length > 0) throw new ManifestError(problems);
  return out;
}

/** Validate every document; throws ManifestError listing every problem, or returns all resources. */
export function validateDocuments(docs: readonly unknown[], file: string): Resource[] {
  const resources: Resource[] = [];
  const problems: ManifestProblem[] = [];
  const one = (doc: unknown, document: number, item?: number): void => {
    const r = validateResource(doc);
    if (r.ok) resources.push(r.resource);
    else for (const i of r.issues) problems.push({ file, document, ...(item === undefined ? {} : { item }), path: i.path, message: i.message });
  };
  docs.forEach((doc, index) => {
    const o = doc as Record<string, unknown> | null;
    if (o !== null && typeof o === 'object' && typeof o['kind'] === 'string' && o['kind'].endsWith('List') && 'items' in o) {
      const items = o['items'];
      if (!Array.isArray(items)) problems.push({ file, document: index, path: 'items', message: 'must be a list' });
      else items.forEach((it, j) => one(it, index, j));
    } else one(doc, index);
  });
  if (problems.length > 0) throw new ManifestError(problems);
  return resources;
}

export async function loadManifest(text: string, file: string): Promise<Resource[]> {
  return validateDocuments(await parseDocuments(text, file), file);
}
