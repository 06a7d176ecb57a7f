import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { ensureClusterPki, identities, pkiFiles, servingTlsOptions, writeKubeconfig, type ClusterPki } from './pki.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'k8ts-pki-'));
  dirs.push(d);
  return d;
};
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
const certText = (path: string) => openssl('x509', '-in', path, '-noout', '-text');
const base = { serviceCidr: '10.43.0.0/16', hostIPs: ['192.0.2.10'], extraSans: ['api.example.com', '203.0.113.7'] };

describe('ensureClusterPki', () => {
  let dataDir: string;
  let pki: ClusterPki;
  beforeAll(async () => {
    dataDir = tempDir();
    pki = await ensureClusterPki({ dataDir, ...base });
  });
  const file = (name: string) => join(dataDir, 'tls', name);

  it('creates a 10-year ECDSA P-256 CA', () => {
    const text = certText(file(pkiFiles.caCert));
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    expect(text).toMatch(/ASN1 OID: prime256v1/);
    const notAfter = new Date(/Not After : (.*)/.exec(text)![1]!);
    expect(notAfter.getTime() - Date.now()).toBeGreaterThan(9.9 * 365 * 24 * 3600 * 1000);
  });

  it('issues a serving certificate the CA verifies, with every SAN and serverAuth', () => {
    expect(openssl('verify', '-CAfile', file(pkiFiles.caCert), file(pkiFiles.servingCert)).trim()).toMatch(/: OK$/);
    const text = certText(file(pkiFiles.servingCert));
    expect(text).toMatch(/TLS Web Server Authentication/);
    expect(text).not.toMatch(/TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    for (const san of [
      'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local', 'DNS:api.example.com', 'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1', 'IP Address:10.43.0.1', 'IP Address:192.0.2.10', 'IP Address:203.0.113.7',
    ]) {
      expect(text).toContain(san);
    }
  });

  it('issues client certificates with clientAuth, CN and O', async () => {
    expect(openssl('verify', '-CAfile', file(pkiFiles.caCert), file(pkiFiles.clientCert('admin'))).trim()).toMatch(/: OK$/);
    const admin = certText(file(pkiFiles.clientCert('admin')));
    expect(admin).toMatch(/Subject: O\s?=\s?system:masters, CN\s?=\s?system:admin/);
    expect(admin).toMatch(/TLS Web Client Authentication/);
    expect(admin).not.toMatch(/TLS Web Server Authentication/);

    const node = await pki.issueClientCert(identities.node('n1'));
    const nodePath = join(tempDir(), 'node.crt');
    writeFileSync(nodePath, node.certPem);
    expect(openssl('verify', '-CAfile', file(pkiFiles.caCert), nodePath).trim()).toMatch(/: OK$/);
    expect(certText(nodePath)).toMatch(/Subject: O\s?=\s?system:nodes, CN\s?=\s?system:node:n1/);
  });

  it('writes keys with mode 0600', () => {
    for (const name of [pkiFiles.caKey, pkiFiles.servingKey, pkiFiles.clientKey('admin')]) {
      expect(statSync(file(name)).mode & 0o777).toBe(0o600);
    }
  });

  it('reuses every file on restart and reissues only the serving certificate when SANs change', async () => {
    const again = await ensureClusterPki({ dataDir, ...base });
    expect(again.ca).toEqual(pki.ca);
    expect(again.serving).toEqual(pki.serving);
    expect(again.admin).toEqual(pki.admin);
    expect(again.caHash).toBe(pki.caHash);

    const changed = await ensureClusterPki({ dataDir, ...base, extraSans: ['other.example.com'] });
    expect(changed.ca).toEqual(pki.ca);
    expect(changed.admin).toEqual(pki.admin);
    expect(changed.serving.certPem).not.toBe(pki.serving.certPem);
    expect(certText(file(pkiFiles.servingCert))).toContain('DNS:other.example.com');
  });

  it('stores component client certificates once', async () => {
    const a = await pki.ensureClientCert('scheduler', identities.scheduler);
    const b = await pki.ensureClientCert('scheduler', identities.scheduler);
    expect(b).toEqual(a);
    expect(certText(file(pkiFiles.clientCert('scheduler')))).toMatch(/CN\s?=\s?system:kube-scheduler/);
  });
});

describe('serving with client certificates', () => {
  let pki: ClusterPki;
  let other: ClusterPki;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    pki = await ensureClusterPki({ dataDir: tempDir(), serviceCidr: '10.43.0.0/16', hostIPs: [] });
    other = await ensureClusterPki({ dataDir: tempDir(), serviceCidr: '10.43.0.0/16', hostIPs: [] });
    server = createServer({ ...servingTlsOptions(pki), rejectUnauthorized: true }, (req, res) => {
      const socket = req.socket as TLSSocket;
      res.end(String(socket.getPeerCertificate().subject?.CN));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => { await new Promise(resolve => server.close(resolve)); });

  const get = (client: { certPem: string; keyPem: string }, ca: string) => new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', ca, cert: client.certPem, key: client.keyPem, agent: false }, res => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });

  it('accepts a client certificate from the cluster CA, verifying the server by IP SAN', async () => {
    await expect(get(pki.admin, pki.ca.certPem)).resolves.toBe('system:admin');
  });

  it('rejects a client certificate from another CA', async () => {
    await expect(get(other.admin, pki.ca.certPem)).rejects.toThrow();
  });
});

describe('writeKubeconfig', () => {
  it('writes a kubeconfig with embedded data and mode 0600', async () => {
    const dir = tempDir();
    const path = join(dir, 'sub', 'kubeconfig.yaml');
    await writeKubeconfig(path, 'https://127.0.0.1:6443', 'CA', 'CERT', 'KEY');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const doc = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(doc).toEqual({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'default', preferences: {},
      clusters: [{ name: 'default', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('CA').toString('base64') } }],
      contexts: [{ name: 'default', context: { cluster: 'default', user: 'default' } }],
      users: [{ name: 'default', user: { 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } }],
    });
  });
});
