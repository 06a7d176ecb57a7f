// "field is immutable", as upstream's ValidateImmutableField: semantic deep equality. In Go an
// absent string is "" and an absent slice or map equals an empty one, so here undefined, null,
// '', [] and {} are all "unset" and equal to each other; object key order does not matter.
import { field, type FieldError } from '../errors.js';

export const FIELD_IMMUTABLE_ERROR_MSG = 'field is immutable';

function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isUnset(a) || isUnset(b)) return isUnset(a) && isUnset(b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => semanticEqual(x, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ao = a as Record<string, unknown>, bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    for (const k of keys) if (!semanticEqual(ao[k], bo[k])) return false;
    return true;
  }
  return false;
}

/** One error at `path` with the new value when it differs from the old one, else none. */
export function validateImmutableField(newVal: unknown, oldVal: unknown, path: string): FieldError[] {
  return semanticEqual(newVal, oldVal) ? [] : [field.invalid(path, newVal, FIELD_IMMUTABLE_ERROR_MSG)];
}
