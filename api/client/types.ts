// The one way components talk to the cluster. `ClusterClient` is generic over (group, version,
// resource) so every controller, the scheduler and the agent share it; `RestClusterClient` speaks
// the Kubernetes REST dialect over an injected `Transport` (HTTPS lives outside api/, which must
// stay free of side effects), and `FakeClusterClient` is an in-memory store with the same contract
// for unit tests. We chose raw REST over `@kubernetes/client-node`'s generic object API: it is
// several times cheaper per request (no per-call config plumbing, no model (de)serialisation),
// which matters for the scheduler's binding rate, and the surface we need is small.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { KubeObject, MutableObjectMeta } from '../object.js';

/** Anything with object metadata: `KubeObject` and the typed kinds of `kubernetes-types`. */
export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta | MutableObjectMeta;
}

export interface ResourceType {
  group: string; // '' for core
  version: string;
  resource: string; // plural, lower-case
  kind: string;
  namespaced: boolean;
}

const rt = (group: string, version: string, resource: string, kind: string, namespaced = true): ResourceType => ({ group, version, resource, kind, namespaced });

/** The resources the control plane uses. */
export const resources = {
  pods: rt('', 'v1', 'pods', 'Pod'),
  nodes: rt('', 'v1', 'nodes', 'Node', false),
  namespaces: rt('', 'v1', 'namespaces', 'Namespace', false),
  services: rt('', 'v1', 'services', 'Service'),
  endpoints: rt('', 'v1', 'endpoints', 'Endpoints'),
  events: rt('', 'v1', 'events', 'Event'),
  configmaps: rt('', 'v1', 'configmaps', 'ConfigMap'),
  persistentvolumeclaims: rt('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim'),
  persistentvolumes: rt('', 'v1', 'persistentvolumes', 'PersistentVolume', false),
  replicationcontrollers: rt('', 'v1', 'replicationcontrollers', 'ReplicationController'),
  replicasets: rt('apps', 'v1', 'replicasets', 'ReplicaSet'),
  deployments: rt('apps', 'v1', 'deployments', 'Deployment'),
  statefulsets: rt('apps', 'v1', 'statefulsets', 'StatefulSet'),
  daemonsets: rt('apps', 'v1', 'daemonsets', 'DaemonSet'),
  controllerrevisions: rt('apps', 'v1', 'controllerrevisions', 'ControllerRevision'),
  storageclasses: rt('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
  endpointslices: rt('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  leases: rt('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  jobs: rt('batch', 'v1', 'jobs', 'Job'),
  cronjobs: rt('batch', 'v1', 'cronjobs', 'CronJob'),
} as const;

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent<T = KubeObject> { type: WatchEventType; object: T }

/** A running watch. `done` settles when the stream ends: resolves on a clean close, rejects on error. */
export interface WatchHandle {
  stop(): void;
  readonly done: Promise<void>;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}
export interface PatchOptions extends WriteOptions {
  subresource?: string;
  force?: boolean;
}
export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ClusterClient {
  get<T extends ObjectLike = KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T>;
  list<T extends ObjectLike = KubeObject>(type: ResourceType, namespace: string | undefined, opts?: ListOptions): Promise<ObjectList<T>>;
  watch<T extends ObjectLike = KubeObject>(type: ResourceType, namespace: string | undefined, opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void): WatchHandle;
  create<T extends ObjectLike = KubeObject>(type: ResourceType, namespace: string | undefined, obj: T, opts?: WriteOptions): Promise<T>;
  /** PUT of the whole object (or of a subresource such as `status`); 409 when resourceVersion is stale. */
  update<T extends ObjectLike = KubeObject>(type: ResourceType, obj: T, opts?: WriteOptions & { subresource?: string }): Promise<T>;
  patch<T extends ObjectLike = KubeObject>(type: ResourceType, namespace: string | undefined, name: string, patchType: PatchType, patch: unknown, opts?: PatchOptions): Promise<T>;
  /** Resolves with the object when deletion is pending (finalizers, graceful pods), else undefined. */
  delete(type: ResourceType, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KubeObject | undefined>;
  /** GET of a subresource: `deployments/scale`. */
  getSubresource<T = unknown>(type: ResourceType, namespace: string | undefined, name: string, subresource: string): Promise<T>;
  /** POST to a subresource: `pods/binding`, `pods/eviction`. */
  createSubresource(type: ResourceType, namespace: string | undefined, name: string, subresource: string, body: unknown): Promise<unknown>;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key queues and caches use. */
export function keyOf(obj: ObjectLike): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** `/api/v1/namespaces/ns/pods` and friends. */
export function resourcePath(type: ResourceType, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  if (type.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${type.resource}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export function apiVersionOfType(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}
