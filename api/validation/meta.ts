// ObjectMeta validation shared by every kind (upstream's ValidateObjectMeta and
// ValidateObjectMetaUpdate, core's flavour with its finalizer-name rule). Paths and messages are
// upstream's, including its quirks: label and annotation errors sit on the map's path (not the
// key's), and owner-reference errors on `ownerReferences` without an index.
import type { ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import { field, FieldPath, type FieldError } from '../errors.js';
import { validateImmutableField } from './immutable.js';
import { isQualifiedName, isValidLabelValue, nameIsDNSLabel, type NameValidator } from './names.js';

export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;
export const STANDARD_FINALIZERS: readonly string[] = ['kubernetes', 'orphan', 'foregroundDeletion'];

const str = (p: FieldPath | string): string => p.toString();

export function validateLabelName(name: string, path: FieldPath | string): FieldError[] {
  return isQualifiedName(name).map(m => field.invalid(str(path), name, m));
}

export function validateLabels(labels: Record<string, string> | undefined, path: FieldPath | string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    errs.push(...validateLabelName(k, path));
    if (typeof v !== 'string') { errs.push(field.typeInvalid(str(path), v, 'must be a string')); continue; }
    for (const m of isValidLabelValue(v)) errs.push(field.invalid(str(path), v, m));
  }
  return errs;
}

export function validateAnnotations(annotations: Record<string, string> | undefined, path: FieldPath | string): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(field.invalid(str(path), k, m));
    total += byteLength(k) + byteLength(typeof v === 'string' ? v : '');
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) errs.push(field.tooLong(str(path), '', TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return errs;
}

/** UTF-8 byte length, as Go's len(string), without Buffer (pure module). */
export function byteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  if (apiVersion === '') return { group: '', version: '' };
  const parts = apiVersion.split('/');
  if (parts.length === 1) return { group: '', version: parts[0] ?? '' };
  if (parts.length === 2) return { group: parts[0] ?? '', version: parts[1] ?? '' };
  return { group: '', version: '' };
}

function validateOwnerReference(ref: OwnerReference, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const gv = splitApiVersion(ref.apiVersion ?? '');
  if (!gv.version) errs.push(field.invalid(path.child('apiVersion').toString(), ref.apiVersion ?? '', 'version must not be empty'));
  if (!ref.kind) errs.push(field.invalid(path.child('kind').toString(), ref.kind ?? '', 'kind must not be empty'));
  if (!ref.name) errs.push(field.invalid(path.child('name').toString(), ref.name ?? '', 'name must not be empty'));
  if (!ref.uid) errs.push(field.invalid(path.child('uid').toString(), ref.uid ?? '', 'uid must not be empty'));
  // Events may not own anything (upstream's BannedOwners).
  if (gv.group === '' && gv.version === 'v1' && ref.kind === 'Event') {
    errs.push(field.invalid(path.toString(), ref, `${gv.group}/${gv.version}, Kind=${ref.kind} is disallowed from being an owner`));
  }
  return errs;
}

