import type { KubeObject } from '../../api/object.js';
import { allResources, findByKind, findByName, findByResource, groupResources, groupVersions, resourcesInCategory } from './index.js';
import type { RegistryContext } from './types.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:00:00Z') };

/** One status counter of each kind whose /status writes are checked for non-negative counters. */
const STATUS_COUNTER: Record<string, string> = {
  daemonsets: 'numberReady', deployments: 'observedGeneration', replicasets: 'observedGeneration', statefulsets: 'observedGeneration',
  jobs: 'active', horizontalpodautoscalers: 'desiredReplicas', poddisruptionbudgets: 'currentHealthy',
};

describe('the registry', () => {
  it('tracks metadata.generation for the kinds upstream does (Rest sets 1 on create and counts spec changes)', () => {
    expect([...new Set(allResources().filter(d => d.tracksGeneration).map(d => `${d.group || 'core'}/${d.resource}`))].sort()).toEqual([
      'apps/daemonsets', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'batch/cronjobs', 'batch/jobs',
      'core/replicationcontrollers', 'discovery.k8s.io/endpointslices', 'networking.k8s.io/networkpolicies', 'policy/poddisruptionbudgets',
    ]);
  });

  it('serves each group/version/resource once', () => {
    const keys = allResources().map(d => `${d.group}/${d.version}/${d.resource}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('finds definitions by resource, kind and kubectl names', () => {
    expect(findByResource('apps', 'v1', 'deployments')?.kind).toBe('Deployment');
    expect(findByResource('', 'v1', 'pods')?.kind).toBe('Pod');
    expect(findByResource('apps', 'v1beta1', 'deployments')).toBeUndefined();
    expect(findByKind('batch', 'CronJob')?.resource).toBe('cronjobs');
    expect(findByKind('autoscaling', 'HorizontalPodAutoscaler')?.version).toBe('v2');
    for (const [name, resource] of [['deploy', 'deployments'], ['rs', 'replicasets'], ['sts', 'statefulsets'], ['ds', 'daemonsets'], ['cj', 'cronjobs'], ['hpa', 'horizontalpodautoscalers'], ['netpol', 'networkpolicies'], ['pdb', 'poddisruptionbudgets'], ['sc', 'storageclasses'], ['deployments.apps', 'deployments'], ['job', 'jobs'], ['endpointslice', 'endpointslices']]) {
      expect(findByName(name!).map(d => d.resource)).toEqual([resource]);
    }
  });

  it('puts the workloads upstream lists in the `all` category', () => {
    const all = resourcesInCategory('all').filter(d => d.group !== '').map(d => d.resource).sort();
    expect(all).toEqual(['cronjobs', 'daemonsets', 'deployments', 'horizontalpodautoscalers', 'jobs', 'replicasets', 'statefulsets']);
  });

  it('groups resources by group/version for discovery', () => {
    const gv = groupVersions().find(g => g.group === 'apps');
    expect(gv?.resources.map(d => d.resource)).toEqual(['controllerrevisions', 'daemonsets', 'deployments', 'replicasets', 'statefulsets']);
  });

  describe.each(groupResources.map(d => [`${d.resource}.${d.group}`, d] as const))('%s', (_name, def) => {
    it('has NAME first and AGE among its columns, and cells for every column', () => {
      expect(def.tableColumns[0]).toMatchObject({ name: 'Name', format: 'name' });
      expect(def.tableColumns.some(c => c.name === 'Age')).toBe(true);
      const obj: KubeObject = { metadata: { name: 'x', namespace: def.namespaced ? 'default' : undefined } } as KubeObject;
      def.applyDefaults?.(obj, ctx);
      expect(def.tableRow(obj, ctx.now())).toHaveLength(def.tableColumns.length);
      expect(def.tableRow(obj, ctx.now())[0]).toBe('x');
    });

    it('validates an empty object without throwing', () => {
      const obj: KubeObject = { metadata: { name: 'x', namespace: def.namespaced ? 'default' : undefined } } as KubeObject;
      def.applyDefaults?.(obj, ctx);
      expect(() => def.validate(obj, ctx)).not.toThrow();
      expect(() => def.validateUpdate(obj, obj, ctx)).not.toThrow();
      expect(() => def.validateStatusUpdate?.(obj, obj, ctx)).not.toThrow();
    });

    if (def.hasStatusSubresource) {
      it('keeps the stored status on an update of the main resource: only /status writes it', () => {
        const meta = { name: 'x', namespace: def.namespaced ? 'default' : undefined };
        const old = { metadata: meta, status: { observedGeneration: 1 } } as KubeObject;
        const next = { metadata: meta, status: { observedGeneration: 7 } } as KubeObject;
        def.prepareForUpdate?.(next, old);
        expect(next.status).toMatchObject({ observedGeneration: 1 }); // autoscaling/v1 adds its converted fields
      });
    }

    const counter = STATUS_COUNTER[def.resource];
    if (counter) {
      it(`refuses a negative status.${counter} and a renamed object on a /status write`, () => {
        const old = { metadata: { name: 'x', namespace: 'default', resourceVersion: '1' } } as KubeObject;
        const next = { metadata: { name: 'y', namespace: 'default', resourceVersion: '1' }, status: { [counter]: -1 } } as KubeObject;
        expect(def.validateStatusUpdate!(next, old, ctx).map(e => e.message())).toEqual([
          'metadata.name: Invalid value: "y": field is immutable',
          `status.${counter}: Invalid value: -1: must be greater than or equal to 0`,
        ]);
      });
    }

    it('declares a schema name matching its group, version and kind', () => {
      const groupPart = def.group.replace(/\.k8s\.io$/, '').replace(/\.k8s\.io$/, '');
      expect(def.schemaName).toBe(`io.k8s.api.${groupPart}.${def.version}.${def.kind}`);
    });
  });
});
