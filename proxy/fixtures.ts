// Shared test fixtures: Service and EndpointSlice objects in the shapes the API serves them.
import type { Service, ServiceSpec } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export function service(name: string, clusterIP: string, spec: Partial<ServiceSpec> = {}): Service {
  return {
    metadata: { namespace: 'default', name },
    spec: { clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  };
}

export function endpoint(ip: string, conditions: Endpoint['conditions'] = { ready: true }, nodeName?: string): Endpoint {
  return { addresses: [ip], conditions, ...(nodeName ? { nodeName } : {}) };
}

export function slice(svc: string, endpoints: Endpoint[], port = 8080, sliceName = `${svc}-1`): EndpointSlice {
  return {
    metadata: { namespace: 'default', name: sliceName, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints,
  };
}
