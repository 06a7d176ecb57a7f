// The generic REST semantics of every resource: create, get, list, update, patch, delete,
// deletecollection and the status/scale subresources, as upstream's generic registry implements
// them. Kind-specific rules come from the ResourceDef (defaulting, validation, status split) and
// from admission hooks (namespace lifecycle, ClusterIP/NodePort allocation, pod deletion grace).
//
// Every write validates fully before it touches the store, and every store write is a single
// compare-and-swap, so an error never leaves a partial change behind.
import { errors, field, type FieldError, StatusError } from '../../api/errors.js';
import { apiVersionOf, deepCopy, isPlainObject, type KubeObject } from '../../api/object.js';
import type { RegistryContext, ResourceDef } from '../registry/types.js';
import { prepareForFinalize, validateNamespaceFinalizeUpdate } from '../registry/core/namespaces.js';
import { matchEverything, newUid, ResourceStorage, type Filter, type ListPage } from './storage.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface WriteOptions {
  dryRun: boolean;
  fieldManager: string;
  fieldValidation: FieldValidation;
  /** Warnings to return in `Warning` headers (unknown fields under Warn). */
  warnings: string[];
  /** Raw body text, for duplicate-field detection. */
  rawBody?: string;
  /** Server-side apply already recorded managedFields (operation Apply): do not track an Update. */
  applied?: boolean;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** Kind-specific work around writes that needs the store (allocation, namespace lifecycle). */
export interface Admission {
  /** Before a create is written; may reserve resources (released again if the write fails). */
  beforeCreate?(def: ResourceDef, obj: KubeObject, dryRun: boolean): Promise<(() => Promise<void>) | void>;
  /** Before an update is written (inside the CAS loop; must be idempotent). */
  beforeUpdate?(def: ResourceDef, obj: KubeObject, old: KubeObject, dryRun: boolean): Promise<void>;
  /** After an update was written. */
  afterUpdate?(def: ResourceDef, obj: KubeObject): Promise<void>;
  /** After an object is gone from the store. */
  afterDelete?(def: ResourceDef, obj: KubeObject): Promise<void>;
}

/** Schema-driven checks of a decoded body (unknown fields, wrong types, duplicate keys). */
export interface FieldChecker {
  check(obj: KubeObject, def: ResourceDef, rawBody: string | undefined): { unknown: string[]; typeErrors: FieldError[]; duplicates: string[] };
}

/** Keeps `metadata.managedFields` for ordinary (non-apply) writes. */
export interface ManagedFieldsTracker {
  update(old: KubeObject | undefined, obj: KubeObject, manager: string, apiVersion: string, subresource: string | undefined, now: Date): KubeObject;
}

export class Rest {
  constructor(
    readonly storage: ResourceStorage,
    readonly ctx: RegistryContext,
    private readonly admission: Admission,
    private readonly fields: FieldChecker | undefined,
    private readonly managedFields: ManagedFieldsTracker | undefined,
  ) {}

  get def(): ResourceDef { return this.storage.def; }

  private now(): Date { return this.ctx.now(); }

  private timestamp(): string { return this.now().toISOString().replace(/\.\d{3}Z$/, 'Z'); }

