// Authorization: a pure function from (user, request) to a decision, standing in for upstream's
// Node authorizer + RBAC with the default bootstrap roles. There is no RBAC API yet, so the rules
// are data in this file, one table per identity, and tests read them as sentences.
//
// Design notes:
// - `system:masters` may do anything, as upstream (it bypasses RBAC entirely).
// - Nodes (`system:node:<name>` in `system:nodes`) get what the kubelet, kube-proxy and the
//   netplugins of one node need: read the objects that configure a node, write only their own Node,
//   Node status and Lease, pod status and pod deletion (the caller must check the pod is bound to
//   the node: the decision says so with `requiresBoundPodCheck`, because only the caller has the
//   stored pod), and events. Upstream's node authorizer narrows secret and configmap reads to the
//   pods of the node through a graph; we allow reads cluster-wide for now (a known gap).
// - `system:kube-controller-manager` may do anything with resources: k8ts runs every controller in
//   one client under that identity (upstream splits them into per-controller service accounts).
// - Denials carry upstream's 403 text, because kubectl prints it verbatim.
import { errors, qualifiedResource, StatusError, type Details } from '../../api/errors.js';
import { groups, isAnonymous, type Subject } from './authn.js';

export interface AuthzRequest {
  /** get list watch create update patch delete deletecollection connect impersonate; for paths the lower-case HTTP method. */
  verb: string;
  apiGroup: string;
  /** '' for a non-resource request (`/healthz`, `/api`, `/openapi/v3`). */
  resource: string;
  subresource: string;
  namespace: string;
  /** For `create`, the caller sets the name from the body (the URL has none). */
  name: string;
  path: string;
}

export interface Decision {
  allowed: boolean;
  /** Why: the rule that allowed, or what was missing. */
  reason: string;
  /** Allowed only if the pod named in the request is bound to the requesting node. */
  requiresBoundPodCheck?: boolean;
  /**
   * Allowed only if the object created carries this name: a node creating its Node or Lease, when
   * the request (a POST to the collection) has no name yet. Upstream checks it in admission
   * (NodeRestriction); the caller checks it against the body.
   */
  requiredName?: string;
}

type List = readonly string[] | '*';
interface Rule {
  verbs: List;
  groups: List;
  /** `pods`, `pods/status`, `pods/*` or '*'. */
  resources: List;
  namespaces?: readonly string[];
  requiresBoundPodCheck?: true;
}

const read = ['get', 'list', 'watch'] as const;
const eventRules: Rule[] = [{ verbs: ['create', 'update', 'patch'], groups: ['', 'events.k8s.io'], resources: ['events'] }];

