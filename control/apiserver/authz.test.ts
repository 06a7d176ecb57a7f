import { anonymousUser, type UserInfo } from './authn.js';
import { authorizationError, authorize, forbiddenMessage, nodeNameOf, type AuthzRequest } from './authz.js';

const user = (name: string, ...groups: string[]): UserInfo => ({ name, groups: [...groups, 'system:authenticated'], via: 'x509' });
const admin = user('system:admin', 'system:masters');
const node1 = user('system:node:n1', 'system:nodes');
const scheduler = user('system:kube-scheduler');
const proxy = user('system:kube-proxy');
const kcm = user('system:kube-controller-manager');
const alice = user('alice');
const joiner = { name: 'system:bootstrap:k8ts-join', groups: ['system:bootstrappers', 'system:authenticated'], via: 'token' as const };

function req(verb: string, resource: string, opts: Partial<AuthzRequest> = {}): AuthzRequest {
  const [res, sub] = resource.split('/');
  return { verb, apiGroup: '', resource: res!, subresource: sub ?? '', namespace: '', name: '', path: '', ...opts };
}
const path = (p: string, verb = 'get'): AuthzRequest => ({ verb, apiGroup: '', resource: '', subresource: '', namespace: '', name: '', path: p });
const allowed = (u: UserInfo, r: AuthzRequest) => authorize(u, r).allowed;

