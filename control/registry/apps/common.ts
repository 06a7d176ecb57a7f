// Helpers shared by the non-core resource definitions (apps, batch, autoscaling, networking, …):
// upstream's ValidateLabelSelector (selector conversion, matching and rendering live in
// api/selectors.ts, table cells in ../printers.ts), dotted-path access for the scale
// subresource, and field errors whose value is rendered the way Go's `%#v` prints it.
//
// Why a Go-style renderer: kubectl users (and tests written against real clusters) know messages
// such as `spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: …`; our
// generic FieldError renders objects as JSON, so the few errors whose value is a map or a
// LabelSelector use `GoValueFieldError` instead of changing the shared renderer for every kind.
import type { LabelSelector, LabelSelectorRequirement } from 'kubernetes-types/meta/v1.js';
import { FieldError, field, FieldPath } from '../../../api/errors.js';
import { validateLabels, validateLabelName, validateNonnegativeField, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isValidLabelValue, regexError } from '../../../api/validation/names.js';
import { isPlainObject, type KubeObject } from '../../../api/object.js';

// ---------------------------------------------------------------------------------------------
// Label selectors

/** Upstream's ValidateLabelSelector (metav1 validation), without the invalid-value allowance. */
export function validateLabelSelector(sel: LabelSelector | null | undefined, path: FieldPath): FieldError[] {
  if (sel === null || sel === undefined) return [];
  const errs: FieldError[] = [];
  (sel.matchExpressions ?? []).forEach((req, i) => errs.push(...validateLabelSelectorRequirement(req, path.child('matchExpressions').index(i))));
  errs.push(...validateLabels(sel.matchLabels, path.child('matchLabels')));
  return errs;
}

function validateLabelSelectorRequirement(req: LabelSelectorRequirement, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(field.required(path.child('values').toString(), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) errs.push(field.forbidden(path.child('values').toString(), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    default:
      errs.push(field.invalid(path.child('operator').toString(), req.operator, 'not a valid selector operator'));
  }
  errs.push(...validateLabelName(req.key ?? '', path.child('key')));
  values.forEach((v, i) => {
    for (const m of isValidLabelValue(v)) errs.push(field.invalid(path.child('values').index(i).toString(), v, m));
  });
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Go-style value rendering in field errors

const goString = (s: string): string => JSON.stringify(s);

/** `map[string]string{"a":"1", "b":"2"}` (keys sorted) or `map[string]string(nil)`. */
export function goStringMap(m: Record<string, string> | null | undefined): string {
  if (m === null || m === undefined) return 'map[string]string(nil)';
  return `map[string]string{${Object.keys(m).sort().map(k => `${goString(k)}:${goString(m[k] ?? '')}`).join(', ')}}`;
}

function goStringSlice(s: readonly string[] | null | undefined): string {
  if (s === null || s === undefined) return '[]string(nil)';
  return `[]string{${s.map(goString).join(', ')}}`;
}

/** `v1.LabelSelector{MatchLabels:…, MatchExpressions:…}` as `%#v` prints a dereferenced selector. */
export function goLabelSelector(sel: LabelSelector | null | undefined): string {
  if (sel === null || sel === undefined) return 'null';
  const exprs = sel.matchExpressions;
  const exprText = exprs === undefined || exprs === null
    ? '[]v1.LabelSelectorRequirement(nil)'
    : `[]v1.LabelSelectorRequirement{${exprs.map(e => `v1.LabelSelectorRequirement{Key:${goString(e.key ?? '')}, Operator:${goString(e.operator ?? '')}, Values:${goStringSlice(e.values)}}`).join(', ')}}`;
  return `v1.LabelSelector{MatchLabels:${goStringMap(sel.matchLabels)}, MatchExpressions:${exprText}}`;
}

/** A FieldValueInvalid error whose value is shown as already-rendered Go text. */
export class GoValueFieldError extends FieldError {
  constructor(path: string, value: unknown, readonly rendered: string, detail: string) {
    super('FieldValueInvalid', path, value, detail);
  }
  override message(): string {
    return `${this.field}: Invalid value: ${this.rendered}${this.detail ? ': ' + this.detail : ''}`;
  }
}

export const SELECTOR_MISMATCH = '`selector` does not match template `labels`';

/** The "selector does not match template labels" error at `<template>.metadata.labels`. */
export function selectorMismatch(templatePath: FieldPath, labels: Record<string, string> | undefined): FieldError {
  const p = templatePath.child('metadata').child('labels').toString();
  return new GoValueFieldError(p, labels ?? null, goStringMap(labels), SELECTOR_MISMATCH);
}

/** "field is immutable" for a label selector, rendered as upstream does. */
export function immutableSelector(path: FieldPath, newSel: LabelSelector | undefined, oldSel: LabelSelector | undefined): FieldError[] {
  if (selectorsEqual(newSel, oldSel)) return [];
  return [new GoValueFieldError(path.toString(), newSel ?? null, goLabelSelector(newSel), 'field is immutable')];
}

function selectorsEqual(a: LabelSelector | undefined, b: LabelSelector | undefined): boolean {
  if (!a || !b) return !a && !b;
  const la = a.matchLabels ?? {}, lb = b.matchLabels ?? {};
  const ka = Object.keys(la).sort(), kb = Object.keys(lb).sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i] || la[k] !== lb[k])) return false;
  const ea = a.matchExpressions ?? [], eb = b.matchExpressions ?? [];
  if (ea.length !== eb.length) return false;
  return ea.every((e, i) => {
    const f = eb[i];
    if (!f || e.key !== f.key || e.operator !== f.operator) return false;
    const va = e.values ?? [], vb = f.values ?? [];
    return va.length === vb.length && va.every((v, j) => v === vb[j]);
  });
}

