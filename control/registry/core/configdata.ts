// What ConfigMaps and Secrets share: data keys, the 1 MiB size limit, base64 values, and the
// `immutable` flag's update rules.
import { field, type FieldError } from '../../../api/errors.js';
import { isConfigMapKey } from '../../../api/validation/names.js';

export const MAX_SECRET_SIZE = 1024 * 1024;

/** Decoded length of a standard base64 string, or undefined when it is not valid base64. */
export function base64DecodedLength(s: string): number | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/** Where a base64 string first goes wrong, as Go's encoding/base64 reports it. */
export function illegalBase64(s: string): string {
  const bad = s.search(/[^A-Za-z0-9+/=]/);
  const at = bad >= 0 ? bad : Math.floor(s.length / 4) * 4;
  return `illegal base64 data at input byte ${at}`;
}

export function validateDataKeys(data: Record<string, string> | undefined, root: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of Object.keys(data ?? {})) {
    for (const m of isConfigMapKey(key)) errs.push(field.invalid(`${root}[${key}]`, key, m));
  }
  return errs;
}

/** Upstream's immutable rules: once `immutable: true`, neither the flag nor the given data may change. */
export function validateImmutableData(
  newImmutable: boolean | undefined, oldImmutable: boolean | undefined,
  changed: { name: string; same: boolean }[],
): FieldError[] {
  if (oldImmutable !== true) return [];
  const errs: FieldError[] = [];
  if (newImmutable !== true) errs.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const c of changed) if (!c.same) errs.push(field.forbidden(c.name, 'field is immutable when `immutable` is set'));
  return errs;
}
