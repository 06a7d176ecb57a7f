import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusError } from '../../api/errors.js';
import { authorizer, createAuthenticator, ensureServerTokens, generateToken, tokenFiles } from './auth.js';
import { formatToken, parseToken } from './authn.js';
import { ensureClusterPki, servingTlsOptions, type ClusterPki } from './pki.js';
import type { ServerTokens } from './auth.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'k8ts-auth-'));
  dirs.push(d);
  return d;
};
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const hashA = 'a'.repeat(64);
const hashB = 'b'.repeat(64);

describe('generateToken', () => {
  it('returns distinct hex secrets', () => {
    const a = generateToken();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(generateToken()).not.toBe(a);
    expect(generateToken(32)).toHaveLength(64);
  });
});

describe('ensureServerTokens', () => {
  it('creates the join and admin tokens with mode 0600 and reuses them', async () => {
    const dataDir = tempDir();
    const first = await ensureServerTokens({ dataDir, caHash: hashA });
    expect(first.joinToken).toMatch(new RegExp(`^K10${hashA}::server:[0-9a-f]{32}$`));
    expect(readFileSync(join(dataDir, tokenFiles.join), 'utf8')).toBe(`${first.joinToken}\n`);
    for (const f of Object.values(tokenFiles)) expect(statSync(join(dataDir, f)).mode & 0o777).toBe(0o600);
    const again = await ensureServerTokens({ dataDir, caHash: hashA });
    expect(again.joinToken).toBe(first.joinToken);
    expect(again.adminToken).toBe(first.adminToken);
    expect(again.table.lookup(first.joinToken)!.groups).toContain('system:bootstrappers');
    expect(again.table.lookup(first.adminToken)!.groups).toContain('system:masters');
  });

  it('keeps the secret and rewrites the CA hash when the CA changed', async () => {
    const dataDir = tempDir();
    const first = await ensureServerTokens({ dataDir, caHash: hashA });
    const second = await ensureServerTokens({ dataDir, caHash: hashB });
    expect(parseToken(second.joinToken)).toEqual({ ...parseToken(first.joinToken), caHash: hashB });
  });

  it('also takes positional arguments, as cli/server.ts calls it', async () => {
    const dataDir = tempDir();
    expect((await ensureServerTokens(dataDir, hashA, 'positional')).joinToken).toBe(formatToken(hashA, 'server', 'positional'));
    await expect(ensureServerTokens(dataDir, 'nothex')).rejects.toThrow('invalid CA hash');
  });

  it('takes --token as a bare secret or as this cluster\'s full token, and refuses another CA\'s', async () => {
    const dataDir = tempDir();
    expect((await ensureServerTokens({ dataDir, caHash: hashA, token: 'mysecret' })).joinToken).toBe(formatToken(hashA, 'server', 'mysecret'));
    expect((await ensureServerTokens({ dataDir, caHash: hashA, token: formatToken(hashA, 'server', 'other') })).joinToken).toBe(formatToken(hashA, 'server', 'other'));
    await expect(ensureServerTokens({ dataDir, caHash: hashA, token: formatToken(hashB, 'server', 'x') })).rejects.toThrow('--token was issued for another cluster CA');
  });
});

describe('authentication and authorization over HTTPS', () => {
  let pki: ClusterPki;
  let foreign: ClusterPki;
  let tokens: ServerTokens;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    const dataDir = tempDir();
    pki = await ensureClusterPki({ dataDir, serviceCidr: '10.43.0.0/16', hostIPs: [] });
    foreign = await ensureClusterPki({ dataDir: tempDir(), serviceCidr: '10.43.0.0/16', hostIPs: [] });
    tokens = await ensureServerTokens({ dataDir, caHash: pki.caHash });
    // A miniature apiserver wired as server.ts does: authenticate, then authorize
    // `GET /api/v1/namespaces/default/pods` or a path.
    const authenticator = createAuthenticator(tokens);
    server = createServer(servingTlsOptions(pki), (req, res) => {
      try {
        const user = authenticator.authenticate(req);
        const url = new URL(req.url ?? '/', 'https://x');
        const isPods = url.pathname === '/api/v1/namespaces/default/pods';
        const r = { verb: isPods ? 'list' : 'get', apiGroup: '', resource: isPods ? 'pods' : '', subresource: '', namespace: isPods ? 'default' : '', name: '', path: url.pathname, isResourceRequest: isPods };
        const decision = authorizer.authorize(user, r);
        if (!decision.allowed) throw user ? new StatusError(403, 'Forbidden', decision.reason) : new StatusError(401, 'Unauthorized', 'Unauthorized');
        res.end(JSON.stringify(user ? { user: user.name, groups: user.groups } : { user: 'anonymous' }));
      } catch (err) {
        const status = err instanceof StatusError ? err : new StatusError(500, 'InternalError', String(err));
        res.statusCode = status.code;
        res.end(JSON.stringify(status.toStatus()));
      }
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => { await new Promise(resolve => server.close(resolve)); });

  function get(path: string, opts: { cert?: { certPem: string; keyPem: string }; token?: string; headers?: Record<string, string> } = {}) {
    return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      const req = request({
        host: '127.0.0.1', port, path, ca: pki.ca.certPem, agent: false, headers,
        ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
      }, res => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('maps the admin certificate to system:admin in system:masters', async () => {
    const r = await get('/api/v1/namespaces/default/pods', { cert: pki.admin });
    expect(r).toEqual({ status: 200, body: { user: 'system:admin', groups: ['system:masters', 'system:authenticated'] } });
  });

  it('maps the admin token to system:admin', async () => {
    expect((await get('/api/v1/namespaces/default/pods', { token: tokens.adminToken })).body.user).toBe('system:admin');
  });

  it('lets anonymous clients read /livez and answers 401 elsewhere', async () => {
    expect((await get('/livez')).body.user).toBe('anonymous');
    expect((await get('/api/v1/namespaces/default/pods')).status).toBe(401);
  });

  it('treats a certificate from another CA as no certificate', async () => {
    expect((await get('/api/v1/namespaces/default/pods', { cert: foreign.admin })).status).toBe(401);
    expect((await get('/livez', { cert: foreign.admin })).body.user).toBe('anonymous');
  });

  it('answers 401 for a wrong token', async () => {
    expect((await get('/livez', { token: 'wrong' })).status).toBe(401);
  });

  it('answers 403 with upstream text for an identity without the right', async () => {
    const node = await pki.issueClientCert({ commonName: 'alice' });
    const r = await get('/api/v1/namespaces/default/pods', { cert: node });
    expect(r.status).toBe(403);
    expect(r.body.message).toBe('pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
  });

  it('lets a node certificate or the join token impersonating a node list pods', async () => {
    const cert = await pki.issueClientCert({ commonName: 'system:node:n1', organizations: ['system:nodes'] });
    expect((await get('/api/v1/namespaces/default/pods', { cert })).body.user).toBe('system:node:n1');
    const r = await get('/api/v1/namespaces/default/pods', { token: tokens.joinToken, headers: { 'impersonate-user': 'system:node:n2', 'impersonate-group': 'system:nodes' } });
    expect(r.body).toEqual({ user: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] });
    expect((await get('/api/v1/namespaces/default/pods', { token: tokens.joinToken })).status).toBe(403);
  });
});