  /** The body must be an object of this resource's apiVersion and kind. */
  checkTypeMeta(body: unknown, subresourceKind?: { apiVersion: string; kind: string }): KubeObject {
    if (!isPlainObject(body)) throw errors.badRequest('the body of the request must be a JSON object');
    const obj = body as KubeObject;
    const wantVersion = subresourceKind?.apiVersion ?? apiVersionOf(this.def);
    const wantKind = subresourceKind?.kind ?? this.def.kind;
    if (obj.apiVersion === undefined || obj.apiVersion === '') obj.apiVersion = wantVersion;
    if (obj.kind === undefined || obj.kind === '') obj.kind = wantKind;
    if (obj.apiVersion !== wantVersion) throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${wantVersion})`);
    if (obj.kind !== wantKind) throw errors.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${wantKind})`);
    if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
    return obj;
  }

  /** Unknown/duplicate fields per `fieldValidation`; type errors always fail (they cannot be decoded upstream either). */
  private checkFields(obj: KubeObject, opts: WriteOptions): void {
    if (!this.fields) return;
    const { unknown, typeErrors, duplicates } = this.fields.check(obj, this.def, opts.rawBody);
    if (typeErrors.length > 0) {
      // Upstream cannot even decode such a body: a 400, not a 422.
      const { kind, version } = this.def;
      throw errors.badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: ${typeErrors.map(e => e.message()).join(', ')}`);
    }
    const problems = [...duplicates.map(d => `duplicate field "${d}"`), ...unknown.map(u => `unknown field "${u}"`)];
    if (problems.length === 0 || opts.fieldValidation === 'Ignore') return;
    if (opts.fieldValidation === 'Strict') {
      const { kind, version } = this.def;
      throw errors.badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: strict decoding error: ${problems.join(', ')}`);
    }
    opts.warnings.push(...problems);
  }

  private invalid(obj: KubeObject, causes: FieldError[]): StatusError {
    return errors.invalid(this.def.kind, this.def.group, obj.metadata?.name ?? '', causes);
  }

  // ---- reads -----------------------------------------------------------------------------

  get(namespace: string, name: string): Promise<KubeObject> {
    return this.storage.get(namespace, name);
  }

  list(namespace: string, filter: Filter, limit?: number, continueToken?: string): Promise<ListPage> {
    return this.storage.list(namespace, { filter, ...(limit ? { limit } : {}), ...(continueToken ? { continueToken } : {}) });
  }

  // ---- create ----------------------------------------------------------------------------

  async create(namespace: string, body: unknown, opts: WriteOptions): Promise<KubeObject> {
    const obj = this.checkTypeMeta(body);
    this.checkFields(obj, opts);
    const meta = { ...(obj.metadata ?? {}) };
    obj.metadata = meta;
    if (this.def.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = meta.namespace || namespace;
      if (!meta.namespace) throw this.invalid(obj, [field.required('metadata.namespace')]);
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix();
    meta.uid = newUid();
    meta.creationTimestamp = this.timestamp();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (this.def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    this.def.prepareForCreate?.(obj, this.ctx);
    this.def.applyDefaults?.(obj, this.ctx);
    const causes = this.def.validate(obj, this.ctx);
    if (causes.length > 0) throw this.invalid(obj, causes);

    const release = await this.admission.beforeCreate?.(this.def, obj, opts.dryRun);
    let stored = this.managedFields && !opts.applied ? this.managedFields.update(undefined, obj, opts.fieldManager, apiVersionOf(this.def), undefined, this.now()) : obj;
    if (opts.dryRun) return stored;
    try {
      stored = await this.storage.create(stored);
    } catch (err) {
      if (release) await release();
      throw err;
    }
    return stored;
  }

  // ---- update and patch ------------------------------------------------------------------

  /**
   * Applies `change` to the current object and stores the result, carrying over what the client
   * may not change, as upstream's BeforeUpdate does. `change` returns the wanted object.
   */
  async update(
    namespace: string,
    name: string,
    subresource: '' | 'status' | 'finalize',
    change: (current: KubeObject) => Promise<KubeObject> | KubeObject,
    opts: WriteOptions,
    expectedVersionFrom: 'body' | 'none' = 'body',
  ): Promise<KubeObject> {
    let finalizeDelete = false;
    const result = await this.storage.guaranteedUpdate(namespace, name, async current => {
      const requested = await change(deepCopy(current));
      const obj = this.checkTypeMeta(requested);
      // Unknown fields are judged on the result of a patch as on a PUT body, as upstream does.
      this.checkFields(obj, opts);
      const meta = { ...(obj.metadata ?? {}) };
      obj.metadata = meta;
      const old = current.metadata!;
      if (meta.name !== undefined && meta.name !== name) throw errors.badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
      if (this.def.namespaced && meta.namespace && meta.namespace !== namespace) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      if (meta.uid && meta.uid !== old.uid) throw errors.conflict(this.def.resource, this.def.group, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.uid}`);
      if (expectedVersionFrom === 'body' && meta.resourceVersion && meta.resourceVersion !== old.resourceVersion) throw this.storage.conflict(name);
      meta.name = name;
      if (this.def.namespaced) meta.namespace = namespace;
      meta.uid = old.uid!;
      meta.creationTimestamp = old.creationTimestamp!;
      if (old.deletionTimestamp) meta.deletionTimestamp = old.deletionTimestamp;
      else delete meta.deletionTimestamp;
      if (old.deletionGracePeriodSeconds !== undefined) meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
      else delete meta.deletionGracePeriodSeconds;
      if (meta.managedFields === undefined && old.managedFields) meta.managedFields = old.managedFields;
      if (old.generation !== undefined) meta.generation = old.generation;
      else delete meta.generation;

      let next: KubeObject;
      if (subresource === 'status') {
        // /status changes only status (and nothing else), as upstream's status strategies.
        next = { ...current, metadata: { ...old }, status: obj.status };
        if (obj.status === undefined) delete next.status;
      } else if (subresource === 'finalize') {
        // A namespace's `/finalize` changes only spec.finalizers (the main resource may not).
        next = obj;
        prepareForFinalize(next, current);
      } else {
        next = obj;
        if (this.def.hasStatusSubresource) {
          if (current.status === undefined) delete next.status;
          else next.status = current.status;
        }
        this.def.prepareForUpdate?.(next, current);
      }
      this.def.applyDefaults?.(next, this.ctx);
      if (this.def.tracksGeneration && subresource === '' && specChanged(next, current)) next.metadata!.generation = (old.generation ?? 0) + 1;
      const causes = subresource === 'status' && this.def.validateStatusUpdate
        ? this.def.validateStatusUpdate(next, current, this.ctx)
        : subresource === 'finalize' ? validateNamespaceFinalizeUpdate(next, current) : this.def.validateUpdate(next, current, this.ctx);
      if (causes.length > 0) throw this.invalid(next, causes);
      await this.admission.beforeUpdate?.(this.def, next, current, opts.dryRun);
      if (this.managedFields && !opts.applied) next = this.managedFields.update(current, next, opts.fieldManager, apiVersionOf(this.def), subresource || undefined, this.now());
      finalizeDelete = Boolean(next.metadata?.deletionTimestamp) && (next.metadata?.finalizers ?? []).length === 0 && !gracePending(this.def, next);
      return next;
    }, { dryRun: opts.dryRun });
    if (finalizeDelete && result.changed && !opts.dryRun) {
      // The last finalizer is gone from an object being deleted: remove it now.
      const removed = await this.storage.remove(namespace, name, result.object.metadata?.resourceVersion);
      await this.admission.afterDelete?.(this.def, removed);
      return removed;
    }
    if (result.changed && !opts.dryRun) await this.admission.afterUpdate?.(this.def, result.object);
    return result.object;
  }

  // ---- delete ----------------------------------------------------------------------------

  /** Returns the object and whether it is gone (false: deletion pending on grace or finalizers). */
  async delete(namespace: string, name: string, options: DeleteOptions): Promise<{ object: KubeObject; deleted: boolean }> {
    const current = await this.storage.get(namespace, name);
    const meta = current.metadata!;
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== meta.uid) throw errors.conflict(this.def.resource, this.def.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`);
    if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) throw errors.conflict(this.def.resource, this.def.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`);

    const grace = this.gracePeriod(current, options);
    const finalizers = new Set(meta.finalizers ?? []);
    const policy = options.propagationPolicy ?? (options.orphanDependents === true ? 'Orphan' : options.orphanDependents === false ? 'Background' : undefined);
    if (policy === 'Orphan') finalizers.add('orphan');
    if (policy === 'Foreground') finalizers.add('foregroundDeletion');
    const extraFinalizers = this.def.resource === 'namespaces' && this.def.group === '' ? namespaceFinalizers(current) : [];

    if (finalizers.size === 0 && extraFinalizers.length === 0 && grace === 0) {
      if (options.dryRun) return { object: current, deleted: true };
      const removed = await this.storage.remove(namespace, name, meta.resourceVersion);
      await this.admission.afterDelete?.(this.def, removed);
      return { object: removed, deleted: true };
    }
    // Graceful or finalized deletion: mark the object and keep it until the holders let go.
    const result = await this.storage.guaranteedUpdate(namespace, name, obj => {
      const m = obj.metadata!;
      if (!m.deletionTimestamp) {
        m.deletionTimestamp = new Date(this.now().getTime() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        m.deletionGracePeriodSeconds = grace;
      } else if (grace < (m.deletionGracePeriodSeconds ?? Infinity)) {
        // A shorter grace period may be requested later (e.g. the kubelet's final delete with 0).
        m.deletionTimestamp = new Date(this.now().getTime() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        m.deletionGracePeriodSeconds = grace;
      }
      if (finalizers.size > 0) m.finalizers = [...finalizers];
      if (this.def.resource === 'namespaces' && this.def.group === '') {
        obj.status = { ...(obj.status as object | undefined ?? {}), phase: 'Terminating' };
      }
      return obj;
    }, { dryRun: options.dryRun });
    const obj = result.object;
    if (!options.dryRun && (obj.metadata?.finalizers ?? []).length === 0 && extraFinalizers.length === 0 && grace === 0) {
      const removed = await this.storage.remove(namespace, name, obj.metadata?.resourceVersion);
      await this.admission.afterDelete?.(this.def, removed);
      return { object: removed, deleted: true };
    }
    return { object: obj, deleted: false };
  }

  /** Pods bound to a node get their termination grace period; everything else is deleted at once. */
  private gracePeriod(obj: KubeObject, options: DeleteOptions): number {
    if (!(this.def.group === '' && this.def.resource === 'pods')) return 0;
    const spec = (obj.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
    const phase = (obj.status as { phase?: string } | undefined)?.phase;
    if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
    const requested = options.gracePeriodSeconds ?? obj.metadata?.deletionGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, requested);
  }

  async deleteCollection(namespace: string, filter: Filter, options: DeleteOptions): Promise<KubeObject[]> {
    const page = await this.storage.list(namespace, { filter });
    const out: KubeObject[] = [];
    for (const item of page.items) {
      try {
        const { object } = await this.delete(item.metadata?.namespace ?? '', item.metadata!.name!, options);
        out.push(object);
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
    return out;
  }
}

/**
 * Kept even with no metadata finalizers: a pod still in its grace period, or a namespace whose
 * own `spec.finalizers` still wait for its content to go.
 */
function gracePending(def: ResourceDef, obj: KubeObject): boolean {
  if (def.group !== '') return false;
  if (def.resource === 'pods') return (obj.metadata?.deletionGracePeriodSeconds ?? 0) > 0;
  if (def.resource === 'namespaces') return namespaceFinalizers(obj).length > 0;
  return false;
}

/** The namespace's own `spec.finalizers` (e.g. "kubernetes") keep it until its content is gone. */
function namespaceFinalizers(ns: KubeObject): string[] {
  return ((ns.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []);
}

/** Anything but metadata and status changed: the generation moves on. */
export function specChanged(a: KubeObject, b: KubeObject): boolean {
  return stableStringify(stripMetaStatus(a)) !== stableStringify(stripMetaStatus(b));
}

function stripMetaStatus(o: KubeObject): unknown {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

/** JSON with object keys sorted, for semantic equality of plain JSON values. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value).sort().filter(k => value[k] !== undefined).map(k => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const suffixAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
/** Five characters from upstream's alphabet without vowels (so no words are formed). */
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += suffixAlphabet[Math.floor(Math.random() * suffixAlphabet.length)];
  return s;
}

export { matchEverything };
