// Label and field selectors, read and rendered as upstream's apimachinery `labels` and `fields`
// packages do, so `?labelSelector=` and `?fieldSelector=` on list and watch, `spec.selector` of
// workloads, `status.selector` of Scale and kubectl's columns all share one reading.
//
// Design notes:
// - A label selector is a sorted list of requirements (sorted by key, as upstream's parser and
//   `Selector.Add` do), so `String()` is canonical and two selectors can be compared as strings.
// - Label parsing is a small lexer + recursive-descent parser over upstream's grammar rather than a
//   regular expression: the error messages (`found 'x', expected: …`) need to name the token that
//   broke the parse, and `in (a,b)` lists nest.
// - Field selectors are deliberately much simpler (upstream: only `=`, `==`, `!=`, ANDed), and the
//   set of fields a resource supports is the caller's knowledge, passed in as a list.
// - Errors are 400 BadRequest `StatusError`s so the HTTP layer renders them without translation.
import type { LabelSelector as MetaLabelSelector, LabelSelectorRequirement } from 'kubernetes-types/meta/v1.js';
import { errors, type StatusError } from './errors.js';
import { isQualifiedName, isValidLabelValue } from './validation/names.js';

// ───────────────────────────── label selectors ─────────────────────────────

export type LabelOperator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  /** Sorted and de-duplicated; empty for `exists` and `!`. */
  values: string[];
}

export interface LabelSelector {
  /** ANDed, sorted by key. Empty with `nothing` unset means "everything". */
  requirements: LabelRequirement[];
  /** Matches no object at all: upstream's `labels.Nothing()`, from a nil `metav1.LabelSelector`. */
  nothing?: true;
}

export type Labels = Readonly<Record<string, string>> | undefined;

/** `labels.Set(m).String()` (also `SelectorFromSet(m).String()`, unvalidated): `k=v` pairs sorted by key. */
export function labelsString(labels: Labels | null): string {
  return Object.keys(labels ?? {}).sort().map(k => `${k}=${(labels ?? {})[k] ?? ''}`).join(',');
}

export const everything = (): LabelSelector => ({ requirements: [] });
export const nothing = (): LabelSelector => ({ requirements: [], nothing: true });

/** Builds and validates one requirement, as upstream's `labels.NewRequirement`. */
export function newRequirement(key: string, operator: LabelOperator, values: readonly string[], keyPath = 'key'): LabelRequirement {
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length > 0) throw new SelectorError(`${keyPath}: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`);
  switch (operator) {
    case 'in': case 'notin':
      if (values.length === 0) throw new SelectorError("for 'in', 'notin' operators, values set can't be empty");
      break;
    case '=': case '==': case '!=':
      if (values.length !== 1) throw new SelectorError("exact-match compatibility requires one single value");
      break;
    case 'exists': case '!':
      if (values.length !== 0) throw new SelectorError("values set must be empty for exists and does not exist");
      break;
    case 'gt': case 'lt':
      if (values.length !== 1) throw new SelectorError("for 'Gt', 'Lt' operators, exactly one value is required");
      for (const v of values) {
        if (!/^[+-]?[0-9]+$/.test(v)) throw new SelectorError("for 'Gt', 'Lt' operators, the value must be an integer");
      }
      break;
  }
  values.forEach((v, i) => {
    const valErrs = isValidLabelValue(v);
    if (valErrs.length > 0) throw new SelectorError(`values[${i}][${key}]: Invalid value: ${JSON.stringify(v)}: ${valErrs.join('; ')}`);
  });
  return { key, operator, values: [...new Set(values)].sort() };
}

/** A selector from requirements, sorted by key as upstream keeps them. */
export function labelSelectorOf(requirements: readonly LabelRequirement[]): LabelSelector {
  return { requirements: [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
}

/** `app=web,tier=db` from a map, as upstream's `labels.SelectorFromSet` (Service selectors). */
export function selectorFromSet(set: Labels): LabelSelector {
  return labelSelectorOf(Object.entries(set ?? {}).map(([k, v]) => newRequirement(k, '=', [v])));
}

export function isEverything(sel: LabelSelector): boolean {
  return !sel.nothing && sel.requirements.length === 0;
}

export function requirementMatches(r: LabelRequirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case '=': case '==': case 'in':
      return has && r.values.includes(value!);
    case '!=': case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt': case 'lt': {
      if (!has || !/^[+-]?[0-9]+$/.test(value!)) return false;
      const have = BigInt(value!);
      const want = BigInt(r.values[0]!);
      return r.operator === 'gt' ? have > want : have < want;
    }
  }
}

