/**
 * Calico's label selector language (libcalico-go lib/selector): parser and evaluator.
 *   expr   := or
 *   or     := and ('||' and)*
 *   and    := unary ('&&' unary)*
 *   unary  := '!' unary | '(' or ')' | 'all()' | 'global()' | 'has(' key ')'
 *           | key ('=='|'!=') str | key ['not'] 'in' '{' [str (',' str)*] '}'
 *           | key ['not'] ('contains'|'starts with'|'ends with') str
 * Errors carry the 0-based character position.
 */
import { TortieError } from '../../common/errors.js';
import { assertNever } from '../../common/assert-never.js';

export type Selector =
  | { readonly type: 'all' }
  | { readonly type: 'global' }
  | { readonly type: 'has'; readonly key: string }
  | { readonly type: 'eq'; readonly key: string; readonly value: string }
  | { readonly type: 'in'; readonly key: string; readonly values: readonly string[] }
  | { readonly type: 'contains' | 'startsWith' | 'endsWith'; readonly key: string; readonly value: string }
  | { readonly type: 'not'; readonly expr: Selector }
  | { readonly type: 'and' | 'or'; readonly exprs: readonly Selector[] };

export class SelectorError extends TortieError {
  constructor(readonly input: string, readonly position: number, reason: string) {
    super('invalid-selector', `invalid selector ${JSON.stringify(input)} at position ${position}: ${reason}`);
    this.name = 'SelectorError';
  }
}

const KEY_RE = /^[A-Za-z0-9_./-]+/;

class Parser {
  pos = 0;
  constructor(readonly src: string) {}
  fail(reason: string, at = this.pos): never { throw new SelectorError(this.src, at, reason); }
  ws(): void { while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++; }
  peek(s: string): boolean { this.ws(); return this.src.startsWith(s, this.pos); }
  eat(s: string): boolean { if (this.peek(s)) { this.pos += s.length; return true; } return false; }
  /** A keyword followed by a non-key character. */
  eatWord(w: string): boolean {
    this.ws();
    if (!this.src.startsWith(w, this.pos)) return false;
    const next = this.src[this.pos + w.length] ?? '';
    if (/[A-Za-z0-9_./-]/.test(next)) return false;
    this.pos += w.length;
    return true;
  }
  expect(s: string, what: string): void { if (!this.eat(s)) this.fail(`expected ${what}`); }

  key(): string {
    this.ws();
    const m = KEY_RE.exec(this.src.slice(this.pos));
    if (m === null) this.fail('expected a label key');
    this.pos += m[0].length;
    return m[0];
  }

  str(): string {
    this.ws();
    const q = this.src[this.pos];
    if (q !== '"' && q !== "'") this.fail('expected a quoted string');
    const end = this.src.indexOf(q, this.pos + 1);
    if (end < 0) this.fail('unterminated string');
    const v = this.src.slice(this.pos + 1, end);
    this.pos = end + 1;
    return v;
  }

  or(): Selector {
    const exprs = [this.and()];
    while (this.eat('||')) exprs.push(this.and());
    return exprs.length === 1 ? exprs[0] as Selector : { type: 'or', exprs };
  }

  and(): Selector {
    const exprs = [this.unary()];
    while (this.eat('&&')) exprs.push(this.unary());
    return exprs.length === 1 ? exprs[0] as Selector : { type: 'and', exprs };
  }

