// The cluster PKI, as k3s keeps it: one CA generated on first start under `<dataDir>/tls/`, a
// serving certificate for the apiserver, an admin client certificate, and client certificates for
// the cluster's own components, all reused across restarts.
//
// Design notes:
// - One CA signs both serving and client certificates. k3s separates server-ca and client-ca; with
//   one process and one trust root that split buys nothing yet, and a single `ca.crt` keeps the
//   kubeconfig and the agent's join (which pins the CA by hash, see auth.ts) simple. The file
//   names leave room to split later.
// - ECDSA P-256 keys through WebCrypto and `@peculiar/x509`: no openssl at runtime, and the keys are
//   small enough to generate on every start of a test cluster.
// - A leaf certificate is reissued when it no longer fits: SANs differ from what is wanted, it was
//   not issued by the current CA, or it expires within 90 days (k3s' renewal window). Otherwise
//   the files on disk win, so clients that pinned them keep working.
// - Keys are written 0600 through a temporary file and a rename, so a crash never leaves half a key.
import { createHash, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import YAML from 'yaml';
import { formatIP, nthIP, parseCidr, parseIP } from '../../api/cidr.js';

// @peculiar/x509 needs `Reflect.getMetadata` at load time, so it is loaded after the polyfill;
// a static import would be evaluated before it.
await import('./reflect-metadata.js');
const x509: typeof X509 = await import('@peculiar/x509');

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

const keyAlgorithm: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signingAlgorithm: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_VALIDITY_DAYS = 3650;
export const LEAF_VALIDITY_DAYS = 365;
export const RENEW_BEFORE_DAYS = 90;
/** Backdating absorbs clock skew between nodes, as upstream's cert helpers do. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface ClientIdentity {
  commonName: string;
  organizations?: readonly string[];
}

/** Identities of the cluster's own components, with upstream's names and groups. */
export const identities = {
  admin: { commonName: 'system:admin', organizations: ['system:masters'] },
  controllerManager: { commonName: 'system:kube-controller-manager' },
  scheduler: { commonName: 'system:kube-scheduler' },
  kubeProxy: { commonName: 'system:kube-proxy' },
  /** The cluster DNS add-on (upstream runs CoreDNS as system:serviceaccount:kube-system:coredns). */
  clusterDns: { commonName: 'system:k8ts-dns' },
  node: (name: string): ClientIdentity => ({ commonName: `system:node:${name}`, organizations: ['system:nodes'] }),
} as const;

export interface PkiOptions {
  dataDir: string;
  /** The service network; its first address (10.43.0.1) is the `kubernetes` Service's ClusterIP. */
  serviceCidr: string;
  /** Extra names or IPs for the serving certificate (`--tls-san`). */
  extraSans?: readonly string[];
  /** This node's addresses; defaults to its non-loopback IPv4 addresses. */
  hostIPs?: readonly string[];
  /** Injected clock for tests. */
  now?: () => Date;
}

export interface ClusterPki {
  dir: string;
  ca: CertAndKey;
  serving: CertAndKey;
  admin: CertAndKey;
  /** Hex SHA-256 of `ca.crt`, the `K10<hash>` prefix of join tokens. */
  caHash: string;
  /** The SANs the serving certificate carries, for logs and tests. */
  servingSans: { dns: string[]; ips: string[] };
  /** Issues a fresh client certificate (not stored). */
  issueClientCert(identity: ClientIdentity): Promise<CertAndKey>;
  /** Returns the stored client certificate `client-<stem>.crt`, issuing it when absent or unfit. */
  ensureClientCert(stem: string, identity: ClientIdentity): Promise<CertAndKey>;
}

export const pkiFiles = {
  caCert: 'ca.crt', caKey: 'ca.key',
  servingCert: 'serving.crt', servingKey: 'serving.key',
  clientCert: (stem: string) => `client-${stem}.crt`,
  clientKey: (stem: string) => `client-${stem}.key`,
};

// ───────────────────────────── helpers ─────────────────────────────

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', fromPem(pem), keyAlgorithm, true, ['sign']);
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive and non-zero, as DER INTEGER serials must be
  return Buffer.from(bytes).toString('hex');
}