export function labelsMatch(sel: LabelSelector, labels: Labels): boolean {
  if (sel.nothing) return false;
  return sel.requirements.every(r => requirementMatches(r, labels));
}

function requirementString(r: LabelRequirement): string {
  switch (r.operator) {
    case 'exists': return r.key;
    case '!': return `!${r.key}`;
    case 'in': return `${r.key} in (${r.values.join(',')})`;
    case 'notin': return `${r.key} notin (${r.values.join(',')})`;
    case 'gt': return `${r.key}>${r.values[0] ?? ''}`;
    case 'lt': return `${r.key}<${r.values[0] ?? ''}`;
    default: return `${r.key}${r.operator}${r.values[0] ?? ''}`;
  }
}

/** The canonical string form; `''` for both everything and nothing, as upstream. */
export function labelSelectorString(sel: LabelSelector): string {
  return sel.requirements.map(requirementString).join(',');
}

/**
 * `metav1.LabelSelector` → selector, as upstream's `LabelSelectorAsSelector`: undefined (nil)
 * selects nothing, `{}` selects everything.
 */
export function fromMetaLabelSelector(ls: MetaLabelSelector | null | undefined): LabelSelector {
  if (ls === undefined || ls === null) return nothing();
  const reqs: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(ls.matchLabels ?? {})) reqs.push(newRequirement(k, '=', [v]));
  for (const expr of ls.matchExpressions ?? []) reqs.push(requirementFromExpression(expr));
  return labelSelectorOf(reqs);
}

