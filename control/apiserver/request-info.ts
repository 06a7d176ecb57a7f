// Turns a request line into what it asks of the API, as upstream's RequestInfoFactory does:
// `/apis/apps/v1/namespaces/ns/deployments/web/scale` → {group apps, version v1, namespace ns,
// resource deployments, name web, subresource scale, verb get|update|patch}. Pure, so routing,
// authorization and metrics agree on one reading of every URL.

export type RequestVerb =
  | 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'connect';

export interface ResourceRequest {
  isResourceRequest: true;
  verb: RequestVerb;
  apiPrefix: 'api' | 'apis';
  group: string;
  version: string;
  namespace: string; // '' when cluster-wide
  resource: string;
  name: string;      // '' for collections
  subresource: string;
  path: string;
}

export interface NonResourceRequest {
  isResourceRequest: false;
  verb: string; // lower-case HTTP method
  path: string;
}

export type RequestInfo = ResourceRequest | NonResourceRequest;

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const httpVerb = method.toLowerCase();
  const parts = path.split('/').filter(p => p !== '').map(decodeURIComponent);
  const nonResource: NonResourceRequest = { isResourceRequest: false, verb: httpVerb, path };
  if (parts[0] !== 'api' && parts[0] !== 'apis') return nonResource;
  const apiPrefix = parts[0];
  let rest = parts.slice(1);
  let group = '';
  if (apiPrefix === 'apis') {
    if (rest.length < 2) return nonResource; // /apis, /apis/apps: discovery
    group = rest[0]!;
    rest = rest.slice(1);
  } else if (rest.length < 1) {
    return nonResource; // /api
  }
  const version = rest[0]!;
  rest = rest.slice(1);
  if (rest.length === 0) return nonResource; // /api/v1: discovery

  // The legacy `/watch/` path segment (still served upstream) means watch=true.
  let legacyWatch = false;
  if (rest[0] === 'watch') { legacyWatch = true; rest = rest.slice(1); }

  let namespace = '';
  if (rest[0] === 'namespaces') {
    // `/namespaces/ns` is the namespace object itself; `/namespaces/ns/pods…` is inside it;
    // `/namespaces/ns/status|finalize` are the namespace's own subresources.
    if (rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1]!;
      rest = rest.slice(2);
    } else if (rest.length >= 2) {
      namespace = rest[1]!; // the namespace object: scope for authorization, as upstream
    }
  }
  const resource = rest[0] ?? '';
  const name = rest[1] ?? '';
  // `nodes/N/proxy/stats/summary`: the subresource is `proxy` (what authorization sees, as upstream);
  // the rest is the proxied path. Other subresources keep any extra segments, so they 404.
  const subresource = rest[2] === 'proxy' ? 'proxy' : rest.slice(2).join('/');
  if (resource === '') return nonResource;

  let verb: RequestVerb;
  const watchParam = query.get('watch');
  const isWatch = legacyWatch || watchParam === 'true' || watchParam === '1';
  switch (httpVerb) {
    case 'get': case 'head':
      verb = isWatch ? 'watch' : name === '' ? 'list' : 'get';
      // A GET on `proxy` is authorized as `get` (upstream: `get nodes/proxy` reads kubelet stats).
      if (subresource === 'exec' || subresource === 'attach' || subresource === 'portforward') verb = 'connect';
      break;
    case 'post': verb = subresource === 'exec' || subresource === 'attach' || subresource === 'portforward' ? 'connect' : 'create'; break;
    case 'put': verb = 'update'; break;
    case 'patch': verb = 'patch'; break;
    case 'delete': verb = name === '' ? 'deletecollection' : 'delete'; break;
    default: verb = httpVerb as RequestVerb;
  }
  return { isResourceRequest: true, verb, apiPrefix, group, version, namespace, resource, name, subresource, path };
}
