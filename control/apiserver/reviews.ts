// The self-review APIs every authenticated user may call: SelfSubjectAccessReview (`kubectl auth
// can-i`) and SelfSubjectReview (`kubectl auth whoami`). Nothing is stored: the answer is computed
// from the caller's identity and the same authorizer that guards every request, so `can-i` never
// disagrees with what the server then does.
import { errors, field } from '../../api/errors.js';
import { isPlainObject } from '../../api/object.js';
import type { AuthorizationDecision, AuthorizationRequest, UserInfo } from './server.js';

/** The create-only review resources, for routing and discovery. */
export const reviewResources = [
  { group: 'authorization.k8s.io', version: 'v1', resource: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', kind: 'SelfSubjectAccessReview', namespaced: false, verbs: ['create'] },
  { group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', singularName: 'selfsubjectreview', kind: 'SelfSubjectReview', namespaced: false, verbs: ['create'] },
] as const;

export type ReviewResource = (typeof reviewResources)[number];

type Authorize = (user: UserInfo | undefined, request: AuthorizationRequest) => AuthorizationDecision;

const str = (o: Record<string, unknown>, k: string): string => (typeof o[k] === 'string' ? o[k] : '');

/**
 * Answers a review request body for `user`. Throws a 400/422 Status for a body that is not the
 * kind the URL names or that asks nothing, as upstream's validation does.
 */
export function answerReview(resource: ReviewResource, body: unknown, user: UserInfo | undefined, authorize: Authorize): object {
  if (!isPlainObject(body)) throw errors.badRequest('the request body must be a JSON object');
  const apiVersion = `${resource.group}/${resource.version}`;
  if (body.kind !== undefined && body.kind !== resource.kind) {
    throw errors.badRequest(`the body is a ${String(body.kind)}, but the URL names ${resource.kind}`);
  }
  const base = { kind: resource.kind, apiVersion, metadata: { creationTimestamp: null } };
  if (resource.kind === 'SelfSubjectReview') {
    return {
      ...base,
      status: { userInfo: { username: user?.name ?? 'system:anonymous', ...(user?.uid ? { uid: user.uid } : {}), groups: user?.groups ?? ['system:unauthenticated'] } },
    };
  }
  const spec = isPlainObject(body.spec) ? body.spec : {};
  const resAttrs = isPlainObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
  const pathAttrs = isPlainObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  if ((resAttrs === undefined) === (pathAttrs === undefined)) {
    throw errors.invalid(resource.kind, resource.group, '', [field.required('spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes must be specified')]);
  }
  const request: AuthorizationRequest = resAttrs
    ? {
      verb: str(resAttrs, 'verb'), apiGroup: str(resAttrs, 'group'), resource: str(resAttrs, 'resource'),
      subresource: str(resAttrs, 'subresource'), namespace: str(resAttrs, 'namespace'), name: str(resAttrs, 'name'),
      path: '', isResourceRequest: true,
    }
    : { verb: str(pathAttrs!, 'verb'), apiGroup: '', resource: '', subresource: '', namespace: '', name: '', path: str(pathAttrs!, 'path'), isResourceRequest: false };
  const decision = authorize(user, request);
  return {
    ...base,
    spec,
    // Upstream's RBAC gives no reason when it denies (kubectl then prints a bare "no"); the allow
    // reason names the rule, as RBAC names the binding.
    status: decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false },
  };
}
