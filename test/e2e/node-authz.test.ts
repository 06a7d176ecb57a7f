// Node authorization over real HTTPS: an agent authenticates with the join token and acts as
// `system:node:<name>`; it may write its own Node and Lease and the status of pods bound to it,
// and nothing of another node's.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { TestServer } from './harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let anon: Agent;
let token: string;
beforeAll(async () => {
  await server.start();
  anon = new Agent({ ca: server.caPem() });
  token = readFileSync(join(server.dataDir, 'token'), 'utf8').trim();
  expect((await server.request('POST', '/api/v1/namespaces', { metadata: { name: 'nodes' } })).status).toBe(201);
});
afterAll(async () => { anon.destroy(); await server.stop(); });

const asNode = (node: string, method: string, path: string, body?: unknown, contentType = 'application/json') =>
  server.raw(method, path, {
    agent: anon,
    headers: { Authorization: `Bearer ${token}`, 'Impersonate-User': `system:node:${node}`, 'Impersonate-Group': 'system:nodes', 'Content-Type': contentType },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
const pod = (name: string, nodeName: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] } });

describe('a node acting with the join token', () => {
  it('may register its own Node but not another', async () => {
    expect((await asNode('n1', 'POST', '/api/v1/nodes', node('n1'))).status).toBe(201);
    const other = await asNode('n1', 'POST', '/api/v1/nodes', node('n2'));
    expect(other.status).toBe(403);
    expect((await server.request('GET', '/api/v1/nodes/n2')).status).toBe(404);
    const status = await asNode('n1', 'PATCH', '/api/v1/nodes/n1/status', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'application/merge-patch+json');
    expect(status.status).toBe(200);
  });

  it('may renew its own Lease only', async () => {
    const lease = (name: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40 } });
    expect((await asNode('n1', 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('n1'))).status).toBe(201);
    expect((await asNode('n1', 'POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease('n3'))).status).toBe(403);
  });

  it('may write the status of pods bound to it, and not of others', async () => {
    expect((await server.request('POST', '/api/v1/namespaces/nodes/pods', pod('mine', 'n1'))).status).toBe(201);
    expect((await server.request('POST', '/api/v1/namespaces/nodes/pods', pod('theirs', 'n2'))).status).toBe(201);
    const patch = { status: { phase: 'Running' } };
    expect((await asNode('n1', 'PATCH', '/api/v1/namespaces/nodes/pods/mine/status', patch, 'application/merge-patch+json')).status).toBe(200);
    expect((await asNode('n1', 'PATCH', '/api/v1/namespaces/nodes/pods/theirs/status', patch, 'application/merge-patch+json')).status).toBe(403);
    const theirs = (await server.request('GET', '/api/v1/namespaces/nodes/pods/theirs')).body as { status: { phase: string } };
    expect(theirs.status.phase).toBe('Pending');
  });

  it('may read what a kubelet reads but not change cluster objects', async () => {
    expect((await asNode('n1', 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1')).status).toBe(200);
    expect((await asNode('n1', 'POST', '/api/v1/namespaces/nodes/configmaps', { metadata: { name: 'x' } })).status).toBe(403);
    expect((await asNode('n1', 'DELETE', '/api/v1/namespaces/nodes')).status).toBe(403);
  });

  it('cannot impersonate anything but a node', async () => {
    const r = await server.raw('GET', '/api/v1/namespaces', { agent: anon, headers: { Authorization: `Bearer ${token}`, 'Impersonate-User': 'system:admin' } });
    expect(r.status).toBe(403);
  });
});

describe('kubectl auth can-i and whoami answer from the same authorizer', () => {
  const asN1 = ['--as', 'system:node:n1', '--as-group', 'system:nodes'];
  it('says yes to the admin and to a node for what it may do, no for the rest', async () => {
    const admin = await server.kubectl(['auth', 'can-i', 'create', 'deployments', '-n', 'nodes']);
    expect([admin.exitCode, admin.stdout.trim()]).toEqual([0, 'yes']);
    const own = await server.kubectl(['auth', 'can-i', 'patch', 'nodes/n1', ...asN1]);
    expect([own.exitCode, own.stdout.trim()]).toEqual([0, 'yes']);
    const other = await server.kubectl(['auth', 'can-i', 'patch', 'nodes/n2', ...asN1]);
    expect([other.exitCode, other.stdout.trim()]).toEqual([1, 'no']);
    const deploy = await server.kubectl(['auth', 'can-i', 'create', 'configmaps', '-n', 'nodes', ...asN1]);
    expect([deploy.exitCode, deploy.stdout.trim()]).toEqual([1, 'no']);
    // ...and the answer holds: the same request is refused for real.
    expect((await asNode('n1', 'POST', '/api/v1/namespaces/nodes/configmaps', { metadata: { name: 'y' } })).status).toBe(403);
  });

  it('whoami names the user and groups', async () => {
    const r = await server.kubectl(['auth', 'whoami', '-o', 'json', ...asN1]);
    expect(r.exitCode).toBe(0);
    const review = JSON.parse(r.stdout) as { kind: string; status: { userInfo: { username: string; groups: string[] } } };
    expect(review.kind).toBe('SelfSubjectReview');
    expect(review.status.userInfo.username).toBe('system:node:n1');
    expect(review.status.userInfo.groups).toContain('system:nodes');
  });

  it('rejects a review that asks nothing with a field error', async () => {
    const r = await server.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', spec: {} });
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.body)).toContain('spec.resourceAttributes');
  });
});