export function validateOwnerReferences(refs: OwnerReference[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let controllerName = '';
  for (const ref of refs ?? []) {
    errs.push(...validateOwnerReference(ref, path));
    if (ref.controller === true) {
      const cur = `${ref.kind}/${ref.name}`;
      if (controllerName !== '') {
        errs.push(field.invalid(path.toString(), refs, `Only one reference can have Controller set to true. Found "true" in references for ${controllerName} and ${cur}`));
      } else {
        controllerName = cur;
      }
    }
  }
  return errs;
}

export function validateFinalizers(finalizers: string[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const list = finalizers ?? [];
  list.forEach((f, i) => {
    for (const m of isQualifiedName(f)) errs.push(field.invalid(path.toString(), f, m));
    // core's rule: a name without a '/' prefix must be one of the standard ones.
    if (!f.includes('/') && !STANDARD_FINALIZERS.includes(f)) {
      errs.push(field.invalid(path.index(i).toString(), f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    errs.push(field.invalid(path.toString(), list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}

export function validateNonnegativeField(value: number, path: FieldPath | string): FieldError[] {
  return value < 0 ? [field.invalid(str(path), value, 'must be greater than or equal to 0')] : [];
}

/**
 * Upstream's ValidateObjectMeta: name (or generateName) against `nameValidator`, namespace
 * required for namespaced kinds and forbidden otherwise, labels, annotations, owner references
 * and finalizers.
 */
export function validateObjectMeta(
  meta: ObjectMeta | undefined,
  namespaced: boolean,
  path: FieldPath = FieldPath.root('metadata'),
  nameValidator: NameValidator = nameIsDNSLabel,
): FieldError[] {
  const m = meta ?? {};
  const errs: FieldError[] = [];
  if (m.generateName) {
    for (const msg of nameValidator(m.generateName, true)) errs.push(field.invalid(path.child('generateName').toString(), m.generateName, msg));
  }
  if (!m.name) {
    errs.push(field.required(path.child('name').toString(), 'name or generateName is required'));
  } else {
    for (const msg of nameValidator(m.name, false)) errs.push(field.invalid(path.child('name').toString(), m.name, msg));
  }
  if (namespaced) {
    if (!m.namespace) errs.push(field.required(path.child('namespace').toString()));
    else for (const msg of nameIsDNSLabel(m.namespace, false)) errs.push(field.invalid(path.child('namespace').toString(), m.namespace, msg));
  } else if (m.namespace) {
    errs.push(field.forbidden(path.child('namespace').toString(), 'not allowed on this type'));
  }
  errs.push(...validateNonnegativeField(m.generation ?? 0, path.child('generation')));
  errs.push(...validateLabels(m.labels, path.child('labels')));
  errs.push(...validateAnnotations(m.annotations, path.child('annotations')));
  errs.push(...validateOwnerReferences(m.ownerReferences, path.child('ownerReferences')));
  errs.push(...validateFinalizers(m.finalizers, path.child('finalizers')));
  return errs;
}

/**
 * Upstream's ValidateObjectMetaUpdate: identity fields are immutable, generation never goes
 * down, no new finalizers once deletion started, and the new labels/annotations/owners are valid.
 * (resourceVersion preconditions are the apiserver's business, so not checked here.)
 */
export function validateObjectMetaUpdate(
  newMeta: ObjectMeta | undefined,
  oldMeta: ObjectMeta | undefined,
  path: FieldPath = FieldPath.root('metadata'),
): FieldError[] {
  const n = newMeta ?? {}, o = oldMeta ?? {};
  const errs: FieldError[] = [];
  const p = (name: string) => path.child(name).toString();
  if (o.deletionTimestamp) {
    const old = new Set(o.finalizers ?? []);
    const extra = [...new Set((n.finalizers ?? []).filter(f => !old.has(f)))].sort();
    if (extra.length > 0) {
      errs.push(field.forbidden(p('finalizers'), `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map(e => JSON.stringify(e)).join(', ')}}`));
    }
  }
  if ((n.generation ?? 0) < (o.generation ?? 0)) errs.push(field.invalid(p('generation'), n.generation ?? 0, 'must not be decremented'));
  errs.push(...validateImmutableField(n.name, o.name, p('name')));
  errs.push(...validateImmutableField(n.namespace, o.namespace, p('namespace')));
  errs.push(...validateImmutableField(n.uid, o.uid, p('uid')));
  errs.push(...validateImmutableField(n.creationTimestamp, o.creationTimestamp, p('creationTimestamp')));
  errs.push(...validateImmutableField(n.deletionTimestamp, o.deletionTimestamp, p('deletionTimestamp')));
  errs.push(...validateImmutableField(n.deletionGracePeriodSeconds, o.deletionGracePeriodSeconds, p('deletionGracePeriodSeconds')));
  errs.push(...validateLabels(n.labels, path.child('labels')));
  errs.push(...validateAnnotations(n.annotations, path.child('annotations')));
  errs.push(...validateOwnerReferences(n.ownerReferences, path.child('ownerReferences')));
  (n.finalizers ?? []).forEach((f, i) => {
    if (!f.includes('/') && !STANDARD_FINALIZERS.includes(f)) {
      errs.push(field.invalid(path.child('finalizers').index(i).toString(), f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return errs;
}

/**
 * The resourceVersion rule of upstream's ValidateObjectMetaUpdate, kept apart because the
 * apiserver fills resourceVersion for unconditional updates (PUT without one, patches) before
 * validating, as upstream's REST layer does.
 */
export function validateResourceVersionForUpdate(meta: ObjectMeta | undefined, path: FieldPath = FieldPath.root('metadata')): FieldError[] {
  const rv = meta?.resourceVersion ?? '';
  return rv ? [] : [field.invalid(path.child('resourceVersion').toString(), rv, 'must be specified for an update')];
}
