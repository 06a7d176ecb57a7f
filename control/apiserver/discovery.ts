// API discovery in both forms kubectl reads: the legacy documents (APIVersions, APIGroupList, one
// APIResourceList per group-version) and aggregated discovery (apidiscovery.k8s.io v2 and
// v2beta1), all derived from the one list of served resources.
import { apiVersionOf } from '../../api/object.js';
import type { ResourceDef, Subresource, Verb } from '../registry/types.js';

/** Group-versions served, in upstream's preference order (core first, then groups). */
export interface GroupVersions { group: string; versions: string[] }

/** Kinds some group-versions serve only as subresource payloads (autoscaling/v1 Scale). */
export interface ExtraGroupVersion { group: string; version: string }

/**
 * A resource served without storage: the self-reviews (create only) and metrics.k8s.io (read only),
 * answered by their own handlers rather than the generic REST layer.
 */
export interface VirtualResource { group: string; version: string; resource: string; singularName: string; kind: string; namespaced: boolean; verbs: readonly string[] }

const subresourceVerbs: Record<Subresource, Verb[] | string[]> = {
  status: ['get', 'patch', 'update'],
  scale: ['get', 'patch', 'update'],
  binding: ['create'],
  eviction: ['create'],
  log: ['get'],
  exec: ['create', 'get'],
  attach: ['create', 'get'],
  portforward: ['create', 'get'],
  proxy: ['create', 'delete', 'get', 'patch', 'update'],
  ephemeralcontainers: ['get', 'patch', 'update'],
  finalize: ['update'],
};

function subresourceKind(def: ResourceDef, sub: Subresource): { group: string; version: string; kind: string } {
  switch (sub) {
    case 'scale': return { group: 'autoscaling', version: 'v1', kind: 'Scale' };
    case 'binding': return { group: '', version: 'v1', kind: 'Binding' };
    case 'eviction': return { group: 'policy', version: 'v1', kind: 'Eviction' };
    // Upstream lists `nodes/proxy` as NodeProxyOptions and `services/proxy` as ServiceProxyOptions.
    case 'proxy': return { group: '', version: 'v1', kind: def.resource === 'nodes' ? 'NodeProxyOptions' : def.resource === 'services' ? 'ServiceProxyOptions' : 'PodProxyOptions' };
    case 'log': case 'exec': case 'attach': case 'portforward':
      return { group: '', version: 'v1', kind: sub === 'log' ? 'Pod' : sub === 'exec' ? 'PodExecOptions' : sub === 'attach' ? 'PodAttachOptions' : sub === 'portforward' ? 'PodPortForwardOptions' : 'PodProxyOptions' };
    default: return { group: def.group, version: def.version, kind: def.kind };
  }
}

export class Discovery {
  readonly groups: GroupVersions[];

  constructor(private readonly resources: ResourceDef[], extra: ExtraGroupVersion[] = [], private readonly virtual: readonly VirtualResource[] = []) {
    const order: string[] = [];
    const versions = new Map<string, string[]>();
    for (const gv of [...resources.map(r => ({ group: r.group, version: r.version })), ...extra, ...virtual]) {
      if (!versions.has(gv.group)) { versions.set(gv.group, []); order.push(gv.group); }
      const vs = versions.get(gv.group)!;
      if (!vs.includes(gv.version)) vs.push(gv.version);
    }
    this.groups = order.map(group => ({ group, versions: versions.get(group)!.sort(compareVersions) }));
  }

  private resourcesOf(group: string, version: string): ResourceDef[] {
    return this.resources.filter(r => r.group === group && r.version === version);
  }

  hasGroupVersion(group: string, version: string): boolean {
    return this.groups.some(g => g.group === group && g.versions.includes(version));
  }

  hasGroup(group: string): boolean {
    return this.groups.some(g => g.group === group);
  }

  apiVersions(serverAddress: string): object {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }

  private apiGroup(g: GroupVersions): object {
    const versions = g.versions.map(version => ({ groupVersion: apiVersionOf({ group: g.group, version }), version }));
    return { name: g.group, versions, preferredVersion: versions[0] };
  }

  apiGroupList(): object {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: this.groups.filter(g => g.group !== '').map(g => this.apiGroup(g)) };
  }

  apiGroupDoc(group: string): object | undefined {
    const g = this.groups.find(x => x.group === group);
    return g && { kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(g) };
  }

  apiResourceList(group: string, version: string): object {
    const resources: object[] = [];
    for (const r of this.resourcesOf(group, version)) {
      resources.push({
        name: r.resource, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs,
        ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
        ...(r.categories?.length ? { categories: r.categories } : {}),
      });
      for (const sub of r.subresources) {
        const k = subresourceKind(r, sub);
        resources.push({
          name: `${r.resource}/${sub}`, singularName: '', namespaced: r.namespaced, kind: k.kind, verbs: subresourceVerbs[sub],
          ...(k.group !== r.group || k.version !== r.version ? { group: k.group, version: k.version } : {}),
        });
      }
    }
    for (const r of this.virtual.filter(c => c.group === group && c.version === version)) {
      resources.push({ name: r.resource, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs });
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
  }

  /** Aggregated discovery: the core group for `/api`, every named group for `/apis`. */
  aggregated(legacy: boolean, version: 'v2' | 'v2beta1'): object {
    const items = this.groups.filter(g => (g.group === '') === legacy).map(g => ({
      metadata: { name: g.group, creationTimestamp: null },
      versions: g.versions.map(v => ({
        version: v,
        resources: this.resourcesOf(g.group, v).map(r => ({
          resource: r.resource,
          responseKind: { group: r.group, version: r.version, kind: r.kind },
          scope: r.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: r.singularName,
          verbs: r.verbs,
          ...(r.shortNames?.length ? { shortNames: r.shortNames } : {}),
          ...(r.categories?.length ? { categories: r.categories } : {}),
          ...(r.subresources.length ? {
            subresources: r.subresources.map(sub => ({ subresource: sub, responseKind: subresourceKind(r, sub), verbs: subresourceVerbs[sub] })),
          } : {}),
        })),
        freshness: 'Current',
      })),
    }));
    return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
  }
}

/** Kubernetes version order: v1 > v1beta2 > v1beta1 > v1alpha1; GA first. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const stage = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  const [sa, ma, na] = parse(a);
  const [sb, mb, nb] = parse(b);
  return (sb! - sa!) || (mb! - ma!) || (nb! - na!);
}
