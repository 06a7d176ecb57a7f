// Assembles the apiserver's pure parts (registry, schemas, patching, field validation) into the
// seams the HTTP layer takes, so `k8ts server`, tests and benchmarks build it one way.
import type { Logger } from 'pino';
import { allResources } from '../registry/index.js';
import type { RegistryContext } from '../registry/types.js';
import type { Store } from '../store/store.js';
import { ApiServer, type Authenticator, type Authorizer } from './server.js';
import { createFieldChecker } from '../../api/schema/fields.js';
import { schemas } from '../../api/schema/index.js';
import { createPatcher, createManagedFieldsTracker } from './patcher.js';
import { OpenAPIDocuments } from './openapi.js';
import { KubeletProxy } from './kubelet-proxy.js';
import { ResourceMetrics } from './metrics-api.js';
import { MetricsScraper } from './metrics-scraper.js';

export interface ApiServerParts {
  store: Store;
  ctx: RegistryContext;
  tls: { key: string; cert: string; ca: string };
  authenticator: Authenticator;
  authorizer: Authorizer;
  logger: Logger;
  advertiseAddress: string;
  bookmarkIntervalMs?: number;
  /** The `kube-apiserver-kubelet-client` certificate: with it, pods/log and pods/exec reach kubelets. */
  kubeletClient?: { cert: string; key: string };
  /** How often kubelets are scraped for metrics.k8s.io (metrics-server's --metric-resolution); default 15 s. */
  metricResolutionMs?: number;
}

export function buildApiServer(parts: ApiServerParts): ApiServer {
  const resources = allResources();
  const { kubeletClient, metricResolutionMs, ...rest } = parts;
  const podProxy = kubeletClient ? new KubeletProxy({ clientCert: kubeletClient }) : undefined;
  const resourceMetrics = kubeletClient ? new ResourceMetrics() : undefined;
  const api = new ApiServer({
    ...rest,
    ...(podProxy ? { podProxy } : {}),
    ...(resourceMetrics ? { resourceMetrics } : {}),
    resources,
    fieldChecker: createFieldChecker(schemas),
    patcher: createPatcher(schemas),
    managedFields: createManagedFieldsTracker(schemas, resources),
    openapi: new OpenAPIDocuments(resources),
  });
  if (podProxy) podProxy.getNode = name => api.rest('', 'v1', 'nodes').storage.tryGet('', name);
  if (kubeletClient && resourceMetrics) {
    const scraper = new MetricsScraper({
      metrics: resourceMetrics, clientCert: kubeletClient, logger: parts.logger,
      listNodes: async () => (await api.rest('', 'v1', 'nodes').storage.list('', {})).items,
      ...(metricResolutionMs !== undefined ? { intervalMs: metricResolutionMs } : {}),
    });
    scraper.start();
    api.onClose(() => scraper.stop());
  }
  return api;
}
