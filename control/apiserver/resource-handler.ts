// HTTP handling of resource requests: reads the query parameters upstream defines for each verb,
// decodes bodies, calls the generic REST layer and writes the answer in the negotiated form
// (JSON, YAML or a Table), including streaming watches with bookmarks and 410 Gone.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, field, StatusError } from '../../api/errors.js';
import { apiVersionOf, isPlainObject, type KubeObject } from '../../api/object.js';
import { fieldsMatch, labelsMatch, parseFieldSelectorParam, parseLabelSelectorParam } from '../../api/selectors.js';
import type { Binding } from 'kubernetes-types/core/v1.js';
import { applyBinding, validateBinding } from '../registry/core/pods.js';
import { applyScale, scaleFor, validateScale } from '../registry/scale.js';
import type { ResourceDef } from '../registry/types.js';
import { decodeBody, mediaType, negotiate, protobufMediaType, readBody, send, type ResponseForm } from './codec.js';
import type { ResourceRequest } from './request-info.js';
import type { DeleteOptions, FieldValidation, Rest, WriteOptions } from './rest.js';
import { matchEverything, tooOld, type Filter, type ObjectEvent } from './storage.js';
import { tableFor, type IncludeObject } from './table.js';

/** What the handler needs per PATCH type; the patch module implements it. */
export interface Patcher {
  json(current: KubeObject, patch: unknown): KubeObject;
  merge(current: KubeObject, patch: unknown): KubeObject;
  strategic(current: KubeObject, patch: unknown, def: ResourceDef): KubeObject;
  /** Server-side apply; `live` undefined when the object does not exist yet. */
  apply(live: KubeObject | undefined, applied: KubeObject, def: ResourceDef, manager: string, force: boolean, now: Date): KubeObject;
}

/** Subresources served by other components (the kubelet for log and exec). */
export interface SubresourceProxy {
  handle(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, pod: KubeObject): Promise<void>;
}

export interface HandlerContext {
  rest: Rest;
  patcher: Patcher | undefined;
  now(): Date;
  /** Bookmark interval for watches (ms). */
  bookmarkIntervalMs: number;
  podProxy?: SubresourceProxy;
  /** Open watches, for /metrics. */
  onWatchOpen?(): void;
  onWatchClose?(): void;
}

