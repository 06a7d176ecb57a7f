// What a fresh cluster has before anyone asks: the four system namespaces and the `kubernetes`
// Service (first IP of the service CIDR) with Endpoints and an EndpointSlice pointing at this
// apiserver, as upstream's bootstrap controller keeps them. Idempotent: run at every start.
import { StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import { kubernetesServiceIP } from '../registry/allocators.js';
import type { ApiServer } from './server.js';
import type { WriteOptions } from './rest.js';

const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function options(): WriteOptions {
  return { dryRun: false, fieldManager: 'kube-apiserver', fieldValidation: 'Ignore', warnings: [] };
}

async function ensure(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof StatusError && err.code === 409)) throw err;
  }
}

export async function bootstrapCluster(api: ApiServer, serviceCIDR: string, advertiseIP: string, port: number): Promise<void> {
  const namespaces = api.rest('', 'v1', 'namespaces');
  for (const name of systemNamespaces) {
    await ensure(() => namespaces.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } }, options()));
  }
  const ip = kubernetesServiceIP(serviceCIDR);
  await ensure(() => api.rest('', 'v1', 'services').create('default', {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }], sessionAffinity: 'None' },
  }, options()));

  const endpoints: KubeObject = {
    apiVersion: 'v1', kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: advertiseIP }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  };
  const slice: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'k8ts-apiserver' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [advertiseIP], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  };
  await upsert(api, '', 'v1', 'endpoints', endpoints);
  await upsert(api, 'discovery.k8s.io', 'v1', 'endpointslices', slice);
}

/** Creates the object, or replaces its content if this server's address or port changed. */
async function upsert(api: ApiServer, group: string, version: string, resource: string, obj: KubeObject): Promise<void> {
  const rest = api.rest(group, version, resource);
  const ns = obj.metadata!.namespace!;
  const name = obj.metadata!.name!;
  const existing = await rest.storage.tryGet(ns, name);
  if (!existing) {
    await ensure(() => rest.create(ns, obj, options()));
    return;
  }
  await rest.update(ns, name, '', current => ({ ...obj, metadata: { ...current.metadata, labels: obj.metadata!.labels! } }), options(), 'none');
}