function subjectOf(id: ClientIdentity): X509.JsonName {
  const name: X509.JsonName = [];
  for (const o of id.organizations ?? []) name.push({ O: [o] });
  name.push({ CN: [id.commonName] });
  return name;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes through a temporary file and a rename; keys get 0600, certificates 0644. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or an old file widened it
  await rename(tmp, path);
}

/** Non-loopback IPv4 addresses of this machine. */
export function hostIPv4Addresses(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) out.push(a.address);
    }
  }
  return out;
}

/** Hex SHA-256 of the CA certificate file's bytes, as k3s' token CA hash. */
export function caHashOf(caPem: string): string {
  return createHash('sha256').update(caPem).digest('hex');
}

/**
 * The serving certificate's SANs: loopback, this node's addresses, the `kubernetes` Service names
 * and ClusterIP, and the extras. IPs are normalized so the set compares stably across restarts.
 */
export function servingSans(opts: Pick<PkiOptions, 'serviceCidr' | 'extraSans'>, hostIPs: readonly string[]): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
  const ips = new Set(['127.0.0.1', '::1']);
  ips.add(formatIP(nthIP(parseCidr(opts.serviceCidr), 1)));
  for (const name of [...hostIPs, ...(opts.extraSans ?? [])]) {
    const ip = parseIP(name);
    if (ip) ips.add(formatIP(ip));
    else dns.add(name.toLowerCase());
  }
  return { dns: [...dns].sort(), ips: [...ips].sort() };
}

function sansOfCert(cert: X509.X509Certificate): { dns: string[]; ips: string[] } {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dns: string[] = [];
  const ips: string[] = [];
  for (const n of ext?.names.items ?? []) {
    if (n.type === 'dns') dns.push(n.value.toLowerCase());
    if (n.type === 'ip') {
      const ip = parseIP(n.value);
      ips.push(ip ? formatIP(ip) : n.value);
    }
  }
  return { dns: dns.sort(), ips: ips.sort() };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

// ───────────────────────────── issuing ─────────────────────────────

interface Ca {
  cert: X509.X509Certificate;
  key: CryptoKey;
  pem: CertAndKey;
}

async function createCa(now: Date): Promise<CertAndKey> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`k8ts-ca@${Math.floor(now.getTime() / 1000)}`] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

async function issueLeaf(ca: Ca, subject: X509.JsonName, usage: 'server' | 'client', sans: { dns: string[]; ips: string[] } | undefined, now: Date): Promise<CertAndKey> {
  const keys = await newKeys();
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  if (sans) {
    extensions.push(new x509.SubjectAlternativeNameExtension([
      ...sans.dns.map(value => ({ type: 'dns' as const, value })),
      ...sans.ips.map(value => ({ type: 'ip' as const, value })),
    ]));
  }
  // Never outlive the CA: a leaf past its issuer's expiry fails verification anyway.
  const notAfter = Math.min(now.getTime() + LEAF_VALIDITY_DAYS * DAY_MS, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: ca.cert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

/** Why a stored leaf must be reissued, or undefined when it still fits. */
async function leafProblem(pem: CertAndKey, ca: Ca, now: Date, want: { subject?: string; sans?: { dns: string[]; ips: string[] } }): Promise<string | undefined> {
  let cert: X509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem.certPem);
    await importKeyPem(pem.keyPem);
  } catch {
    return 'unreadable';
  }
  if (cert.issuer !== ca.cert.subject || !(await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }))) return 'not issued by the current CA';
  if (cert.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return 'expires soon';
  if (want.subject !== undefined && cert.subject !== want.subject) return 'subject changed';
  if (want.sans) {
    const have = sansOfCert(cert);
    if (!sameList(have.dns, want.sans.dns) || !sameList(have.ips, want.sans.ips)) return 'SANs changed';
  }
  return undefined;
}

async function readPair(dir: string, certFile: string, keyFile: string): Promise<CertAndKey | undefined> {
  const certPem = await readIfExists(join(dir, certFile));
  const keyPem = await readIfExists(join(dir, keyFile));
  return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
}

async function writePair(dir: string, certFile: string, keyFile: string, pair: CertAndKey): Promise<void> {
  // Key first: a crash in between leaves an unmatched pair, which leafProblem reports as unfit.
  await writeAtomic(join(dir, keyFile), pair.keyPem, 0o600);
  await writeAtomic(join(dir, certFile), pair.certPem, 0o644);
}

