// The apiserver: one HTTPS server in front of the generic REST layer. A request goes through
// authentication, request-info parsing, authorization, then either a non-resource endpoint
// (health, version, discovery, OpenAPI, metrics) or the resource handler. Everything is counted
// in /metrics and logged with its status, so a client's unexpected 404/406/415 is visible.
import { createServer as createHttpsServer, type Server } from 'node:https';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errors, StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import { labelsMatch, parseLabelSelectorParam } from '../../api/selectors.js';
import type { RegistryContext, ResourceDef } from '../registry/types.js';
import type { Store } from '../store/store.js';
import { StoreAdmission } from './admission.js';
import type { AuthzRequest } from './authz.js';
import { OPENAPI_V2_STUB } from './openapi.js';
import { decodeBody, mediaType, negotiate, readBody, send, sendError } from './codec.js';
import { Discovery } from './discovery.js';
import { parseRequestInfo, type RequestInfo } from './request-info.js';
import { upgradeHeads } from './kubelet-proxy.js';
import { ResourceHandler, type Patcher, type SubresourceProxy } from './resource-handler.js';
import { answerReview, reviewResources, type ReviewResource } from './reviews.js';
import { METRICS_GROUP, metricsResources, type Labelled, type ResourceMetrics } from './metrics-api.js';
import { Rest, type FieldChecker, type ManagedFieldsTracker } from './rest.js';
import { ResourceStorage } from './storage.js';

export interface UserInfo { name: string; groups: string[]; uid?: string }

export interface Authenticator {
  /** The user behind a request, or undefined for an anonymous one. Throws 401 for bad credentials. */
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

/** What is being asked (authz.ts's request), and whether it names an API resource. */
export type AuthorizationRequest = AuthzRequest & { isResourceRequest: boolean };

export interface AuthorizationDecision {
  allowed: boolean;
  reason: string;
  /** Allowed only for a pod bound to the requesting node (`system:node:<name>`). */
  requiresBoundPodCheck?: boolean;
  /** Allowed only if the created object carries this name (a node creating its own Node or Lease). */
  requiredName?: string;
}

export interface Authorizer {
  authorize(user: UserInfo | undefined, request: AuthorizationRequest): AuthorizationDecision;
}

export interface OpenAPIServer {
  /** `/openapi/v3` and `/openapi/v3/<group-version path>`; undefined when unknown. */
  document(path: string): { body: string; etag: string } | undefined;
}

/** The Kubernetes release whose API we serve; kubectl picks its binary by this minor. */
export const servedVersion = { major: '1', minor: '32', gitVersion: 'v1.32.0+k8ts' };

export interface ApiServerOptions {
  store: Store;
  resources: ResourceDef[];
  ctx: RegistryContext;
  tls: { key: string; cert: string; ca: string };
  authenticator: Authenticator;
  authorizer: Authorizer;
  patcher?: Patcher;
  fieldChecker?: FieldChecker;
  managedFields?: ManagedFieldsTracker;
  openapi?: OpenAPIServer;
  podProxy?: SubresourceProxy;
  logger: Logger;
  /** Address advertised in discovery (`host:port`). */
  advertiseAddress: string;
  bookmarkIntervalMs?: number;
  /** With it, metrics.k8s.io is served (kubectl top, the HPA). */
  resourceMetrics?: ResourceMetrics;
}

export class ApiServer {
  readonly metrics = new Registry();
  readonly discovery: Discovery;
  private readonly handlers = new Map<string, ResourceHandler>();
  readonly rests = new Map<string, Rest>();
  private server: Server | undefined;
  private ready = false;
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly requestCount: Counter<'verb' | 'resource' | 'code'>;
  private readonly requestLatency: Histogram<'verb' | 'resource'>;
  private readonly openWatches: Gauge;

