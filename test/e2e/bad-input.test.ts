// Bad input gets a clear Kubernetes `Status` and loses nothing: every error class the API defines,
// sent over real HTTPS to a real server, with a check that nothing was written afterwards.
import { Agent } from 'node:https';
import { jest } from '@jest/globals';
import { ensureClusterPki } from '../../control/apiserver/pki.js';
import { TestServer } from './harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
beforeAll(async () => {
  await server.start();
  expect((await server.request('POST', '/api/v1/namespaces', { metadata: { name: 'bad' } })).status).toBe(201);
});
afterAll(async () => { await server.stop(); });

interface Status { kind: string; status: string; reason: string; code: number; message: string; details?: { causes?: { field: string; reason: string; message: string }[] } }

const cm = (name: string, extra: object = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' }, ...extra });

async function expectNothingNamed(name: string): Promise<void> {
  expect((await server.request('GET', `/api/v1/namespaces/bad/configmaps/${name}`)).status).toBe(404);
}

describe('bad input', () => {
  it('malformed JSON is a 400 Status', async () => {
    const r = await server.raw('POST', '/api/v1/namespaces/bad/configmaps', { body: '{"metadata": {"name": "x"', headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'BadRequest', code: 400 });
    expect((r.body as Status).message).toMatch(/json/i);
  });

  it('malformed YAML is a 400 Status', async () => {
    const r = await server.raw('POST', '/api/v1/namespaces/bad/configmaps', { body: 'metadata: {name: [x\n  : :', headers: { 'Content-Type': 'application/yaml' } });
    expect(r.status).toBe(400);
    expect((r.body as Status).reason).toBe('BadRequest');
  });

  it('an unknown resource or group is a 404 Status', async () => {
    const r = await server.request('GET', '/api/v1/namespaces/bad/widgets');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    expect((await server.request('GET', '/apis/nope.example.com/v1/things')).status).toBe(404);
  });

  it('a body of another kind than the URL is a 400 and writes nothing', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/bad/configmaps', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mismatch' } });
    expect(r.status).toBe(400);
    expect((r.body as Status).message).toContain('Secret');
    await expectNothingNamed('mismatch');
  });

  it('a body over 3 MiB is a 413', async () => {
    const r = await server.raw('POST', '/api/v1/namespaces/bad/configmaps', { body: JSON.stringify(cm('huge', { data: { big: 'x'.repeat(3 * 1024 * 1024 + 10) } })), headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(413);
    expect((r.body as Status).reason).toBe('RequestEntityTooLarge');
    await expectNothingNamed('huge');
  });

  it('invalid names and fields are a 422 listing every cause with its path', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/bad/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'Not_Valid', labels: { 'bad key!': 'v' } },
      spec: { type: 'Nope', ports: [{ port: 0 }, { port: 80, protocol: 'XTP' }] },
    });
    expect(r.status).toBe(422);
    const status = r.body as Status;
    expect(status.reason).toBe('Invalid');
    const fields = (status.details?.causes ?? []).map(c => c.field);
    expect(fields).toEqual(expect.arrayContaining(['metadata.name', 'metadata.labels', 'spec.type', 'spec.ports[0].port', 'spec.ports[1].protocol']));
    expect((await server.request('GET', '/api/v1/namespaces/bad/services/Not_Valid')).status).toBe(404);
  });

  it('unknown fields: 400 under Strict, a warning under Warn, silence under Ignore', async () => {
    const body = JSON.stringify(cm('fv', { spec: { nope: 1 } }));
    const strict = await server.raw('POST', '/api/v1/namespaces/bad/configmaps?fieldValidation=Strict', { body, headers: { 'Content-Type': 'application/json' } });
    expect(strict.status).toBe(400);
    expect((strict.body as Status).message).toContain('unknown field "spec"');
    await expectNothingNamed('fv');
    const warn = await server.raw('POST', '/api/v1/namespaces/bad/configmaps?fieldValidation=Warn', { body, headers: { 'Content-Type': 'application/json' } });
    expect(warn.status).toBe(201);
    expect(String(warn.headers.warning)).toContain('unknown field \\"spec\\"');
    const ignore = await server.raw('POST', '/api/v1/namespaces/bad/configmaps?fieldValidation=Ignore', { body: JSON.stringify(cm('fv2', { spec: { nope: 1 } })), headers: { 'Content-Type': 'application/json' } });
    expect(ignore.status).toBe(201);
    expect(ignore.headers.warning).toBeUndefined();
    const dup = await server.raw('POST', '/api/v1/namespaces/bad/configmaps?fieldValidation=Strict', { body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup2"}}', headers: { 'Content-Type': 'application/json' } });
    expect(dup.status).toBe(400);
    expect((dup.body as Status).message).toContain('duplicate field "metadata.name"');
  });

  it('a stale update is a 409 and keeps the newer content', async () => {
    const created = (await server.request('POST', '/api/v1/namespaces/bad/configmaps', cm('stale'))).body as { metadata: { resourceVersion: string } };
    expect((await server.request('PUT', '/api/v1/namespaces/bad/configmaps/stale', { ...created, data: { a: 'newer' } })).status).toBe(200);
    const r = await server.request('PUT', '/api/v1/namespaces/bad/configmaps/stale', { ...created, data: { a: 'older' } });
    expect(r.status).toBe(409);
    expect((r.body as Status).reason).toBe('Conflict');
    expect(((await server.request('GET', '/api/v1/namespaces/bad/configmaps/stale')).body as { data: { a: string } }).data.a).toBe('newer');
  });

  it('dryRun=All validates and answers without writing', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/bad/configmaps?dryRun=All', cm('dry'));
    expect(r.status).toBe(201);
    await expectNothingNamed('dry');
  });

  it('no credentials is a 401, except for the health and version endpoints', async () => {
    const anonymous = new Agent({ ca: server.caPem() });
    try {
      const r = await server.raw('GET', '/api/v1/namespaces', { agent: anonymous });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
      for (const path of ['/livez', '/readyz', '/version']) expect((await server.raw('GET', path, { agent: anonymous })).status).toBe(200);
      expect((await server.raw('GET', '/api/v1/namespaces', { agent: anonymous, headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    } finally {
      anonymous.destroy();
    }
  });

  it('an authenticated user without permission gets upstream\'s 403', async () => {
    const pki = await ensureClusterPki({ dataDir: server.dataDir, serviceCidr: '10.43.0.0/16' });
    const jane = await pki.issueClientCert({ commonName: 'jane' });
    const agent = new Agent({ ca: server.caPem(), cert: jane.certPem, key: jane.keyPem });
    try {
      const r = await server.raw('GET', '/api/v1/namespaces/default/secrets', { agent });
      expect(r.status).toBe(403);
      expect((r.body as Status).message).toBe('secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"');
      const write = await server.raw('POST', '/api/v1/namespaces/bad/configmaps', { agent, body: JSON.stringify(cm('by-jane')), headers: { 'Content-Type': 'application/json' } });
      expect(write.status).toBe(403);
      await expectNothingNamed('by-jane');
    } finally {
      agent.destroy();
    }
  });

  it('an unsupported content type is a 415 and an unacceptable Accept a 406', async () => {
    expect((await server.raw('POST', '/api/v1/namespaces/bad/configmaps', { body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
    expect((await server.raw('GET', '/api/v1/namespaces', { headers: { Accept: 'text/html' } })).status).toBe(406);
  });

  it('content in a namespace that does not exist is a 404', async () => {
    const r = await server.request('POST', '/api/v1/namespaces/missing/configmaps', cm('x'));
    expect(r.status).toBe(404);
    expect((r.body as Status).message).toBe('namespaces "missing" not found');
  });
});

describe('metrics', () => {
  it('exposes request counts and latencies, open watches and the store size', async () => {
    const r = await server.raw('GET', '/metrics');
    expect(r.status).toBe(200);
    const text = String(r.body);
    expect(text).toMatch(/^apiserver_request_total\{verb="create",resource="configmaps",code="201"\} \d+$/m);
    expect(text).toMatch(/^apiserver_request_duration_seconds_bucket\{le="0.1",verb="create",resource="configmaps"\} \d+$/m);
    expect(text).toMatch(/^apiserver_longrunning_requests \d+$/m);
    expect(text).toMatch(/^apiserver_storage_size_bytes [1-9]\d*$/m);
  });
});
