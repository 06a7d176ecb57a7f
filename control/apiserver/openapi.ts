// `/openapi/v3`: a discovery document naming one OpenAPI v3 document per served group-version, and
// those documents, built once from the served ResourceDefs and the generated component schemas.
//
// Two clients shape what is in them:
// - kubectl's `--validate=strict` (the default of apply/create/replace) fetches
//   `/openapi/v3`, then the document of the object's group-version, and looks for a PATCH
//   operation whose `x-kubernetes-group-version-kind` (an object, on operations) is the object's
//   GVK; if that operation lists a `fieldValidation` parameter of its own (path-level parameters
//   are not looked at) kubectl sends `fieldValidation=Strict` and leaves validation to us.
//   Paths are visited in map order and the first matching PATCH decides, so every PATCH tagged
//   with a kind (the object, its /status, its /scale) carries the parameter.
// - `kubectl explain` finds the kind's schema among `components.schemas` by its
//   `x-kubernetes-group-version-kind` list and follows `$ref`/`allOf` from there, printing the
//   descriptions; so every schema reachable from the paths is included.
//
// Each document's URL in the discovery document carries `?hash=<SHA-512 of the body>`, as
// upstream's does, so clients cache it until the hash changes; the ETag is the same hash.
import { createHash } from 'node:crypto';
import { schemas as builtinSchemas } from '../../api/schema/index.js';
import type { OpenAPISchema, SchemaSet } from '../../api/schema/types.js';
import type { ResourceDef, Subresource } from '../registry/types.js';

export interface OpenAPIV3Discovery {
  paths: Record<string, { serverRelativeURL: string }>;
}

export interface Parameter {
  name: string;
  in: 'query' | 'path';
  description: string;
  required?: boolean;
  schema: OpenAPISchema & { uniqueItems?: boolean };
}

type GVK = { group: string; version: string; kind: string };

export interface Operation {
  tags: string[];
  description: string;
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: OpenAPISchema }>; required: boolean };
  responses: Record<string, { description: string; content?: Record<string, { schema: OpenAPISchema }> }>;
  'x-kubernetes-action': 'get' | 'list' | 'put' | 'patch' | 'post' | 'delete' | 'deletecollection';
  'x-kubernetes-group-version-kind': GVK;
}

export interface PathItem {
  parameters?: Parameter[];
  get?: Operation;
  put?: Operation;
  post?: Operation;
  delete?: Operation;
  patch?: Operation;
}

export interface OpenAPIDocument {
  openapi: '3.0.0';
  info: { title: string; version: string };
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, OpenAPISchema> };
}

export interface ServedOpenAPIDocument {
  body: string;
  /** Quoted strong ETag: the document's hash. */
  etag: string;
}

export interface OpenAPIOptions {
  /** `info.version`, e.g. `v1.32.0`. */
  version?: string;
}

