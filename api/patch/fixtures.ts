// Test fixtures only: a small hand-written SchemaSet with the shapes of Deployment and Pod that
// matter to patching (containers by name, ports by containerPort+protocol, env and volumes by
// name, tolerations atomic, finalizers a set, conditions by type), written the way upstream's
// OpenAPI v3 documents them: properties as `allOf: [{$ref}]` wrappers carrying the extensions.
import type { OpenAPISchema, SchemaSet } from '../schema/types.js';

const ref = (name: string, ext: OpenAPISchema = {}): OpenAPISchema => ({ allOf: [{ $ref: `#/components/schemas/${name}` }], ...ext });
const str: OpenAPISchema = { type: 'string' };
const int: OpenAPISchema = { type: 'integer' };
const strMap: OpenAPISchema = { type: 'object', additionalProperties: str };
const list = (items: OpenAPISchema, ext: OpenAPISchema = {}): OpenAPISchema => ({ type: 'array', items, ...ext });
const mapList = (item: string, key: string, keys: string[] = [key], strategy = 'merge'): OpenAPISchema =>
  list(ref(item), { 'x-kubernetes-patch-strategy': strategy, 'x-kubernetes-patch-merge-key': key, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });

const components: Record<string, OpenAPISchema> = {
  'meta.ObjectMeta': {
    type: 'object',
    properties: {
      name: str, namespace: str, uid: str, resourceVersion: str, generation: int, creationTimestamp: str,
      labels: strMap, annotations: strMap,
      finalizers: list(str, { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' }),
      ownerReferences: mapList('meta.OwnerReference', 'uid'),
      managedFields: list(ref('meta.ManagedFieldsEntry'), { 'x-kubernetes-list-type': 'atomic' }),
    },
  },
  'meta.OwnerReference': { type: 'object', properties: { apiVersion: str, kind: str, name: str, uid: str, controller: { type: 'boolean' } } },
  'meta.ManagedFieldsEntry': { type: 'object', properties: { manager: str, operation: str, apiVersion: str, time: str, fieldsType: str, fieldsV1: { type: 'object' }, subresource: str } },
  'meta.LabelSelector': {
    type: 'object', 'x-kubernetes-map-type': 'atomic',
    properties: { matchLabels: strMap, matchExpressions: list({ type: 'object', properties: { key: str, operator: str, values: list(str) } }) },
  },
  'apps.Deployment': {
    type: 'object',
    properties: { apiVersion: str, kind: str, metadata: ref('meta.ObjectMeta', { default: {} }), spec: ref('apps.DeploymentSpec'), status: ref('apps.DeploymentStatus') },
  },
  'apps.DeploymentSpec': {
    type: 'object', required: ['selector', 'template'],
    properties: {
      replicas: int, paused: { type: 'boolean' }, minReadySeconds: int,
      selector: ref('meta.LabelSelector'), template: ref('core.PodTemplateSpec'),
      strategy: ref('apps.DeploymentStrategy', { 'x-kubernetes-patch-strategy': 'retainKeys' }),
    },
  },
  'apps.DeploymentStrategy': { type: 'object', properties: { type: str, rollingUpdate: ref('apps.RollingUpdateDeployment') } },
  'apps.RollingUpdateDeployment': { type: 'object', properties: { maxSurge: { 'x-kubernetes-int-or-string': true }, maxUnavailable: { 'x-kubernetes-int-or-string': true } } },
  'apps.DeploymentStatus': {
    type: 'object',
    properties: { replicas: int, readyReplicas: int, observedGeneration: int, conditions: mapList('apps.DeploymentCondition', 'type') },
  },
  'apps.DeploymentCondition': { type: 'object', properties: { type: str, status: str, reason: str, message: str } },
  'core.PodTemplateSpec': { type: 'object', properties: { metadata: ref('meta.ObjectMeta'), spec: ref('core.PodSpec') } },
  'core.Pod': { type: 'object', properties: { apiVersion: str, kind: str, metadata: ref('meta.ObjectMeta'), spec: ref('core.PodSpec'), status: ref('core.PodStatus') } },
  'core.PodSpec': {
    type: 'object', required: ['containers'],
    properties: {
      containers: mapList('core.Container', 'name'),
      initContainers: mapList('core.Container', 'name'),
      volumes: mapList('core.Volume', 'name', ['name'], 'merge,retainKeys'),
      tolerations: list(ref('core.Toleration'), { 'x-kubernetes-list-type': 'atomic' }),
      nodeSelector: { ...strMap, 'x-kubernetes-map-type': 'atomic' },
      restartPolicy: str, nodeName: str, serviceAccountName: str, terminationGracePeriodSeconds: int,
    },
  },
  'core.Container': {
    type: 'object',
    properties: {
      name: str, image: str, imagePullPolicy: str,
      command: list(str, { 'x-kubernetes-list-type': 'atomic' }), args: list(str, { 'x-kubernetes-list-type': 'atomic' }),
      ports: mapList('core.ContainerPort', 'containerPort', ['containerPort', 'protocol']),
      env: mapList('core.EnvVar', 'name'),
      resources: ref('core.ResourceRequirements'),
    },
  },
  'core.ContainerPort': { type: 'object', properties: { containerPort: int, protocol: { ...str, default: 'TCP' }, name: str, hostPort: int } },
  'core.EnvVar': { type: 'object', properties: { name: str, value: str } },
  'core.ResourceRequirements': { type: 'object', properties: { limits: strMap, requests: strMap } },
  'core.Volume': { type: 'object', properties: { name: str, emptyDir: ref('core.EmptyDirVolumeSource'), hostPath: ref('core.HostPathVolumeSource'), configMap: ref('core.ConfigMapVolumeSource') } },
  'core.EmptyDirVolumeSource': { type: 'object', properties: { medium: str, sizeLimit: str } },
  'core.HostPathVolumeSource': { type: 'object', properties: { path: str, type: str } },
  'core.ConfigMapVolumeSource': { type: 'object', properties: { name: str } },
  'core.Toleration': { type: 'object', properties: { key: str, operator: str, value: str, effect: str } },
  'core.PodStatus': { type: 'object', properties: { phase: str, podIP: str, conditions: mapList('core.PodCondition', 'type') } },
  'core.PodCondition': { type: 'object', properties: { type: str, status: str, reason: str } },
  // The shape upstream's strategic-merge-patch tests use, so their documented cases read directly.
  'test.MergeItem': {
    type: 'object',
    properties: {
      name: str, value: str, other: str,
      mergingList: list(ref('test.MergeItem'), { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' }),
      nonMergingList: list(ref('test.MergeItem')),
      mergingIntList: list(int, { 'x-kubernetes-patch-strategy': 'merge' }),
      nonMergingIntList: list(int),
      mergeItemPtr: list(ref('test.MergeItem'), { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' }),
      simpleMap: strMap,
      replacingItem: { type: 'object', 'x-kubernetes-patch-strategy': 'replace', 'x-kubernetes-preserve-unknown-fields': true },
      retainKeysMap: ref('test.RetainKeysMergeItem', { 'x-kubernetes-patch-strategy': 'retainKeys' }),
      retainKeysMergingList: list(ref('test.MergeItem'), { 'x-kubernetes-patch-strategy': 'merge,retainKeys', 'x-kubernetes-patch-merge-key': 'name' }),
    },
  },
  'test.RetainKeysMergeItem': {
    type: 'object',
    properties: {
      name: str, value: str, other: str, simpleMap: strMap,
      mergingIntList: list(int, { 'x-kubernetes-patch-strategy': 'merge' }),
      mergingList: list(ref('test.MergeItem'), { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' }),
      nonMergingList: list(ref('test.MergeItem')),
    },
  },
};

class FixtureSchemas implements SchemaSet {
  constructor(private readonly byName: Record<string, OpenAPISchema>) {}
  get(name: string): OpenAPISchema | undefined { return this.byName[name]; }
  resolve(schema: OpenAPISchema): OpenAPISchema {
    let s = schema;
    for (let i = 0; i < 16; i++) {
      if (s.$ref) {
        const target = this.byName[s.$ref.replace('#/components/schemas/', '')];
        if (!target) return s;
        s = target;
      } else if (s.allOf && s.allOf.length === 1 && !s.properties) {
        s = s.allOf[0]!;
      } else {
        return s;
      }
    }
    return s;
  }
}

export const fixtureSchemas: SchemaSet = new FixtureSchemas(components);
export const DEPLOYMENT = 'apps.Deployment';
export const POD = 'core.Pod';
export const MERGE_ITEM = 'test.MergeItem';