  constructor(private readonly opts: ApiServerOptions) {
    this.discovery = new Discovery(opts.resources, [{ group: 'autoscaling', version: 'v1' }], [...reviewResources, ...(opts.resourceMetrics ? metricsResources : [])]);
    const namespaces = opts.resources.find(r => r.group === '' && r.resource === 'namespaces');
    if (!namespaces) throw new Error('the namespaces resource must be served');
    const admission = new StoreAdmission(opts.store, opts.ctx, new ResourceStorage(namespaces, opts.store));
    for (const def of opts.resources) {
      const rest = new Rest(new ResourceStorage(def, opts.store), opts.ctx, admission, opts.fieldChecker, opts.managedFields);
      const key = `${def.group}/${def.version}/${def.resource}`;
      this.rests.set(key, rest);
      this.handlers.set(key, new ResourceHandler({
        rest,
        patcher: opts.patcher,
        now: () => opts.ctx.now(),
        bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
        ...(opts.podProxy ? { podProxy: opts.podProxy } : {}),
        onWatchOpen: () => this.openWatches.inc(),
        onWatchClose: () => this.openWatches.dec(),
      }));
    }
    this.requestCount = new Counter({ name: 'apiserver_request_total', help: 'API requests by verb, resource and HTTP code', labelNames: ['verb', 'resource', 'code'], registers: [this.metrics] });
    this.requestLatency = new Histogram({
      name: 'apiserver_request_duration_seconds', help: 'API request latency (watches excluded)', labelNames: ['verb', 'resource'], registers: [this.metrics],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.openWatches = new Gauge({ name: 'apiserver_longrunning_requests', help: 'Open watch streams', registers: [this.metrics] });
    const store = opts.store;
    new Gauge({
      name: 'apiserver_storage_size_bytes', help: 'Size of the datastore', registers: [this.metrics],
      async collect() { this.set(await store.sizeBytes()); },
    });
    // Upstream's `apiserver_storage_objects{resource}` ("pods", "deployments.apps"): counted in the
    // store at each scrape, once per stored resource (several served versions share one).
    const roots = new Map<string, string>();
    for (const def of opts.resources) roots.set(new ResourceStorage(def, store).root, def.group ? `${def.resource}.${def.group}` : def.resource);
    new Gauge({
      name: 'apiserver_storage_objects', help: 'Number of stored objects at the time of last check split by kind', labelNames: ['resource'], registers: [this.metrics],
      async collect() {
        const counts = await Promise.all([...roots].map(async ([root, resource]) => [resource, await store.count(root)] as const));
        for (const [resource, n] of counts) this.set({ resource }, n);
      },
    });
  }

  rest(group: string, version: string, resource: string): Rest {
    const r = this.rests.get(`${group}/${version}/${resource}`);
    if (!r) throw new Error(`resource ${resource}.${group}/${version} is not served`);
    return r;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createHttpsServer({
      key: this.opts.tls.key,
      cert: this.opts.tls.cert,
      ca: this.opts.tls.ca,
      requestCert: true,
      rejectUnauthorized: false, // anonymous and token clients have no certificate; authn decides
      keepAliveTimeout: 60_000,
    }, (req, res) => { void this.serve(req, res); });
    // Upgrades (`pods/exec` over WebSocket) go through the same path as requests, on a response
    // bound to the raw socket; the pod proxy takes the socket over once the kubelet said 101.
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      upgradeHeads.set(req, head);
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket);
      res.on('finish', () => { if (res.statusCode !== 101) socket.end(); });
      socket.on('error', () => socket.destroy());
      void this.serve(req, res);
    });
    server.headersTimeout = 60_000;
    server.requestTimeout = 0; // watches and log streams are long-lived
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    return server.address() as AddressInfo;
  }

  setReady(ready: boolean): void { this.ready = ready; }