// ---------------------------------------------------------------------------------------------
// Int-or-percent values (maxSurge, maxUnavailable, minAvailable, …)

const PERCENT_RE = /^[0-9]+%$/;
export const PERCENT_ERROR = regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%');

/** `intstr.IntOrString{Type:…, IntVal:…, StrVal:…}` as `%#v` prints it. */
export function goIntOrString(v: number | string | undefined): string {
  if (typeof v === 'string') return `intstr.IntOrString{Type:1, IntVal:0, StrVal:${goString(v)}}`;
  return `intstr.IntOrString{Type:0, IntVal:${v ?? 0}, StrVal:""}`;
}

/** The integer or the percentage number, or undefined for a malformed percent string. */
export function intOrPercentValue(v: number | string | undefined): number | undefined {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (!PERCENT_RE.test(v)) return undefined;
  return Number(v.slice(0, -1));
}

/** Upstream's ValidatePositiveIntOrPercent (non-negative, despite the name). */
export function validateNonnegativeIntOrPercent(v: number | string | undefined, path: FieldPath): FieldError[] {
  if (v === undefined) return [];
  if (typeof v === 'string') {
    return PERCENT_RE.test(v) ? [] : [new GoValueFieldError(path.toString(), v, goIntOrString(v), PERCENT_ERROR)];
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    return validateNonnegativeField(v, path);
  }
  return [new GoValueFieldError(path.toString(), v, String(v), "must be an integer or percentage (e.g '5%')")];
}

/** Upstream's IsNotMoreThan100Percent. */
export function validateNotMoreThan100Percent(v: number | string | undefined, path: FieldPath): FieldError[] {
  if (typeof v !== 'string') return [];
  const n = intOrPercentValue(v);
  return n !== undefined && n > 100 ? [new GoValueFieldError(path.toString(), v, goIntOrString(v), 'must not be greater than 100%')] : [];
}

// ---------------------------------------------------------------------------------------------
// Dotted paths (ScaleMapping) and small object helpers

export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur: Record<string, unknown> = obj;
  parts.slice(0, -1).forEach(part => {
    const next = cur[part];
    if (!isPlainObject(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  });
  cur[parts[parts.length - 1] ?? ''] = value;
}

/**
 * The /status update rule of kinds whose status holds only counters (upstream's
 * ValidateDaemonSetStatusUpdate, ValidateJobUpdateStatus, …): the metadata update rules, and no
 * counter below zero.
 */
export function validateCounterStatusUpdate(counters: readonly string[]): (obj: KubeObject, old: KubeObject) => FieldError[] {
  return (obj, old) => [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...validateNonnegativeFields(obj.status as Record<string, unknown> | undefined, counters, FieldPath.root('status')),
  ];
}

/** The non-negative checks of status counters, as upstream's ValidateNonnegativeField per field. */
export function validateNonnegativeFields(obj: Record<string, unknown> | undefined, names: readonly string[], path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const n of names) {
    const v = obj?.[n];
    if (typeof v === 'number') errs.push(...validateNonnegativeField(v, path.child(n)));
  }
  return errs;
}
