// Authentication's shell: the server's tokens on disk and the reading of a request's credentials.
// The decisions themselves are pure, in authn.ts (who) and authz.ts (may they).
//
// Files, both mode 0600:
// - `<dataDir>/token`: the join token agents use, `K10<sha256 of tls/ca.crt>::server:<secret>` as
//   k3s writes it. `--token` sets the secret (a bare secret, or a full token whose CA hash must
//   match this cluster's CA). The user it stands for is `system:bootstrap:k8ts-join` in
//   `system:bootstrappers`, which may act as a node through impersonation (see authn.ts).
// - `<dataDir>/admin-token`: a bare secret for `system:admin` in `system:masters`, for clients that
//   cannot present the admin certificate (curl, scripts).
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { authenticate, formatToken, isAnonymous, parseToken, TokenTable, tokenUsers, type AuthnInput, type CertSubject } from './authn.js';
import { authorize, forbiddenMessage, type Decision } from './authz.js';
import type { AuthorizationRequest, Authenticator, Authorizer, UserInfo } from './server.js';

/** A random secret: 16 bytes from the CSPRNG, hex (128 bits, as k3s' generated tokens). */
export function generateToken(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

export interface ServerTokens {
  /** The full join token, as printed for `k8ts agent --token`. */
  joinToken: string;
  adminToken: string;
  table: TokenTable;
}

export const tokenFiles = { join: 'token', admin: 'admin-token' } as const;

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeSecretFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${text}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/**
 * Loads or creates the join and admin tokens under `dataDir`. `token` is `--token`; `caHash` is
 * the cluster CA's hash (`ClusterPki.caHash`). Throws when `--token` names another CA.
 */
export async function ensureServerTokens(dataDir: string, caHash: string, token?: string): Promise<ServerTokens>;
export async function ensureServerTokens(opts: { dataDir: string; caHash: string; token?: string }): Promise<ServerTokens>;
export async function ensureServerTokens(
  first: string | { dataDir: string; caHash: string; token?: string }, caHashArg?: string, tokenArg?: string,
): Promise<ServerTokens> {
  const opts = typeof first === 'string' ? { dataDir: first, caHash: caHashArg ?? '', token: tokenArg } : first;
  if (!/^[0-9a-f]{64}$/.test(opts.caHash)) throw new Error(`invalid CA hash "${opts.caHash}": expected hex SHA-256`);
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const joinPath = join(opts.dataDir, tokenFiles.join);
  const adminPath = join(opts.dataDir, tokenFiles.admin);

  let secret: string;
  if (opts.token !== undefined) {
    const given = parseToken(opts.token);
    if (given.caHash !== undefined && given.caHash !== opts.caHash) {
      throw new Error(`--token was issued for another cluster CA (hash ${given.caHash.slice(0, 12)}…, this cluster's is ${opts.caHash.slice(0, 12)}…); pass the bare secret or this cluster's token`);
    }
    secret = given.secret;
  } else {
    secret = parseToken((await readTrimmed(joinPath)) ?? '').secret || generateToken();
  }
  const joinToken = formatToken(opts.caHash, 'server', secret);
  // Rewritten when the secret or the CA changed, and to repair the mode.
  if ((await readTrimmed(joinPath)) !== joinToken) await writeSecretFile(joinPath, joinToken);
  else await chmod(joinPath, 0o600);

  let adminToken = await readTrimmed(adminPath);
  if (adminToken === undefined) {
    adminToken = generateToken(32);
    await writeSecretFile(adminPath, adminToken);
  } else {
    await chmod(adminPath, 0o600);
  }

  const table = new TokenTable()
    .add(secret, tokenUsers.join.name, tokenUsers.join.groups)
    .add(adminToken, tokenUsers.admin.name, tokenUsers.admin.groups);
  return { joinToken, adminToken, table };
}

/**
 * What `authenticate` needs from an HTTPS request: the verified peer certificate's subject, the
 * `Authorization` header and the impersonation headers. The server must be created with
 * `requestCert: true, rejectUnauthorized: false` (see `servingTlsOptions` in pki.ts).
 */
/**
 * A connection's certificate does not change, and reading it from OpenSSL costs a few percent of
 * a request: read it once per TLS socket.
 */
const peerCertBySocket = new WeakMap<object, { clientCert: CertSubject; authorized: boolean } | null>();

function peerCertOf(socket: Partial<TLSSocket>): { clientCert: CertSubject; authorized: boolean } | null {
  const cached = peerCertBySocket.get(socket);
  if (cached !== undefined) return cached;
  let found: { clientCert: CertSubject; authorized: boolean } | null = null;
  if (typeof socket.getPeerCertificate === 'function') {
    const cert = socket.getPeerCertificate();
    // An empty object means the client sent no certificate.
    if (cert && Object.keys(cert).length > 0 && cert.subject) {
      found = { clientCert: cert.subject as unknown as CertSubject, authorized: socket.authorized === true };
    }
  }
  peerCertBySocket.set(socket, found);
  return found;
}

export function authnInputOf(req: IncomingMessage): AuthnInput {
  const input: AuthnInput = {};
  const peer = peerCertOf(req.socket as Partial<TLSSocket>);
  if (peer) {
    input.clientCert = peer.clientCert;
    input.clientCertAuthorized = peer.authorized;
  }
  if (req.headers.authorization !== undefined) input.authorization = req.headers.authorization;
  const user = req.headersDistinct['impersonate-user']?.[0];
  if (user !== undefined) input.impersonateUser = user;
  const impersonateGroups = req.headersDistinct['impersonate-group'];
  if (impersonateGroups && impersonateGroups.length > 0) input.impersonateGroups = impersonateGroups;
  return input;
}

// ───────────────────────────── the apiserver's seams ─────────────────────────────

/**
 * The `Authenticator` the apiserver takes: verified client certificate, then bearer token, then
 * anonymous (returned as undefined). Throws a 401 for an unknown token and a 403 for impersonation
 * the requester may not use.
 */
export function createAuthenticator(tokens: Pick<ServerTokens, 'table'>): Authenticator & { authenticateUser(req: IncomingMessage): UserInfo } {
  const authenticateUser = (req: IncomingMessage) => authenticate(authnInputOf(req), tokens.table);
  return {
    authenticateUser,
    authenticate(req) {
      const user = authenticateUser(req);
      return isAnonymous(user) ? undefined : user;
    },
  };
}

/**
 * The `Authorizer` the apiserver takes. A denial's `reason` is the full upstream 403 text (the
 * server puts it in the Status as is); `requiresBoundPodCheck` and `requiredName` (see authz.ts)
 * ride along for the handlers that can check them.
 */
export const authorizer: Authorizer & { authorize(user: UserInfo | undefined, request: AuthorizationRequest): Decision } = {
  authorize(user, request) {
    const subject = user ?? { name: 'system:anonymous', groups: ['system:unauthenticated'] };
    const decision = authorize(subject, request);
    if (decision.allowed) return decision;
    return { ...decision, reason: forbiddenMessage(subject, request, decision.reason) };
  },
};
