// Authentication, the pure part: who is asking, from what the TLS layer verified and the
// `Authorization` header carried. The shell (auth.ts) reads the socket and the token files.
//
// Design notes:
// - Order as upstream's union authenticator: a client certificate verified by the cluster CA wins;
//   then a bearer token; then anonymous. A certificate that failed verification is ignored (the
//   request goes on as anonymous, as upstream), but a bearer token that matches nothing is a 401:
//   a client that sent credentials wants to know they are wrong.
// - Tokens are opaque secrets looked up in a table (constant-time compare), like upstream's static
//   token file. Join tokens use k3s' format `K10<sha256 of ca.crt>::<user>:<secret>`: the agent
//   pins the CA by the hash before trusting the server, and the server checks only the secret.
//   A bare `<secret>` is accepted too, as k3s accepts short tokens.
// - Nodes join with the cluster's join token (group `system:bootstrappers`) and act as
//   `system:node:<name>` through upstream's impersonation headers (`Impersonate-User`,
//   `Impersonate-Group: system:nodes`), which bootstrappers may use for node identities only.
//   That makes the join token "node-capable" without a CSR flow; the flow can replace it later
//   (pki.ts already issues node client certificates).
import { errors, StatusError } from '../../api/errors.js';
import { isDNS1123Subdomain } from '../../api/validation/names.js';

export interface UserInfo {
  name: string;
  groups: string[];
  /** Where the identity came from, for audit logs. */
  via: 'x509' | 'token' | 'anonymous' | 'impersonation';
}

export const groups = {
  masters: 'system:masters',
  nodes: 'system:nodes',
  bootstrappers: 'system:bootstrappers',
  authenticated: 'system:authenticated',
  unauthenticated: 'system:unauthenticated',
} as const;

export const anonymousUser = (): UserInfo => ({ name: 'system:anonymous', groups: [groups.unauthenticated], via: 'anonymous' });

/** A subject as the authorizer sees it; the apiserver's own `UserInfo` has no `via`. */
export type Subject = Pick<UserInfo, 'name' | 'groups'>;

export const isAnonymous = (u: Subject) => u.groups.includes(groups.unauthenticated);

/** The subject of a verified peer certificate, as Node's `getPeerCertificate().subject` gives it. */
export interface CertSubject {
  CN?: string | string[];
  O?: string | string[];
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** CN is the user, each O a group, as upstream's x509 `CommonNameUserConversion`. */
export function userFromCertSubject(subject: CertSubject): UserInfo | undefined {
  const cn = asList(subject.CN)[0];
  if (!cn) return undefined;
  const orgs = asList(subject.O).filter(o => o !== '');
  return { name: cn, groups: withAuthenticated(orgs), via: 'x509' };
}

function withAuthenticated(gs: readonly string[]): string[] {
  const out = [...new Set(gs)];
  if (!out.includes(groups.authenticated)) out.push(groups.authenticated);
  return out;
}

// ───────────────────────────── tokens ─────────────────────────────

export interface ParsedToken {
  /** Hex SHA-256 of the CA certificate, from the `K10` form. */
  caHash?: string;
  /** The user part of the `K10` form (`server`, `node`, …); informational. */
  username?: string;
  secret: string;
}

const fullTokenRe = /^K10([0-9a-f]{64})::([^:]+):(.+)$/;

/** Reads `K10<hash>::<user>:<secret>` or a bare secret. */
export function parseToken(token: string): ParsedToken {
  const m = fullTokenRe.exec(token);
  if (!m) return { secret: token };
  return { caHash: m[1]!, username: m[2]!, secret: m[3]! };
}

export function formatToken(caHash: string, username: string, secret: string): string {
  return `K10${caHash}::${username}:${secret}`;
}

/** Equal-length compare without early exit, so a timing probe learns nothing about the secret. */
export function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  // charCodeAt past the end is NaN, and `NaN | 0` is 0.
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/** Secrets and the user each stands for. */
export class TokenTable {
  private readonly entries: { secret: string; user: { name: string; groups: string[] } }[] = [];

  add(secretOrToken: string, name: string, userGroups: readonly string[]): this {
    const secret = parseToken(secretOrToken).secret;
    if (secret === '') throw new Error('a token secret must not be empty');
    this.entries.push({ secret, user: { name, groups: [...userGroups] } });
    return this;
  }

  /** The user for a presented token (full or bare form), or undefined. Checks every entry. */
  lookup(token: string): UserInfo | undefined {
    const secret = parseToken(token).secret;
    let found: UserInfo | undefined;
    for (const e of this.entries) {
      if (constantTimeEqual(e.secret, secret) && !found) found = { name: e.user.name, groups: withAuthenticated(e.user.groups), via: 'token' };
    }
    return found;
  }
}

/** Users the server's own tokens stand for. */
export const tokenUsers = {
  join: { name: 'system:bootstrap:k8ts-join', groups: [groups.bootstrappers] },
  admin: { name: 'system:admin', groups: [groups.masters] },
} as const;

// ───────────────────────────── authenticate ─────────────────────────────

export interface AuthnInput {
  /** The peer certificate's subject, when the client sent one. */
  clientCert?: CertSubject;
  /** Whether the TLS layer verified that certificate against the cluster CA. */
  clientCertAuthorized?: boolean;
  /** The raw `Authorization` header. */
  authorization?: string;
  /** `Impersonate-User` and `Impersonate-Group` headers. */
  impersonateUser?: string;
  impersonateGroups?: readonly string[];
}

/** The bearer token in an `Authorization` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/**
 * Who is asking. Throws a 401 `StatusError` for a bearer token that matches nothing, and a 403 for
 * impersonation the requester may not use.
 */
export function authenticate(input: AuthnInput, tokens: TokenTable): UserInfo {
  let user: UserInfo | undefined;
  if (input.clientCert && input.clientCertAuthorized) user = userFromCertSubject(input.clientCert);
  if (!user) {
    const token = bearerToken(input.authorization);
    if (token !== undefined) {
      user = tokens.lookup(token);
      if (!user) throw errors.unauthorized();
    }
  }
  user ??= anonymousUser();
  if (input.impersonateUser !== undefined || (input.impersonateGroups?.length ?? 0) > 0) {
    return impersonate(user, input.impersonateUser, input.impersonateGroups ?? []);
  }
  return user;
}

/** Upstream's impersonation filter, narrowed: masters may be anyone, bootstrappers only a node. */
export function impersonate(requester: UserInfo, asUser: string | undefined, asGroups: readonly string[]): UserInfo {
  if (asUser === undefined || asUser === '') {
    throw errors.badRequest('requested impersonation of groups without impersonating a user');
  }
  const deny = (what: 'users' | 'groups', name: string) => new StatusError(403, 'Forbidden',
    `${what} "${name}" is forbidden: User "${requester.name}" cannot impersonate resource "${what}" in API group "" at the cluster scope`,
    { name, group: '', kind: what });
  if (requester.groups.includes(groups.masters)) {
    return { name: asUser, groups: withAuthenticated(asGroups), via: 'impersonation' };
  }
  if (requester.groups.includes(groups.bootstrappers)) {
    const nodeName = asUser.startsWith('system:node:') ? asUser.slice('system:node:'.length) : '';
    if (isDNS1123Subdomain(nodeName).length > 0) throw deny('users', asUser);
    for (const g of asGroups) if (g !== groups.nodes && g !== groups.authenticated) throw deny('groups', g);
    return { name: asUser, groups: withAuthenticated([groups.nodes]), via: 'impersonation' };
  }
  throw deny('users', asUser);
}
