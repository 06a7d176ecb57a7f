// The patch functions over the generated schemas of the real built-in kinds, on the requests
// kubectl actually sends.
import { schemas } from '../schema/index.js';
import type { KubeObject } from '../object.js';
import { applyPatch } from './apply.js';
import { FieldSet } from './field-set.js';
import { fieldSetOf, updateManagedFields, type ManagedFieldsEntry } from './managed-fields.js';
import { applyStrategicMergePatch } from './strategic.js';

const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';
const SERVICE = 'io.k8s.api.core.v1.Service';
const POD = 'io.k8s.api.core.v1.Pod';
const now = new Date('2026-03-01T10:00:00Z');

function deployment() {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, finalizers: ['a/b'] },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{ name: 'nginx', image: 'nginx:1.24', ports: [{ containerPort: 80, protocol: 'TCP' }], env: [{ name: 'A', value: '1' }] }],
          volumes: [{ name: 'cache', emptyDir: {} }],
          tolerations: [{ key: 'k', operator: 'Exists' }],
        },
      },
    },
  };
}

describe('strategic merge patch on the real Deployment schema', () => {
  const smp = (patch: unknown) => applyStrategicMergePatch(deployment(), patch, schemas, DEPLOYMENT);

  it('changes an image through $setElementOrder as kubectl apply sends it', () => {
    const out = smp({ spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ image: 'nginx:1.25', name: 'nginx' }] } } } });
    expect(out.spec.template.spec.containers[0]).toEqual({ ...deployment().spec.template.spec.containers[0], image: 'nginx:1.25' });
  });

  it('switches to Recreate, swaps a volume source, and replaces tolerations', () => {
    const out = smp({
      spec: {
        strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' },
        template: { spec: {
          '$setElementOrder/volumes': [{ name: 'cache' }],
          volumes: [{ $retainKeys: ['hostPath', 'name'], emptyDir: null, hostPath: { path: '/tmp' }, name: 'cache' }],
          tolerations: [{ key: 'other', operator: 'Exists' }],
        } },
      },
    });
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
    expect(out.spec.template.spec.volumes).toEqual([{ name: 'cache', hostPath: { path: '/tmp' } }]);
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'other', operator: 'Exists' }]);
  });

  it('adds a finalizer as a set member and removes one with $deleteFromPrimitiveList', () => {
    expect(smp({ metadata: { finalizers: ['c/d'] } }).metadata.finalizers).toEqual(['c/d', 'a/b']);
    expect(smp({ metadata: { '$deleteFromPrimitiveList/finalizers': ['a/b'] } }).metadata.finalizers).toEqual([]);
  });

  it('merges Service ports by port alone, as upstream does (protocol is not part of the merge key)', () => {
    const svc = { spec: { ports: [{ name: 'dns-tcp', port: 53, protocol: 'TCP' }] } };
    const out = applyStrategicMergePatch(svc, { spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] } }, schemas, SERVICE);
    expect(out.spec.ports).toEqual([{ name: 'dns', port: 53, protocol: 'UDP' }]);
  });
});

describe('server-side apply on the real schemas', () => {
  it('records a Pod apply as upstream writes it', () => {
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'x' } }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } };
    const out = applyPatch(undefined, pod, 'kubectl', false, schemas, POD, now);
    expect(out.metadata!.managedFields).toEqual([{
      manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '2026-03-01T10:00:00Z', fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } },
    }]);
  });

  it('keys Service ports by port and protocol, defaulting TCP', () => {
    const set = fieldSetOf({ spec: { ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }] } }, schemas, SERVICE);
    expect(set.toFieldsV1()).toEqual({ 'f:spec': { 'f:ports': {
      'k:{"port":53,"protocol":"UDP"}': { '.': {}, 'f:port': {}, 'f:protocol': {} },
      'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {} },
    } } });
  });

  it('records a create the way upstream does for the defaulted Deployment kubectl create makes', () => {
    const out: KubeObject = updateManagedFields(undefined, deployment() as KubeObject, { manager: 'kubectl-create', apiVersion: 'apps/v1', now, schemas, root: DEPLOYMENT, ignored: [['f:status']] });
    const fields = FieldSet.fromFieldsV1(((out.metadata!.managedFields ?? []) as ManagedFieldsEntry[])[0]!.fieldsV1);
    expect(fields.toFieldsV1()).toEqual({
      'f:metadata': { 'f:finalizers': { '.': {}, 'v:"a/b"': {} }, 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        'f:replicas': {}, 'f:selector': {},
        'f:strategy': { 'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} }, 'f:type': {} },
        'f:template': {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': {
            'f:containers': { 'k:{"name":"nginx"}': {
              '.': {}, 'f:image': {}, 'f:name': {},
              'f:env': { '.': {}, 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } },
            } },
            'f:tolerations': {},
            'f:volumes': { '.': {}, 'k:{"name":"cache"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} } },
          },
        },
      },
    });
  });

  it('reports a conflict with the creator on a changed replica count', () => {
    const created = updateManagedFields(undefined, deployment(), { manager: 'kubectl-client-side-apply', apiVersion: 'apps/v1', now, schemas, root: DEPLOYMENT });
    const cfg = { ...deployment(), spec: { ...deployment().spec, replicas: 5 } };
    expect(() => applyPatch(created, cfg, 'kubectl', false, schemas, DEPLOYMENT, now))
      .toThrow('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
  });
});