  unary(): Selector {
    this.ws();
    if (this.pos >= this.src.length) this.fail('unexpected end of selector');
    if (this.peek('!') && !this.peek('!=')) { this.pos++; return { type: 'not', expr: this.unary() }; }
    if (this.eat('(')) { const e = this.or(); this.expect(')', '")"'); return e; }
    if (this.eatWord('all')) { this.expect('(', '"("'); this.expect(')', '")"'); return { type: 'all' }; }
    if (this.eatWord('global')) { this.expect('(', '"("'); this.expect(')', '")"'); return { type: 'global' }; }
    const save = this.pos;
    if (this.eatWord('has') && this.peek('(')) {
      this.eat('(');
      const key = this.key();
      this.expect(')', '")" after has(key');
      return { type: 'has', key };
    }
    this.pos = save;
    const key = this.key();
    if (this.eat('==')) return { type: 'eq', key, value: this.str() };
    if (this.eat('!=')) return { type: 'not', expr: { type: 'eq', key, value: this.str() } };
    const negate = this.eatWord('not');
    let e: Selector;
    if (this.eatWord('in')) e = { type: 'in', key, values: this.set() };
    else if (this.eatWord('contains')) e = { type: 'contains', key, value: this.str() };
    else if (this.eatWord('starts')) { if (!this.eatWord('with')) this.fail('expected "with"'); e = { type: 'startsWith', key, value: this.str() }; }
    else if (this.eatWord('ends')) { if (!this.eatWord('with')) this.fail('expected "with"'); e = { type: 'endsWith', key, value: this.str() }; }
    else this.fail(`expected an operator (==, !=, in, not in, contains, starts with, ends with) after ${JSON.stringify(key)}`);
    return negate ? { type: 'not', expr: e } : e;
  }

  set(): string[] {
    this.expect('{', '"{"');
    const values: string[] = [];
    if (this.eat('}')) return values;
    do values.push(this.str()); while (this.eat(','));
    this.expect('}', '"}" or ","');
    return values;
  }
}

export function parseSelector(src: string): Selector {
  const p = new Parser(src);
  p.ws();
  if (p.pos >= src.length) return { type: 'all' }; // Calico: empty selector = all()
  const e = p.or();
  p.ws();
  if (p.pos < src.length) p.fail(`unexpected ${JSON.stringify(src.slice(p.pos, p.pos + 10))}`);
  return e;
}

export type Labels = Readonly<Record<string, string>>;

export function evaluateSelector(sel: Selector, labels: Labels): boolean {
  const get = (k: string): string | undefined => (Object.prototype.hasOwnProperty.call(labels, k) ? labels[k] : undefined);
  switch (sel.type) {
    case 'all': return true;
    case 'global': return true;
    case 'has': return get(sel.key) !== undefined;
    case 'eq': return get(sel.key) === sel.value;
    case 'in': { const v = get(sel.key); return v !== undefined && sel.values.includes(v); }
    case 'contains': { const v = get(sel.key); return v !== undefined && v.includes(sel.value); }
    case 'startsWith': { const v = get(sel.key); return v !== undefined && v.startsWith(sel.value); }
    case 'endsWith': { const v = get(sel.key); return v !== undefined && v.endsWith(sel.value); }
    case 'not': return !evaluateSelector(sel.expr, labels);
    case 'and': return sel.exprs.every((e) => evaluateSelector(e, labels));
    case 'or': return sel.exprs.some((e) => evaluateSelector(e, labels));
    default: return assertNever(sel);
  }
}

/** Parse and evaluate in one go (parse errors throw SelectorError). */
export function selectorMatches(src: string, labels: Labels): boolean {
  return evaluateSelector(parseSelector(src), labels);
}

/** Canonical text form (round-trips through parseSelector). */
export function formatSelector(sel: Selector): string {
  const q = (s: string): string => (s.includes("'") ? `"${s}"` : `'${s}'`);
  switch (sel.type) {
    case 'all': return 'all()';
    case 'global': return 'global()';
    case 'has': return `has(${sel.key})`;
    case 'eq': return `${sel.key} == ${q(sel.value)}`;
    case 'in': return `${sel.key} in {${sel.values.map(q).join(', ')}}`;
    case 'contains': return `${sel.key} contains ${q(sel.value)}`;
    case 'startsWith': return `${sel.key} starts with ${q(sel.value)}`;
    case 'endsWith': return `${sel.key} ends with ${q(sel.value)}`;
    case 'not': return `!(${formatSelector(sel.expr)})`;
    case 'and': return sel.exprs.map((e) => `(${formatSelector(e)})`).join(' && ');
    case 'or': return sel.exprs.map((e) => `(${formatSelector(e)})`).join(' || ');
    default: return assertNever(sel);
  }
}