function requirementFromExpression(expr: LabelSelectorRequirement): LabelRequirement {
  const values = expr.values ?? [];
  switch (expr.operator) {
    case 'In': return newRequirement(expr.key, 'in', values);
    case 'NotIn': return newRequirement(expr.key, 'notin', values);
    case 'Exists': return newRequirement(expr.key, 'exists', values);
    case 'DoesNotExist': return newRequirement(expr.key, '!', values);
    default: throw new SelectorError(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
  }
}

/**
 * As `fromMetaLabelSelector`, but `undefined` where upstream's `LabelSelectorAsSelector` fails
 * (unknown operator, bad key or value, values where none belong): the registries report those
 * through validation and skip the checks that need a usable selector.
 */
export function tryFromMetaLabelSelector(ls: MetaLabelSelector | null | undefined): LabelSelector | undefined {
  try {
    return fromMetaLabelSelector(ls);
  } catch (err) {
    if (err instanceof SelectorError) return undefined;
    throw err;
  }
}

/**
 * The string form of a `metav1.LabelSelector`, as upstream's `LabelSelectorAsSelector(s).String()`
 * fills Scale's `status.selector`; throws `SelectorError` for an invalid selector.
 */
export function metaLabelSelectorString(ls: MetaLabelSelector | null | undefined): string {
  return labelSelectorString(fromMetaLabelSelector(ls));
}

/** Upstream's `metav1.FormatLabelSelector`: the string form, or `<none>` when it selects everything. */
export function formatLabelSelector(ls: MetaLabelSelector | null | undefined): string {
  let text: string;
  try {
    text = labelSelectorString(fromMetaLabelSelector(ls));
  } catch (err) {
    if (err instanceof SelectorError) return '<error>';
    throw err;
  }
  return text === '' ? '<none>' : text;
}

/** A selector that failed to parse or validate; `toStatusError()` is the 400 for list/watch. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
  toStatusError(): StatusError {
    return errors.badRequest(this.message);
  }
}

// The lexer: identifiers are runs of anything but whitespace and the special symbols below.
type TokenKind = 'ident' | 'in' | 'notin' | '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' | 'eos' | 'error';
interface Token { kind: TokenKind; text: string }

const specialChars = new Set(['=', '!', '(', ')', ',', '>', '<']);
const symbolTokens = new Set<string>(['!', '=', '==', '!=', '(', ')', ',', '>', '<']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (isSpace(c)) { i++; continue; }
    if (specialChars.has(c)) {
      // Longest symbol that is still a valid token, as upstream's scanSpecialSymbol.
      let text = c;
      i++;
      while (i < input.length && specialChars.has(input[i]!) && symbolTokens.has(text + input[i]!)) {
        text += input[i]!;
        i++;
      }
      tokens.push({ kind: text as TokenKind, text });
      continue;
    }
    let text = '';
    while (i < input.length && !isSpace(input[i]!) && !specialChars.has(input[i]!)) {
      text += input[i]!;
      i++;
    }
    tokens.push({ kind: text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident', text });
  }
  tokens.push({ kind: 'eos', text: '' });
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token { return this.tokens[this.pos]!; }
  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.kind !== 'eos') this.pos++;
    return t;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const t = this.peek();
      switch (t.kind) {
        case 'ident': case '!': {
          let r: LabelRequirement;
          try {
            r = this.parseRequirement();
          } catch (err) {
            if (err instanceof SelectorError) throw new SelectorError(`unable to parse requirement: ${err.message}`);
            throw err;
          }
          reqs.push(r);
          const after = this.next();
          if (after.kind === 'eos') return reqs;
          if (after.kind !== ',') throw new SelectorError(`found '${after.text}', expected: ',' or 'end of string'`);
          const lookahead = this.peek();
          if (lookahead.kind !== 'ident' && lookahead.kind !== '!') {
            throw new SelectorError(`found '${lookahead.text}', expected: identifier after ','`);
          }
          break;
        }
        case 'eos':
          return reqs;
        default:
          throw new SelectorError(`found '${t.text}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): LabelRequirement {
    let t = this.next();
    let negated = false;
    if (t.kind === '!') {
      negated = true;
      t = this.next();
    }
    if (t.kind !== 'ident') throw new SelectorError(`found '${t.text}', expected: identifier`);
    const key = t.text;
    // Upstream validates the key on its own first, under a nil field path (printed `<nil>`).
    const keyErrs = isQualifiedName(key);
    if (keyErrs.length > 0) throw new SelectorError(`<nil>: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`);
    const after = this.peek();
    if (negated) return newRequirement(key, '!', []);
    if (after.kind === 'eos' || after.kind === ',') return newRequirement(key, 'exists', []);

    const op = this.next();
    switch (op.kind) {
      case 'in': case 'notin':
        return newRequirement(key, op.kind, this.parseValueList());
      case '=': case '==': case '!=':
        return newRequirement(key, op.kind, [this.parseExactValue()]);
      case '>': case '<':
        return newRequirement(key, op.kind === '>' ? 'gt' : 'lt', [this.parseExactValue()]);
      default:
        throw new SelectorError(`found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private parseExactValue(): string {
    const t = this.peek();
    if (t.kind === 'eos' || t.kind === ',') return ''; // `a=` selects the empty value
    this.next();
    if (isValueToken(t)) return t.text;
    throw new SelectorError(`found '${t.text}', expected: identifier`);
  }

  private parseValueList(): string[] {
    const open = this.next();
    if (open.kind !== '(') throw new SelectorError(`found '${open.text}', expected: '('`);
    const first = this.peek();
    if (first.kind === ')') {
      this.next();
      return ['']; // `()` is the set holding the empty value, as upstream reads it
    }
    if (!isValueToken(first) && first.kind !== ',') throw new SelectorError(`found '${first.text}', expected: ',', ')' or identifier`);
    const values: string[] = [];
    for (;;) {
      const t = this.next();
      if (isValueToken(t)) {
        values.push(t.text);
        const after = this.peek();
        if (after.kind === ')') { this.next(); return values; }
        if (after.kind !== ',') throw new SelectorError(`found '${after.text}', expected: ',' or ')'`);
      } else if (t.kind === ',') {
        // Empty members: `(,a)`, `(a,,b)`, `(a,)`.
        if (values.length === 0) values.push('');
        const after = this.peek();
        if (after.kind === ')') { this.next(); values.push(''); return values; }
        if (after.kind === ',') { this.next(); values.push(''); }
      } else {
        throw new SelectorError(`found '${t.text}', expected: ',', or identifier`);
      }
    }
  }
}

/** In value positions the keywords are plain words: `a in (in,notin)`, `a=in`. */
function isValueToken(t: Token): boolean {
  return t.kind === 'ident' || t.kind === 'in' || t.kind === 'notin';
}

/** Parses upstream's label selector syntax; throws `SelectorError`. `''` selects everything. */
export function parseLabelSelector(text: string): LabelSelector {
  return labelSelectorOf(new Parser(lex(text)).parse());
}

/** For `?labelSelector=` on list and watch: a 400 `StatusError` on bad input. */
export function parseLabelSelectorParam(text: string | null | undefined): LabelSelector {
  if (!text) return everything();
  try {
    return parseLabelSelector(text);
  } catch (err) {
    if (err instanceof SelectorError) throw err.toStatusError();
    throw err;
  }
}

// ───────────────────────────── field selectors ─────────────────────────────

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

/** ANDed requirements; empty selects everything. */
export interface FieldSelector { requirements: FieldRequirement[] }

export type FieldAttributes = Readonly<Record<string, string | undefined>>;

/** Escapes `\`, `,` and `=` in a value, as upstream's `fields.EscapeValue`. */
export function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, c => `\\${c}`);
}