const patchTypes = new Set(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml']);

function fieldValidationOf(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got "${v}"`);
}

function dryRunOf(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw errors.badRequest(`dryRun must be "All", got "${v}"`);
  return values.length > 0;
}

/** The manager name upstream derives from the User-Agent when `fieldManager` is absent. */
function fieldManagerOf(q: URLSearchParams, req: IncomingMessage, required: boolean): string {
  const explicit = q.get('fieldManager');
  if (explicit) {
    if (explicit.length > 128) throw errors.badRequest('fieldManager may not be longer than 128 characters');
    return explicit;
  }
  if (required) throw errors.badRequest('PATCH requests with server-side apply must set the fieldManager parameter');
  const ua = req.headers['user-agent'] ?? 'unknown';
  return ua.split('/')[0]!.slice(0, 128);
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw errors.badRequest(`${name}: invalid value "${v}": must be an integer`);
  return n;
}

function writeOptions(q: URLSearchParams, req: IncomingMessage, rawBody?: string, forApply = false): WriteOptions {
  return { dryRun: dryRunOf(q), fieldManager: fieldManagerOf(q, req, forApply), fieldValidation: fieldValidationOf(q), warnings: [], ...(rawBody !== undefined ? { rawBody } : {}) };
}

function warningHeaders(opts: WriteOptions): Record<string, string> {
  return opts.warnings.length ? { Warning: opts.warnings.map(w => `299 - ${JSON.stringify(w)}`).join(', ') } : {};
}

export class ResourceHandler {
  private readonly selectableFields: string[];

  constructor(private readonly ctx: HandlerContext) {
    const def = ctx.rest.def;
    let attrs: Record<string, string> = {};
    try { attrs = def.fieldSelectorAttributes?.({ metadata: {}, spec: {}, status: {} }) ?? {}; } catch { attrs = {}; }
    this.selectableFields = ['metadata.name', ...(def.namespaced ? ['metadata.namespace'] : []), ...Object.keys(attrs)];
  }

  private get def(): ResourceDef { return this.ctx.rest.def; }

  private filterFrom(q: URLSearchParams): Filter {
    const labels = parseLabelSelectorParam(q.get('labelSelector'));
    const fields = parseFieldSelectorParam(q.get('fieldSelector'), this.selectableFields);
    if (labels.requirements.length === 0 && !labels.nothing && fields.requirements.length === 0) return matchEverything;
    const def = this.def;
    return {
      matches(obj: KubeObject) {
        if (!labelsMatch(labels, obj.metadata?.labels ?? {})) return false;
        if (fields.requirements.length === 0) return true;
        const attrs: Record<string, string> = {
          'metadata.name': obj.metadata?.name ?? '',
          ...(def.namespaced ? { 'metadata.namespace': obj.metadata?.namespace ?? '' } : {}),
          ...(def.fieldSelectorAttributes?.(obj) ?? {}),
        };
        return fieldsMatch(fields, attrs);
      },
    };
  }

  /** `requiredName`: the authorizer allows this create only for an object of that name. */
  async handle(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, q: URLSearchParams, requiredName?: string): Promise<void> {
    const def = this.def;
    const ns = def.namespaced ? info.namespace : '';
    const sub = info.subresource;
    if (sub !== '' && !def.subresources.includes(sub as never) && !(def.resource === 'namespaces' && sub === 'finalize')) {
      throw errors.notFoundPath(info.path);
    }
    if (def.namespaced && info.namespace === '' && info.name !== '') throw errors.notFoundPath(info.path);
    if (!def.namespaced && def.resource !== 'namespaces' && info.namespace !== '') throw errors.notFoundPath(info.path);
    if (sub === 'log' || sub === 'exec' || sub === 'attach' || sub === 'portforward' || sub === 'proxy') {
      const pod = await this.ctx.rest.get(ns, info.name);
      if (!this.ctx.podProxy) throw errors.unavailable(`no kubelet is serving ${sub} for pod "${info.name}" yet`);
      return this.ctx.podProxy.handle(req, res, info, pod);
    }
    if (sub === 'scale') return this.handleScale(req, res, info, q, ns);
    if (sub === 'binding') return this.handleBinding(req, res, info, q, ns);
    if (sub === 'eviction') return this.handleEviction(req, res, info, q, ns);
    const statusOrMain = sub === 'status' || sub === 'finalize' ? 'status' : '';
    switch (info.verb) {
      case 'get': return this.get(req, res, ns, info.name, q);
      case 'list': return this.list(req, res, ns, q);
      case 'watch': return this.watch(req, res, ns, info.name, q);
      case 'create':
        if (info.name !== '') throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
        return this.create(req, res, ns, q, requiredName);
      case 'update': return this.update(req, res, ns, info.name, q, sub === 'finalize' ? 'finalize' : statusOrMain);
      case 'patch': return this.patch(req, res, ns, info.name, q, statusOrMain);
      case 'delete': return this.delete(req, res, ns, info.name, q);
      case 'deletecollection': return this.deleteCollection(req, res, ns, q);
      default: throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    }
  }

  private form(req: IncomingMessage, allowTable: boolean): ResponseForm {
    return negotiate(req.headers.accept, { allowTable });
  }

  private async get(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const form = this.form(req, true);
    const obj = await this.ctx.rest.get(ns, name);
    if (form.form === 'table') {
      send(res, 200, tableFor(this.def, [obj], includeOf(q), this.ctx.now(), form.version, { resourceVersion: obj.metadata?.resourceVersion }), form);
      return;
    }
    send(res, 200, obj, form);
  }

  private async list(req: IncomingMessage, res: ServerResponse, ns: string, q: URLSearchParams): Promise<void> {
    const form = this.form(req, true);
    const filter = this.filterFrom(q);
    const limit = intParam(q, 'limit');
    const page = await this.ctx.rest.list(ns, filter, limit, q.get('continue') ?? undefined);
    const listMeta: Record<string, unknown> = { resourceVersion: page.resourceVersion };
    if (page.continue) listMeta.continue = page.continue;
    if (page.remainingItemCount !== undefined) listMeta.remainingItemCount = page.remainingItemCount;
    if (form.form === 'table') {
      send(res, 200, tableFor(this.def, page.items, includeOf(q), this.ctx.now(), form.version, listMeta), form);
      return;
    }
    const apiVersion = apiVersionOf(this.def);
    for (const item of page.items) { item.apiVersion = apiVersion; item.kind = this.def.kind; }
    send(res, 200, { kind: this.def.listKind, apiVersion, metadata: listMeta, items: page.items }, form);
  }

  private async watch(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const form = this.form(req, true);
    let filter = this.filterFrom(q);
    if (name !== '') {
      // Watching one object (`/pods/x?watch=1`) is a watch with a name field selector.
      const inner = filter;
      filter = { matches: o => o.metadata?.name === name && inner.matches(o) };
    }
    const rvParam = q.get('resourceVersion') ?? '';
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const sendInitialEvents = q.get('sendInitialEvents') === 'true';
    const timeoutSeconds = intParam(q, 'timeoutSeconds') ?? 1800 + Math.floor(Math.random() * 1800);
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw errors.badRequest(`invalid resourceVersion "${rvParam}"`);

    // Initial state: upstream sends the current objects as ADDED when no resourceVersion (or "0")
    // is given, or when sendInitialEvents=true asks for it explicitly (watch-list).
    let initial: KubeObject[] = [];
    let startRevision: number;
    const wantInitial = sendInitialEvents || rvParam === '' || rvParam === '0';
    if (wantInitial) {
      const page = await this.ctx.rest.list(ns, filter);
      initial = page.items;
      startRevision = Number(page.resourceVersion);
    } else {
      startRevision = Number(rvParam);
    }

    const headers: Record<string, string> = { 'Content-Type': form.form === 'table' ? `application/json;as=Table;v=${form.version};g=meta.k8s.io` : 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' };
    const apiVersion = apiVersionOf(this.def);
    const render = (type: string, obj: KubeObject): string => {
      if (form.form === 'table' && type !== 'BOOKMARK' && type !== 'ERROR') {
        return JSON.stringify({ type, object: tableFor(this.def, [obj], includeOf(q), this.ctx.now(), form.version) }) + '\n';
      }
      if (type !== 'ERROR') { obj.apiVersion ??= apiVersion; obj.kind ??= this.def.kind; }
      return JSON.stringify({ type, object: obj }) + '\n';
    };

    let closed = false;
    let stop: (() => void) | undefined;
    const timer: { handle?: NodeJS.Timeout } = {};
    const finish = () => {
      if (closed) return;
      closed = true;
      stop?.();
      if (timer.handle) clearTimeout(timer.handle);
      this.ctx.onWatchClose?.();
      if (!res.writableEnded) res.end();
    };
    const write = (chunk: string) => { if (!closed) res.write(chunk); };
    const bookmark = (revision: number, extra: Record<string, string> = {}) =>
      write(render('BOOKMARK', { kind: this.def.kind, apiVersion, metadata: { resourceVersion: String(revision), ...(Object.keys(extra).length ? { annotations: extra } : {}) } }));

    try {
      stop = this.ctx.rest.storage.watch(ns, startRevision, filter, (e: ObjectEvent | { type: 'PROGRESS'; revision: number }) => {
        if (e.type === 'PROGRESS') {
          if (bookmarks && e.revision > 0) bookmark(e.revision);
          return;
        }
        write(render(e.type, e.object));
      }, err => {
        write(render('ERROR', err.toStatus() as unknown as KubeObject));
        finish();
      }, bookmarks ? this.ctx.bookmarkIntervalMs : 0);
    } catch (err) {
      if (err instanceof StatusError && err.code === 410) {
        // Upstream answers an expired watch with 200 and one ERROR event carrying the 410 Status.
        res.writeHead(200, headers);
        res.end(JSON.stringify({ type: 'ERROR', object: tooOld(startRevision).toStatus() }) + '\n');
        return;
      }
      throw err;
    }
    this.ctx.onWatchOpen?.();
    res.writeHead(200, headers);
    res.flushHeaders();
    for (const obj of initial) write(render('ADDED', obj));
    if (sendInitialEvents && bookmarks) bookmark(startRevision, { 'k8s.io/initial-events-end': 'true' });
    timer.handle = setTimeout(finish, timeoutSeconds * 1000);
    req.on('close', finish);
    res.on('close', finish);
  }

  private async readObject(req: IncomingMessage): Promise<{ body: unknown; raw: string }> {
    const type = mediaType(req.headers['content-type']);
    if (type !== 'application/json' && type !== 'application/yaml' && type !== protobufMediaType && type !== '*/*') {
      throw errors.unsupportedMediaType(type);
    }
    const buf = await readBody(req);
    const body = decodeBody(buf, type);
    return { body, raw: type === 'application/json' ? buf.toString('utf8') : '' };
  }

  private async create(req: IncomingMessage, res: ServerResponse, ns: string, q: URLSearchParams, requiredName?: string): Promise<void> {
    const form = this.form(req, false);
    const { body, raw } = await this.readObject(req);
    if (requiredName !== undefined && (body as KubeObject)?.metadata?.name !== requiredName) {
      throw errors.forbidden(`${this.def.resource} "${String((body as KubeObject)?.metadata?.name ?? '')}" is forbidden: may only create the object named "${requiredName}"`);
    }
    const opts = writeOptions(q, req, raw);
    const obj = await this.ctx.rest.create(ns, body, opts);
    send(res, 201, obj, form, warningHeaders(opts));
  }

  private async update(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams, sub: '' | 'status' | 'finalize'): Promise<void> {
    const form = this.form(req, false);
    const { body, raw } = await this.readObject(req);
    const opts = writeOptions(q, req, raw);
    if (sub === 'finalize') {
      // Namespaces: `/finalize` changes only spec.finalizers.
      const obj = await this.ctx.rest.update(ns, name, 'finalize', current => ({ ...current, spec: { ...(current.spec as object ?? {}), finalizers: ((body as KubeObject).spec as { finalizers?: string[] } | undefined)?.finalizers ?? [] } }), opts, 'none');
      send(res, 200, obj, form, warningHeaders(opts));
      return;
    }
    const obj = await this.ctx.rest.update(ns, name, sub, () => body as KubeObject, opts);
    send(res, 200, obj, form, warningHeaders(opts));
  }

  private async patch(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams, sub: '' | 'status'): Promise<void> {
    const form = this.form(req, false);
    const type = mediaType(req.headers['content-type']);
    if (!patchTypes.has(type)) throw errors.unsupportedMediaType(type);
    const patcher = this.ctx.patcher;
    if (!patcher) throw errors.unsupportedMediaType(type);
    const buf = await readBody(req);
    const patch = decodeBody(buf, type);
    const isApply = type === 'application/apply-patch+yaml';
    const opts = writeOptions(q, req, undefined, isApply);
    const force = q.get('force') === 'true';
    if (!isApply && q.get('force') !== null) throw errors.badRequest('force may only be set for server-side apply (application/apply-patch+yaml)');
    const def = this.def;
    const now = this.ctx.now();
    if (isApply) {
      if (!isPlainObject(patch)) throw errors.badRequest('an apply patch must be an object');
      const applied = this.ctx.rest.checkTypeMeta(patch);
      const existing = await this.ctx.rest.storage.tryGet(ns, name);
      if (!existing && sub === '') {
        // Apply to an absent object creates it, owned by the applier.
        const fresh = patcher.apply(undefined, applied, def, opts.fieldManager, force, now);
        const created = await this.ctx.rest.create(ns, { ...fresh, metadata: { ...fresh.metadata, name } }, { ...opts, applied: true });
        send(res, 201, created, form, warningHeaders(opts));
        return;
      }
    }
    const obj = await this.ctx.rest.update(ns, name, sub, current => {
      switch (type) {
        case 'application/json-patch+json': return patcher.json(current, patch);
        case 'application/merge-patch+json': return patcher.merge(current, patch);
        case 'application/strategic-merge-patch+json': return patcher.strategic(current, patch, def);
        default: return patcher.apply(current, patch as KubeObject, def, opts.fieldManager, force, now);
      }
    }, isApply ? { ...opts, applied: true } : opts, 'body');
    send(res, 200, obj, form, warningHeaders(opts));
  }

  private async deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
    const buf = await readBody(req);
    let body: Record<string, unknown> = {};
    if (buf.length > 0 && buf.toString('utf8').trim() !== '') {
      const parsed = decodeBody(buf, mediaType(req.headers['content-type']) === 'application/yaml' ? 'application/yaml' : 'application/json');
      if (!isPlainObject(parsed)) throw errors.badRequest('DeleteOptions must be an object');
      body = parsed;
    }
    const policy = (q.get('propagationPolicy') ?? body.propagationPolicy) as DeleteOptions['propagationPolicy'] | undefined;
    if (policy !== undefined && policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
      throw errors.invalid('DeleteOptions', '', '', [field.notSupported('propagationPolicy', policy, ['Foreground', 'Background', 'Orphan'])]);
    }
    const grace = intParam(q, 'gracePeriodSeconds') ?? (typeof body.gracePeriodSeconds === 'number' ? body.gracePeriodSeconds : undefined);
    const dryRun = dryRunOf(q) || (Array.isArray(body.dryRun) && body.dryRun.includes('All'));
    const orphan = q.get('orphanDependents') ?? body.orphanDependents;
    const pre = isPlainObject(body.preconditions) ? body.preconditions as DeleteOptions['preconditions'] : undefined;
    return {
      dryRun,
      ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
      ...(policy ? { propagationPolicy: policy } : {}),
      ...(orphan !== undefined && orphan !== null ? { orphanDependents: orphan === true || orphan === 'true' } : {}),
      ...(pre ? { preconditions: pre } : {}),
    };
  }

  private async delete(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    const form = this.form(req, false);
    const options = await this.deleteOptions(req, q);
    const { object, deleted } = await this.ctx.rest.delete(ns, name, options);
    if (deleted && !(this.def.group === '' && this.def.resource === 'pods')) {
      send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: this.def.group, kind: this.def.resource, uid: object.metadata?.uid } }, form);
      return;
    }
    send(res, 200, object, form);
  }

  private async deleteCollection(req: IncomingMessage, res: ServerResponse, ns: string, q: URLSearchParams): Promise<void> {
    const form = this.form(req, false);
    const options = await this.deleteOptions(req, q);
    const items = await this.ctx.rest.deleteCollection(ns, this.filterFrom(q), options);
    send(res, 200, { kind: this.def.listKind, apiVersion: apiVersionOf(this.def), metadata: {}, items }, form);
  }

  // ---- subresources with their own payloads ------------------------------------------------

  private async handleScale(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, q: URLSearchParams, ns: string): Promise<void> {
    const def = this.def;
    const form = this.form(req, false);
    if (info.verb === 'get') {
      send(res, 200, scaleFor(def, await this.ctx.rest.get(ns, info.name)), form);
      return;
    }
    if (info.verb !== 'update' && info.verb !== 'patch') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    const type = mediaType(req.headers['content-type']);
    const buf = await readBody(req);
    const body = decodeBody(buf, type);
    const opts = writeOptions(q, req, undefined, type === 'application/apply-patch+yaml');
    const patcher = this.ctx.patcher;
    const obj = await this.ctx.rest.update(ns, info.name, '', current => {
      const scale = scaleFor(def, current) as unknown as KubeObject;
      let wanted: KubeObject;
      if (info.verb === 'update') wanted = body as KubeObject;
      else if (!patcher) throw errors.unsupportedMediaType(type);
      else if (type === 'application/json-patch+json') wanted = patcher.json(scale, body);
      else if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') wanted = patcher.merge(scale, body);
      else throw errors.unsupportedMediaType(type);
      const rv = wanted.metadata?.resourceVersion;
      if (rv && rv !== current.metadata?.resourceVersion) throw this.ctx.rest.storage.conflict(info.name);
      const causes = validateScale(wanted as never);
      if (causes.length > 0) throw errors.invalid('Scale', 'autoscaling', info.name, causes);
      return applyScale(def, current, wanted as never);
    }, opts, 'none');
    send(res, 200, scaleFor(def, obj), form);
  }

  private async handleBinding(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, q: URLSearchParams, ns: string): Promise<void> {
    if (info.verb !== 'create') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    const form = this.form(req, false);
    const body = decodeBody(await readBody(req), mediaType(req.headers['content-type']));
    if (!isPlainObject(body)) throw errors.badRequest('a Binding must be an object');
    const binding = body as unknown as Binding;
    const causes = validateBinding(binding);
    if (causes.length > 0) throw errors.invalid('Binding', '', info.name, causes);
    // Binding sets spec.nodeName, which a pod update may never change: it writes through the
    // store directly, once, as upstream's BindingREST does.
    const dryRun = dryRunOf(q);
    await this.ctx.rest.storage.guaranteedUpdate(ns, info.name, current => {
      const conflict = applyBinding(current, binding, this.ctx.now());
      if (conflict) throw errors.conflict('pods', '', info.name, conflict);
      return current;
    }, { dryRun });
    send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, form);
  }

  private async handleEviction(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, q: URLSearchParams, ns: string): Promise<void> {
    if (info.verb !== 'create') throw errors.methodNotAllowed('the server does not allow this method on the requested resource');
    const form = this.form(req, false);
    const body = decodeBody(await readBody(req), mediaType(req.headers['content-type']));
    const deleteOptions = (isPlainObject(body) && isPlainObject(body.deleteOptions) ? body.deleteOptions : {}) as Partial<DeleteOptions>;
    await this.ctx.rest.delete(ns, info.name, { dryRun: dryRunOf(q), ...(deleteOptions.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: deleteOptions.gracePeriodSeconds } : {}) });
    send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, form);
  }
}

function includeOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