export const PATCH_CONTENT_TYPES = [
  'application/apply-patch+yaml',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref = (name: string): OpenAPISchema => ({ $ref: `#/components/schemas/${name}` });

/** `api/v1` for the core group, `apis/apps/v1` otherwise: the key in the discovery document. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** Upstream's hash of an OpenAPI document: SHA-512, upper-case hex. */
export function documentHash(body: string): string {
  return createHash('sha512').update(body).digest('hex').toUpperCase();
}

/** The served `/openapi/v3` tree: build once, then look documents up by request path. */
export class OpenAPIV3 {
  private readonly docs = new Map<string, ServedOpenAPIDocument & { document: OpenAPIDocument }>();
  private readonly root: ServedOpenAPIDocument & { document: OpenAPIV3Discovery };

  constructor(resources: readonly ResourceDef[], schemas: SchemaSet = builtinSchemas, opts: OpenAPIOptions = {}) {
    const byGroupVersion = new Map<string, ResourceDef[]>();
    for (const r of resources) {
      const key = groupVersionPath(r.group, r.version);
      byGroupVersion.set(key, [...(byGroupVersion.get(key) ?? []), r]);
    }
    const discovery: OpenAPIV3Discovery = { paths: {} };
    for (const key of [...byGroupVersion.keys()].sort()) {
      const defs = byGroupVersion.get(key)!;
      const document = buildGroupVersionDocument(defs[0]!.group, defs[0]!.version, defs, schemas, opts);
      const body = JSON.stringify(document);
      const hash = documentHash(body);
      this.docs.set(key, { body, etag: `"${hash}"`, document });
      discovery.paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    const body = JSON.stringify(discovery);
    this.root = { body, etag: `"${documentHash(body)}"`, document: discovery };
  }

  /** The document for a request path (`/openapi/v3`, `/openapi/v3/apis/apps/v1`); undefined if none. */
  document(path: string): ServedOpenAPIDocument | undefined {
    const trimmed = path.replace(/\/+$/, '');
    if (trimmed === '/openapi/v3') return { body: this.root.body, etag: this.root.etag };
    if (!trimmed.startsWith('/openapi/v3/')) return undefined;
    const doc = this.docs.get(trimmed.slice('/openapi/v3/'.length));
    return doc && { body: doc.body, etag: doc.etag };
  }

  discovery(): OpenAPIV3Discovery {
    return this.root.document;
  }

  /** The parsed document of a group-version path such as `apis/apps/v1`. */
  groupVersion(gvPath: string): OpenAPIDocument | undefined {
    return this.docs.get(gvPath)?.document;
  }
}

/**
 * `/openapi/v2` for kubectl 1.27 and 1.28: they fetch it (as protobuf) before create, apply and
 * explain, and give up on a 404 even though they then validate and explain from v3. An empty
 * protobuf message is a valid, empty `openapi_v2.Document`, which sends them on to v3 (checked
 * against both). 1.29 and later never ask for v2 while v3 is served.
 */
export const OPENAPI_V2_STUB = {
  contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf',
  body: new Uint8Array(0),
} as const;

/** The name control/apiserver/wiring.ts builds the served documents by. */
export { OpenAPIV3 as OpenAPIDocuments };

// ---- parameters ----

const query = (name: string, type: 'string' | 'boolean' | 'integer', description: string): Parameter =>
  ({ name, in: 'query', description, schema: { type, uniqueItems: true } });

const P = {
  pretty: query('pretty', 'string', "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
  dryRun: query('dryRun', 'string', 'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed'),
  fieldManager: query('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.'),
  fieldManagerPatch: query('fieldManager', 'string', 'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).'),
  fieldValidation: query('fieldValidation', 'string', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.'),
  force: query('force', 'boolean', 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.'),
  allowWatchBookmarks: query('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server\'s discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.'),
  continue: query('continue', 'string', 'The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token.'),
  fieldSelector: query('fieldSelector', 'string', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  labelSelector: query('labelSelector', 'string', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  limit: query('limit', 'integer', 'limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.'),
  resourceVersion: query('resourceVersion', 'string', 'resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset'),
  resourceVersionMatch: query('resourceVersionMatch', 'string', 'resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset'),
  sendInitialEvents: query('sendInitialEvents', 'boolean', '`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic "Bookmark" event will be sent.'),
  timeoutSeconds: query('timeoutSeconds', 'integer', 'Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.'),
  watch: query('watch', 'boolean', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.'),
  gracePeriodSeconds: query('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.'),
  orphanDependents: query('orphanDependents', 'boolean', 'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the "orphan" finalizer will be added to/removed from the object\'s finalizers list. Either this field or PropagationPolicy may be set, but not both.'),
  propagationPolicy: query('propagationPolicy', 'string', "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
  container: query('container', 'string', 'The container for which to stream logs. Defaults to only container if there is one container in the pod.'),
  follow: query('follow', 'boolean', 'Follow the log stream of the pod. Defaults to false.'),
  previous: query('previous', 'boolean', 'Return previous terminated container logs. Defaults to false.'),
  sinceSeconds: query('sinceSeconds', 'integer', 'A relative time in seconds before the current time from which to show logs.'),
  tailLines: query('tailLines', 'integer', 'If set, the number of lines from the end of the logs to show.'),
  timestamps: query('timestamps', 'boolean', 'If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false.'),
  name: (kind: string): Parameter => ({ name: 'name', in: 'path', description: `name of the ${kind}`, required: true, schema: { type: 'string', uniqueItems: true } }),
  namespace: { name: 'namespace', in: 'path', description: 'object name and auth scope, such as for teams and projects', required: true, schema: { type: 'string', uniqueItems: true } } as Parameter,
};

const LIST_PARAMS = [P.allowWatchBookmarks, P.continue, P.fieldSelector, P.labelSelector, P.limit, P.resourceVersion, P.resourceVersionMatch, P.sendInitialEvents, P.timeoutSeconds, P.watch];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];
const PATCH_PARAMS = [P.dryRun, P.fieldManagerPatch, P.fieldValidation, P.force];
const DELETE_PARAMS = [P.dryRun, P.gracePeriodSeconds, P.orphanDependents, P.propagationPolicy];
const DELETE_COLLECTION_PARAMS = [P.continue, P.dryRun, P.fieldSelector, P.gracePeriodSeconds, P.labelSelector, P.limit, P.orphanDependents, P.propagationPolicy, P.resourceVersion, P.resourceVersionMatch, P.sendInitialEvents, P.timeoutSeconds];

// ---- operations ----

const json = (schema: OpenAPISchema) => ({ 'application/json': { schema }, 'application/yaml': { schema } });
const ok = (schema: OpenAPISchema, description = 'OK') => ({ description, content: json(schema) });
const UNAUTHORIZED = { description: 'Unauthorized' };

/** `apps` → `AppsV1`, `networking.k8s.io` → `NetworkingV1`, core → `CoreV1`: upstream's operationId infix. */
export function operationGroupVersion(group: string, version: string): string {
  const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
  const g = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '');
  return g.split('.').map(cap).join('') + cap(version);
}

interface Target {
  gvk: GVK;
  schema: string;
  tag: string;
  /** e.g. `AppsV1Namespaced` / `CoreV1` */
  idPrefix: string;
  kind: string;
  suffix: string;
}

function operation(action: Operation['x-kubernetes-action'], verb: string, t: Target, description: string, rest: Partial<Operation>): Operation {
  return {
    tags: [t.tag],
    description,
    operationId: `${verb}${t.idPrefix}${t.kind}${t.suffix}`,
    ...rest,
    responses: rest.responses ?? {},
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': t.gvk,
  };
}

const readOp = (t: Target, what: string): Operation =>
  operation('get', 'read', t, `read ${what}`, { responses: { '200': ok(ref(t.schema)), '401': UNAUTHORIZED } });
const replaceOp = (t: Target, what: string): Operation =>
  operation('put', 'replace', t, `replace ${what}`, {
    parameters: WRITE_PARAMS,
    requestBody: { content: { '*/*': { schema: ref(t.schema) } }, required: true },
    responses: { '200': ok(ref(t.schema)), '201': ok(ref(t.schema), 'Created'), '401': UNAUTHORIZED },
  });
const patchOp = (t: Target, what: string): Operation =>
  operation('patch', 'patch', t, `partially update ${what}`, {
    parameters: PATCH_PARAMS,
    requestBody: { content: Object.fromEntries(PATCH_CONTENT_TYPES.map(c => [c, { schema: ref(`${META}.Patch`) }])), required: true },
    responses: { '200': ok(ref(t.schema)), '201': ok(ref(t.schema), 'Created'), '401': UNAUTHORIZED },
  });
const createOp = (t: Target, what: string, verb = 'create'): Operation =>
  operation('post', verb, t, `create ${what}`, {
    parameters: WRITE_PARAMS,
    requestBody: { content: { '*/*': { schema: ref(t.schema) } }, required: true },
    responses: { '200': ok(ref(t.schema)), '201': ok(ref(t.schema), 'Created'), '202': ok(ref(t.schema), 'Accepted'), '401': UNAUTHORIZED },
  });

/** The OpenAPI v3 document of one group-version. */
export function buildGroupVersionDocument(group: string, version: string, resources: readonly ResourceDef[], schemas: SchemaSet, opts: OpenAPIOptions = {}): OpenAPIDocument {
  const paths: Record<string, PathItem> = {};
  const prefix = '/' + groupVersionPath(group, version);
  const gv = operationGroupVersion(group, version);
  const tag = `${group === '' ? 'core' : group.replace(/\.k8s\.io$/, '').replace(/\./g, '_')}_${version}`;

  for (const r of [...resources].sort((a, b) => a.resource.localeCompare(b.resource))) {
    if (r.group !== group || r.version !== version) throw new Error(`Resource ${r.resource} is in ${r.group}/${r.version}, not ${group}/${version}`);
    if (!schemas.get(r.schemaName)) throw new Error(`No schema "${r.schemaName}" for resource ${r.resource}`);
    const gvk: GVK = { group, version, kind: r.kind };
    const listSchema = r.schemaName.replace(/[^.]+$/, r.listKind);
    const scope = r.namespaced ? 'Namespaced' : '';
    const base = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.resource}` : `${prefix}/${r.resource}`;
    const scopeParams = r.namespaced ? [P.namespace] : [];
    const has = (v: ResourceDef['verbs'][number]): boolean => r.verbs.includes(v);
    const main: Target = { gvk, schema: r.schemaName, tag, idPrefix: gv + scope, kind: r.kind, suffix: '' };
    const what = `the specified ${r.kind}`;

    // Collection
    const collection: PathItem = { parameters: [...scopeParams, P.pretty] };
    if (has('list')) {
      collection.get = operation('list', 'list', main, `list or watch objects of kind ${r.kind}`, {
        parameters: LIST_PARAMS,
        responses: { '200': { description: 'OK', content: { ...json(ref(listSchema)), 'application/json;stream=watch': { schema: ref(listSchema) } } }, '401': UNAUTHORIZED },
      });
    }
    if (has('create')) collection.post = createOp(main, `a ${r.kind}`);
    if (has('deletecollection')) {
      collection.delete = operation('deletecollection', 'delete', { ...main, idPrefix: `${gv}Collection${scope}` }, `delete collection of ${r.kind}`, {
        parameters: DELETE_COLLECTION_PARAMS,
        requestBody: { content: { '*/*': { schema: ref(`${META}.DeleteOptions`) } }, required: false },
        responses: { '200': ok(ref(`${META}.Status`)), '401': UNAUTHORIZED },
      });
    }
    if (collection.get || collection.post || collection.delete) paths[base] = collection;

    // Item
    const item: PathItem = { parameters: [P.name(r.kind), ...scopeParams, P.pretty] };
    if (has('get')) item.get = readOp(main, what);
    if (has('update')) item.put = replaceOp(main, what);
    if (has('patch')) item.patch = patchOp(main, what);
    if (has('delete')) {
      item.delete = operation('delete', 'delete', main, `delete a ${r.kind}`, {
        parameters: DELETE_PARAMS,
        requestBody: { content: { '*/*': { schema: ref(`${META}.DeleteOptions`) } }, required: false },
        responses: { '200': ok(ref(`${META}.Status`)), '202': ok(ref(`${META}.Status`), 'Accepted'), '401': UNAUTHORIZED },
      });
    }
    if (item.get || item.put || item.patch || item.delete) paths[`${base}/{name}`] = item;

    // All namespaces
    if (r.namespaced && has('list')) {
      paths[`${prefix}/${r.resource}`] = {
        parameters: [P.pretty],
        get: operation('list', 'list', { ...main, idPrefix: gv, suffix: 'ForAllNamespaces' }, `list or watch objects of kind ${r.kind}`, {
          parameters: LIST_PARAMS,
          responses: { '200': { description: 'OK', content: { ...json(ref(listSchema)), 'application/json;stream=watch': { schema: ref(listSchema) } } }, '401': UNAUTHORIZED },
        }),
      };
    }

    for (const sub of [...r.subresources].sort()) {
      const path = subresourcePath(sub, main, r, `${base}/{name}`, scopeParams);
      if (path) paths[path[0]] = path[1];
    }
  }

  const sortedPaths: Record<string, PathItem> = {};
  for (const k of Object.keys(paths).sort()) sortedPaths[k] = paths[k]!;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: opts.version ?? 'unversioned' },
    paths: sortedPaths,
    components: { schemas: referencedComponents(sortedPaths, schemas) },
  };
}

function subresourcePath(sub: Subresource, main: Target, r: ResourceDef, itemPath: string, scopeParams: Parameter[]): [string, PathItem] | undefined {
  const params = [P.name(r.kind), ...scopeParams, P.pretty];
  const has = (v: ResourceDef['verbs'][number]): boolean => r.verbs.includes(v);
  switch (sub) {
    case 'status': {
      const t = { ...main, suffix: 'Status' };
      const what = `status of the specified ${r.kind}`;
      const item: PathItem = { parameters: params };
      if (has('get')) item.get = readOp(t, what);
      if (has('update')) item.put = replaceOp(t, what);
      if (has('patch')) item.patch = patchOp(t, what);
      return [`${itemPath}/status`, item];
    }
    case 'scale': {
      const t: Target = { ...main, gvk: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, schema: 'io.k8s.api.autoscaling.v1.Scale', suffix: 'Scale' };
      const what = `scale of the specified ${r.kind}`;
      return [`${itemPath}/scale`, { parameters: params, get: readOp(t, what), put: replaceOp(t, what), patch: patchOp(t, what) }];
    }
    case 'eviction': {
      const t: Target = { ...main, gvk: { group: 'policy', version: 'v1', kind: 'Eviction' }, schema: 'io.k8s.api.policy.v1.Eviction', suffix: 'Eviction' };
      return [`${itemPath}/eviction`, { parameters: params, post: createOp(t, `eviction of a ${r.kind}`) }];
    }
    case 'binding': {
      const t: Target = { ...main, gvk: { group: '', version: 'v1', kind: 'Binding' }, schema: 'io.k8s.api.core.v1.Binding', suffix: 'Binding' };
      return [`${itemPath}/binding`, { parameters: params, post: createOp(t, `binding of a ${r.kind}`) }];
    }
    case 'log': {
      const t = { ...main, suffix: 'Log' };
      const logParams = [P.container, P.follow, P.previous, P.sinceSeconds, P.tailLines, P.timestamps];
      return [`${itemPath}/log`, {
        parameters: params,
        get: operation('get', 'read', t, `read log of the specified ${r.kind}`, {
          parameters: logParams,
          responses: { '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } }, '401': UNAUTHORIZED },
        }),
      }];
    }
    default:
      // exec, attach, portforward, proxy and ephemeralcontainers are connect-style or not
      // described by kinds kubectl validates against; they stay out of the document.
      return undefined;
  }
}

/** Every component reachable from `paths`, by name, sorted. */
function referencedComponents(paths: Record<string, PathItem>, schemas: SchemaSet): Record<string, OpenAPISchema> {
  const found = new Set<string>();
  const queue: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(visit); return; }
    if (typeof node !== 'object' || node === null) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const name = v.replace('#/components/schemas/', '');
        if (!found.has(name)) { found.add(name); queue.push(name); }
      } else {
        visit(v);
      }
    }
  };
  visit(paths);
  while (queue.length > 0) {
    const name = queue.pop()!;
    const schema = schemas.get(name);
    if (!schema) throw new Error(`OpenAPI document refers to unknown schema "${name}"`);
    visit(schema);
  }
  const out: Record<string, OpenAPISchema> = {};
  for (const name of [...found].sort()) out[name] = schemas.get(name)!;
  return out;
}