/** Every authenticated user: upstream's system:basic-user. */
const basicUserRules: Rule[] = [
  { verbs: ['create'], groups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
  { verbs: ['create'], groups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
];

const schedulerRules: Rule[] = [
  ...eventRules,
  { verbs: read, groups: [''], resources: ['nodes', 'namespaces', 'pods', 'services', 'replicationcontrollers', 'persistentvolumes', 'persistentvolumeclaims'] },
  { verbs: ['delete'], groups: [''], resources: ['pods'] }, // preemption
  { verbs: ['create'], groups: [''], resources: ['bindings', 'pods/binding'] },
  { verbs: ['update', 'patch'], groups: [''], resources: ['pods/status'] },
  // Upstream's system:volume-scheduler: VolumeBinding's PreBind writes the selected node on claims.
  { verbs: ['update', 'patch'], groups: [''], resources: ['persistentvolumes', 'persistentvolumeclaims'] },
  { verbs: read, groups: ['apps'], resources: ['replicasets', 'statefulsets'] },
  { verbs: read, groups: ['policy'], resources: ['poddisruptionbudgets'] },
  { verbs: read, groups: ['storage.k8s.io'], resources: ['storageclasses', 'csinodes', 'csidrivers', 'csistoragecapacities', 'volumeattachments'] },
  { verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'], groups: ['coordination.k8s.io'], resources: ['leases'], namespaces: ['kube-system'] },
  { verbs: ['create'], groups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
  { verbs: ['create'], groups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'] },
];

/** Upstream's system:node-proxier. */
const kubeProxyRules: Rule[] = [
  ...eventRules,
  { verbs: read, groups: [''], resources: ['services', 'endpoints', 'nodes'] },
  { verbs: read, groups: ['discovery.k8s.io'], resources: ['endpointslices'] },
];

const controllerManagerRules: Rule[] = [{ verbs: '*', groups: '*', resources: '*' }];

/** Upstream's system:coredns: read what DNS records are made of, nothing else. */
const clusterDnsRules: Rule[] = [
  { verbs: ['list', 'watch'], groups: [''], resources: ['services', 'endpoints', 'pods', 'namespaces'] },
  { verbs: ['list', 'watch'], groups: ['discovery.k8s.io'], resources: ['endpointslices'] },
];

/** Read access every node has; the name-scoped writes are in `nodeDecision`. */
const nodeRules: Rule[] = [
  ...eventRules,
  { verbs: read, groups: [''], resources: ['nodes', 'pods', 'services', 'endpoints', 'configmaps', 'secrets', 'namespaces', 'persistentvolumes', 'persistentvolumeclaims', 'serviceaccounts'] },
  { verbs: read, groups: ['discovery.k8s.io'], resources: ['endpointslices'] },
  { verbs: read, groups: ['networking.k8s.io'], resources: ['networkpolicies', 'ingressclasses'] },
  { verbs: read, groups: ['coordination.k8s.io'], resources: ['leases'] },
  { verbs: read, groups: ['storage.k8s.io'], resources: ['csidrivers', 'csinodes', 'storageclasses', 'volumeattachments'] },
  { verbs: ['update', 'patch'], groups: [''], resources: ['pods/status'], requiresBoundPodCheck: true },
  { verbs: ['delete'], groups: [''], resources: ['pods'], requiresBoundPodCheck: true },
  { verbs: ['create'], groups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
  { verbs: ['create'], groups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'] },
];

/** Join-token holders: read what joining needs, and request certificates. */
const bootstrapperRules: Rule[] = [
  { verbs: ['create', 'get', 'list', 'watch'], groups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'] },
  { verbs: ['create'], groups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/nodeclient'] },
];

const componentRules: Readonly<Record<string, Rule[]>> = {
  'system:kube-controller-manager': controllerManagerRules,
  'system:kube-scheduler': schedulerRules,
  'system:kube-proxy': kubeProxyRules,
  'system:k8ts-dns': clusterDnsRules,
};

/** Paths anyone may GET, as upstream's system:public-info-viewer. */
const publicPaths = ['/healthz', '/livez', '/readyz', '/version'];
/** Paths every authenticated user may GET, as upstream's system:discovery. */
const discoveryPaths = [...publicPaths, '/api', '/apis', '/openapi'];

const listHas = (list: List, v: string) => list === '*' || list.includes(v);

function resourceMatches(list: List, resource: string, subresource: string): boolean {
  if (list === '*') return true;
  const full = subresource ? `${resource}/${subresource}` : resource;
  return list.some(r => r === full || (r === `${resource}/*` && subresource !== '') || r === '*');
}

function ruleAllows(rule: Rule, req: AuthzRequest): boolean {
  return listHas(rule.verbs, req.verb) && listHas(rule.groups, req.apiGroup)
    && resourceMatches(rule.resources, req.resource, req.subresource)
    && (rule.namespaces === undefined || rule.namespaces.includes(req.namespace));
}

function firstMatch(rules: readonly Rule[], req: AuthzRequest): Rule | undefined {
  // Unconditional rules first, so a bound-pod check is asked for only when nothing else allows.
  return rules.find(r => !r.requiresBoundPodCheck && ruleAllows(r, req)) ?? rules.find(r => ruleAllows(r, req));
}

function pathUnder(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some(p => path === p || path.startsWith(`${p}/`));
}

const allow = (reason: string, extra: Partial<Decision> = {}): Decision => ({ allowed: true, reason, ...extra });
const deny = (reason: string): Decision => ({ allowed: false, reason });

/** The node name of a `system:node:<name>` user in `system:nodes`, or undefined. */
export function nodeNameOf(user: Subject): string | undefined {
  if (!user.groups.includes(groups.nodes) || !user.name.startsWith('system:node:')) return undefined;
  const name = user.name.slice('system:node:'.length);
  return name === '' ? undefined : name;
}

/** The name-scoped rights of a node: its Node object and status, and its Lease. */
function nodeOwnObjects(node: string, req: AuthzRequest): Decision | undefined {
  // Reads fall through to the read rules; only writes are scoped to the node's own objects.
  const writes = ['create', 'update', 'patch', 'delete'];
  if (req.apiGroup === '' && req.resource === 'nodes' && (req.subresource === '' || req.subresource === 'status')) {
    if (!writes.includes(req.verb)) return undefined;
    if (req.verb === 'create' && req.name === '') return allow(`node "${node}" may create its own Node`, { requiredName: node });
    if (req.name === node) return allow(`node "${node}" may modify its own Node`);
    return deny(`node "${node}" may only modify its own Node, not "${req.name}"`);
  }
  if (req.apiGroup === 'coordination.k8s.io' && req.resource === 'leases' && req.subresource === '' && writes.includes(req.verb)) {
    if (req.verb === 'create' && req.name === '' && req.namespace === 'kube-node-lease') return allow(`node "${node}" may create its own Lease`, { requiredName: node });
    if (req.namespace === 'kube-node-lease' && req.name === node) return allow(`node "${node}" may modify its own Lease`);
    return deny(`node "${node}" may only modify its own Lease "kube-node-lease/${node}"`);
  }
  return undefined;
}

/**
 * May `user` do `req`? Pure; the HTTP layer turns a denial into a 401 for anonymous users and a
 * 403 otherwise (see `authorizationError`).
 */
export function authorize(user: Subject, req: AuthzRequest): Decision {
  if (user.groups.includes(groups.masters)) return allow('system:masters may do anything');

  if (req.resource === '') {
    const isRead = req.verb === 'get' || req.verb === 'head';
    if (isRead && pathUnder(req.path, publicPaths)) return allow('public health and version endpoints');
    if (isAnonymous(user)) return deny('anonymous requests may only read health and version endpoints');
    if (isRead && pathUnder(req.path, discoveryPaths)) return allow('discovery is open to authenticated users');
    if (user.name === 'system:kube-controller-manager' && isRead) return allow('the controller manager may read any path');
    return deny('');
  }
  if (isAnonymous(user)) return deny('anonymous requests may only read health and version endpoints');

  const basic = firstMatch(basicUserRules, req);
  if (basic) return allow('allowed for every authenticated user');

  const component = componentRules[user.name];
  if (component) {
    return firstMatch(component, req) ? allow(`allowed for ${user.name}`) : deny('');
  }

  const node = nodeNameOf(user);
  if (node !== undefined) {
    const own = nodeOwnObjects(node, req);
    if (own) return own;
    const rule = firstMatch(nodeRules, req);
    if (!rule) return deny('');
    return rule.requiresBoundPodCheck
      ? allow(`node "${node}" may ${req.verb} pods bound to it`, { requiresBoundPodCheck: true })
      : allow(`allowed for nodes`);
  }

  if (user.groups.includes(groups.bootstrappers) && firstMatch(bootstrapperRules, req)) return allow('allowed for bootstrappers');
  return deny('');
}

/** Upstream's Forbidden text: `pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"`. */
export function forbiddenMessage(user: Subject, req: AuthzRequest, reason = ''): string {
  const suffix = reason ? `: ${reason}` : '';
  if (req.resource === '') return `forbidden: User "${user.name}" cannot ${req.verb} path "${req.path}"${suffix}`;
  const what = qualifiedResource(req.resource, req.apiGroup);
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const scope = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope';
  return `${what}${req.name ? ` "${req.name}"` : ''} is forbidden: User "${user.name}" cannot ${req.verb} resource "${resource}" in API group "${req.apiGroup}" ${scope}${suffix}`;
}

/** The error for a denied decision: 401 for anonymous users (they should authenticate), else 403. */
export function authorizationError(user: Subject, req: AuthzRequest, decision: Decision): StatusError {
  if (isAnonymous(user)) return errors.unauthorized();
  const details: Details = { group: req.apiGroup };
  if (req.name) details.name = req.name;
  if (req.resource) details.kind = req.resource;
  return new StatusError(403, 'Forbidden', forbiddenMessage(user, req, decision.reason), details);
}