  /** Runs `fn` when the server closes: background work tied to it (the metrics scraper). */
  onClose(fn: () => Promise<void>): void { this.closers.push(fn); }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0)) await fn();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'https://localhost');
    const info = parseRequestInfo(req.method ?? 'GET', url.pathname, url.searchParams);
    const resourceLabel = info.isResourceRequest ? (info.subresource ? `${info.resource}/${info.subresource}` : info.resource) : '';
    let user: UserInfo | undefined;
    let code = 200;
    try {
      user = this.opts.authenticator.authenticate(req);
      const request = info.isResourceRequest
        ? { verb: info.verb, apiGroup: info.group, resource: info.resource, subresource: info.subresource, namespace: info.namespace, name: info.name, path: url.pathname, isResourceRequest: true }
        : { verb: info.verb, apiGroup: '', resource: '', subresource: '', namespace: '', name: '', path: url.pathname, isResourceRequest: false };
      const decision = this.opts.authorizer.authorize(user, request);
      if (!decision.allowed) throw user ? errors.forbidden(decision.reason) : errors.unauthorized();
      if (info.isResourceRequest && decision.requiresBoundPodCheck) await this.checkBoundPod(user, info);
      const review = info.isResourceRequest ? reviewResources.find(r => r.group === info.group && r.version === info.version && r.resource === info.resource) : undefined;
      if (review) await this.serveReview(req, res, review, info.verb, user);
      else if (info.isResourceRequest && info.group === METRICS_GROUP && this.opts.resourceMetrics) await this.serveMetrics(req, res, info, url.searchParams, this.opts.resourceMetrics);
      else if (info.isResourceRequest) await this.serveResource(req, res, info, url.searchParams, decision.requiredName);
      else await this.serveNonResource(req, res, url);
      code = res.statusCode;
    } catch (err) {
      const status = sendError(res, err);
      code = status.code;
      if (!(err instanceof StatusError)) this.opts.logger.error({ err, method: req.method, path: url.pathname }, 'request failed');
    } finally {
      const verb = info.verb;
      this.requestCount.inc({ verb, resource: resourceLabel, code: String(code) });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (verb !== 'watch' && verb !== 'connect') this.requestLatency.observe({ verb, resource: resourceLabel }, seconds);
      this.opts.logger.debug({ method: req.method, path: url.pathname, query: url.search, code, ms: Math.round(seconds * 1000), user: user?.name, ua: req.headers['user-agent'], accept: req.headers.accept }, 'request');
    }
  }

  private async serveResource(req: IncomingMessage, res: ServerResponse, info: RequestInfo & { isResourceRequest: true }, q: URLSearchParams, requiredName: string | undefined): Promise<void> {
    const handler = this.handlers.get(`${info.group}/${info.version}/${info.resource}`);
    if (!handler) throw errors.notFoundPath(info.path);
    await handler.handle(req, res, info, q, requiredName);
  }

  private async serveReview(req: IncomingMessage, res: ServerResponse, review: ReviewResource, verb: string, user: UserInfo | undefined): Promise<void> {
    if (verb !== 'create') throw errors.methodNotAllowed(`${verb} is not supported on ${review.resource}.${review.group}`);
    const body = decodeBody(await readBody(req), mediaType(req.headers['content-type']));
    const answer = answerReview(review, body, user, (u, r) => this.opts.authorizer.authorize(u, r));
    send(res, 201, answer, negotiate(req.headers.accept, {}));
  }

  /** metrics.k8s.io: NodeMetrics and PodMetrics joined with the objects' labels (selectors filter on them). */
  private async serveMetrics(req: IncomingMessage, res: ServerResponse, info: RequestInfo & { isResourceRequest: true }, q: URLSearchParams, metrics: ResourceMetrics): Promise<void> {
    const def = metricsResources.find(r => r.version === info.version && r.resource === info.resource && !info.subresource);
    if (!def) throw errors.notFoundPath(info.path);
    if (info.verb !== 'get' && info.verb !== 'list') throw errors.methodNotAllowed(`${info.verb} is not supported on ${def.resource}.${METRICS_GROUP}`);
    const storage = this.rest('', 'v1', def.resource).storage;
    const labelled = (o: KubeObject): Labelled => ({ name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}) });
    const form = negotiate(req.headers.accept, {});
    if (info.verb === 'get') {
      const obj = await storage.tryGet(def.namespaced ? info.namespace : '', info.name);
      return send(res, 200, metrics.get(def.kind, obj && labelled(obj), info.name), form);
    }
    const selector = parseLabelSelectorParam(q.get('labelSelector'));
    const page = await storage.list(def.namespaced ? info.namespace : '', { filter: { matches: o => labelsMatch(selector, o.metadata?.labels ?? {}) } });
    send(res, 200, metrics.list(def.kind, page.items.map(labelled)), form);
  }

  /** NodeRestriction: a node may touch only pods bound to it. */
  private async checkBoundPod(user: UserInfo | undefined, info: RequestInfo & { isResourceRequest: true }): Promise<void> {
    const node = user?.name.startsWith('system:node:') ? user.name.slice('system:node:'.length) : undefined;
    const pod = await this.rest('', 'v1', 'pods').storage.tryGet(info.namespace, info.name);
    const boundTo = (pod?.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!pod || !node || boundTo !== node) {
      throw errors.forbidden(`pods "${info.name}" is forbidden: node "${node ?? user?.name ?? ''}" can only modify pods bound to it`);
    }
  }

  private async serveNonResource(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') throw errors.methodNotAllowed(`${method} is not allowed on ${path}`);
    switch (path) {
      case '/livez': case '/healthz': return this.text(res, 200, 'ok');
      case '/readyz': return this.ready ? this.text(res, 200, 'ok') : this.text(res, 503, 'not ready: starting');
      case '/version': return send(res, 200, { ...servedVersion, gitCommit: '', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: `node${process.versions.node}`, compiler: 'tsc', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}` });
      case '/metrics': {
        const body = await this.metrics.metrics();
        res.writeHead(200, { 'Content-Type': this.metrics.contentType });
        res.end(body);
        return;
      }
      case '/api': {
        const form = negotiate(req.headers.accept, { allowDiscovery: true });
        if (form.form === 'discovery') return send(res, 200, this.discovery.aggregated(true, form.version), form);
        return send(res, 200, this.discovery.apiVersions(this.opts.advertiseAddress), form);
      }
      case '/apis': {
        const form = negotiate(req.headers.accept, { allowDiscovery: true });
        if (form.form === 'discovery') return send(res, 200, this.discovery.aggregated(false, form.version), form);
        return send(res, 200, this.discovery.apiGroupList(), form);
      }
      case '/api/v1': return send(res, 200, this.discovery.apiResourceList('', 'v1'), negotiate(req.headers.accept, {}));
    }
    const groupMatch = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (groupMatch) {
      const [, group, version] = groupMatch as unknown as [string, string, string | undefined];
      const form = negotiate(req.headers.accept, {});
      if (version === undefined) {
        const doc = this.discovery.apiGroupDoc(group);
        if (doc) return send(res, 200, doc, form);
      } else if (this.discovery.hasGroupVersion(group, version)) {
        return send(res, 200, this.discovery.apiResourceList(group, version), form);
      }
      throw errors.notFoundPath(path);
    }
    if (path === '/openapi/v2') {
      // kubectl 1.27/1.28 fetch v2 before they look at v3; an empty protobuf document makes them
      // go on to v3 for validation and explain. Later versions never ask.
      res.writeHead(200, { 'Content-Type': OPENAPI_V2_STUB.contentType, 'Content-Length': 0 });
      res.end();
      return;
    }
    if (path === '/openapi/v3' || path.startsWith('/openapi/v3/')) {
      const doc = this.opts.openapi?.document(path);
      if (!doc) throw errors.notFoundPath(path);
      if (req.headers['if-none-match'] === doc.etag) { res.writeHead(304, { ETag: doc.etag }); res.end(); return; }
      const immutable = url.searchParams.has('hash');
      res.writeHead(200, { 'Content-Type': 'application/json', ETag: doc.etag, 'Cache-Control': immutable ? 'public, immutable' : 'no-cache, private', 'Content-Length': Buffer.byteLength(doc.body) });
      res.end(doc.body);
      return;
    }
    throw errors.notFoundPath(path);
  }

  private text(res: ServerResponse, code: number, body: string): void {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private' });
    res.end(body);
  }
}