function unescapeFieldValue(value: string): string {
  let out = '';
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw new SelectorError(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === '\\') {
      inSlash = true;
    } else if (c === ',' || c === '=') {
      throw new SelectorError(`invalid field selector: unescaped character in value: ${c}`);
    } else {
      out += c;
    }
  }
  if (inSlash) throw new SelectorError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Splits on commas that are not escaped, keeping the escapes in each part. */
function splitFieldTerms(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') { parts.push(text.slice(start, i)); start = i + 1; }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Parses `metadata.name=x,status.phase!=Running`; throws `SelectorError`. */
export function parseFieldSelector(text: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  // Upstream sorts the raw terms, so the canonical string is independent of input order.
  for (const term of splitFieldTerms(text).sort()) {
    if (term === '') continue;
    const m = /!=|==|=/.exec(term);
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
    const field = term.slice(0, m.index);
    const value = unescapeFieldValue(term.slice(m.index + m[0].length));
    requirements.push({ field, operator: m[0] === '!=' ? '!=' : '=', value });
  }
  return { requirements };
}

export function fieldSelectorString(sel: FieldSelector): string {
  return sel.requirements.map(r => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
}

/** Missing attributes compare as `''`, as upstream's `fields.Set.Get`. */
export function fieldsMatch(sel: FieldSelector, attrs: FieldAttributes): boolean {
  return sel.requirements.every(r => {
    const have = attrs[r.field] ?? '';
    return r.operator === '=' ? have === r.value : have !== r.value;
  });
}

/** The value a selector requires `field` to equal exactly (e.g. `metadata.name`), if any. */
export function requiredFieldValue(sel: FieldSelector, field: string): string | undefined {
  return sel.requirements.find(r => r.field === field && r.operator === '=')?.value;
}

/** Every resource supports these, as upstream's `DefaultMetaV1FieldSelectorConversion`. */
export const defaultSelectableFields: readonly string[] = ['metadata.name', 'metadata.namespace'];

/** Throws a 400 `field label not supported: X` for a field the resource cannot select on. */
export function checkSelectableFields(sel: FieldSelector, allowed: readonly string[]): void {
  for (const r of sel.requirements) {
    if (!allowed.includes(r.field) && !defaultSelectableFields.includes(r.field)) {
      throw errors.badRequest(`field label not supported: ${r.field}`);
    }
  }
}

/**
 * For `?fieldSelector=` on list and watch: parses, checks the fields against those the resource
 * supports (`metadata.name` and `metadata.namespace` always), and throws a 400 `StatusError`.
 */
export function parseFieldSelectorParam(text: string | null | undefined, allowed: readonly string[]): FieldSelector {
  if (!text) return { requirements: [] };
  let sel: FieldSelector;
  try {
    sel = parseFieldSelector(text);
  } catch (err) {
    if (err instanceof SelectorError) throw err.toStatusError();
    throw err;
  }
  checkSelectableFields(sel, allowed);
  return sel;
}
