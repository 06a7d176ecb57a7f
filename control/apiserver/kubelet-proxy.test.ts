import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { checkExecTarget, checkLogTarget, kubeletAddress, nodeProxyPath } from './kubelet-proxy.js';

const pod = (status: NonNullable<Pod['status']>, nodeName = 'n1'): Pod => ({
  metadata: { name: 'web', namespace: 'default' },
  spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c' }] },
  status,
});

describe('kubelet proxy checks', () => {
  it('checkLogTarget refuses unknown containers, unbound pods and waiting containers with upstream messages', () => {
    expect(() => checkLogTarget(pod({}), 'x', false)).toThrow('container x is not valid for pod web');
    expect(() => checkLogTarget(pod({}, ''), 'c', false)).toThrow('pod web does not have a host assigned');
    expect(() => checkLogTarget(pod({}), 'c', false)).toThrow('container "c" in pod "web" is waiting to start: ContainerCreating');
    expect(() => checkLogTarget(pod({ containerStatuses: [{ name: 'c', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }), 'c', false))
      .toThrow('container "c" in pod "web" is waiting to start: ContainerCreating');
    expect(() => checkLogTarget(pod({ containerStatuses: [{ name: 'c', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), 'c', true))
      .toThrow('previous terminated container "c" in pod "web" not found');
    expect(() => checkLogTarget(pod({ containerStatuses: [{ name: 'c', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), 'c', false)).not.toThrow();
  });

  it('checkExecTarget refuses completed pods and containers that are not running', () => {
    expect(() => checkExecTarget(pod({ phase: 'Succeeded' }), 'c')).toThrow('cannot exec into a container in a completed pod; current phase is Succeeded');
    expect(() => checkExecTarget(pod({ phase: 'Pending' }), 'c')).toThrow('container not found ("c")');
  });

  it('kubeletAddress takes the InternalIP and the advertised kubelet port', () => {
    const node: Node = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'Hostname', address: 'h' }, { type: 'InternalIP', address: '10.0.0.5' }], daemonEndpoints: { kubeletEndpoint: { Port: 12345 } } } };
    expect(kubeletAddress(node)).toEqual({ host: '10.0.0.5', port: 12345 });
    expect(kubeletAddress({ status: { addresses: [{ type: 'InternalIP', address: '10.0.0.6' }] } })).toEqual({ host: '10.0.0.6', port: 10250 });
  });

  it('nodeProxyPath maps nodes/N/proxy/PATH to the kubelet path with the query', () => {
    expect(nodeProxyPath('/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true')).toBe('/stats/summary?only_cpu_and_memory=true');
    expect(nodeProxyPath('/api/v1/nodes/n1/proxy')).toBe('/');
    expect(nodeProxyPath('/api/v1/nodes/n1/proxy/')).toBe('/');
    expect(nodeProxyPath('/api/v1/nodes/n1/proxy/containerLogs/default/a%2Fb/c')).toBe('/containerLogs/default/a%2Fb/c');
  });
});
