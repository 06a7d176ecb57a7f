import {
  anonymousUser, authenticate, bearerToken, constantTimeEqual, formatToken, impersonate, parseToken,
  TokenTable, tokenUsers, userFromCertSubject,
} from './authn.js';
import { catchStatusError } from '../../api/testing/status.js';

const hash = 'a'.repeat(64);
const table = () => new TokenTable()
  .add(formatToken(hash, 'server', 'joinsecret'), tokenUsers.join.name, tokenUsers.join.groups)
  .add('adminsecret', tokenUsers.admin.name, tokenUsers.admin.groups);

describe('userFromCertSubject', () => {
  it('maps CN to the user and every O to a group, adding system:authenticated', () => {
    expect(userFromCertSubject({ CN: 'system:node:n1', O: 'system:nodes' }))
      .toEqual({ name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'], via: 'x509' });
    expect(userFromCertSubject({ CN: 'alice', O: ['dev', 'ops'] })!.groups).toEqual(['dev', 'ops', 'system:authenticated']);
    expect(userFromCertSubject({ CN: 'system:kube-proxy' })!.groups).toEqual(['system:authenticated']);
    expect(userFromCertSubject({ O: 'x' })).toBeUndefined();
  });
});

describe('tokens', () => {
  it('parses the k3s full form and bare secrets', () => {
    expect(parseToken(`K10${hash}::server:s3cr:et`)).toEqual({ caHash: hash, username: 'server', secret: 's3cr:et' });
    expect(parseToken('plain')).toEqual({ secret: 'plain' });
    expect(parseToken('K10short::server:x')).toEqual({ secret: 'K10short::server:x' });
  });

  it('looks up full and bare forms of the same secret', () => {
    const t = table();
    expect(t.lookup('joinsecret')!.name).toBe('system:bootstrap:k8ts-join');
    expect(t.lookup(formatToken('b'.repeat(64), 'node', 'joinsecret'))!.groups).toEqual(['system:bootstrappers', 'system:authenticated']);
    expect(t.lookup('adminsecret')!.groups).toEqual(['system:masters', 'system:authenticated']);
    expect(t.lookup('nope')).toBeUndefined();
    expect(t.lookup('adminsecre')).toBeUndefined();
  });

  it('compares secrets without depending on where they differ', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('reads bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('authenticate', () => {
  it('prefers a verified client certificate', () => {
    const u = authenticate({ clientCert: { CN: 'system:admin', O: 'system:masters' }, clientCertAuthorized: true, authorization: 'Bearer bad' }, table());
    expect(u).toMatchObject({ name: 'system:admin', via: 'x509' });
  });

  it('ignores a certificate the CA did not verify', () => {
    expect(authenticate({ clientCert: { CN: 'system:admin', O: 'system:masters' }, clientCertAuthorized: false }, table())).toEqual(anonymousUser());
    expect(authenticate({ clientCert: { CN: 'mallory' }, clientCertAuthorized: false, authorization: 'Bearer adminsecret' }, table()).name).toBe('system:admin');
  });

  it('falls back to anonymous without credentials and rejects unknown tokens with 401', () => {
    expect(authenticate({}, table())).toEqual({ name: 'system:anonymous', groups: ['system:unauthenticated'], via: 'anonymous' });
    const err = catchStatusError(() => authenticate({ authorization: 'Bearer wrong' }, table()));
    expect(err.code).toBe(401);
    expect(err.message).toBe('Unauthorized');
  });

  it('lets join-token holders act as a node, and only as a node', () => {
    const u = authenticate({ authorization: 'Bearer joinsecret', impersonateUser: 'system:node:n1', impersonateGroups: ['system:nodes'] }, table());
    expect(u).toEqual({ name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'], via: 'impersonation' });
    const err = catchStatusError(() => authenticate({ authorization: 'Bearer joinsecret', impersonateUser: 'system:admin' }, table()));
    expect(err.code).toBe(403);
    expect(err.message).toBe('users "system:admin" is forbidden: User "system:bootstrap:k8ts-join" cannot impersonate resource "users" in API group "" at the cluster scope');
    expect(catchStatusError(() => authenticate({ authorization: 'Bearer joinsecret', impersonateUser: 'system:node:n1', impersonateGroups: ['system:masters'] }, table())).message)
      .toContain('groups "system:masters" is forbidden');
    expect(catchStatusError(() => authenticate({ authorization: 'Bearer joinsecret', impersonateUser: 'system:node:Bad_Name' }, table())).code).toBe(403);
  });

  it('lets masters impersonate anyone and nobody else impersonate at all', () => {
    const admin = { name: 'system:admin', groups: ['system:masters', 'system:authenticated'], via: 'x509' as const };
    expect(impersonate(admin, 'alice', ['dev'])).toEqual({ name: 'alice', groups: ['dev', 'system:authenticated'], via: 'impersonation' });
    expect(catchStatusError(() => impersonate(anonymousUser(), 'alice', [])).code).toBe(403);
    expect(catchStatusError(() => impersonate(admin, undefined, ['dev'])).code).toBe(400);
  });
});
