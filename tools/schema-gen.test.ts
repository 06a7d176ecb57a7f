import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFINITIONS_PATH, readSources, repoRoot } from './gen-schema.js';
import { INT_OR_STRING, SchemaGenError, generateDefinitions, renderDefinitions } from './schema-gen.js';

const root = repoRoot();
const sources = readSources(root);
const defs = generateDefinitions(sources);

describe('generateDefinitions', () => {
  test('the committed definitions.json is what the generator produces now (run `npm run gen:schema` if not)', () => {
    const committed = readFileSync(join(root, DEFINITIONS_PATH), 'utf8');
    expect(committed).toBe(renderDefinitions(defs));
  });

  test('is deterministic', () => {
    expect(renderDefinitions(generateDefinitions(sources))).toBe(renderDefinitions(defs));
  });

  test('names components as upstream and tags kinds with their GVK', () => {
    expect(defs['io.k8s.api.apps.v1.Deployment']?.['x-kubernetes-group-version-kind']).toEqual([{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
    expect(defs['io.k8s.api.core.v1.Pod']?.['x-kubernetes-group-version-kind']).toEqual([{ group: '', version: 'v1', kind: 'Pod' }]);
    expect(defs['io.k8s.api.discovery.v1.EndpointSlice']?.['x-kubernetes-group-version-kind']).toEqual([{ group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' }]);
    expect(defs['io.k8s.api.core.v1.PodSpec']?.['x-kubernetes-group-version-kind']).toBeUndefined();
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.Status']?.['x-kubernetes-group-version-kind']).toEqual([{ group: '', version: 'v1', kind: 'Status' }]);
    for (const name of ['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.api.resource.Quantity',
      INT_OR_STRING, 'io.k8s.apimachinery.pkg.runtime.RawExtension', 'io.k8s.apimachinery.pkg.version.Info',
      'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler', 'io.k8s.api.coordination.v1.Lease', 'io.k8s.api.policy.v1.Eviction']) {
      expect(defs[name]).toBeDefined();
    }
  });

  test('keeps doc comments as descriptions, with paragraph breaks', () => {
    expect(defs['io.k8s.api.apps.v1.Deployment']?.description).toBe('Deployment enables declarative updates for Pods and ReplicaSets.');
    const replicas = defs['io.k8s.api.apps.v1.DeploymentSpec']?.properties?.['replicas'];
    expect(replicas).toMatchObject({ type: 'integer', format: 'int32' });
    expect(replicas?.description).toMatch(/^Number of desired pods/);
    expect(defs['io.k8s.apimachinery.pkg.api.resource.Quantity']?.description).toContain('\n\nThe serialization format is:');
  });

  test('puts a described reference in allOf and a bare one in $ref', () => {
    const spec = defs['io.k8s.api.apps.v1.Deployment']?.properties?.['spec'];
    expect(spec?.allOf).toEqual([{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }]);
    expect(spec?.description).toBeTruthy();
    expect(defs['io.k8s.api.core.v1.PodSpec']?.properties?.['containers']?.items).toEqual({ $ref: '#/components/schemas/io.k8s.api.core.v1.Container' });
  });

  test('marks required fields from non-optional properties', () => {
    expect(defs['io.k8s.api.core.v1.PodSpec']?.required).toEqual(['containers']);
    expect(defs['io.k8s.api.apps.v1.DeploymentSpec']?.required).toEqual(['selector', 'template']);
    expect(defs['io.k8s.api.core.v1.Container']?.required).toEqual(['name']);
  });

  test('maps number to int32 or int64, number|string to IntOrString and string maps to additionalProperties', () => {
    const ctx = defs['io.k8s.api.core.v1.PodSecurityContext']?.properties;
    expect(ctx?.['runAsUser']).toMatchObject({ type: 'integer', format: 'int64' });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.['generation']).toMatchObject({ format: 'int64' });
    expect(defs['io.k8s.api.core.v1.ContainerPort']?.properties?.['containerPort']).toMatchObject({ format: 'int32' });
    expect(defs['io.k8s.api.apps.v1.RollingUpdateDeployment']?.properties?.['maxSurge']?.allOf).toEqual([{ $ref: `#/components/schemas/${INT_OR_STRING}` }]);
    expect(defs[INT_OR_STRING]).toMatchObject({ format: 'int-or-string', 'x-kubernetes-int-or-string': true });
    expect(defs['io.k8s.apimachinery.pkg.api.resource.Quantity']).toMatchObject({ 'x-kubernetes-int-or-string': true });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.Time']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.['labels']).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(defs['io.k8s.api.core.v1.ResourceRequirements']?.properties?.['limits']?.additionalProperties).toEqual({ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity' });
  });

  test('adds patch and list metadata from the tables', () => {
    const podSpec = defs['io.k8s.api.core.v1.PodSpec']?.properties;
    expect(podSpec?.['containers']).toMatchObject({ 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
    expect(podSpec?.['volumes']).toMatchObject({ 'x-kubernetes-patch-strategy': 'merge,retainKeys' });
    expect(podSpec?.['tolerations']).toMatchObject({ 'x-kubernetes-list-type': 'atomic' });
    expect(defs['io.k8s.api.core.v1.ServiceSpec']?.properties?.['ports']).toMatchObject({ 'x-kubernetes-patch-merge-key': 'port', 'x-kubernetes-list-map-keys': ['port', 'protocol'] });
    expect(defs['io.k8s.api.core.v1.Container']?.properties?.['ports']).toMatchObject({ 'x-kubernetes-patch-merge-key': 'containerPort', 'x-kubernetes-list-map-keys': ['containerPort', 'protocol'] });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.['finalizers']).toMatchObject({ 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.['ownerReferences']).toMatchObject({ 'x-kubernetes-patch-merge-key': 'uid' });
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector']).toMatchObject({ 'x-kubernetes-map-type': 'atomic' });
    expect(defs['io.k8s.api.apps.v1.DeploymentStatus']?.properties?.['conditions']).toMatchObject({ 'x-kubernetes-patch-merge-key': 'type', 'x-kubernetes-list-map-keys': ['type'] });
  });

  test('carries the defaults SSA needs for list-map keys', () => {
    expect(defs['io.k8s.api.core.v1.ContainerPort']?.properties?.['protocol']).toMatchObject({ type: 'string', default: 'TCP' });
    expect(defs['io.k8s.api.core.v1.ServicePort']?.properties?.['protocol']).toMatchObject({ default: 'TCP' });
  });

  test('fails loudly on a type it cannot map', () => {
    const broken = { ...sources, 'coordination/v1': 'export interface Lease { weird?: Promise<string>; }' };
    expect(() => generateDefinitions(broken)).toThrow(SchemaGenError);
    expect(() => generateDefinitions(broken)).toThrow('io.k8s.api.coordination.v1.Lease.weird: unknown type "Promise"');
  });
});
