import { schemas } from '../../api/schema/index.js';
import type { ResourceDef } from '../registry/types.js';
import { OPENAPI_V2_STUB, OpenAPIV3, PATCH_CONTENT_TYPES, buildGroupVersionDocument, documentHash, groupVersionPath, operationGroupVersion } from './openapi.js';

const ALL_VERBS: ResourceDef['verbs'] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

function def(group: string, version: string, kind: string, resource: string, namespaced: boolean, subresources: ResourceDef['subresources'] = []): ResourceDef {
  const prefix = group === '' ? 'io.k8s.api.core.v1' : `io.k8s.api.${group.replace(/\.k8s\.io$/, '')}.${version}`;
  return {
    group, version, kind, listKind: `${kind}List`, resource, singularName: kind.toLowerCase(), namespaced,
    verbs: ALL_VERBS, subresources, schemaName: `${prefix}.${kind}`,
    hasStatusSubresource: subresources.includes('status'), tracksGeneration: true,
    validate: () => [], validateUpdate: () => [], tableColumns: [], tableRow: () => [],
  };
}

const resources = [
  def('apps', 'v1', 'Deployment', 'deployments', true, ['status', 'scale']),
  def('', 'v1', 'Pod', 'pods', true, ['status', 'binding', 'eviction', 'log', 'exec']),
  def('', 'v1', 'Node', 'nodes', false, ['status']),
  def('', 'v1', 'ConfigMap', 'configmaps', true),
  def('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true),
];
const openapi = new OpenAPIV3(resources, schemas, { version: 'v1.32.0' });

/** What kubectl's QueryParamVerifierV3 does: the first PATCH with the GVK decides, and only its own parameters count. */
function kubectlWouldSendStrict(doc: ReturnType<OpenAPIV3['groupVersion']>, gvk: { group: string; version: string; kind: string }): boolean {
  for (const item of Object.values(doc!.paths)) {
    const op = item.patch;
    if (!op) continue;
    const g = op['x-kubernetes-group-version-kind'];
    if (g.group !== gvk.group || g.version !== gvk.version || g.kind !== gvk.kind) continue;
    if (!(op.parameters ?? []).some(p => p.name === 'fieldValidation')) return false;
  }
  return Object.values(doc!.paths).some(i => i.patch?.['x-kubernetes-group-version-kind'].kind === gvk.kind);
}

describe('OpenAPIV3', () => {
  test('discovery names one document per group-version, with a hash of its body', () => {
    const disc = JSON.parse(openapi.document('/openapi/v3')!.body) as { paths: Record<string, { serverRelativeURL: string }> };
    expect(Object.keys(disc.paths)).toEqual(['api/v1', 'apis/apps/v1', 'apis/networking.k8s.io/v1']);
    const apps = openapi.document('/openapi/v3/apis/apps/v1')!;
    expect(disc.paths['apis/apps/v1']!.serverRelativeURL).toBe(`/openapi/v3/apis/apps/v1?hash=${documentHash(apps.body)}`);
    expect(apps.etag).toBe(`"${documentHash(apps.body)}"`);
    expect(documentHash(apps.body)).toMatch(/^[0-9A-F]{128}$/);
    expect(openapi.document('/openapi/v3/apis/batch/v1')).toBeUndefined();
    expect(openapi.document('/openapi/v2')).toBeUndefined();
    expect(openapi.document('/openapi/v3/')?.body).toBe(openapi.document('/openapi/v3')!.body);
  });

  test('is deterministic regardless of resource order', () => {
    const again = new OpenAPIV3([...resources].reverse(), schemas, { version: 'v1.32.0' });
    expect(again.document('/openapi/v3')!.body).toBe(openapi.document('/openapi/v3')!.body);
  });

  test('the Deployment PATCH carries its GVK, fieldValidation and the four patch types', () => {
    const doc = openapi.groupVersion('apis/apps/v1')!;
    expect(doc.openapi).toBe('3.0.0');
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']!.patch!;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(patch['x-kubernetes-action']).toBe('patch');
    expect(patch.operationId).toBe('patchAppsV1NamespacedDeployment');
    expect(patch.parameters!.map(p => p.name)).toEqual(['dryRun', 'fieldManager', 'fieldValidation', 'force']);
    expect(Object.keys(patch.requestBody!.content).sort()).toEqual([...PATCH_CONTENT_TYPES].sort());
    expect(patch.requestBody!.content['application/strategic-merge-patch+json']!.schema).toEqual({ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' });
    expect(patch.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/io.k8s.api.apps.v1.Deployment' });
  });

  test('kubectl would send fieldValidation=Strict for every served kind', () => {
    expect(kubectlWouldSendStrict(openapi.groupVersion('apis/apps/v1'), { group: 'apps', version: 'v1', kind: 'Deployment' })).toBe(true);
    for (const kind of ['Pod', 'Node', 'ConfigMap']) {
      expect(kubectlWouldSendStrict(openapi.groupVersion('api/v1'), { group: '', version: 'v1', kind })).toBe(true);
    }
    expect(kubectlWouldSendStrict(openapi.groupVersion('apis/networking.k8s.io/v1'), { group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' })).toBe(true);
  });

  test('has collection, item, all-namespaces and subresource paths with upstream operation ids', () => {
    const doc = openapi.groupVersion('apis/apps/v1')!;
    expect(Object.keys(doc.paths)).toEqual([
      '/apis/apps/v1/deployments',
      '/apis/apps/v1/namespaces/{namespace}/deployments',
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}',
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale',
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status',
    ]);
    const coll = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments']!;
    expect(coll.get!.operationId).toBe('listAppsV1NamespacedDeployment');
    expect(coll.get!['x-kubernetes-action']).toBe('list');
    expect(coll.post!.operationId).toBe('createAppsV1NamespacedDeployment');
    expect(coll.post!.parameters!.map(p => p.name)).toContain('fieldValidation');
    expect(coll.delete!.operationId).toBe('deleteAppsV1CollectionNamespacedDeployment');
    expect(coll.parameters!.map(p => p.name)).toEqual(['namespace', 'pretty']);
    expect(doc.paths['/apis/apps/v1/deployments']!.get!.operationId).toBe('listAppsV1DeploymentForAllNamespaces');
    const item = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']!;
    expect(item.put!.operationId).toBe('replaceAppsV1NamespacedDeployment');
    expect(item.put!.parameters!.map(p => p.name)).toEqual(['dryRun', 'fieldManager', 'fieldValidation']);
    expect(item.delete!.parameters!.map(p => p.name)).toContain('propagationPolicy');
    const scale = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale']!;
    expect(scale.patch!['x-kubernetes-group-version-kind']).toEqual({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(scale.patch!.operationId).toBe('patchAppsV1NamespacedDeploymentScale');
    const status = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status']!;
    expect(status.patch!['x-kubernetes-group-version-kind'].kind).toBe('Deployment');

    const core = openapi.groupVersion('api/v1')!;
    expect(core.paths['/api/v1/nodes/{name}']!.get!.operationId).toBe('readCoreV1Node');
    expect(core.paths['/api/v1/nodes/{name}']!.parameters!.map(p => p.name)).toEqual(['name', 'pretty']);
    expect(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction']!.post!['x-kubernetes-group-version-kind']).toEqual({ group: 'policy', version: 'v1', kind: 'Eviction' });
    expect(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/log']!.get!.operationId).toBe('readCoreV1NamespacedPodLog');
    expect(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/exec']).toBeUndefined();
  });

  test('components hold every schema reachable from the paths, with the descriptions explain prints', () => {
    const doc = openapi.groupVersion('apis/apps/v1')!;
    const names = Object.keys(doc.components.schemas);
    for (const n of ['io.k8s.api.apps.v1.Deployment', 'io.k8s.api.apps.v1.DeploymentList', 'io.k8s.api.apps.v1.DeploymentSpec',
      'io.k8s.api.core.v1.PodTemplateSpec', 'io.k8s.api.core.v1.Container', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
      'io.k8s.apimachinery.pkg.util.intstr.IntOrString', 'io.k8s.apimachinery.pkg.api.resource.Quantity',
      'io.k8s.api.autoscaling.v1.Scale', 'io.k8s.apimachinery.pkg.apis.meta.v1.Patch', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
      'io.k8s.apimachinery.pkg.apis.meta.v1.Status']) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain('io.k8s.api.apps.v1.StatefulSet');
    expect([...names].sort()).toEqual(names);
    // explain finds the kind by GVK and prints descriptions along the field path
    const dep = Object.values(doc.components.schemas).find(s => s['x-kubernetes-group-version-kind']?.some(g => g.kind === 'Deployment' && g.group === 'apps'));
    expect(dep?.description).toBe('Deployment enables declarative updates for Pods and ReplicaSets.');
    expect(doc.components.schemas['io.k8s.api.apps.v1.DeploymentSpec']!.properties!['replicas']!.description).toMatch(/desired pods/);
    expect(doc.components.schemas['io.k8s.api.core.v1.Container']!.properties!['image']!.description).toMatch(/Container image name/);
    // every $ref resolves inside the document
    const body = openapi.document('/openapi/v3/apis/apps/v1')!.body;
    for (const m of body.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) expect(names).toContain(m[1]);
  });

  test('rejects a resource whose schema is unknown or whose group-version differs', () => {
    expect(() => buildGroupVersionDocument('apps', 'v1', [{ ...def('apps', 'v1', 'Deployment', 'deployments', true), schemaName: 'nope' }], schemas)).toThrow('No schema "nope"');
    expect(() => buildGroupVersionDocument('apps', 'v1', [def('', 'v1', 'Pod', 'pods', true)], schemas)).toThrow(/not apps\/v1/);
  });
});

test('naming helpers follow upstream', () => {
  expect(groupVersionPath('', 'v1')).toBe('api/v1');
  expect(groupVersionPath('apps', 'v1')).toBe('apis/apps/v1');
  expect(operationGroupVersion('', 'v1')).toBe('CoreV1');
  expect(operationGroupVersion('networking.k8s.io', 'v1')).toBe('NetworkingV1');
  expect(operationGroupVersion('rbac.authorization.k8s.io', 'v1')).toBe('RbacAuthorizationV1');
  expect(operationGroupVersion('autoscaling', 'v2')).toBe('AutoscalingV2');
});

test('the /openapi/v2 stub is an empty protobuf message, which kubectl 1.27/1.28 parse as an empty document', () => {
  expect(OPENAPI_V2_STUB.body.length).toBe(0);
  expect(OPENAPI_V2_STUB.contentType).toBe('application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
});
