import { parseRequestInfo } from './request-info.js';

const q = (s = '') => new URLSearchParams(s);

describe('parseRequestInfo', () => {
  it('reads a namespaced subresource of a named group', () => {
    expect(parseRequestInfo('PATCH', '/apis/apps/v1/namespaces/ns/deployments/web/scale', q())).toMatchObject({
      isResourceRequest: true, verb: 'patch', group: 'apps', version: 'v1', namespace: 'ns', resource: 'deployments', name: 'web', subresource: 'scale',
    });
  });

  it('tells list, watch and get apart', () => {
    expect(parseRequestInfo('GET', '/api/v1/pods', q())).toMatchObject({ verb: 'list', namespace: '', resource: 'pods' });
    expect(parseRequestInfo('GET', '/api/v1/namespaces/a/pods', q('watch=true'))).toMatchObject({ verb: 'watch', namespace: 'a' });
    expect(parseRequestInfo('GET', '/api/v1/watch/namespaces/a/pods', q())).toMatchObject({ verb: 'watch', namespace: 'a', resource: 'pods' });
    expect(parseRequestInfo('GET', '/api/v1/namespaces/a/pods/p', q())).toMatchObject({ verb: 'get', name: 'p' });
  });

  it('treats the namespace object as a cluster resource scoped to itself', () => {
    expect(parseRequestInfo('GET', '/api/v1/namespaces/kube-system', q())).toMatchObject({ resource: 'namespaces', name: 'kube-system', namespace: 'kube-system', subresource: '' });
    expect(parseRequestInfo('PUT', '/api/v1/namespaces/x/finalize', q())).toMatchObject({ resource: 'namespaces', name: 'x', subresource: 'finalize', verb: 'update' });
    expect(parseRequestInfo('DELETE', '/api/v1/namespaces/x/pods', q())).toMatchObject({ verb: 'deletecollection', resource: 'pods', namespace: 'x' });
  });

  it('leaves discovery and health paths as non-resource requests', () => {
    for (const p of ['/api', '/apis', '/api/v1', '/apis/apps', '/apis/apps/v1', '/version', '/openapi/v3', '/livez']) {
      expect(parseRequestInfo('GET', p, q()).isResourceRequest).toBe(false);
    }
  });

  it('marks exec as connect', () => {
    expect(parseRequestInfo('GET', '/api/v1/namespaces/a/pods/p/exec', q('command=sh'))).toMatchObject({ verb: 'connect', subresource: 'exec' });
  });

  it('reads nodes/N/proxy/PATH as the proxy subresource with the HTTP verb, as upstream authorizes it', () => {
    expect(parseRequestInfo('GET', '/api/v1/nodes/n1/proxy/stats/summary', q())).toMatchObject({ verb: 'get', resource: 'nodes', name: 'n1', subresource: 'proxy' });
    expect(parseRequestInfo('GET', '/api/v1/nodes/n1/proxy', q())).toMatchObject({ verb: 'get', subresource: 'proxy' });
    expect(parseRequestInfo('POST', '/api/v1/nodes/n1/proxy/run', q())).toMatchObject({ verb: 'create', subresource: 'proxy' });
    // Other subresources keep extra segments, so the handler answers 404.
    expect(parseRequestInfo('GET', '/api/v1/namespaces/a/pods/p/log/x', q())).toMatchObject({ subresource: 'log/x' });
  });
});