describe('authorize', () => {
  it('lets system:masters do anything', () => {
    expect(allowed(admin, req('deletecollection', 'secrets', { namespace: 'kube-system' }))).toBe(true);
    expect(allowed(admin, path('/metrics', 'post'))).toBe(true);
  });

  it('lets anonymous users read only health and version endpoints', () => {
    const anon = anonymousUser();
    for (const p of ['/livez', '/readyz', '/healthz', '/version', '/readyz/ping', '/version/']) expect(allowed(anon, path(p))).toBe(true);
    expect(allowed(anon, path('/livez', 'post'))).toBe(false);
    expect(allowed(anon, path('/api'))).toBe(false);
    expect(allowed(anon, path('/livezz'))).toBe(false);
    expect(allowed(anon, req('list', 'pods', { namespace: 'default' }))).toBe(false);
  });

  it('lets every authenticated user discover the API and review itself, nothing more', () => {
    for (const p of ['/api', '/api/v1', '/apis', '/apis/apps/v1', '/openapi/v3', '/version']) expect(allowed(alice, path(p))).toBe(true);
    expect(allowed(alice, req('create', 'selfsubjectaccessreviews', { apiGroup: 'authorization.k8s.io' }))).toBe(true);
    expect(allowed(alice, req('list', 'pods', { namespace: 'default' }))).toBe(false);
    expect(allowed(alice, path('/metrics'))).toBe(false);
  });

  describe('nodes', () => {
    it('read what a node needs', () => {
      for (const [r, g] of [['nodes', ''], ['pods', ''], ['services', ''], ['endpoints', ''], ['configmaps', ''], ['secrets', ''], ['namespaces', ''],
        ['endpointslices', 'discovery.k8s.io'], ['networkpolicies', 'networking.k8s.io'], ['leases', 'coordination.k8s.io']] as const) {
        for (const verb of ['get', 'list', 'watch']) expect(allowed(node1, req(verb, r, { apiGroup: g }))).toBe(true);
      }
      expect(allowed(node1, req('get', 'nodes', { name: 'n2' }))).toBe(true);
    });

    it('write only their own Node, its status and their own Lease', () => {
      for (const verb of ['create', 'update', 'patch']) {
        expect(allowed(node1, req(verb, 'nodes', { name: 'n1' }))).toBe(true);
        expect(allowed(node1, req(verb, 'nodes/status', { name: 'n1' }))).toBe(true);
        expect(allowed(node1, req(verb, 'nodes', { name: 'n2' }))).toBe(false);
        expect(allowed(node1, req(verb, 'nodes/status', { name: 'n2' }))).toBe(false);
        expect(allowed(node1, req(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'n1' }))).toBe(true);
        expect(allowed(node1, req(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease', name: 'n2' }))).toBe(false);
        expect(allowed(node1, req(verb, 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-system', name: 'n1' }))).toBe(false);
      }
      expect(authorize(node1, req('patch', 'nodes', { name: 'n2' })).reason).toBe('node "n1" may only modify its own Node, not "n2"');
    });

    it('create their Node and Lease by POST only under their own name', () => {
      expect(authorize(node1, req('create', 'nodes'))).toEqual({ allowed: true, reason: 'node "n1" may create its own Node', requiredName: 'n1' });
      expect(authorize(node1, req('create', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-node-lease' })).requiredName).toBe('n1');
      expect(allowed(node1, req('create', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'default' }))).toBe(false);
    });

    it('update pod status and delete pods only when bound to them', () => {
      const d = authorize(node1, req('patch', 'pods/status', { namespace: 'default', name: 'web' }));
      expect(d).toEqual({ allowed: true, reason: 'node "n1" may patch pods bound to it', requiresBoundPodCheck: true });
      expect(authorize(node1, req('delete', 'pods', { namespace: 'default', name: 'web' })).requiresBoundPodCheck).toBe(true);
      expect(authorize(node1, req('get', 'pods', { namespace: 'default', name: 'web' })).requiresBoundPodCheck).toBeUndefined();
      expect(allowed(node1, req('update', 'pods', { namespace: 'default', name: 'web' }))).toBe(false);
      expect(allowed(node1, req('create', 'pods', { namespace: 'default' }))).toBe(false);
    });

    it('create events but not write configuration', () => {
      expect(allowed(node1, req('create', 'events', { namespace: 'default' }))).toBe(true);
      expect(allowed(node1, req('create', 'events', { apiGroup: 'events.k8s.io', namespace: 'default' }))).toBe(true);
      expect(allowed(node1, req('update', 'secrets', { namespace: 'default', name: 's' }))).toBe(false);
      expect(allowed(node1, req('delete', 'services', { namespace: 'default', name: 's' }))).toBe(false);
    });

    it('need the system:nodes group to be a node', () => {
      expect(nodeNameOf(user('system:node:n1'))).toBeUndefined();
      expect(nodeNameOf(node1)).toBe('n1');
      expect(allowed(user('system:node:n1'), req('list', 'pods'))).toBe(false);
    });
  });

  it('gives the scheduler binding, pod status and the reads it filters on', () => {
    expect(allowed(scheduler, req('create', 'pods/binding', { namespace: 'default', name: 'web' }))).toBe(true);
    expect(allowed(scheduler, req('create', 'bindings', { namespace: 'default' }))).toBe(true);
    expect(allowed(scheduler, req('patch', 'pods/status', { namespace: 'default', name: 'web' }))).toBe(true);
    expect(authorize(scheduler, req('patch', 'pods/status', { namespace: 'default', name: 'web' })).requiresBoundPodCheck).toBeUndefined();
    expect(allowed(scheduler, req('watch', 'nodes'))).toBe(true);
    expect(allowed(scheduler, req('list', 'replicasets', { apiGroup: 'apps' }))).toBe(true);
    expect(allowed(scheduler, req('update', 'leases', { apiGroup: 'coordination.k8s.io', namespace: 'kube-system', name: 'kube-scheduler' }))).toBe(true);
    expect(allowed(scheduler, req('update', 'pods', { namespace: 'default', name: 'web' }))).toBe(false);
    expect(allowed(scheduler, req('get', 'secrets', { namespace: 'default', name: 's' }))).toBe(false);
  });

  it('gives kube-proxy reads of services, endpoint slices and nodes, and events', () => {
    expect(allowed(proxy, req('watch', 'services'))).toBe(true);
    expect(allowed(proxy, req('list', 'endpointslices', { apiGroup: 'discovery.k8s.io' }))).toBe(true);
    expect(allowed(proxy, req('get', 'nodes', { name: 'n1' }))).toBe(true);
    expect(allowed(proxy, req('create', 'events', { namespace: 'default' }))).toBe(true);
    expect(allowed(proxy, req('update', 'services', { namespace: 'default', name: 's' }))).toBe(false);
    expect(allowed(proxy, req('list', 'pods'))).toBe(false);
  });

  it('keeps nodes/proxy (the kubelet API) to admins: reading nodes does not grant it, as upstream', () => {
    const kubeletStats = req('get', 'nodes/proxy', { name: 'n1' });
    expect(allowed(admin, kubeletStats)).toBe(true);
    for (const u of [node1, proxy, scheduler, alice]) expect(allowed(u, kubeletStats)).toBe(false);
    expect(forbiddenMessage(alice, kubeletStats)).toBe('nodes "n1" is forbidden: User "alice" cannot get resource "nodes/proxy" in API group "" at the cluster scope');
  });

  it('gives the cluster DNS read-only access to what records are made of', () => {
    const dns = user('system:k8ts-dns');
    for (const r of ['services', 'endpoints', 'pods', 'namespaces']) expect(allowed(dns, req('watch', r))).toBe(true);
    expect(allowed(dns, req('list', 'endpointslices', { apiGroup: 'discovery.k8s.io' }))).toBe(true);
    expect(allowed(dns, req('create', 'services', { namespace: 'kube-system' }))).toBe(false);
    expect(allowed(dns, req('list', 'secrets'))).toBe(false);
  });

  it('gives the controller manager every resource', () => {
    expect(allowed(kcm, req('deletecollection', 'pods', { namespace: 'default' }))).toBe(true);
    expect(allowed(kcm, req('update', 'deployments/status', { apiGroup: 'apps', namespace: 'default', name: 'web' }))).toBe(true);
  });

  it('lets join-token holders request certificates only', () => {
    expect(allowed(joiner, req('create', 'certificatesigningrequests', { apiGroup: 'certificates.k8s.io' }))).toBe(true);
    expect(allowed(joiner, req('list', 'pods'))).toBe(false);
    expect(allowed(joiner, path('/version'))).toBe(true);
  });
});

describe('forbidden messages', () => {
  it('follow upstream for namespaced, named, cluster-scoped, grouped and sub-resources', () => {
    expect(forbiddenMessage(user('x'), req('list', 'pods', { namespace: 'default' })))
      .toBe('pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default"');
    expect(forbiddenMessage(user('x'), req('get', 'pods/log', { namespace: 'ns', name: 'web' })))
      .toBe('pods "web" is forbidden: User "x" cannot get resource "pods/log" in API group "" in the namespace "ns"');
    expect(forbiddenMessage(user('x'), req('list', 'nodes')))
      .toBe('nodes is forbidden: User "x" cannot list resource "nodes" in API group "" at the cluster scope');
    expect(forbiddenMessage(user('x'), req('create', 'deployments', { apiGroup: 'apps', namespace: 'd' })))
      .toBe('deployments.apps is forbidden: User "x" cannot create resource "deployments" in API group "apps" in the namespace "d"');
    expect(forbiddenMessage(user('x'), path('/metrics')))
      .toBe('forbidden: User "x" cannot get path "/metrics"');
  });

  it('become a 403 with details, or a 401 for anonymous users', () => {
    const r = req('list', 'pods', { namespace: 'default' });
    const err = authorizationError(alice, r, authorize(alice, r));
    expect(err.code).toBe(403);
    expect(err.toStatus()).toMatchObject({ reason: 'Forbidden', details: { group: '', kind: 'pods' }, message: 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"' });
    const anon = anonymousUser();
    expect(authorizationError(anon, r, authorize(anon, r)).code).toBe(401);
    const n = req('patch', 'nodes', { name: 'n2' });
    expect(authorizationError(node1, n, authorize(node1, n)).message)
      .toBe('nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes" in API group "" at the cluster scope: node "n1" may only modify its own Node, not "n2"');
  });
});

describe('the apiserver adapter', () => {
  it('treats an undefined user as anonymous and puts the 403 text in the reason', async () => {
    const { authorizer } = await import('./auth.js');
    const r = { ...req('list', 'pods', { namespace: 'default' }), isResourceRequest: true };
    expect(authorizer.authorize(undefined, r).allowed).toBe(false);
    expect(authorizer.authorize(undefined, { ...path('/livez'), isResourceRequest: false }).allowed).toBe(true);
    expect(authorizer.authorize({ name: 'alice', groups: ['system:authenticated'] }, r).reason)
      .toBe('pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
    expect(authorizer.authorize({ name: 'system:admin', groups: ['system:masters'] }, r).allowed).toBe(true);
  });
});