/** The subject string @peculiar/x509 prints for an identity, to compare with a stored cert's. */
function subjectString(id: ClientIdentity): string {
  return new x509.Name(subjectOf(id)).toString();
}

/**
 * Loads the cluster PKI from `<dataDir>/tls/`, creating what is missing and reissuing leaf
 * certificates that no longer fit. Safe to call on every start.
 */
export async function ensureClusterPki(opts: PkiOptions): Promise<ClusterPki> {
  const dir = join(opts.dataDir, 'tls');
  const clock = opts.now ?? (() => new Date());
  await mkdir(dir, { recursive: true, mode: 0o700 });

  let caPair = await readPair(dir, pkiFiles.caCert, pkiFiles.caKey);
  if (!caPair) {
    caPair = await createCa(clock());
    await writePair(dir, pkiFiles.caCert, pkiFiles.caKey, caPair);
  }
  const ca: Ca = { cert: new x509.X509Certificate(caPair.certPem), key: await importKeyPem(caPair.keyPem), pem: caPair };

  const sans = servingSans(opts, opts.hostIPs ?? hostIPv4Addresses());
  const servingSubject: X509.JsonName = [{ CN: ['kube-apiserver'] }];
  let serving = await readPair(dir, pkiFiles.servingCert, pkiFiles.servingKey);
  if (!serving || (await leafProblem(serving, ca, clock(), { sans })) !== undefined) {
    serving = await issueLeaf(ca, servingSubject, 'server', sans, clock());
    await writePair(dir, pkiFiles.servingCert, pkiFiles.servingKey, serving);
  }

  const issueClientCert = (id: ClientIdentity) => issueLeaf(ca, subjectOf(id), 'client', undefined, clock());
  const ensureClientCert = async (stem: string, id: ClientIdentity): Promise<CertAndKey> => {
    if (!/^[a-z0-9][-a-z0-9.]*$/.test(stem)) throw new Error(`invalid client certificate name "${stem}": use lower-case letters, digits, '-' and '.'`);
    const certFile = pkiFiles.clientCert(stem);
    const keyFile = pkiFiles.clientKey(stem);
    const have = await readPair(dir, certFile, keyFile);
    if (have && (await leafProblem(have, ca, clock(), { subject: subjectString(id) })) === undefined) return have;
    const pair = await issueClientCert(id);
    await writePair(dir, certFile, keyFile, pair);
    return pair;
  };

  const admin = await ensureClientCert('admin', identities.admin);
  return {
    dir, ca: caPair, serving, admin, caHash: caHashOf(caPair.certPem), servingSans: sans,
    issueClientCert, ensureClientCert,
  };
}

/**
 * TLS options for the apiserver: client certificates are requested and verified against the CA,
 * but not required, so bearer tokens and the anonymous health endpoints still work; authn reads
 * `socket.authorized` (see auth.ts).
 */
export function servingTlsOptions(pki: Pick<ClusterPki, 'ca' | 'serving'>): { cert: string; key: string; ca: string; requestCert: true; rejectUnauthorized: false } {
  return { cert: pki.serving.certPem, key: pki.serving.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false };
}

// ───────────────────────────── kubeconfig ─────────────────────────────

/** A kubeconfig with embedded certificate data, as kubectl and client-node read it. */
export function renderKubeconfig(serverURL: string, caPem: string, clientCertPem: string, clientKeyPem: string, contextName = 'default'): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: contextName, cluster: { server: serverURL, 'certificate-authority-data': b64(caPem) } }],
    contexts: [{ name: contextName, context: { cluster: contextName, user: contextName } }],
    'current-context': contextName,
    preferences: {},
    users: [{ name: contextName, user: { 'client-certificate-data': b64(clientCertPem), 'client-key-data': b64(clientKeyPem) } }],
  });
}

/** Writes a kubeconfig (mode 0600, it holds a private key), creating its folder. */
export async function writeKubeconfig(path: string, serverURL: string, caPem: string, clientCertPem: string, clientKeyPem: string, contextName = 'default'): Promise<void> {
  await writeAtomic(path, renderKubeconfig(serverURL, caPem, clientCertPem, clientKeyPem, contextName), 0o600);
}
