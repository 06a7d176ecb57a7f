// Small helpers over plain JSON values shared by every patch type. Objects here are always what
// JSON.parse produces (no Dates, no undefined inside arrays), so structural equality and copying
// can be exact and simple. Copies are api/object.ts' deepCopy.
import { isPlainObject } from '../object.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isJsonObject(value: unknown): value is JsonObject {
  return isPlainObject(value);
}

/** Structural equality of JSON values: key order in objects is not significant, array order is. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every(k => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** Go's `%v` rendering of a decoded JSON value, used where upstream's messages print values. */
export function goFormat(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map(k => `${k}:${goFormat(o[k])}`).join(' ')}]`;
  }
  return String(value);
}

/**
 * JSON as Go's encoder writes a decoded value: object keys sorted, `<`, `>`, `&`, U+2028 and
 * U+2029 escaped, no spaces. Used where upstream stores serialized JSON (annotations).
 */
export function goJsonStringify(value: unknown): string {
  const escape = (s: string) => JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const write = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return escape(v);
    if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter(k => o[k] !== undefined).sort().map(k => `${escape(k)}:${write(o[k])}`).join(',')}}`;
  };
  return write(value);
}
